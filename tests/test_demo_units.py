"""The demo server's checks of a request, called directly: the exact 400 line each bad value gets, and the
limits at their edges; a few ask a server on a free port, serving in a thread (:func:`serving`, which
``tests/test_demo.py`` uses too). Quick and without ``tests/conftest.py``'s trained run, so the mutation
runs (``python -m tests.mutation demo``) have them; ``tests/test_demo.py`` asks a running server."""

import base64
import http.client
import io
import json
import socket
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from http import HTTPStatus

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from PIL import Image
from runs import png_of

from src.config import CONF
from src.data import SyntheticDataModule, TorchvisionDataModule
from src.demo.__main__ import first_rate, serve
from src.demo.samples import Samples, data_module, samples_to_pick
from src.demo.server import (
    ApiError,
    DemoHandler,
    DemoServer,
    canvas_image,
    integer,
    learning_rate,
    number,
    one_line,
    pixels,
    request_path,
    weight_choice,
)
from src.demo.views import DemoNetwork, Diverged, WeightChoice
from src.errors import UserError
from src.network.mlp import MLP

SIZES = [64, 16, 16, 10]  # W_{2,1} is 16x64, W_{3,2} 16x16, W_{4,3} 10x16


def refusal(call, *args) -> str:
    """The message of the 400 that ``call(*args)`` raises."""
    with pytest.raises(ApiError) as raised:
        call(*args)
    assert raised.value.status == HTTPStatus.BAD_REQUEST
    return str(raised.value)


def test_a_refused_value_is_quoted_up_to_40_characters_of_its_json() -> None:
    # a client may send megabytes in one value: the error line shows its JSON's first 40 characters
    assert refusal(number, "x" * 100, "rate", 0.0, 1.0) == f'rate="{"x" * 39}: must be a finite number'
    assert refusal(number, 10**100, "rate", 0.0, 1.0) == f"rate={'1' + '0' * 39}: must be between 0 and 1"
    assert refusal(integer, "y" * 100, "digit", 10) == f'digit="{"y" * 39}: must be an integer from 0 to 9'


def test_a_number_may_be_either_end_of_its_range() -> None:
    assert number(1.0, "input[0]", 0.0, 1.0) == 1.0
    assert number(0, "input[0]", 0.0, 1.0) == 0.0
    assert number(1000, "rate", 0.0, 1000.0) == 1000.0
    assert refusal(number, 1000.5, "rate", 0.0, 1000.0) == "rate=1000.5: must be between 0 and 1000"
    assert refusal(number, -0.5, "input[0]", 0.0, 1.0) == "input[0]=-0.5: must be between 0 and 1"
    low = 0.25
    assert number(low, "x", low, 1.0) == low  # the very object of the range's end


def test_an_index_is_refused_past_its_count_as_at_it() -> None:
    assert integer(9, "digit", 10) == 9
    # a negative index would pick from the end of a list (neuron -1, the last): refused as well
    assert refusal(integer, -1, "weight.neuron", 16) == "weight.neuron=-1: must be an integer from 0 to 15"
    for past in (10, 11, 500):
        assert refusal(integer, past, "digit", 10) == f"digit={past}: must be an integer from 0 to 9"


def test_a_weight_is_chosen_within_its_own_matrix() -> None:
    weight = {"layer": 3, "neuron": 15, "source": 15}
    assert weight_choice(weight, SIZES) == WeightChoice(3, 15, 15)
    assert weight_choice({"layer": 4, "neuron": 9, "source": 15}, SIZES) == WeightChoice(4, 9, 15)
    # an odd number of layers too: the output layer of a 64-16-10 network is layer 3
    assert weight_choice({"layer": 3, "neuron": 9, "source": 15}, [64, 16, 10]) == WeightChoice(3, 9, 15)
    # W_{3,2} has 16 columns, not the input's 64: source 16 would be past the matrix (a 500, not a 400)
    assert refusal(weight_choice, weight | {"source": 16}, SIZES) == (
        "weight.source=16: must be an integer from 0 to 15"
    )
    assert refusal(weight_choice, {"layer": 4, "neuron": 0, "source": 16}, SIZES) == (
        "weight.source=16: must be an integer from 0 to 15"
    )
    # there is no layer 5 (no W_{5,4}): refused before any matrix is looked up, with the range allowed
    # (it once said "from 0 to 4", though layers 0 and 1 are refused too)
    for layer in (0, 1, 5):
        assert refusal(weight_choice, weight | {"layer": layer}, SIZES) == (
            f"weight.layer={layer}: must be an integer from 2 to 4"
        )


