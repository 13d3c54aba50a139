"""``python -m src.predict ckpt_path=PATH inputs=FILE_OR_DIR``: classify ordinary image files with a
trained checkpoint, printing per file ``path: class 7  activations [0.01, ..., 0.97]`` and writing
``predictions.json`` into the run directory. From Python: :func:`predict`.

An image is made to look like the training data before it reaches the network (:func:`to_input`):

1. **grey**: EXIF orientation applied, transparency flattened onto white, converted to grey in [0, 1];
2. **polarity**: the background is judged from the border pixels: if their median is lighter than the
   image's mean, the ink is dark on light paper and the image is inverted, so the ink is bright on dark
   as in training. The background's noise floor (the border's median plus :data:`NOISE_SIGMAS` robust
   standard deviations, which absorbs paper texture, shading and JPEG noise) then maps to 0 and the
   brightest ink to 1;
3. **fit**: a square window around the ink's bounding box (pixels above :data:`INK_THRESHOLD`), padded
   with background where it leaves the image, is resized to the model's ``side x side`` input
   (``side = sqrt(in_features)``), each input pixel the average of the pixels it covers, as the 8x8
   digits were made from 32x32 bitmaps. The window's size and centre follow the training set
   (:func:`layout_for`): scikit-learn's 8x8 digits span the full height and are centred on their
   bounding box; MNIST-sized inputs put the ink's longer side in the central 20 of 28 pixels and its
   centre of mass at the centre, as MNIST was made; Fashion-MNIST's fill the 28 pixels, centred on
   their bounding box. The result is rescaled so its brightest pixel is 1.
   A blank image becomes an all-zero input.

Inputs: a file is read whatever its extension; a directory contributes its visible files whose extension
is in :data:`IMAGE_SUFFIXES` (not recursively), and names the others on one ``left out`` line. An image
Pillow cannot decode, or larger than :data:`MAX_PIXELS`, is reported on its own ``skipped:`` line and left
out (README, "Classifying your own images").
"""

import math
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import hydra
import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from PIL import Image, ImageOps
from torch import Tensor
from torchvision.transforms.v2 import functional as F

from src.checkpoint import load_model, short_reason
from src.cli import printable, report_user_errors
from src.console import setup_console
from src.errors import UserError
from src.metrics_file import write_json

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
IMAGE_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP")
"""The formats Pillow may decode an input as, whatever its name: left to itself Pillow picks a decoder by
the file's content, and one of them (EPS) runs Ghostscript on it."""
INK_THRESHOLD = 0.1  # a pixel is ink above this share of the brightest ink (after the noise floor)
NOISE_SIGMAS = 3.0  # the noise floor: the background's median plus this many standard deviations
MAD_TO_SIGMA = 1.4826  # median absolute deviation -> standard deviation, for normally distributed noise
DIGITS_SIDE = 8  # scikit-learn's digits: 8x8
MAX_PIXELS = 25_000_000
"""The most pixels an input image may have: a 24-megapixel camera photo (6000x4000) fits. Decoding and
the float32 grey conversion take about 25 bytes per pixel at the peak, so this caps one image near
0.6 GB; a small file can announce a huge image (a 490 KB PNG of 13000x13000 pixels took 4.1 GB), so the
size is checked in the header, before decoding. Pillow's own limit (``Image.MAX_IMAGE_PIXELS``, 89
million, an error only past twice that) is far higher."""
MAX_SIDE = math.isqrt(MAX_PIXELS)
"""The largest square window around the ink that :func:`fit` cuts out; a longer stroke is shrunk first."""


@dataclass(frozen=True)
class Prediction:
    """The network's answer for one image: the class of the most active output neuron and all outputs."""

    path: Path
    label: int
    activations: list[float]

    def __str__(self) -> str:
        values = ", ".join(f"{value:.2f}" for value in self.activations)
        return f"{printable(str(self.path))}: class {self.label}  activations [{values}]"


@dataclass(frozen=True)
class Layout:
    """How the training images place the ink in their ``side x side`` frame: its longer side spans
    ``box`` pixels, centred on its bounding box or (``centre_of_mass``) on its centre of mass."""

    side: int
    box: int
    centre_of_mass: bool


FILL_THE_FRAME = ("FashionMNIST",)
"""Data sets whose images fill their frame, centred on the bounding box: Fashion-MNIST's were trimmed,
their longer side resized to 28 pixels and their shorter side padded to 28 (its README), not fitted into
MNIST's 20-pixel box by the centre of mass."""


def layout_for(in_features: int, data: object = None) -> Layout:
    """The layout of the training images of a model with ``in_features`` inputs (a square image), trained
    on ``data`` (a checkpoint's ``hyper_parameters["data"]``; ``None``: the digits or MNIST by size)."""
    side = math.isqrt(in_features)
    if side * side != in_features:
        raise UserError(
            f"ckpt_path: its network has in_features={in_features} inputs, not a square image's side*side "
            "pixels, so it can't classify images"
        )
    if side == DIGITS_SIDE or (isinstance(data, dict) and data.get("name") in FILL_THE_FRAME):
        return Layout(side, side, centre_of_mass=False)
    return Layout(side, round(side * 20 / 28), centre_of_mass=True)


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


