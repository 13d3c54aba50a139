"""The demo's web server: the page in ``page/`` and a JSON API over :class:`~src.demo.views.DemoNetwork`.

=========================  ======================================================================
``GET /``                  the page (``/demo.js``, ``/demo.css`` with it); nothing else is served
``GET /api/model``         the network's sizes, activations, cost, learning rate (and the largest the
                           step takes), SGD steps taken, weight matrices and the test digits to pick
``POST /api/forward``      ``{"png": canvas}`` (reduced to the input by :mod:`src.images`, as
                           ``src.predict`` reduces an image file) or ``{"input": [pixels]}``: the
                           input and every layer's activations
``POST /api/backprop``     ``{"input", "digit", "weight": {"layer", "neuron", "source"}}``: cost,
                           deltas, ``grad C`` and the chain rule for the chosen weight
``POST /api/step``         ``{"input", "digit", "rate"}``: one SGD step on the in-memory network; a
                           step that would make a number NaN or infinite is refused (422) and not
                           taken
``POST /api/reset``        ``{}``: back to the checkpoint's parameters
=========================  ======================================================================

A bad request gets a 4xx status and ``{"error": "<what is wrong and what is allowed>"}`` (a method it
does not know, such as BREW: 501, HTTP's status for a method a server does not implement); the server
carries on. A query string (``?x=1``) is ignored. POST bodies must be JSON (``Content-Type:
application/json``, which a page of another site can't send here without the browser asking first) of at
most :data:`MAX_BODY` bytes; the ``Host`` header must name this server when it listens on a loopback
address (127.0.0.0/8, ::1; against DNS rebinding). Every answer is strict JSON: one that would hold NaN
or Infinity is a 500 with an error instead.
"""

import base64
import binascii
import contextlib
import io
import json
import math
import socket
import traceback
from dataclasses import asdict
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from ipaddress import ip_address
from typing import Any
from urllib.parse import urlsplit

from PIL import Image, UnidentifiedImageError

from src.demo.samples import Samples
from src.demo.views import DemoNetwork, Diverged, WeightChoice
from src.images import to_input

MAX_BODY = 4 * 2**20  # bytes of a POST body: a canvas PNG is tens of KiB, an input 784 numbers
MAX_CANVAS_SIDE = 2048  # pixels of a drawing's width or height
MAX_RATE = 1000.0  # the largest learning rate the SGD step takes; the page's rate box gets it as its max
RATE_RULE = f"the SGD step's learning rate must be a finite number > 0 and at most {MAX_RATE:g}"
MAX_REASON = 120  # characters of a library's reason for refusing a body: the json module's, base64's and
# PIL's are shorter and quote none of it, so this only bounds an unexpected one (a request line echoed)
METHODS = ("GET", "POST")  # the methods the page and the API use
PAGE = files("src.demo") / "page"
PAGE_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/demo.js": ("demo.js", "text/javascript; charset=utf-8"),
    "/demo.css": ("demo.css", "text/css; charset=utf-8"),
}
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; frame-ancestors 'none'",
    "Cache-Control": "no-store",
}


class ApiError(Exception):
    """A bad request: ``status`` (4xx) and a message naming what is wrong and what is allowed."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


class DemoServer(ThreadingHTTPServer):
    """Serves :class:`DemoHandler` for one network; one thread per request."""

    daemon_threads = True  # Ctrl-C does not wait for a browser's open connection

    def __init__(self, address: tuple[str, int], network: DemoNetwork, samples: Samples) -> None:
        self.network = network
        self.samples = samples
        if ":" in address[0]:  # an IPv6 address such as ::1
            self.address_family = socket.AF_INET6
        super().__init__(address, DemoHandler)

    @property
    def every_interface(self) -> bool:
        """Whether it listens on every interface (``host=0.0.0.0`` or ``host=::``)."""
        return ip_address(self.server_address[0]).is_unspecified

    @property
    def url(self) -> str:
        """The address a browser on this machine opens: on every interface, the loopback address of the
        same family (0.0.0.0 and :: are no address to connect to)."""
        host, port = self.server_address[:2]
        if self.every_interface:
            host = "::1" if ":" in host else "127.0.0.1"
        return f"http://{url_host(host)}:{port}/"

    def allowed_hosts(self) -> set[str] | None:
        """The ``Host`` headers accepted, or ``None`` (any) when listening beyond the loopback network.
        ``server_address`` holds the address bound, in digits even for ``host=localhost``."""
        host, port = self.server_address[:2]
        if not ip_address(host).is_loopback:  # all of 127.0.0.0/8, not only 127.0.0.1
            return None
        return {f"{name}:{port}" for name in (url_host(host), "127.0.0.1", "localhost", "[::1]")}


def url_host(host: str) -> str:
    """``host`` as a URL or a ``Host`` header writes it: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host else host


