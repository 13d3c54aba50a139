"""``src.demo``: the numbers its API serves are the project's own (``feedforward``, ``Backpropagation``,
``src.images``' image reduction); bad requests get a 4xx JSON error and the server carries on; the
page, driven by real mouse events in headless Chromium, shows exactly those numbers.

The browser tests need Chromium (Debian's ``chromium`` package) and the ``playwright`` package; they
skip, saying which is missing, where either can't be had. ``DEMO_CKPT=PATH DEMO_SCREENSHOT=FILE`` adds
that checkpoint to them and saves its page as ``FILE`` (how the README's screenshot was made).
"""

import base64
import hashlib
import http.client
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from PIL import Image, ImageDraw
from runs import REPO, compose_config, png_of, run_module, write_idx
from test_demo_units import call, raw, raw_answer, serving

from src.checkpoint import load_checkpoint, load_model, model_from
from src.demo.__main__ import first_rate, newest_checkpoint
from src.demo.samples import Samples, samples_to_pick
from src.demo.server import MAX_BODY, MAX_RATE, DemoHandler, DemoServer
from src.demo.views import DemoNetwork, WeightChoice
from src.errors import UserError
from src.images import layout_for, read_image, to_input
from src.network.backprop import Backpropagation
from src.network.layers import feedforward
from src.network.mlp import MLP
from src.predict import predict
from src.train import train

TOLERANCE = 1e-6
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DIGITS_DATA = {"_target_": "src.data.DigitsDataModule"}


@pytest.fixture
def server() -> Iterator[DemoServer]:
    """A server on a free port for an untrained 64-16-16-10 network (seeded), digits to pick."""
    torch.manual_seed(0)
    network = DemoNetwork(MLP([64, 16, 16, 10]), rate=3.0)
    with serving(network, samples_to_pick(DIGITS_DATA, 64)) as demo:
        yield demo