def png(width: int, height: int) -> str:
    return png_of(Image.new("L", (width, height), 0))


def test_a_drawing_may_be_2048_pixels_a_side_and_no_more() -> None:
    assert canvas_image(png(2048, 1)).size == (2048, 1)
    assert canvas_image("data:image/png;base64," + png(1, 2048)).size == (1, 2048)
    assert refusal(canvas_image, png(2049, 1)) == "png: 2049x1 pixels is too large: at most 2048 a side"


class SlowClient:
    """A request body that never arrives: reading it times out, as a socket with a timeout does."""

    def read(self, size: int) -> bytes:
        raise TimeoutError("timed out")


def request_headers(values: dict[str, str]) -> http.client.HTTPMessage:
    """A request's headers as ``http.server`` hands them to a handler."""
    headers = http.client.HTTPMessage()
    for name, value in values.items():
        headers[name] = value
    return headers


def test_a_body_that_does_not_arrive_in_30_seconds_gets_408_and_the_connection_is_closed() -> None:
    # no __init__: it would answer a request at once; read_json needs only what is set here
    handler = DemoHandler.__new__(DemoHandler)
    handler.command, handler.path, handler.close_connection = "POST", "/api/step", False
    handler.headers = request_headers({"Content-Type": "application/json", "Content-Length": "2"})
    handler.rfile = SlowClient()
    with pytest.raises(ApiError) as raised:
        handler.read_json()
    assert raised.value.status == HTTPStatus.REQUEST_TIMEOUT
    assert str(raised.value) == "POST /api/step: the body did not arrive within 30 s"
    assert handler.close_connection  # the rest of a late body must not be read as the next request


def test_a_checkpoints_data_module_is_built_with_its_arguments_but_never_downloads() -> None:
    data = {"_target_": "src.data.TorchvisionDataModule", "name": "FashionMNIST", "download": True}
    module = data_module(data)
    assert isinstance(module, TorchvisionDataModule) and module.name == "FashionMNIST"
    assert module.download is False  # download=true in a checkpoint is not obeyed


def test_an_mnist_sized_input_of_784_pixels_is_read() -> None:
    # 784 is past the small ints CPython keeps one object of: a length compared by identity would refuse it
    assert pixels([0.25] * 784, 784) == [0.25] * 784
    assert refusal(pixels, [0.25] * 783, 784) == "input: must be a list of 784 pixel values, not 783 values"
    assert refusal(pixels, [0.25] * 785, 784) == "input: must be a list of 784 pixel values, not 785 values"


def bound(host: str) -> DemoServer:
    """A server bound to ``host`` on a free port, not serving: its address is all these tests read (its
    ``with`` block closes it)."""
    return DemoServer((host, 0), DemoNetwork(MLP([4, 2]), rate=1.0), Samples([], [], "none"))


