"""``python -m src.predict ckpt_path=PATH inputs=FILE_OR_DIR``: classify ordinary image files with a
trained checkpoint, printing per file ``path: class 7  activations [0.01, ..., 0.97]`` and writing
``predictions.json`` into the run directory. From Python: :func:`predict`.

An image is made to look like the training data before it reaches the network by
:func:`src.images.to_input` (grey, ink bright on dark, fitted into the training set's layout).

Inputs: a file is read whatever its extension; a directory contributes its visible files whose extension
is in :data:`~src.images.IMAGE_SUFFIXES` (not recursively), and names the others on one ``left out`` line.
An image Pillow cannot decode, or larger than :data:`~src.images.MAX_PIXELS`, is reported on its own
``skipped:`` line and left out (README, "Classifying your own images").
"""

import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig, OmegaConf
from torch import Tensor

from src.checkpoint import load_model
from src.cli import printable, report_user_errors
from src.console import setup_console
from src.errors import UserError
from src.images import IMAGE_SUFFIXES, layout_for, read_image, to_input
from src.metrics_file import write_json


@dataclass(frozen=True)
class Prediction:
    """The network's answer for one image: the class of the most active output neuron and all outputs."""

    path: Path
    label: int
    activations: list[float]

    def __str__(self) -> str:
        values = ", ".join(f"{value:.2f}" for value in self.activations)
        return f"{printable(str(self.path))}: class {self.label}  activations [{values}]"


def images_in(directory: Path) -> tuple[list[Path], list[Path]]:
    """The files directly in ``directory``, sorted: the visible ones with an image extension, and the other
    visible ones."""
    try:
        children = sorted(directory.iterdir())
    except OSError as error:
        raise UserError(
            f"inputs={directory} cannot be read ({error.strerror}): give a readable directory"
        ) from None
    visible = [child for child in children if child.is_file() and not child.name.startswith(".")]
    found = [child for child in visible if child.suffix.lower() in IMAGE_SUFFIXES]
    if not found:
        raise UserError(
            f"inputs={directory} holds no image files: allowed extensions are {', '.join(IMAGE_SUFFIXES)}"
        )
    return found, [child for child in visible if child not in found]


def image_files(inputs: str | Path | Sequence[str | Path], left_out: list[Path] | None = None) -> list[Path]:
    """The image files ``inputs`` names: files as given, directories expanded to their images (their other
    files appended to ``left_out``, where given)."""
    paths = [inputs] if isinstance(inputs, str | Path) else list(inputs)
    # an empty name: Path("") is the working directory, which the user did not name (inputs=$UNSET)
    if not paths or any(isinstance(item, str) and not item.strip() for item in paths):
        raise UserError("inputs is empty: give an image file or a directory of images")
    files: list[Path] = []
    # str(): an item Hydra parsed as a number, null or a list names a file too (inputs=[3])
    for path in (Path(item if isinstance(item, str | Path) else str(item)).expanduser() for item in paths):
        if path.is_dir():
            images, others = images_in(path)
            files += images
            if left_out is not None:
                left_out += others
        elif path.is_file():
            files.append(path)
        elif path.is_symlink():
            raise UserError(
                f"inputs={path} is a broken symbolic link (to {path.readlink()}): give an image file or a "
                "directory of images"
            )
        else:
            what = "is neither a file nor a directory" if path.exists() else "does not exist"
            raise UserError(f"inputs={path} {what}: give an image file or a directory of images")
    return files


def predict(
    ckpt_path: str | Path,
    inputs: str | Path | Sequence[str | Path],
    skipped: list[UserError] | None = None,
    left_out: list[Path] | None = None,
) -> list[Prediction]:
    """Classify the image file(s) ``inputs`` (files and/or directories) with the network of the checkpoint
    at ``ckpt_path``, loaded with ``weights_only=True``. An unreadable image raises its
    :class:`UserError`, or, given a ``skipped`` list, is appended to it and left out (unless none is
    readable). A directory's files without an image extension go to ``left_out``, where given."""
    files = image_files(inputs, left_out)
    model = load_model(ckpt_path)
    layout = layout_for(model.hparams.in_features, model.hparams.data)
    readable: list[tuple[Path, Tensor]] = []
    for path in files:
        try:
            readable.append((path, to_input(read_image(path), layout)))
        except UserError as error:
            if skipped is None:
                raise
            skipped.append(error)
    if not readable:
        raise (
            skipped[0]
            if len(files) == 1
            else UserError(f"inputs: none of the {len(files)} files is readable; the first: {skipped[0]}")
        )
    paths, rows = zip(*readable, strict=True)
    with torch.no_grad():
        outputs = model(torch.stack(rows).to(model.dtype))
    return [
        Prediction(path, int(output.argmax()), output.tolist())
        for path, output in zip(paths, outputs, strict=True)
    ]


SHOWN_LEFT_OUT = 5  # names on the "left out" line; a folder of thousands of other files stays one short line


def left_out_line(left_out: list[Path]) -> str:
    """The line naming the files of the input directories that were not read: no image extension."""
    names = ", ".join(str(path) for path in left_out[:SHOWN_LEFT_OUT])
    more = f" and {len(left_out) - SHOWN_LEFT_OUT} more" if len(left_out) > SHOWN_LEFT_OUT else ""
    return (
        f"left out {len(left_out)} file{'' if len(left_out) == 1 else 's'} without an image extension "
        f"({', '.join(IMAGE_SUFFIXES)}; give a file by name to read it whatever its name): {names}{more}"
    )


def run(cfg: DictConfig) -> list[Prediction]:
    """Predict as ``cfg`` says, print one line per file and write ``predictions.json``."""
    for key, example in (("ckpt_path", "PATH"), ("inputs", "FILE_OR_DIR")):
        if OmegaConf.is_missing(cfg, key) or cfg[key] is None:
            raise UserError(f"{key} is missing: pass {key}={example}")
    inputs, skipped, left_out = cfg.inputs, [], []
    predictions = predict(
        cfg.ckpt_path,
        OmegaConf.to_container(inputs) if OmegaConf.is_list(inputs) else str(inputs),
        skipped,
        left_out,
    )
    if left_out:
        print(printable(left_out_line(left_out)), file=sys.stderr)
    for error in skipped:
        print(printable(f"skipped: {error}"), file=sys.stderr)
    for prediction in predictions:
        print(prediction)
    records = [asdict(prediction) | {"path": str(prediction.path)} for prediction in predictions]
    written = Path(cfg.paths.output_dir) / "predictions.json"
    write_json(
        written,
        {
            "ckpt_path": str(cfg.ckpt_path),
            "predictions": records,
            "skipped": [str(e) for e in skipped],
            "left_out": [str(path) for path in left_out],
        },
    )
    print(f"wrote {len(predictions)} prediction{'' if len(predictions) == 1 else 's'} to {written}")
    if skipped:
        raise UserError(
            f"inputs: {len(skipped)} of {len(skipped) + len(predictions)} files could not be read (skipped above); "
            f"the others' predictions are in {written}"
        )
    return predictions


@hydra.main(version_base="1.3", config_path="../conf", config_name="predict")
@report_user_errors
def main(cfg: DictConfig) -> None:
    setup_console()
    run(cfg)


if __name__ == "__main__":
    from src.command_line import check_command_line

    check_command_line("predict")
    main()