def stroke_image(size: int = 280) -> Image.Image:
    """A white stroke like a 7 on black, as the page's canvas holds it."""
    image = Image.new("RGB", (size, size), "black")
    ImageDraw.Draw(image).line([(80, 60), (200, 60), (130, 230)], fill="white", width=size // 14)
    return image


def direct_gradient(net: MLP, x: list[float], digit: int) -> tuple[float, torch.Tensor]:
    """``C`` and ``grad C`` straight from :class:`Backpropagation`."""
    params = net.params.detach().clone().requires_grad_()
    expected = torch.eye(net.architecture.sizes[-1])[digit][None]
    cost = Backpropagation.apply(params, torch.tensor([x]), expected, net.architecture, net.cost)
    (grad,) = torch.autograd.grad(cost, params)
    return float(cost.detach()), grad


def assert_close(found: list, expected: torch.Tensor) -> None:
    assert torch.allclose(torch.tensor(found, dtype=torch.float64), expected.double(), rtol=0, atol=TOLERANCE)


# ------------------------------------------------------------------------------------ the numbers


def test_forward_from_a_png_is_src_predict_on_the_same_image(server: DemoServer, tmp_path: Path) -> None:
    image = stroke_image()
    status, answer = call(server, "POST", "/api/forward", {"png": png_of(image)})
    assert status == 200
    image.save(tmp_path / "drawing.png")
    expected_input = to_input(read_image(tmp_path / "drawing.png"), layout_for(64))
    assert_close(answer["input"], expected_input)
    net = server.network.net
    activations, _ = feedforward(net.layers(), net.architecture, expected_input[None])
    for found, layer in zip(answer["activations"], activations, strict=True):
        assert_close(found, layer[0].detach())
    assert answer["prediction"] == int(activations[-1].argmax())
    assert len(answer["activations"]) == 4 and len(answer["activations"][1]) == 16


def test_backprop_is_backpropagation_and_the_chain_rule_agrees_in_every_layer(server: DemoServer) -> None:
    x = torch.rand(64, generator=torch.Generator().manual_seed(1)).tolist()
    net = server.network.net
    cost, grad = direct_gradient(net, x, 3)
    grads = net.architecture.split(grad)
    for layer, neuron, source in ((2, 5, 20), (3, 15, 0), (4, 3, 7), (4, 0, 15)):
        weight = {"layer": layer, "neuron": neuron, "source": source}
        status, answer = call(server, "POST", "/api/backprop", {"input": x, "digit": 3, "weight": weight})
        assert status == 200
        assert answer["cost"] == pytest.approx(cost, abs=TOLERANCE)
        assert answer["expected"] == [float(k == 3) for k in range(10)]
        assert len(answer["cost_terms"]) == 10  # one term per output neuron
        output = feedforward(net.layers(), net.architecture, torch.tensor([x]))[0][-1][0]
        assert_close(answer["output"], output.detach())
        assert sum(answer["cost_terms"]) == pytest.approx(cost, abs=TOLERANCE)
        for found, (grad_weight, _) in zip(answer["grad_weights"], grads, strict=True):
            assert_close(found, grad_weight)
        for found, (_, grad_bias) in zip(answer["deltas"], grads, strict=True):
            assert_close(found, grad_bias)  # one sample: delta_l = dC/dB_l
        chain = answer["chain"]
        assert chain["backprop"] == pytest.approx(float(grads[layer - 2][0][neuron, source]), abs=1e-9)
        assert chain["product"] == pytest.approx(chain["backprop"], rel=1e-4, abs=1e-9)
        assert chain["dsum_dw"] == pytest.approx(x[source] if layer == 2 else chain["dsum_dw"])
        assert chain["output_layer"] == (layer == 4)


@pytest.mark.parametrize(("activation", "cost"), [("relu", "cross_entropy"), ("tanh", "mse")])
def test_the_chain_rule_holds_for_other_activations_and_costs(activation: str, cost: str) -> None:
    torch.manual_seed(3)
    net = MLP([64, 16, 10], activation, cost=cost, init="scaled_normal")
    x = torch.rand(64, generator=torch.Generator().manual_seed(4)).tolist()
    _, grad = direct_gradient(net, x, 2)
    grads = net.architecture.split(grad)
    for layer, neuron, source in ((2, 4, 30), (3, 2, 4), (3, 7, 11)):
        view = DemoNetwork(net, 1.0).backprop(x, 2, WeightChoice(layer, neuron, source))
        chain = view["chain"]
        assert chain["activation"] == (activation if layer == 2 else "sigmoid")
        assert chain["backprop"] == pytest.approx(float(grads[layer - 2][0][neuron, source]), abs=1e-9)
        assert chain["product"] == pytest.approx(chain["backprop"], rel=1e-4, abs=1e-9)


def test_sgd_step_changes_only_the_copy_and_reset_restores_it(server: DemoServer) -> None:
    x = torch.rand(64, generator=torch.Generator().manual_seed(2)).tolist()
    net = server.network.net
    before = net.params.detach().clone()
    _, grad = direct_gradient(net, x, 7)
    status, answer = call(server, "POST", "/api/step", {"input": x, "digit": 7, "rate": 0.5})
    assert status == 200 and answer["steps"] == 1
    stepped = before - 0.5 * grad
    assert torch.allclose(net.params.detach(), stepped, atol=TOLERANCE)
    output_after, _ = feedforward(net.architecture.split(stepped), net.architecture, torch.tensor([x]))
    assert_close(answer["output_after"], output_after[-1][0])
    assert answer["cost_after"] < answer["cost_before"]  # a small step down the gradient
    assert call(server, "GET", "/api/model")[1]["steps"] == 1
    assert call(server, "POST", "/api/reset", {})[1] == {"steps": 0}
    assert torch.equal(net.params.detach(), before)
    assert call(server, "GET", "/api/model")[1]["steps"] == 0  # the count the page shows starts again


def digits_test_split() -> tuple[torch.Tensor, torch.Tensor]:
    from src.data import DigitsDataModule

    return DigitsDataModule().load()["test"]


def test_model_describes_the_network_and_offers_test_digits(server: DemoServer) -> None:
    status, model = call(server, "GET", "/api/model")
    assert status == 200
    assert model["sizes"] == [64, 16, 16, 10] and model["side"] == 8 and model["rate"] == 3.0
    assert model["max_rate"] == MAX_RATE  # the page's rate box offers no rate the step API refuses
    assert [len(w) for w in model["weights"]] == [16, 16, 10] and len(model["weights"][0][0]) == 64
    samples = model["samples"]
    assert sorted(samples["labels"]) == sorted(list(range(10)) * 2) and samples["note"] == ""
    x, y = digits_test_split()
    first_zero = int((y == 0).nonzero()[0])
    assert samples["images"][samples["labels"].index(0)] == x[first_zero].tolist()


def test_samples_come_only_from_our_data_modules_and_never_download(tmp_path: Path) -> None:
    refused = samples_to_pick({"_target_": "os.system", "command": "touch x"}, 64)
    assert refused.images == [] and "not a data module of src.data" in refused.note
    missing = samples_to_pick(
        {"_target_": "src.data.TorchvisionDataModule", "root": str(tmp_path), "download": True}, 784
    )
    assert missing.images == [] and missing.note.startswith("no test digits to pick")
    assert list(tmp_path.iterdir()) == []  # download=true in a checkpoint is not obeyed
    assert "64 pixels" in samples_to_pick(DIGITS_DATA, 784).note
    assert samples_to_pick(None, 64).note == "no test digits to pick: the checkpoint records no data module"


def test_newest_checkpoint_and_first_rate(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"holds no \.ckpt file"):
        newest_checkpoint(tmp_path)
    (tmp_path / "file").write_text("")
    for missing, what in ((tmp_path / "none", "does not exist"), (tmp_path / "file", "is not a folder")):
        with pytest.raises(UserError) as refusal:  # it said "holds no .ckpt file" (a tester)
            newest_checkpoint(missing)
        assert str(refusal.value) == (
            f"ckpt_path is missing and checkpoints_dir={missing} {what}: give the folder of your runs with "
            "checkpoints_dir=..., or pass ckpt_path=PATH"
        )
    (tmp_path / "file").unlink()
    for age, name in enumerate(("c.ckpt", "a/b.ckpt", "a/last.ckpt")):
        path = tmp_path / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"")
        os.utime(path, (1000 + age, 1000 + age))
    assert newest_checkpoint(tmp_path) == tmp_path / "a/last.ckpt"
    (tmp_path / "broken.ckpt").symlink_to(tmp_path / "gone.ckpt")  # a link to nothing: no file, no traceback
    (tmp_path / "folder.ckpt").mkdir()
    assert newest_checkpoint(tmp_path) == tmp_path / "a/last.ckpt"
    assert first_rate(None, {"lr": 1.5}) == 1.5
    assert first_rate(0.25, {"lr": 1.5}) == 0.25
    with pytest.raises(UserError, match=r"rate is null and the checkpoint's optimizer\.lr"):
        first_rate(None, {"_target_": "torch.optim.SGD"})
    with pytest.raises(UserError, match="rate=-1"):
        first_rate(-1, None)
    # the step API refuses a rate over MAX_RATE: the page must not offer one (every step was a 400)
    assert first_rate(MAX_RATE, None) == MAX_RATE
    with pytest.raises(UserError, match=r"^rate=5000: the SGD step's learning rate must be .* at most 1000"):
        first_rate(5000, None)
    with pytest.raises(
        UserError, match=r"^rate is null and the checkpoint's optimizer\.lr=2000\.0: .*at most"
    ):
        first_rate(None, {"lr": 2000.0})