def as_sent(value: Any) -> str:
    """A value of a request's JSON body, as the client wrote it: its JSON, up to 40 characters (a client
    may send megabytes in one value)."""
    return json.dumps(value)[:40]


def is_rate(value: Any) -> bool:
    """Whether ``value`` follows :data:`RATE_RULE`: the one rule for the command line's ``rate=`` and the
    API's ``rate`` (0 would take a step that changes nothing). inf is past :data:`MAX_RATE` and NaN fails
    every comparison; an integer past float range (JSON's 1 followed by 400 zeros) compares exactly."""
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 < value <= MAX_RATE


def one_line(text: str, limit: int = MAX_REASON) -> str:
    """``text`` on one line, cut where it is longer than ``limit`` after the last whole word that fits
    (a cut mid-word reads as a typo: "from a unicode stri"), with `` ...`` to show the cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    space = text.rfind(" ", 0, limit + 1)
    return f"{text[:space] if space > 0 else text[:limit]} ..."


def number(value: Any, key: str, low: float, high: float) -> float:
    """``value`` as a finite float in ``[low, high]``."""
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    # an int is not given to math.isfinite, which raises for one past float range (10**400)
    if not numeric or (isinstance(value, float) and not math.isfinite(value)):
        raise ApiError(HTTPStatus.BAD_REQUEST, f"{key}={as_sent(value)}: must be a finite number")
    if not low <= value <= high:  # also for an integer too large for a float (JSON's 1 followed by 400 zeros)
        raise ApiError(
            HTTPStatus.BAD_REQUEST, f"{key}={as_sent(value)}: must be between {low:g} and {high:g}"
        )
    return float(value)


def integer(value: Any, key: str, count: int, first: int = 0) -> int:
    """``value`` as an index in ``range(first, count)``."""
    if isinstance(value, bool) or not isinstance(value, int) or not first <= value < count:
        raise ApiError(
            HTTPStatus.BAD_REQUEST,
            f"{key}={as_sent(value)}: must be an integer from {first} to {count - 1}",
        )
    return value


def learning_rate(value: Any) -> float:
    """``value`` as the SGD step's learning rate (:func:`is_rate`)."""
    if not is_rate(value):
        raise ApiError(HTTPStatus.BAD_REQUEST, f"rate={as_sent(value)}: {RATE_RULE}")
    return float(value)


def pixels(value: Any, size: int) -> list[float]:
    """``value`` as the network's input: ``size`` numbers in [0, 1]."""
    if not isinstance(value, list) or len(value) != size:
        found = f"{len(value)} values" if isinstance(value, list) else f"a {type(value).__name__}"
        raise ApiError(HTTPStatus.BAD_REQUEST, f"input: must be a list of {size} pixel values, not {found}")
    return [number(item, f"input[{index}]", 0.0, 1.0) for index, item in enumerate(value)]


