"""``python -m src.export``: the trained network's forward pass as a file, checked against the checkpoint."""

import importlib.util
import logging
from pathlib import Path

import pytest
import torch
from runs import run_module

from src.checkpoint import load_model
from src.errors import UserError
from src.export import FORMATS, TOLERANCE, export
from src.network.mlp import MLP


@pytest.fixture(scope="module")
def digits_ckpt(trained_digits_run: Path) -> str:
    return str(next((trained_digits_run / "checkpoints").glob("epoch_*.ckpt")))


def reference(ckpt: str, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return load_model(ckpt).net(x)


@pytest.mark.parametrize("format", ["torch_export", "torchscript", "onnx"])
def test_exported_network_gives_the_checkpoints_outputs(tmp_path, digits_ckpt, format, capfd, caplog):
    if format == "onnx":
        for name in ("onnx", "onnxruntime", "onnxscript"):
            pytest.importorskip(name)
    path = tmp_path / f"model{FORMATS[format].suffix}"
    with caplog.at_level(logging.INFO):
        check = export(digits_ckpt, format, path)
    # the ONNX exporter printed about 20 lines of its progress and its optimiser's internals (a tester)
    assert capfd.readouterr() == ("", "")
    assert [record.getMessage() for record in caplog.records] == []
    assert check.difference <= TOLERANCE and check.rounding is None
    x = torch.rand(5, 64, generator=torch.Generator().manual_seed(3))
    if format == "torch_export":
        outputs = torch.export.load(path).module()(x)
    elif format == "torchscript":
        outputs = torch.jit.load(path)(x)
    else:
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        outputs = torch.from_numpy(session.run(None, {"x": x.numpy()})[0])
    assert outputs.shape == (5, 10)
    torch.testing.assert_close(outputs, reference(digits_ckpt, x), atol=TOLERANCE, rtol=0)


def test_a_64_true_checkpoint_exports_in_float32_and_says_what_the_rounding_costs(tmp_path):
    """The export is checked against the float32 network it was made from; the float64 weights' outputs
    are more than 1e-6 away on 784-100-10 with init=normal, which is reported, not refused."""
    torch.manual_seed(0)
    params = MLP([784, 100, 10], init="normal").params.detach().double()
    checkpoint = {
        "hyper_parameters": {"in_features": 784, "num_classes": 10, "hidden": [100], "init": "normal"},
        "state_dict": {"net.params": params},
    }
    torch.save(checkpoint, tmp_path / "64.ckpt")
    check = export(tmp_path / "64.ckpt", "torch_export", tmp_path / "model.pt2")
    assert check.difference <= TOLERANCE < check.rounding


def test_unknown_format_and_missing_onnx_are_one_error(tmp_path, digits_ckpt, monkeypatch):
    with pytest.raises(UserError, match=r"^format=keras: choose one of torch_export, torchscript, onnx$"):
        export(digits_ckpt, "keras", tmp_path / "model")
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "onnxruntime" else real(name)
    )
    with pytest.raises(UserError, match=r"format=onnx needs .*onnxruntime.*: pip install -e '\.\[onnx\]'"):
        export(digits_ckpt, "onnx", tmp_path / "model.onnx")


@pytest.mark.slow
def test_cli_says_where_it_wrote(tmp_path, digits_ckpt):
    run = run_module(
        "src.export", f"ckpt_path={digits_ckpt}", "format=torchscript", f"hydra.run.dir={tmp_path}"
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.startswith(f"wrote {tmp_path / 'model.pt'} (format=torchscript; outputs within ")
    assert run.stderr == ""
