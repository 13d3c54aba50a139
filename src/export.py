"""``python -m src.export ckpt_path=PATH format=torch_export|torchscript|onnx``: the trained network's
forward pass (a batch of flattened images in ``[0, 1]`` -> the output activations ``L_out``) as a file
that runs without this project: ``model.pt2`` (``torch.export``), ``model.pt`` (TorchScript) or
``model.onnx`` (needs ``pip install -e '.[onnx]'``), in the run directory.

The file is loaded back and its outputs on a batch of random inputs compared with the checkpoint's
network in float32; more than :data:`TOLERANCE` apart is an error. A ``64-true`` checkpoint's float64
weights are exported in float32 too, and what that rounding costs is reported. The checkpoint is read as data only
(:func:`src.checkpoint.load_checkpoint`).
"""

import importlib.util
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import hydra
import torch
from omegaconf import DictConfig
from torch import Tensor

from src.checkpoint import load_checkpoint, model_from
from src.cli import report_user_errors
from src.console import quiet_loggers, setup_console
from src.errors import UserError

TOLERANCE = 1e-6
CHECK_BATCH = 7  # an odd batch size: the exported batch dimension must not be fixed to the example's


class Check(NamedTuple):
    """How far the exported network's outputs are from the checkpoint's, on a check batch."""

    difference: float
    """From the float32 network the export was made from (at most :data:`TOLERANCE`)."""
    rounding: float | None
    """A ``64-true`` checkpoint: from its float64 weights', what exporting in float32 costs (no error:
    with ``init=normal`` it passes 1e-6 on 784-100-10); ``None`` for float32 weights or narrower."""


def export(ckpt_path: str | Path, format: str, path: Path) -> Check:
    """Write the network of ``ckpt_path`` to ``path`` in ``format``, the float32 forward pass, and check
    its outputs against the checkpoint's."""
    writer = format_named(format)
    checkpoint = load_checkpoint(ckpt_path)
    module = model_from(checkpoint).net  # the network alone (the MLP), in evaluation mode: what gets exported
    features = checkpoint["hyper_parameters"]["in_features"]
    example = torch.rand(2, features, generator=torch.Generator().manual_seed(0))
    check = torch.rand(CHECK_BATCH, features, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = module(check)
        run = writer.write(module, example, path)
        difference = float((run(check) - expected).abs().max())
        rounding = None
        if checkpoint["state_dict"]["net.params"].dtype == torch.float64:
            saved = model_from(checkpoint, torch.float64).net
            rounding = float((expected.double() - saved(check.double())).abs().max())
    if not difference <= TOLERANCE:
        path.unlink(missing_ok=True)
        raise UserError(
            f"format={format}: the exported network's outputs differ by {difference:.3g} (> {TOLERANCE})"
        )
    return Check(difference, rounding)


def write_torch_export(module: torch.nn.Module, example: Tensor, path: Path) -> Callable[[Tensor], Tensor]:
    batch = torch.export.Dim("batch")
    program = torch.export.export(module, (example,), dynamic_shapes=({0: batch},))
    torch.export.save(program, path)
    return torch.export.load(path).module()


def write_torchscript(module: torch.nn.Module, example: Tensor, path: Path) -> Callable[[Tensor], Tensor]:
    with warnings.catch_warnings():  # torch >= 2.9 deprecates TorchScript, which format=torchscript asks for
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.", category=FutureWarning)
        torch.jit.save(torch.jit.trace(module, example), path)
        return torch.jit.load(path)


ONNX_LOGGERS = ("onnx_ir", "onnxscript")
"""The ONNX graph optimiser's loggers. Their lines ("Removed 13 unused nodes", a whole graph node printed,
and the warning "Skipping constant folding for op Split with multiple outputs") are about the optimiser's
own work, not the export's result, which :func:`export` checks by comparing outputs."""


def write_onnx(module: torch.nn.Module, example: Tensor, path: Path) -> Callable[[Tensor], Tensor]:
    missing = [
        name for name in ("onnx", "onnxruntime", "onnxscript") if importlib.util.find_spec(name) is None
    ]
    if missing:
        raise UserError(f"format=onnx needs {', '.join(missing)}: pip install -e '.[onnx]'")
    import onnxruntime

    batch = torch.export.Dim("batch")
    with quiet_loggers(ONNX_LOGGERS):
        torch.onnx.export(
            module,
            (example,),
            path,
            input_names=["x"],
            output_names=["activations"],
            dynamic_shapes=({0: batch},),
            verbose=False,  # else about 20 lines of "[torch.onnx] ..." progress before ours
        )
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return lambda x: torch.from_numpy(session.run(None, {"x": x.numpy()})[0])


class Format(NamedTuple):
    """An export format: its file's suffix and the function that writes it and loads it back."""

    suffix: str
    write: Callable[[torch.nn.Module, Tensor, Path], Callable[[Tensor], Tensor]]


FORMATS = {
    "torch_export": Format(".pt2", write_torch_export),  # torch warns of a .pt2 archive named otherwise
    "torchscript": Format(".pt", write_torchscript),
    "onnx": Format(".onnx", write_onnx),
}
"""``format``'s choices."""


def format_named(format: str) -> Format:
    """The export format ``format`` names, or one line naming the choices."""
    if format not in FORMATS:
        raise UserError(f"format={format}: choose one of {', '.join(FORMATS)}")
    return FORMATS[format]


@hydra.main(version_base="1.3", config_path="../conf", config_name="export")
@report_user_errors
def main(cfg: DictConfig) -> None:
    setup_console()
    path = Path(cfg.paths.output_dir) / f"model{format_named(cfg.format).suffix}"
    check = export(cfg.ckpt_path, cfg.format, path)
    rounding = (
        "" if check.rounding is None else f"; its float64 weights in float32 moved them {check.rounding:.1e}"
    )
    print(
        f"wrote {path} (format={cfg.format}; outputs within {check.difference:.1e} of the checkpoint's{rounding})"
    )


if __name__ == "__main__":
    from src.command_line import check_command_line

    check_command_line("export")
    main()
