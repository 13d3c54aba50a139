"""The demo server's checks of a request, called directly: the exact 400 line each bad value gets, and the
limits at their edges. Quick and without ``tests/conftest.py``'s trained run, so the mutation runs
(``python -m tests.mutation demo``) have them; ``tests/test_demo.py`` asks a running server."""

import base64
import struct
import zlib
from http import HTTPStatus

import pytest
import torch
from PIL import Image
from runs import png_of

from src.data import SyntheticDataModule, TorchvisionDataModule
from src.demo.samples import Samples, data_module, samples_to_pick
from src.demo.server import (
    ApiError,
    DemoHandler,
    DemoServer,
    canvas_image,
    integer,
    number,
    pixels,
    weight_choice,
)
from src.demo.views import DemoNetwork, WeightChoice
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


def test_a_body_that_does_not_arrive_in_30_seconds_gets_408_and_the_connection_is_closed() -> None:
    # no __init__: it would answer a request at once; read_json needs only what is set here
    handler = DemoHandler.__new__(DemoHandler)
    handler.command, handler.path, handler.close_connection = "POST", "/api/step", False
    handler.headers = {"Content-Type": "application/json", "Content-Length": "2"}
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


def test_a_decompression_bomb_is_refused_with_80_characters_of_pils_reason() -> None:
    # 400 megapixels: PIL refuses to open it at all, before the 2048-pixel side is checked
    message = refusal(canvas_image, base64.b64encode(png_header(20000, 20000)).decode())
    reason = message.removeprefix("png: not a readable PNG image (").removesuffix(")")
    assert reason.startswith("Image size (400000000 pixels) exceeds limit of") and len(reason) == 80


def test_a_checkpoints_keys_are_compared_by_value_not_identity() -> None:
    # keys read from a checkpoint file are new strings, not the interned literal "_target_"
    target = "".join(["_tar", "get_"])
    samples = samples_to_pick({target: "src.data.DigitsDataModule"}, 64)
    assert samples.note == "" and len(samples.images) == 20


def test_a_test_set_wider_than_the_network_gives_no_samples() -> None:
    data = {"_target_": "src.data.SyntheticDataModule", "train_size": 10, "val_size": 10, "test_size": 20}
    samples = samples_to_pick(data, 64)
    assert samples == Samples([], [], "no test digits to pick: its test images have 784 pixels")