# -------------------------------------------------------------------------------- bad requests


def bad_png() -> str:
    return png_of(Image.new("L", (3000, 2), 0))


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("/api/forward", {"input": [0.5] * 63}, 400, "must be a list of 64 pixel values, not 63 values"),
        ("/api/forward", {"input": "0.5"}, 400, "not a str"),
        ("/api/forward", {"input": [0.5] * 63 + ["x"]}, 400, 'input[63]="x": must be a finite number'),
        ("/api/forward", {"input": [0.5] * 63 + [True]}, 400, "input[63]=true: must be a finite number"),
        ("/api/forward", {"input": [0.5] * 63 + [1e300]}, 400, "must be between 0 and 1"),
        (
            "/api/forward",
            {"input": [0.5] * 63 + [10**400]},
            400,
            f"input[63]={str(10**400)[:40]}: must be between",
        ),
        ("/api/forward", {"input": [0.5] * 64, "png": ""}, 400, "send either"),
        ("/api/forward", {}, 400, "send either"),
        ("/api/forward", {"png": "not base64!"}, 400, "png: not a readable PNG image"),
        ("/api/forward", {"png": base64.b64encode(b"GIF89a....").decode()}, 400, "png: not a readable PNG"),
        ("/api/forward", {"png": 7}, 400, "png: must be a base64 string"),
        ("/api/forward", [1, 2], 400, "the body must be a JSON object"),
        (
            "/api/backprop",
            {"input": [0.0] * 64, "digit": 10},
            400,
            "digit=10: must be an integer from 0 to 9",
        ),
        ("/api/backprop", {"input": [0.0] * 64, "digit": 1.0}, 400, "digit=1.0: must be an integer"),
        (
            "/api/backprop",
            {"input": [0.0] * 64, "digit": 1, "weight": {"layer": 1, "neuron": 0, "source": 0}},
            400,
            "weight.layer=1: must be an integer from 2 to 4",
        ),
        (
            "/api/backprop",
            {"input": [0.0] * 64, "digit": 1, "weight": {"layer": 4, "neuron": 10, "source": 0}},
            400,
            "weight.neuron=10: must be an integer from 0 to 9",
        ),
        ("/api/backprop", {"input": [0.0] * 64, "digit": 1, "weight": [4, 0, 0]}, 400, "weight: must be"),
        (
            "/api/step",
            {"input": [0.0] * 64, "digit": 1, "rate": -1},
            400,
            "rate=-1: the SGD step's learning rate must be a finite number > 0 and at most 1000",
        ),
        (
            "/api/step",
            {"input": [0.0] * 64, "digit": 1, "rate": "fast"},
            400,
            'rate="fast": the SGD step\'s learning rate must be a finite',
        ),
        ("/api/step", {"input": [0.0] * 64, "digit": 1, "rate": 0}, 400, "rate=0: the SGD step's"),
        ("/api/nothing", {}, 404, "no such API"),
        ("/", {}, 405, "use GET"),
        ("/api/model", {}, 405, "use GET"),
        ("/api/a", {}, 404, "no such API"),  # a path that sorts before /api/model is no page either
    ],
)
def test_bad_post_bodies_get_a_clear_4xx(server, path, body, status, message) -> None:
    found_status, answer = call(server, "POST", path, body)
    assert (found_status, message in answer["error"]) == (status, True), answer
    assert call(server, "GET", "/api/model")[0] == 200  # still serving