def read_image(path: Path) -> Image.Image:
    """The decoded image at ``path``, upright as its EXIF orientation says; refused before decoding when
    its header announces more than :data:`MAX_PIXELS` pixels."""
    try:
        with Image.open(path, formats=IMAGE_FORMATS) as image:
            width, height = image.size  # from the header: nothing decoded yet
            if width * height > MAX_PIXELS:
                raise UserError(
                    f"inputs: {path} is {width}x{height} pixels: at most {MAX_PIXELS:,} pixels (e.g. "
                    f"6000x4000) are decoded; scale the image down first"
                )
            image.load()
            return ImageOps.exif_transpose(image)
    except OSError as error:
        if error.errno is None:  # Pillow's decoding errors (unknown format, truncated data) carry no errno
            raise UserError(
                f"inputs: {path} is not a readable image ({short_reason(error)}): allowed are "
                f"{', '.join(IMAGE_FORMATS)} images ({', '.join(IMAGE_SUFFIXES)})"
            ) from None
        raise UserError(f"inputs: {path} cannot be read ({short_reason(error)})") from None
    except (SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise UserError(
            f"inputs: {path} is not a readable image ({short_reason(error)}): allowed are "
            f"{', '.join(IMAGE_FORMATS)} images ({', '.join(IMAGE_SUFFIXES)})"
        ) from None


WIDE_GREY_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")
"""Pillow's modes of grey images of more than 8 bits: 16-bit PNG and TIFF, 32-bit integer and float TIFF.
Its conversion to RGB clips their values at 255, which turned a 16-bit digit into a blank input."""


def to_grey(image: Image.Image) -> Tensor:
    """``(1, H, W)`` grey levels in [0, 1]; transparent parts count as white paper. A grey image of more
    than 8 bits (:data:`WIDE_GREY_MODES`) is scaled from its darkest pixel (0) to its lightest (1): its
    values may be on any scale (a float TIFF's often run from 0 to 1), and :func:`bright_ink` judges the
    background and the ink by their grey levels relative to each other only. A float pixel that is not a
    number counts as the darkest, an infinite one as the darkest or lightest."""
    if image.mode in WIDE_GREY_MODES:
        values = torch.from_numpy(np.asarray(image).astype(np.float64))
        finite = values[values.isfinite()]
        if finite.numel() == 0 or finite.min() == finite.max():
            return torch.zeros(1, *values.shape)
        low, high = finite.min(), finite.max()
        values = values.nan_to_num(nan=float(low), posinf=float(high), neginf=float(low))
        return ((values - low) / (high - low)).to(torch.float32)[None]
    if image.has_transparency_data:
        image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image.convert("RGBA"))
    rgb = F.to_dtype(F.to_image(image.convert("RGB")), torch.float32, scale=True)
    return F.rgb_to_grayscale(rgb)


def bright_ink(grey: Tensor) -> Tensor:
    """``grey`` as bright ink on black: inverted if the ink is dark, the background's noise floor mapped to
    0 and the brightest ink to 1."""
    border = torch.cat([grey[0, 0], grey[0, -1], grey[0, 1:-1, 0], grey[0, 1:-1, -1]])
    if border.median() > grey.mean():
        grey, border = F.invert(grey), 1.0 - border
    median = border.median()
    floor = median + NOISE_SIGMAS * MAD_TO_SIGMA * (border - median).abs().median()
    contrast = grey.max() - floor
    if contrast <= 0:
        return torch.zeros_like(grey)
    return ((grey - floor) / contrast).clamp(0.0, 1.0)


def fit(ink: Tensor, layout: Layout) -> Tensor:
    """The ``(side, side)`` input: a square window around the ink, placed as ``layout`` says, resized."""
    rows, cols = (ink[0] > INK_THRESHOLD).nonzero(as_tuple=True)
    if len(rows) == 0:
        return torch.zeros(layout.side, layout.side)
    top, bottom, left, right = int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1
    window = math.ceil(max(bottom - top, right - left) * layout.side / layout.box)
    if window > MAX_SIDE:  # a long thin stroke: its square window would not fit in memory, so shrink first
        shrunk = torch.nn.functional.avg_pool2d(ink, math.ceil(window / MAX_SIDE), ceil_mode=True)
        return fit(shrunk / shrunk.max(), layout)
    if layout.centre_of_mass:
        box = ink[0, top:bottom, left:right]
        centre_y = top + float((box.sum(1) * (torch.arange(bottom - top) + 0.5)).sum() / box.sum())
        centre_x = left + float((box.sum(0) * (torch.arange(right - left) + 0.5)).sum() / box.sum())
    else:
        centre_y, centre_x = (top + bottom) / 2, (left + right) / 2
    square = F.crop(ink, round(centre_y - window / 2), round(centre_x - window / 2), window, window)
    small = torch.nn.functional.interpolate(square[None], size=(layout.side, layout.side), mode="area")[0, 0]
    return small / small.max()


def to_input(image: Image.Image, layout: Layout) -> Tensor:
    """The image as the network's input layer: a flat vector of ``side * side`` values in [0, 1]."""
    return fit(bright_ink(to_grey(image)), layout).flatten()


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