def canvas_image(value: Any) -> Image.Image:
    """A drawing sent as a PNG (base64, optionally as a ``data:image/png;base64,`` URL), decoded."""
    if not isinstance(value, str):
        raise ApiError(HTTPStatus.BAD_REQUEST, "png: must be a base64 string of a PNG image")
    try:
        data = base64.b64decode(value.removeprefix("data:image/png;base64,"), validate=True)
        image = Image.open(io.BytesIO(data), formats=["PNG"])
        if max(image.size) > MAX_CANVAS_SIDE:
            raise ApiError(
                HTTPStatus.BAD_REQUEST,
                f"png: {image.size[0]}x{image.size[1]} pixels is too large: at most {MAX_CANVAS_SIDE} a side",
            )
        image.load()
    except (binascii.Error, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        unknown = isinstance(error, UnidentifiedImageError)  # its message names a BytesIO object
        reason = "not a PNG file" if unknown else one_line(str(error))
        raise ApiError(HTTPStatus.BAD_REQUEST, f"png: not a readable PNG image ({reason})") from None
    return image


def weight_choice(value: Any, sizes: list[int]) -> WeightChoice:
    """``{"layer": l, "neuron": j, "source": k}``: ``W_{l,l-1}[j, k]``, layers numbered from 1 (input)."""
    if not isinstance(value, dict):
        raise ApiError(HTTPStatus.BAD_REQUEST, 'weight: must be {"layer": l, "neuron": j, "source": k}')
    # one range for every layer refused: layer 1, the input, has no weights into it
    layer = integer(value.get("layer"), "weight.layer", len(sizes) + 1, first=2)
    neuron = integer(value.get("neuron"), "weight.neuron", sizes[layer - 1])
    source = integer(value.get("source"), "weight.source", sizes[layer - 2])
    return WeightChoice(layer, neuron, source)


def refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


class DemoHandler(BaseHTTPRequestHandler):
    """One request: the page's files, the API, or a JSON error."""

    server: DemoServer
    timeout = 30  # seconds a client may take to send its request
    error_content_type = "application/json"

    def do_GET(self) -> None:
        self.handle_api(self.get)

    def do_POST(self) -> None:
        self.handle_api(self.post)

    def refuse_method(self) -> None:
        self.handle_api(
            lambda: self.fail(
                HTTPStatus.METHOD_NOT_ALLOWED, f"{self.command} is not allowed: use {' or '.join(METHODS)}"
            )
        )

    do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = refuse_method

    def request_named(self) -> str:
        """``METHOD /path`` as an error line starts: at most 100 characters of the path and 20 of a method
        the server does not know (the base class reads any word of up to 64 KiB as one)."""
        return f"{self.command[:20]} {self.path[:100]}"

    def fail(self, status: HTTPStatus, message: str) -> None:
        raise ApiError(status, f"{self.request_named()}: {message}")

    def handle_api(self, answer) -> None:
        try:
            try:
                self.check_host()
                answer()
            except ApiError as error:
                self.send_json({"error": str(error)}, error.status)
            except ConnectionError:
                raise
            except Exception:  # a bug: the server carries on, the traceback goes to the terminal
                traceback.print_exc()
                self.send_json(
                    {"error": "internal error: see the server's terminal"}, HTTPStatus.INTERNAL_SERVER_ERROR
                )
        except ConnectionError:  # the client left before its answer was written: nobody to tell
            self.close_connection = True

    def check_host(self) -> None:
        allowed = self.server.allowed_hosts()
        hosts = self.headers.get_all("Host") or [""]
        if len(hosts) > 1:  # which one would a proxy in front have read? (RFC 9112, 3.2: a 400)
            self.fail(HTTPStatus.BAD_REQUEST, "send one Host header")
        host = hosts[0]
        if allowed is not None and host.lower() not in allowed:  # a host name's case does not matter
            self.fail(HTTPStatus.FORBIDDEN, f"Host {host[:60]!r} is not this server: open {self.server.url}")

    def get(self) -> None:
        path = request_path(self.path)
        if path == "/api/model":
            self.send_json(self.model())
        elif path in PAGE_FILES:
            name, content_type = PAGE_FILES[path]
            self.send_bytes((PAGE / name).read_bytes(), content_type)
        elif path in POST_ROUTES:
            self.fail(HTTPStatus.METHOD_NOT_ALLOWED, "use POST with a JSON body")
        else:
            self.fail(HTTPStatus.NOT_FOUND, f"no such page: this server serves {', '.join(ROUTES)}")

    def model(self) -> dict[str, Any]:
        return self.server.network.describe() | {"max_rate": MAX_RATE, "samples": asdict(self.server.samples)}

    def post(self) -> None:
        path = request_path(self.path)
        route = POST_ROUTES.get(path)
        if route is None:
            if path in PAGE_FILES or path == "/api/model":
                self.fail(HTTPStatus.METHOD_NOT_ALLOWED, "use GET")
            self.fail(HTTPStatus.NOT_FOUND, f"no such API: POST to {', '.join(POST_ROUTES)}")
        self.send_json(route(self, self.read_json()))

    def read_json(self) -> dict[str, Any]:
        """The request's JSON object, within :data:`MAX_BODY` bytes, without NaN or Infinity."""
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            self.fail(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send a JSON body with Content-Type: application/json"
            )
        lengths = self.headers.get_all("Content-Length") or []
        if len(lengths) > 1:  # where would the body end? (RFC 9112, 6.3: a 400)
            self.close_connection = True
            self.fail(HTTPStatus.BAD_REQUEST, "send one Content-Length header")
        length = lengths[0] if lengths else None
        if length is None:
            self.fail(HTTPStatus.LENGTH_REQUIRED, "send a Content-Length header")
        if not (length.isascii() and length.isdigit()):  # isdigit() alone takes "²", which int() refuses
            self.fail(
                HTTPStatus.BAD_REQUEST,
                f"Content-Length {length[:20]!r} is not a number of bytes (digits 0-9)",
            )
        digits = length.lstrip("0") or "0"  # int() refuses more than 4300 digits, leading zeros included
        if len(digits) > len(str(MAX_BODY)) or int(digits) > MAX_BODY:
            self.close_connection = True
            self.fail(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the body may have at most {MAX_BODY} bytes")
        try:
            data = self.rfile.read(int(digits))
        except TimeoutError:
            self.close_connection = True
            self.fail(HTTPStatus.REQUEST_TIMEOUT, f"the body did not arrive within {self.timeout} s")
        try:
            body = json.loads(data, parse_constant=refuse_constant)
        except (ValueError, RecursionError) as error:
            self.fail(HTTPStatus.BAD_REQUEST, f"the body is not valid JSON ({one_line(str(error))})")
        if not isinstance(body, dict):
            self.fail(HTTPStatus.BAD_REQUEST, "the body must be a JSON object")
        return body

    def forward(self, body: dict[str, Any]) -> dict[str, Any]:
        network = self.server.network
        if ("png" in body) == ("input" in body):
            self.fail(HTTPStatus.BAD_REQUEST, 'send either {"png": a drawing} or {"input": pixel values}')
        if "png" in body:
            x = to_input(canvas_image(body["png"]), network.layout).tolist()
        else:
            x = pixels(body["input"], network.sizes[0])
        return {"input": x} | network.forward(x)

    def sample(self, body: dict[str, Any]) -> tuple[list[float], int]:
        """The body's ``input`` pixels and the expected ``digit``."""
        sizes = self.server.network.sizes
        return pixels(body.get("input"), sizes[0]), integer(body.get("digit"), "digit", sizes[-1])

    def backprop(self, body: dict[str, Any]) -> dict[str, Any]:
        x, digit = self.sample(body)
        network = self.server.network
        return network.backprop(x, digit, weight_choice(body.get("weight"), list(network.sizes)))

    def step(self, body: dict[str, Any]) -> dict[str, Any]:
        x, digit = self.sample(body)
        try:
            return self.server.network.step(x, digit, learning_rate(body.get("rate")))
        except Diverged as error:  # the body is valid; the step it asks for can't be taken: 422, not 400
            self.fail(HTTPStatus.UNPROCESSABLE_ENTITY, f"rate={as_sent(body['rate'])}: {error}")

    def reset(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.server.network.reset()

    def send_json(self, payload: dict[str, Any], status: HTTPStatus = HTTPStatus.OK) -> None:
        """``payload`` as strict JSON: NaN and Infinity are no JSON (the page's ``JSON.parse`` refuses
        them). A refused SGD step keeps them out of the parameters, but a network steps have made huge can
        still overflow for another input than the one stepped on: that answer is a 500 saying so."""
        try:
            text = json.dumps(payload, allow_nan=False)
        except ValueError:  # "Out of range float values are not JSON compliant"
            status = HTTPStatus.INTERNAL_SERVER_ERROR
            text = json.dumps({"error": f"{self.request_named()}: {NOT_FINITE}"})
        self.send_bytes(text.encode(), "application/json", status)

    def send_bytes(self, body: bytes, content_type: str, status: HTTPStatus = HTTPStatus.OK) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The base class's errors (a malformed request line, an unknown method) as JSON too, on one line."""
        self.close_connection = True
        if code == HTTPStatus.NOT_IMPLEMENTED:  # no do_<method>: the request line was read whole
            text = f"{self.request_named()}: unknown method: use {' or '.join(METHODS)}"
        else:  # its message may quote a malformed request line of up to 64 KiB
            text = one_line(message or HTTPStatus(code).phrase)
        with contextlib.suppress(OSError):  # the client may be gone
            self.send_json({"error": text}, HTTPStatus(code))

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the page calls the API on every stroke."""


def request_path(target: str) -> str:
    """A request's path, without its query string (``/api/model?x=1`` is ``/api/model``) for every
    method alike. A target urlsplit reads a host or scheme off (``//host/api/model``) is kept whole, so it
    is no page: a browser only sends paths."""
    parts = urlsplit(target)
    return target if parts.scheme or parts.netloc else parts.path


NOT_FINITE = (
    "the answer would hold NaN or an infinite number, which JSON can't carry: the network's numbers "
    "overflow for this input (SGD steps with a large rate make its weights huge): reset it with "
    '"Reset to the checkpoint" (POST /api/reset)'
)
POST_ROUTES = {
    "/api/forward": DemoHandler.forward,
    "/api/backprop": DemoHandler.backprop,
    "/api/step": DemoHandler.step,
    "/api/reset": DemoHandler.reset,
}
ROUTES = ("/", "/demo.js", "/demo.css", "/api/model", *POST_ROUTES)
