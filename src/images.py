"""How an image file or a drawn canvas becomes the network's input: read, made grey, its ink made bright on
dark, and fitted into the layout of the training set's images (:func:`to_input`). ``python -m src.predict``
reduces image files this way, and the demo (:mod:`src.demo`) the digit drawn on its page.

An image is made to look like the training data before it reaches the network:

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

:func:`read_image` decodes only the formats in :data:`IMAGE_FORMATS`, and refuses an image larger than
:data:`MAX_PIXELS` from its header, before decoding it.
"""

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torch import Tensor
from torchvision.transforms.v2 import functional as F

from src.checkpoint import short_reason
from src.errors import UserError

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
0.6 GB; a small file can announce a huge image, so the size is checked in the header, before decoding.
Pillow's own limit (``Image.MAX_IMAGE_PIXELS``, 89 million, an error only past twice that) is far
higher."""
MAX_SIDE = math.isqrt(MAX_PIXELS)
"""The largest square window around the ink that :func:`fit` cuts out; a longer stroke is shrunk first."""


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
Its conversion to RGB clips their values at 255, which would make a 16-bit digit a blank input."""


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
