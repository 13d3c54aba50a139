"""The demo's web server: the page in ``page/`` and a JSON API over :class:`~src.demo.views.DemoNetwork`.

=========================  ======================================================================
``GET /``                  the page (``/demo.js``, ``/demo.css`` with it); nothing else is served
``GET /api/model``         the network's sizes, activations, cost, learning rate, SGD steps taken,
                           weight matrices and the test digits to pick
``POST /api/forward``      ``{"png": canvas}`` (reduced to the input as :mod:`src.predict` reduces
                           an image file) or ``{"input": [pixels]}``: the input and every layer's
                           activations
``POST /api/backprop``     ``{"input", "digit", "weight": {"layer", "neuron", "source"}}``: cost,
                           deltas, ``grad C`` and the chain rule for the chosen weight
``POST /api/step``         ``{"input", "digit", "rate"}``: one SGD step on the in-memory network
``POST /api/reset``        ``{}``: back to the checkpoint's parameters
=========================  ======================================================================

A bad request gets a 4xx status and ``{"error": "<what is wrong and what is allowed>"}``; the server
carries on. POST bodies must be JSON (``Content-Type: application/json``, which a page of another site
can't send here without the browser asking first) of at most :data:`MAX_BODY` bytes; the ``Host`` header
must name this server when it listens on a loopback address (against DNS rebinding).
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
from typing import Any

from PIL import Image, UnidentifiedImageError

from src.demo.samples import Samples
from src.demo.views import DemoNetwork, WeightChoice
from src.predict import to_input

MAX_BODY = 4 * 2**20  # bytes of a POST body: a canvas PNG is tens of KiB, an input 784 numbers
MAX_CANVAS_SIDE = 2048  # pixels of a drawing's width or height
MAX_RATE = 1000.0  # the largest learning rate the SGD button accepts
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
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{f'[{host}]' if ':' in host else host}:{port}/"

    def allowed_hosts(self) -> set[str] | None:
        """The ``Host`` headers accepted, or ``None`` (any) when listening beyond the loopback address."""
        host, port = self.server_address[:2]
        if host not in ("127.0.0.1", "::1"):
            return None
        return {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"}


def number(value: Any, key: str, low: float, high: float) -> float:
    """``value`` as a finite float in ``[low, high]``."""
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    # an int is not given to math.isfinite, which raises for one past float range (10**400)
    if not numeric or (isinstance(value, float) and not math.isfinite(value)):
        raise ApiError(HTTPStatus.BAD_REQUEST, f"{key}={json.dumps(value)[:40]}: must be a finite number")
    if not low <= value <= high:  # also for an integer too large for a float (JSON's 1 followed by 400 zeros)
        raise ApiError(
            HTTPStatus.BAD_REQUEST, f"{key}={json.dumps(value)[:40]}: must be between {low:g} and {high:g}"
        )
    return float(value)


def integer(value: Any, key: str, count: int, first: int = 0) -> int:
    """``value`` as an index in ``range(first, count)``."""
    if isinstance(value, bool) or not isinstance(value, int) or not first <= value < count:
        raise ApiError(
            HTTPStatus.BAD_REQUEST,
            f"{key}={json.dumps(value)[:40]}: must be an integer from {first} to {count - 1}",
        )
    return value


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
        reason = "not a PNG file" if unknown else " ".join(str(error).split())[:80]
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
        self.handle_api(lambda: self.fail(HTTPStatus.METHOD_NOT_ALLOWED, f"{self.command} is not allowed"))

    do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = refuse_method

    def fail(self, status: HTTPStatus, message: str) -> None:
        raise ApiError(status, f"{self.command} {self.path[:100]}: {message}")

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
        host = self.headers.get("Host", "")
        if allowed is not None and host not in allowed:
            self.fail(HTTPStatus.FORBIDDEN, f"Host {host[:60]!r} is not this server: open {self.server.url}")

    def get(self) -> None:
        path = self.path.split("?", 1)[0]
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
        return self.server.network.describe() | {"samples": asdict(self.server.samples)}

    def post(self) -> None:
        route = POST_ROUTES.get(self.path)
        if route is None:
            if self.path in PAGE_FILES or self.path == "/api/model":
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
        length = self.headers.get("Content-Length")
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
            self.fail(
                HTTPStatus.BAD_REQUEST, f"the body is not valid JSON ({' '.join(str(error).split())[:80]})"
            )
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
        return self.server.network.step(x, digit, number(body.get("rate"), "rate", 0.0, MAX_RATE))

    def reset(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.server.network.reset()

    def send_json(self, payload: dict[str, Any], status: HTTPStatus = HTTPStatus.OK) -> None:
        self.send_bytes(json.dumps(payload).encode(), "application/json", status)

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
        """The base class's errors (a malformed request line, an unknown method) as JSON too."""
        self.close_connection = True
        with contextlib.suppress(OSError):  # the client may be gone
            self.send_json({"error": f"{code}: {message or HTTPStatus(code).phrase}"}, HTTPStatus(code))

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the page calls the API on every stroke."""


POST_ROUTES = {
    "/api/forward": DemoHandler.forward,
    "/api/backprop": DemoHandler.backprop,
    "/api/step": DemoHandler.step,
    "/api/reset": DemoHandler.reset,
}
ROUTES = ("/", "/demo.js", "/demo.css", "/api/model", *POST_ROUTES)