def test_bad_requests_of_every_other_kind_get_a_clear_4xx(server: DemoServer) -> None:
    port = server.server_address[1]
    cases = [
        (call(server, "POST", "/api/forward", {"png": bad_png()}), 400, "3000x2 pixels is too large"),
        (call(server, "POST", "/api/forward", b'{"input": [NaN]}'), 400, "NaN is not a number JSON allows"),
        (call(server, "POST", "/api/forward", b"{not json"), 400, "the body is not valid JSON"),
        (call(server, "POST", "/api/forward", b"[" * 100000), 400, "the body is not valid JSON"),
        (call(server, "POST", "/api/reset", b"{}", {"Content-Type": "text/plain"}), 415, "Content-Type"),
        (call(server, "GET", "/api/forward"), 405, "use POST"),
        (call(server, "DELETE", "/"), 405, "DELETE is not allowed"),
        (call(server, "PUT", "/api/model", b"{}"), 405, "PUT is not allowed"),
        (call(server, "GET", "/../src/demo/server.py"), 404, "no such page"),
        (call(server, "GET", "/page/demo.js"), 404, "no such page"),
        (call(server, "GET", "/src/demo/page/"), 404, "no such page"),
        (call(server, "GET", "/", headers={"Host": "attacker.example"}), 403, "is not this server"),
        (
            raw(
                server,
                f"POST /api/forward HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\r\n".encode(),
            ),
            411,
            "Content-Length",
        ),
        (
            raw(
                server,
                f"POST /api/forward HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {MAX_BODY + 1}\r\n\r\n".encode(),
            ),
            413,
            f"at most {MAX_BODY} bytes",
        ),
        (raw(server, b"BREW / HTTP/1.1\r\n\r\n"), 501, "BREW /: unknown method: use GET or POST"),
    ]
    for (status, answer), expected_status, message in cases:
        assert status == expected_status and message in answer["error"], answer
    assert call(server, "GET", "/api/model")[0] == 200


def test_a_query_string_is_ignored_in_a_get(server: DemoServer) -> None:
    # a browser may add one (a reload bypassing its cache): the path before it is served
    status, model = call(server, "GET", "/api/model?reload=1")
    assert status == 200 and model["sizes"] == [64, 16, 16, 10]
    assert call(server, "GET", "/nothing?/api/model")[0] == 404


def test_only_a_json_content_type_is_read_with_any_charset_and_case(server: DemoServer) -> None:
    for content_type in ("application/json; charset=utf-8", "Application/JSON"):
        headers = {"Content-Type": content_type}
        assert call(server, "POST", "/api/reset", {}, headers) == (200, {"steps": 0}), content_type
    # only JSON: a form a page of another site may post without asking, or a type sorting before JSON's
    for content_type in ("multipart/form-data", "application/javascript", "application/jsonp", ""):
        status, answer = call(server, "POST", "/api/reset", b"{}", {"Content-Type": content_type})
        assert (status, answer["error"]) == (
            415,
            "POST /api/reset: send a JSON body with Content-Type: application/json",
        ), content_type


def test_an_error_line_quotes_at_most_100_characters_of_the_path_and_60_of_the_host(
    server: DemoServer,
) -> None:
    status, answer = call(server, "GET", "/" + "p" * 200)
    assert status == 404 and answer["error"].startswith(f"GET /{'p' * 99}: no such page")
    status, answer = call(server, "GET", "/", headers={"Host": "h" * 200})
    port = server.server_address[1]
    assert (status, answer["error"]) == (
        403,
        f"GET /: Host '{'h' * 60}' is not this server: open http://127.0.0.1:{port}/",
    )


def test_a_head_request_is_refused_with_headers_and_no_body(server: DemoServer) -> None:
    port = server.server_address[1]
    answer = raw_answer(server, f"HEAD / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 405 ") and b"Content-Type: application/json" in head
    assert body == b""  # a HEAD answer has headers only, even an error's


def test_a_malformed_request_is_answered_and_its_connection_closed_at_once(server: DemoServer) -> None:
    """Kept open, the connection would wait up to the handler's 30 s for a next request."""
    answer = raw_answer(server, b"BREW / HTTP/1.1\r\n\r\n", timeout=5)  # 5 s without the close fail it
    assert answer.startswith(b"HTTP/1.0 501 ") and answer.endswith(
        b'{"error": "BREW /: unknown method: use GET or POST"}'
    )