def test_on_a_loopback_address_only_its_own_names_are_accepted_hosts() -> None:
    with bound("127.0.0.1") as demo:
        port = demo.server_address[1]
        assert demo.url == f"http://127.0.0.1:{port}/"
        assert demo.allowed_hosts() == {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"}
    with bound("0.0.0.0") as demo:  # reached by other names: any Host header is taken
        assert demo.allowed_hosts() is None


def test_an_ipv6_loopback_server_has_a_bracketed_url_and_its_own_hosts() -> None:
    try:
        demo = bound("::1")
    except OSError as error:  # a machine without IPv6
        pytest.skip(f"no IPv6 loopback: {error}")
    with demo:
        port = demo.server_address[1]  # an IPv6 address is (host, port, flowinfo, scope_id)
        assert demo.url == f"http://[::1]:{port}/"
        assert demo.allowed_hosts() == {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"}


def test_a_data_argument_its_module_does_not_take_gives_no_samples_and_says_why() -> None:
    samples = samples_to_pick({"_target_": "src.data.DigitsDataModule", "Batch_size": 3}, 64)
    assert samples.images == [] and "unexpected keyword argument 'Batch_size'" in samples.note


def test_the_prediction_is_the_output_layers_largest_activation() -> None:
    torch.manual_seed(0)
    network = DemoNetwork(MLP([64, 16, 16, 10]), rate=1.0)
    inputs = torch.rand(8, 64, generator=torch.Generator().manual_seed(5))
    hidden_argmax_differs = False
    for x in inputs.tolist():
        view = network.forward(x)
        output, hidden = torch.tensor(view["activations"][-1]), torch.tensor(view["activations"][1])
        assert len(output) == 10 and view["prediction"] == int(output.argmax())
        hidden_argmax_differs |= int(hidden.argmax()) != view["prediction"]
    assert hidden_argmax_differs  # these inputs tell the output layer from a hidden one


def test_an_mnist_shaped_test_set_offers_two_images_of_each_class() -> None:
    data = {"_target_": "src.data.SyntheticDataModule", "train_size": 10, "val_size": 10, "test_size": 200}
    samples = samples_to_pick(data, 784)  # 784: no small int, so a width compared by identity would fail
    x, y = SyntheticDataModule(train_size=10, val_size=10, test_size=200).load()["test"]
    assert samples.note == "" and sorted(samples.labels) == sorted(list(range(10)) * 2)
    for image, label in zip(samples.images, samples.labels, strict=True):
        assert len(image) == 784 and label == int(y[(x == torch.tensor(image)).all(dim=1)][0])
    threes = [image for image, label in zip(samples.images, samples.labels, strict=True) if label == 3]
    assert threes == x[(y == 3).nonzero()[:2, 0]].tolist()  # the first two of the class


def test_a_drawing_that_is_no_png_is_refused_with_the_reason() -> None:
    assert (
        refusal(canvas_image, "not base64!") == "png: not a readable PNG image (Only base64 data is allowed)"
    )
    gif = base64.b64encode(b"GIF89a....").decode()
    # PIL's own message names its BytesIO object: the line says what is wrong instead
    assert refusal(canvas_image, gif) == "png: not a readable PNG image (not a PNG file)"


class Recorder:
    """Stands in for a handler's connection: keeps what :meth:`DemoHandler.handle_api` sends."""

    close_connection = False

    def __init__(self) -> None:
        self.sent: list[tuple[object, int]] = []

    def check_host(self) -> None:
        pass

    def send_json(self, value: object, status: int = HTTPStatus.OK) -> None:
        self.sent.append((value, status))


def test_a_bug_answers_500_and_prints_its_traceback_and_the_server_carries_on(
    capsys: pytest.CaptureFixture,
) -> None:
    handler = Recorder()

    def buggy() -> None:
        raise ZeroDivisionError("a bug")

    DemoHandler.handle_api(handler, buggy)
    assert handler.sent == [({"error": "internal error: see the server's terminal"}, 500)]
    assert "ZeroDivisionError: a bug" in capsys.readouterr().err
    assert not handler.close_connection


def png_header(width: int, height: int) -> bytes:
    """A PNG of a ``width`` x ``height`` grey image that ends after its header: enough for ``Image.open``."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey, no interlace
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def test_a_decompression_bomb_is_refused_with_pils_whole_reason() -> None:
    # 400 megapixels: PIL refuses to open it at all, before the 2048-pixel side is checked
    with pytest.raises(Image.DecompressionBombError) as opened:
        Image.open(io.BytesIO(png_header(20000, 20000)))
    message = refusal(canvas_image, base64.b64encode(png_header(20000, 20000)).decode())
    # once cut at 80 characters, mid-word ("could be decomp)")
    assert message == f"png: not a readable PNG image ({opened.value})"
    assert str(opened.value).startswith("Image size (400000000 pixels) exceeds limit of")


def test_a_checkpoints_keys_are_compared_by_value_not_identity() -> None:
    # keys read from a checkpoint file are new strings, not the interned literal "_target_"
    target = "".join(["_tar", "get_"])
    samples = samples_to_pick({target: "src.data.DigitsDataModule"}, 64)
    assert samples.note == "" and len(samples.images) == 20


def test_a_test_set_wider_than_the_network_gives_no_samples() -> None:
    data = {"_target_": "src.data.SyntheticDataModule", "train_size": 10, "val_size": 10, "test_size": 20}
    samples = samples_to_pick(data, 64)
    assert samples == Samples([], [], "no test digits to pick: its test images have 784 pixels")


# ------------------------------------------------------------------------- a server in a thread


@contextmanager
def serving(network: DemoNetwork, samples: Samples, host: str = "127.0.0.1") -> Iterator[DemoServer]:
    """A :class:`DemoServer` on a free port of ``host``, serving in a thread until the block ends."""
    demo = DemoServer((host, 0), network, samples)
    # shutdown() waits for serve_forever's next poll: 0.05 s instead of the default 0.5 s per test
    thread = threading.Thread(target=demo.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield demo
    finally:
        demo.shutdown()
        demo.server_close()
        thread.join()


def tiny_server() -> AbstractContextManager[DemoServer]:
    """:func:`serving` a 4-2 network without samples: for what the server answers before any network work."""
    return serving(DemoNetwork(MLP([4, 2]), rate=1.0), Samples([], [], "none"))


def strict_json(text: bytes) -> object:
    """``text`` read as JSON as a browser's ``JSON.parse`` reads it: NaN and Infinity are no JSON (Python's
    parser takes them by default)."""

    def refuse(name: str) -> None:
        raise ValueError(f"{name} is no JSON")

    return json.loads(text, parse_constant=refuse)


def call(
    demo: DemoServer,
    method: str,
    path: str,
    body: object = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict]:
    """``(status, JSON answer)`` of one request; ``body`` is sent as JSON unless it is bytes."""
    connection = http.client.HTTPConnection(*demo.server_address[:2], timeout=60)
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    sent = {"Content-Type": "application/json", **(headers or {})}
    connection.request(method, path, body=data, headers=sent)
    response = connection.getresponse()
    payload = strict_json(response.read())
    connection.close()
    return response.status, payload


def raw_answer(demo: DemoServer, request: bytes, timeout: float = 10) -> bytes:
    """Send ``request`` as bytes (headers a normal client would not send); the whole answer, read until the
    server closes the connection. It closes it after each answer: one kept open would wait out the
    handler's 30 s for a next request, past this socket's ``timeout``, which fails the test."""
    with socket.create_connection(demo.server_address[:2], timeout=timeout) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def raw(demo: DemoServer, request: bytes) -> tuple[int, dict]:
    """:func:`raw_answer`'s ``(status, JSON answer)``."""
    head, _, body = raw_answer(demo, request).partition(b"\r\n\r\n")
    return int(head.split()[1]), strict_json(body)


def diverging_network() -> DemoNetwork:
    """A 64-16-16-10 leaky_relu network with the cross-entropy cost (seeded), as the tester's checkpoint."""
    torch.manual_seed(0)
    return DemoNetwork(MLP(SIZES, "leaky_relu", cost="cross_entropy"), rate=1.0)


def steps_until_refused(
    step: Callable[[list[float], int], str | None], inputs: torch.Tensor
) -> tuple[int, str]:
    """``step(x, digit)`` at rate 1000 for each input (digit: its index mod 10) until one is refused: the
    steps taken, and the refusal's index and message."""
    for index, x in enumerate(inputs.tolist()):
        refused = step(x, index % 10)
        if refused is not None:
            return index, refused
    raise AssertionError(f"{len(inputs)} SGD steps at rate 1000 and none diverged")


def test_an_sgd_step_that_diverges_is_refused_and_the_network_kept_as_it_was() -> None:
    network = diverging_network()
    inputs = torch.rand(20, 64, generator=torch.Generator().manual_seed(1))
    kept: list[torch.Tensor] = []

    def step(x: list[float], digit: int) -> str | None:
        kept.append(network.net.params.detach().clone())
        try:
            answer = network.step(x, digit, 1000.0)
        except Diverged as error:
            return str(error)
        assert answer["steps"] == len(kept)
        assert all(torch.isfinite(torch.tensor(answer[key])).all() for key in ("output_after", "cost_after"))
        return None

    index, message = steps_until_refused(step, inputs)
    assert index >= 1 and message == (
        "the SGD step diverged (a parameter, the output or the cost became NaN or infinite) and was not "
        "taken: try a smaller rate"
    )
    assert torch.equal(network.net.params.detach(), kept[-1]) and network.steps == index
    assert network.describe()["steps"] == index


def test_a_diverging_step_is_a_422_the_page_shows_and_every_answer_after_it_json() -> None:
    with serving(diverging_network(), Samples([], [], "none")) as demo:
        inputs = torch.rand(20, 64, generator=torch.Generator().manual_seed(1))

        def step(x: list[float], digit: int) -> str | None:
            status, answer = call(demo, "POST", "/api/step", {"input": x, "digit": digit, "rate": 1000})
            if status == 200:
                return None
            assert status == 422  # a status the page's api() shows the error of, as any other
            return answer["error"]

        index, message = steps_until_refused(step, inputs)
        assert message == (
            "POST /api/step: rate=1000: the SGD step diverged (a parameter, the output or the cost became "
            "NaN or infinite) and was not taken: try a smaller rate"
        )
        # once the bare NaN JSON.parse refuses, in every answer: call() parses as strictly
        status, model = call(demo, "GET", "/api/model")
        assert status == 200 and model["steps"] == index
        x = inputs[index].tolist()
        assert call(demo, "POST", "/api/forward", {"input": x})[0] == 200
        weight = {"layer": 2, "neuron": 0, "source": 0}
        assert call(demo, "POST", "/api/backprop", {"input": x, "digit": 1, "weight": weight})[0] == 200


def overflowing_network() -> DemoNetwork:
    """A 4-2-2 network with finite parameters whose forward pass gives NaN for an input of ones: its hidden
    layer overflows to inf (4 * 3e38 + 3e38 in float32) and the output's weights of 0 make 0 * inf = NaN."""
    network = DemoNetwork(MLP([4, 2, 2], "leaky_relu"), rate=1.0)
    (w_hidden, b_hidden), (w_out, b_out) = network.net.layers()
    with torch.no_grad():
        w_hidden.fill_(3e38), b_hidden.fill_(3e38), w_out.zero_(), b_out.zero_()
    assert network.net.params.isfinite().all()
    return network


def test_an_answer_that_would_hold_nan_is_a_500_json_error() -> None:
    with serving(overflowing_network(), Samples([], [], "none")) as demo:
        status, answer = call(demo, "POST", "/api/forward", {"input": [1.0] * 4})
        assert (status, answer) == (
            500,
            {
                "error": "POST /api/forward: the answer would hold NaN or an infinite number, which JSON "
                "can't carry: the network's numbers overflow for this input (SGD steps with a large rate "
                'make its weights huge): reset it with "Reset to the checkpoint" (POST /api/reset)'
            },
        )
        # a step from there is refused before it is taken: no rate would help
        status, answer = call(demo, "POST", "/api/step", {"input": [1.0] * 4, "digit": 0, "rate": 0.5})
        assert (status, answer["error"]) == (
            422,
            "POST /api/step: rate=0.5: no step taken: the network's output or cost for this input is already "
            "NaN or infinite (earlier steps made its weights huge): reset it to the checkpoint",
        )
        # an input of zeros stays finite (the hidden layer is its biases, 3e38 in float32): answered
        hidden = [torch.tensor(3e38).item()] * 2
        assert call(demo, "POST", "/api/forward", {"input": [0.0] * 4}) == (
            200,
            {"input": [0.0] * 4, "activations": [[0.0] * 4, hidden, [0.5, 0.5]], "prediction": 0},
        )


@pytest.mark.parametrize(
    ("value", "shown_by_api", "shown_on_command_line"),
    [
        (0, "0", "0"),
        (-1, "-1", "-1"),
        (1000.5, "1000.5", "1000.5"),
        ("0.5", '"0.5"', '"0.5"'),
        (True, "true", "true"),
        (None, "null", "null"),
    ],
)
def test_the_api_and_the_command_line_refuse_the_same_rates(
    value: object, shown_by_api: str, shown_on_command_line: str
) -> None:
    rule = "the SGD step's learning rate must be a finite number > 0 and at most 1000"
    assert refusal(learning_rate, value) == f"rate={shown_by_api}: {rule}"
    with pytest.raises(UserError) as refused:
        first_rate(value, None) if value is not None else first_rate(None, {"lr": None})
    where = "rate" if value is not None else "rate is null and the checkpoint's optimizer.lr"
    assert str(refused.value) == f"{where}={shown_on_command_line}: {rule}, e.g. rate=0.5"


def test_a_rate_of_inf_is_refused_as_no_finite_number_and_the_edges_are_taken() -> None:
    rule = "the SGD step's learning rate must be a finite number > 0 and at most 1000"
    with pytest.raises(UserError, match=r"^rate=inf: the SGD step's learning rate must be a finite number"):
        first_rate(float("inf"), None)
    assert refusal(learning_rate, 10**400) == f"rate={str(10**400)[:40]}: {rule}"
    for rate in (1000, 1e-30, 0.5):
        assert learning_rate(rate) == first_rate(rate, None) == float(rate)


@pytest.mark.parametrize(
    ("host", "port", "message"),
    [
        (None, 0, "host=null: give an address to listen on, e.g. host=127.0.0.1"),
        (["a"], 0, "host=[a]: give an address to listen on, e.g. host=127.0.0.1"),
        ("127.0.0.1", "8000", 'port="8000": give a port from 1 to 65535, or 0 for a free one'),
        ("127.0.0.1", True, "port=true: give a port from 1 to 65535, or 0 for a free one"),
        ("127.0.0.1", 65536, "port=65536: give a port from 1 to 65535, or 0 for a free one"),
    ],
)
def test_a_bad_host_or_port_on_the_command_line_is_shown_as_written(
    host: object, port: object, message: str
) -> None:
    cfg = OmegaConf.create({"ckpt_path": "none.ckpt", "host": host, "port": port, "rate": None})
    with pytest.raises(UserError) as refused:  # before the checkpoint is read
        serve(cfg)
    assert str(refused.value) == message


def test_a_query_string_is_ignored_in_a_post_as_in_a_get() -> None:
    assert request_path("/api/reset?x=1") == "/api/reset"
    assert request_path("//evil.example/api/model") == "//evil.example/api/model"  # no page: no host is read
    with tiny_server() as demo:
        assert call(demo, "POST", "/api/reset?x=1", {}) == (200, {"steps": 0})
        assert call(demo, "GET", "/api/model?x=1")[0] == 200
        assert call(demo, "POST", "/api/model?x=1", {})[1]["error"] == "POST /api/model?x=1: use GET"
        assert call(demo, "POST", "//evil.example/api/reset", {})[0] == 404


def test_every_loopback_address_checks_the_host_header() -> None:
    for host in ("127.0.0.2", "localhost"):
        with serving(DemoNetwork(MLP([4, 2]), rate=1.0), Samples([], [], "none"), host) as demo:
            address, port = demo.server_address[:2]
            assert demo.allowed_hosts() == {
                f"{address}:{port}",
                f"127.0.0.1:{port}",
                f"localhost:{port}",
                f"[::1]:{port}",
            }
            status, answer = call(demo, "GET", "/api/model", headers={"Host": "evil.example"})
            assert (status, answer["error"]) == (
                403,
                f"GET /api/model: Host 'evil.example' is not this server: open http://{address}:{port}/",
            )
            assert call(demo, "GET", "/api/model")[0] == 200  # http.client sends Host: <address>:<port>


def test_on_every_interface_the_url_is_one_a_browser_opens() -> None:
    with bound("0.0.0.0") as demo:
        assert demo.every_interface and demo.url == f"http://127.0.0.1:{demo.server_address[1]}/"
    with bound("127.0.0.1") as demo:
        assert not demo.every_interface
    try:
        demo = bound("::")
    except OSError as error:  # a machine without IPv6
        pytest.skip(f"no IPv6: {error}")
    with demo:
        assert demo.every_interface and demo.url == f"http://[::1]:{demo.server_address[1]}/"


def test_the_demos_log_is_named_after_the_command() -> None:
    # python -m src.demo runs src/demo/__main__.py: Hydra names the job (and its log) after the module file
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3", job_name="__main__"):
        cfg = compose("demo", return_hydra_config=True)
    assert cfg.hydra.job.name == "demo"


def test_a_body_nested_too_deep_is_refused_with_the_parsers_whole_reason() -> None:
    body = b"[" * 100000
    with pytest.raises(RecursionError) as parsed:
        json.loads(body)
    handler = DemoHandler.__new__(DemoHandler)
    handler.command, handler.path, handler.close_connection = "POST", "/api/forward", False
    handler.headers = request_headers({"Content-Type": "application/json", "Content-Length": str(len(body))})
    handler.rfile = io.BytesIO(body)
    assert refusal(handler.read_json) == f"POST /api/forward: the body is not valid JSON ({parsed.value})"
    assert len(str(parsed.value)) > 80  # the length it was once cut to, mid-word


def test_a_long_reason_is_cut_after_a_whole_word() -> None:
    assert one_line("one  two\nthree") == "one two three"
    assert one_line("abc def ghi", limit=7) == "abc def ..."
    assert one_line("abc def ghi", limit=6) == "abc ..."
    assert one_line("x" * 200, limit=10) == "x" * 10 + " ..."  # one word longer than the limit
    assert one_line("abc def", limit=7) == "abc def"  # as long as the limit: whole
    assert one_line("a " + "x" * 200) == "a ..."  # the last space that fits is the second character
    reason = "x" * 59 + " " + "y" * 60
    assert one_line(reason) == reason  # MAX_REASON characters
    assert one_line(reason + "y") == "x" * 59 + " ..."


def test_a_request_http_server_refuses_gets_its_reason_or_its_status_phrase() -> None:
    """What http.server refuses before a handler runs is answered with the reason it gives (a header line
    too long, an HTTP version it does not speak), or else the phrase of its status (a request line too
    long)."""
    with tiny_server() as demo:
        long_header = b"X-Long: " + b"x" * 70000 + b"\r\n"
        assert raw(demo, b"GET / HTTP/1.1\r\n" + long_header + b"\r\n") == (431, {"error": "Line too long"})
        assert raw(demo, b"GET /" + b"x" * 70000 + b" HTTP/1.1\r\n\r\n") == (
            414,
            {"error": "Request-URI Too Long"},
        )
        # a version http.server does not speak: it answers as HTTP/0.9 would, without a status line
        assert raw_answer(demo, b"GET / HTTP/2.0\r\n\r\n") == b'{"error": "Invalid HTTP version (2.0)"}'


def test_an_unknown_method_gets_501_naming_it_and_the_methods_allowed() -> None:
    with tiny_server() as demo:
        assert raw(demo, b"BREW /api/model HTTP/1.1\r\n\r\n") == (
            501,
            {"error": "BREW /api/model: unknown method: use GET or POST"},
        )
        # a method of any length is read as one: the line quotes 20 characters of it
        assert raw(demo, b"X" * 1000 + b" / HTTP/1.1\r\n\r\n") == (
            501,
            {"error": f"{'X' * 20} /: unknown method: use GET or POST"},
        )
        status, answer = call(demo, "DELETE", "/")
        assert (status, answer["error"]) == (405, "DELETE /: DELETE is not allowed: use GET or POST")