def test_a_body_nested_too_deep_is_named_with_the_parsers_whole_message(server: DemoServer) -> None:
    with pytest.raises(RecursionError) as parsed:
        json.loads(b"[" * 100000)
    status, answer = call(server, "POST", "/api/forward", b"[" * 100000)
    # once cut at 80 characters, mid-word: "... from a unicode stri)"
    assert (status, answer["error"]) == (
        400,
        f"POST /api/forward: the body is not valid JSON ({parsed.value})",
    )


def test_a_body_of_exactly_4_mib_is_read_and_one_byte_more_is_refused(server: DemoServer) -> None:
    body = b"{}" + b" " * (4 * 2**20 - 2)  # JSON allows the spaces: the largest body allowed
    assert call(server, "POST", "/api/reset", body) == (200, {"steps": 0})
    port = server.server_address[1]
    head = f"POST /api/reset HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
    status, answer = raw(server, head.encode() + b"Content-Length: 4194305\r\n\r\n")
    assert (status, answer["error"]) == (413, "POST /api/reset: the body may have at most 4194304 bytes")


def test_closing_the_server_does_not_wait_for_an_idle_connection() -> None:
    """Ctrl-C must not wait for a browser's open connection, whose handler waits up to 30 s for a
    request."""
    network = DemoNetwork(MLP([64, 10]), rate=1.0)
    with socket.socket() as idle:
        with serving(network, Samples([], [], "none")) as demo:
            idle.connect(demo.server_address[:2])
            call(demo, "GET", "/api/model")  # answered after the idle connection was accepted
            started = time.monotonic()
        assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("length", "status", "message"),
    [
        (b"\xb2", 400, "is not a number of bytes"),  # ², as the server decodes headers (Latin-1)
        (b"\xb9", 400, "is not a number of bytes"),  # ¹
        (b"2\xb3", 400, "is not a number of bytes"),  # 2³
        (b"-2", 400, "is not a number of bytes"),
        (b"0x2", 400, "is not a number of bytes"),
        (b"9" * 5000, 413, f"at most {MAX_BODY} bytes"),
        (b"0" * 5000 + b"2", 200, "steps"),
        (
            b"x" * 50,
            400,
            f"POST /api/reset: Content-Length {'x' * 20!r} is not a number of bytes (digits 0-9)",
        ),
    ],
    ids=[
        "superscript 2",
        "superscript 1",
        "2 superscript 3",
        "negative",
        "hex",
        "5000 digits",
        "zeros",
        "long",
    ],
)
def test_a_content_length_is_ascii_digits(
    server: DemoServer, length: bytes, status: int, message: str
) -> None:
    """``str.isdigit()`` accepts ``²``, which ``int()`` refuses, and ``int()`` refuses more than 4300 digits:
    both once gave a 500 and a traceback on the server's terminal."""
    port = server.server_address[1]
    head = f"POST /api/reset HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
    found_status, answer = raw(server, head.encode() + b"Content-Length: " + length + b"\r\n\r\n{}")
    assert (found_status, message in json.dumps(answer)) == (status, True), answer
    assert call(server, "GET", "/api/model")[0] == 200


def test_two_content_lengths_are_refused_and_a_host_names_case_does_not_matter(server: DemoServer) -> None:
    """A tester: ``Content-Length`` 2 and 5 were read as the first, and ``LOCALHOST:port`` got a 403."""
    port = server.server_address[1]
    head = f"POST /api/reset HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
    for lengths in (b"2", b"5"), (b"2", b"2"):
        headers = b"".join(b"Content-Length: " + length + b"\r\n" for length in lengths)
        assert raw(server, head.encode() + headers + b"\r\n{}") == (
            400,
            {"error": "POST /api/reset: send one Content-Length header"},
        )
    two_hosts = f"GET /api/model HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nHost: evil.example\r\n\r\n"
    assert raw(server, two_hosts.encode()) == (400, {"error": "GET /api/model: send one Host header"})
    for host in (f"LOCALHOST:{port}", f"LocalHost:{port}"):
        assert raw(server, f"GET /api/model HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())[0] == 200
    assert raw(server, f"GET /api/model HTTP/1.1\r\nHost: EVIL.example:{port}\r\n\r\n".encode())[0] == 403


def test_a_client_gone_before_its_answer_is_no_server_error(capsys: pytest.CaptureFixture) -> None:
    """A client that resets the connection: writing the answer fails with ``BrokenPipeError`` or
    ``ConnectionResetError``, once printed as a bug's traceback (twice: the 500 could not be sent either)."""

    class Gone:
        close_connection = False

        def check_host(self) -> None:
            pass

        def send_json(self, value: object, status: int = 200) -> None:
            raise BrokenPipeError(32, "Broken pipe")

    for failure in (BrokenPipeError(32, "Broken pipe"), ConnectionResetError(104, "reset")):
        handler = Gone()

        def answer(failure: Exception = failure) -> None:
            raise failure

        DemoHandler.handle_api(handler, answer)
        assert handler.close_connection
    DemoHandler.handle_api(handler, lambda: handler.send_json({}))
    assert capsys.readouterr().err == ""


def test_the_page_is_served_with_its_files_and_security_headers(server: DemoServer) -> None:
    connection = http.client.HTTPConnection(*server.server_address[:2], timeout=60)
    for path, kind, marker in (
        ("/", "text/html", b'<script src="/demo.js">'),
        ("/demo.js", "text/javascript", b"/api/backprop"),
        ("/demo.css", "text/css", b"#canvas"),
    ):
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        assert response.status == 200 and response.getheader("Content-Type").startswith(kind)
        assert marker in body
        assert "default-src 'self'" in response.getheader("Content-Security-Policy")
    connection.close()


# ----------------------------------------------------------------------------- the command line


@pytest.mark.slow
def test_command_line_errors_are_one_line_with_exit_code_2(tmp_path: Path) -> None:
    missing = run_module("src.demo", f"ckpt_path={tmp_path / 'none.ckpt'}")
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        f"error: ckpt_path={tmp_path / 'none.ckpt'} does not exist: give a .ckpt file written by python -m src.train"
    ]
    empty = run_module("src.demo", f"checkpoints_dir={tmp_path}", "port=-1")
    assert empty.returncode == 2 and "holds no .ckpt file" in empty.stderr


@pytest.fixture(scope="module")
def digits_ckpt(trained_digits_run: Path) -> Path:
    return Path(json.loads((trained_digits_run / "metrics.json").read_text())["ckpt_path"])


@pytest.mark.slow
def test_serves_until_ctrl_c_then_exits_130_without_a_traceback(digits_ckpt: Path, tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "src.demo", f"ckpt_path={digits_ckpt}", f"hydra.run.dir={tmp_path}"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        while not (lines and lines[-1].startswith("open ")):
            line = process.stdout.readline()
            assert line, f"the server ended: {process.stderr.read()}"
            lines.append(line)
        url = lines[-1].split()[1]
        assert url.startswith("http://127.0.0.1:")
        connection = http.client.HTTPConnection(url.split("//")[1].rstrip("/"), timeout=60)
        connection.request("GET", "/api/model")
        assert json.loads(connection.getresponse().read())["sizes"] == [64, 16, 16, 10]
        connection.close()
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and stderr.strip().splitlines()[-1] == "interrupted"
    # the log is named after the command, as src.predict's predict.log, not after its module (__main__)
    assert (tmp_path / "demo.log").is_file() and not (tmp_path / "__main__.log").exists()


# ---------------------------------------------------------------------------------- in Chromium


def chromium_or_skip():
    """Playwright's launcher for the system's Chromium, or a skip saying what is missing."""
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.skip("no Chromium: install Debian's chromium package (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("no playwright: pip install -e '.[dev]'")
    return sync_playwright, executable


@pytest.fixture(scope="module")
def mnist_shaped_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 784-16-10 checkpoint trained briefly on tiny MNIST-format files: the 28x28 path."""
    root = write_idx(tmp_path_factory.mktemp("idx"), "MNIST", n_train=60, n_test=20)
    run_dir = tmp_path_factory.mktemp("mnist_shaped")
    cfg = compose_config(
        "train",
        run_dir,
        "data=mnist",
        f"data.root={root}",
        "data.val_size=20",
        "model.hidden=[16]",
        "trainer.max_epochs=2",
    )
    return Path(train(cfg)["ckpt_path"])


def browser_checkpoints() -> list[str]:
    extra = [os.environ["DEMO_CKPT"]] if os.environ.get("DEMO_CKPT") else []
    return ["digits", "mnist_shaped", *extra]


@pytest.fixture(params=browser_checkpoints())
def page_server(request: pytest.FixtureRequest) -> Iterator[tuple[DemoServer, Path, bool]]:
    """``(server, checkpoint, is the DEMO_CKPT one)`` for each checkpoint the browser tests use."""
    name = request.param
    ckpt = Path(name) if name not in ("digits", "mnist_shaped") else request.getfixturevalue(f"{name}_ckpt")
    before = hashlib.sha256(ckpt.read_bytes()).hexdigest()
    checkpoint = load_checkpoint(ckpt)
    network = DemoNetwork(
        model_from(checkpoint).net, first_rate(None, checkpoint["hyper_parameters"]["optimizer"])
    )
    samples = samples_to_pick(checkpoint["hyper_parameters"].get("data"), network.sizes[0])
    with serving(network, samples) as demo:
        yield demo, ckpt, name not in ("digits", "mnist_shaped")
    assert hashlib.sha256(ckpt.read_bytes()).hexdigest() == before  # the file never changes


def settled(condition: str = "true") -> str:
    """A predicate for ``wait_for_function``: the page has answered everything asked and ``condition``
    holds (a function, not an expression: the page's Content-Security-Policy forbids eval)."""
    return f"() => document.body.dataset.idle === 'true' && window.demo.backprop !== null && ({condition})"


SEVEN = [(0.3, 0.25), (0.72, 0.25), (0.66, 0.4), (0.52, 0.62), (0.45, 0.82)]


@pytest.fixture
def page(page_server):
    sync_playwright, executable = chromium_or_skip()
    demo = page_server[0]
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        except Exception as error:
            pytest.skip(f"Chromium at {executable} can't be started: {' '.join(str(error).split())[:200]}")
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        tab = context.new_page()
        errors: list[str] = []
        tab.on("pageerror", lambda error: errors.append(str(error)))
        # console errors include what the Content-Security-Policy refused and requests that failed
        tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        tab.goto(demo.url)
        tab.wait_for_function(settled(), timeout=120_000)
        yield tab
        assert errors == [] and tab.inner_text("#error") == ""
        browser.close()


def draw(tab, points: list[tuple[float, float]]) -> None:
    """A stroke through ``points`` (fractions of the canvas) with real mouse events, then wait for the page."""
    box = tab.locator("#canvas").bounding_box()
    at = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    tab.mouse.move(*at[0])
    tab.mouse.down()
    for x, y in at[1:]:
        tab.mouse.move(x, y, steps=8)
    tab.mouse.up()
    tab.wait_for_function(settled(), timeout=120_000)


def shown_activations(page) -> dict[int, list[float]]:
    """Each layer's neuron values as the page drew them (``data-value``: the number it was given)."""
    shown = page.evaluate(
        "[...document.querySelectorAll('circle.neuron')]"
        ".map(c => [+c.dataset.layer, +c.dataset.index, +c.dataset.value])"
    )
    return {layer: [v for at, _, v in sorted(shown) if at == layer] for layer in {at for at, _, _ in shown}}


@pytest.mark.slow
def test_a_picked_test_digit_is_the_networks_input(page, page_server) -> None:
    demo = page_server[0]
    samples = demo.samples
    page.click(".sample[data-index='5']")
    page.wait_for_function(settled("window.demo.inputSource.startsWith('test digit #5')"), timeout=120_000)
    assert page.evaluate("window.demo.input") == samples.images[5]
    net = demo.network.net
    activations, _ = feedforward(net.layers(), net.architecture, torch.tensor([samples.images[5]]))
    shown = shown_activations(page)
    for layer in shown:
        assert shown[layer] == pytest.approx(activations[layer - 1][0].tolist(), abs=TOLERANCE)
    assert page.evaluate("window.demo.backprop.digit") == samples.labels[5]  # E: the digit's label
    assert float(page.get_attribute("#rate", "max")) == MAX_RATE


@pytest.mark.slow
def test_a_drawn_stroke_is_classified_as_src_predict_classifies_the_canvas(
    page, page_server, tmp_path
) -> None:
    demo, ckpt = page_server[0], page_server[1]
    draw(page, SEVEN)
    png = page.evaluate("document.getElementById('canvas').toDataURL('image/png')")
    drawing = tmp_path / "drawing.png"
    drawing.write_bytes(base64.b64decode(png.split(",", 1)[1]))
    [expected] = predict(ckpt, drawing)
    sizes = demo.network.sizes
    by_layer = shown_activations(page)
    assert sorted(by_layer) == list(range(2, len(sizes) + 1))
    assert by_layer[len(sizes)] == pytest.approx(expected.activations, abs=TOLERANCE)
    assert int(page.get_attribute("#prediction", "data-digit")) == expected.label
    # every hidden layer and the input too, against feedforward on src.images' reduction of the canvas
    x = to_input(read_image(drawing), layout_for(sizes[0]))
    assert page.evaluate("window.demo.input") == pytest.approx(x.tolist(), abs=TOLERANCE)
    net = load_model(ckpt).net
    activations, _ = feedforward(net.layers(), net.architecture, x[None])
    for layer in range(2, len(sizes) + 1):
        assert by_layer[layer] == pytest.approx(activations[layer - 1][0].tolist(), abs=TOLERANCE)
    assert page.locator("#input-image").evaluate("c => c.width") == layout_for(sizes[0]).side


@pytest.mark.slow
def test_the_backprop_view_shows_backpropagations_gradient(page, page_server, tmp_path) -> None:
    _, ckpt, extra = page_server
    draw(page, SEVEN)
    page.click("#digits button[data-digit='3']")
    page.wait_for_function(settled("window.demo.backprop.digit === 3"), timeout=120_000)
    x = page.evaluate("window.demo.input")
    net = load_model(ckpt).net
    cost, grad = direct_gradient(net, x, 3)
    shown = page.evaluate("window.demo.backprop")
    assert float(page.get_attribute("#cost", "data-value")) == pytest.approx(cost, abs=TOLERANCE)
    grads = net.architecture.split(grad)
    for found, delta, (grad_weight, grad_bias) in zip(
        shown["grad_weights"], shown["deltas"], grads, strict=True
    ):
        assert_close(found, grad_weight)
        assert_close(delta, grad_bias)
    # choose the first-layer weight with the largest gradient by clicking its pixel in its neuron's image
    grad_w21 = net.architecture.split(grad)[0][0]
    neuron, source = divmod(int(grad_w21.abs().argmax()), grad_w21.shape[1])
    side = layout_for(net.architecture.sizes[0]).side
    tile = page.locator("#grads canvas").nth(neuron)
    box = tile.bounding_box()
    row, column = divmod(source, side)
    tile.click(position={"x": box["width"] * (column + 0.5) / side, "y": box["height"] * (row + 0.5) / side})
    page.wait_for_function(settled("window.demo.backprop.chain.layer === 2"), timeout=120_000)
    chain = page.evaluate("window.demo.backprop.chain")
    assert (chain["neuron"], chain["source"]) == (neuron, source)
    assert chain["backprop"] == pytest.approx(float(grad_w21[neuron, source]), abs=TOLERANCE)
    assert chain["backprop"] != 0
    assert float(page.get_attribute("#chain", "data-product")) == pytest.approx(
        chain["backprop"], rel=1e-4, abs=1e-9
    )
    # one SGD step with the page's r: the outputs it shows are the network's after P <- P - r grad C
    rate = float(page.input_value("#rate"))
    page.click("#sgd-step")
    page.wait_for_function(settled("window.demo.step !== null"), timeout=120_000)
    step = page.evaluate("window.demo.step")
    stepped = net.params.detach() - rate * grad
    after, _ = feedforward(net.architecture.split(stepped), net.architecture, torch.tensor([x]))
    assert step["output_after"] == pytest.approx(after[-1][0].tolist(), abs=TOLERANCE)
    assert float(page.get_attribute("#cost-after", "data-value")) == pytest.approx(step["cost_after"])
    shot = page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
    if extra and os.environ.get("DEMO_SCREENSHOT"):
        save_small_png(shot, Path(os.environ["DEMO_SCREENSHOT"]))


def save_small_png(png: bytes, path: Path) -> None:
    """``png`` with at most 256 colours (the page's flat colours survive), a third of the size."""
    Image.open(io.BytesIO(png)).convert("RGB").quantize(256).save(path, optimize=True)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("cost", "formula", "term"),
    [
        ("mse", "2(a − E) =", "(ak − Ek)²"),
        ("cross_entropy", "(a − E) / (a(1 − a)) =", "−[Ek ln ak + (1 − Ek) ln(1 − ak)]"),
    ],
)
def test_the_chain_rule_writes_the_checkpoints_own_cost_derivative(cost, formula, term) -> None:
    """An output-layer weight's ``∂C/∂a`` and the cost's terms are written as the checkpoint's cost has
    them: the quadratic cost's ``2(a − E)`` and ``(a_k − E_k)²`` were shown for a cross-entropy network too,
    beside cross-entropy's values."""
    sync_playwright, executable = chromium_or_skip()
    net = MLP([64, 4, 10], cost=cost)
    network = DemoNetwork(net, 1.0)
    samples = samples_to_pick(DIGITS_DATA, 64)
    with serving(network, samples) as demo, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1280, "height": 900})
        tab.goto(demo.url)
        tab.wait_for_function(settled(), timeout=120_000)
        tab.click(".sample[data-index='0']")
        tab.wait_for_function(settled(), timeout=120_000)
        tab.fill("#pick-layer", "3")  # W_{3,2}: the output layer
        tab.dispatch_event("#pick-layer", "change")
        tab.wait_for_function(settled("window.demo.backprop.chain.layer === 3"), timeout=120_000)
        chain = tab.evaluate("window.demo.backprop.chain")
        row = tab.inner_text("#chain tr:first-child")
        heading = tab.inner_text("#cost-terms th:nth-child(4)")
        terms = [float(cell) for cell in tab.locator("#cost-terms td:nth-child(4)").all_inner_texts()]
        browser.close()
    shown = network.backprop(samples.images[0], samples.labels[0], WeightChoice(2, 0, 0))["cost_terms"]
    assert heading == term and terms == pytest.approx(shown, rel=1e-3, abs=1e-4)
    a, e = chain["a"], float(samples.labels[0] == chain["neuron"])  # E_j: 1 for the picked digit's neuron
    assert formula in row
    expected = 2 * (a - e) if cost == "mse" else (a - e) / (a * (1 - a))
    assert chain["dcost_da"] == pytest.approx(expected, rel=1e-5)
