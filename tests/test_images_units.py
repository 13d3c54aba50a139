"""Fast checks of src/images.py on hand-made inputs: the layouts, the image reader's refusals, the grey
levels of wide images, the noise floor and the window around the ink."""

import io
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from runs import write

import src.images as images_module
from src.errors import UserError
from src.images import (
    IMAGE_FORMATS,
    IMAGE_SUFFIXES,
    INK_THRESHOLD,
    Layout,
    bright_ink,
    fit,
    layout_for,
    read_image,
    to_grey,
    to_input,
)

DIGITS = Layout(8, 8, centre_of_mass=False)
ALLOWED = f"allowed are {', '.join(IMAGE_FORMATS)} images ({', '.join(IMAGE_SUFFIXES)})"


def stroke(path: Path, size: tuple[int, int] = (30, 40)) -> Path:
    """A dark vertical stroke on white paper, saved as ``path``."""
    page = Image.new("L", size, 255)
    ImageDraw.Draw(page).line((size[0] // 2, 5, size[0] // 2, size[1] - 5), fill=0, width=3)
    page.save(path)
    return path


@pytest.mark.parametrize(
    ("in_features", "data", "layout"),
    [
        (64, None, Layout(8, 8, centre_of_mass=False)),
        (64, {"name": "FashionMNIST"}, Layout(8, 8, centre_of_mass=False)),
        (784, None, Layout(28, 20, centre_of_mass=True)),
        (784, {"name": "MNIST"}, Layout(28, 20, centre_of_mass=True)),
        (784, {"name": "FashionMNIST"}, Layout(28, 28, centre_of_mass=False)),
        # MNIST's 20 of 28 pixels scaled to another side, rounded: 12 * 20 / 28 = 8.57
        (144, None, Layout(12, 9, centre_of_mass=True)),
        (49, None, Layout(7, 5, centre_of_mass=True)),  # smaller than the digits' 8x8: MNIST's layout too
    ],
)
def test_the_layout_follows_the_training_images(in_features, data, layout):
    assert layout_for(in_features, data) == layout


def test_a_network_whose_inputs_are_no_square_image_is_refused():
    with pytest.raises(UserError) as error:
        layout_for(65)
    assert str(error.value) == (
        "ckpt_path: its network has in_features=65 inputs, not a square image's side*side pixels, so it "
        "can't classify images"
    )


def test_an_image_of_at_most_max_pixels_is_read(tmp_path, monkeypatch):
    path = stroke(tmp_path / "page.png")  # 30 x 40: 1,200 pixels
    monkeypatch.setattr(images_module, "MAX_PIXELS", 1_200)
    assert read_image(path).size == (30, 40)
    monkeypatch.setattr(images_module, "MAX_PIXELS", 1_199)
    with pytest.raises(UserError) as error:
        read_image(path)
    assert str(error.value) == (
        f"inputs: {path} is 30x40 pixels: at most 1,199 pixels (e.g. 6000x4000) are decoded; scale the image "
        "down first"
    )


def test_an_image_announcing_more_than_25_megapixels_is_refused_from_its_header(tmp_path):
    """A 24-megapixel photo (6000x4000) is decoded; the 30 million pixels this header claims are not."""
    path = bmp(tmp_path / "large.bmp", width=6000, height=5000)
    with pytest.raises(UserError) as error:
        read_image(path)
    assert str(error.value) == (
        f"inputs: {path} is 6000x5000 pixels: at most 25,000,000 pixels (e.g. 6000x4000) are decoded; scale "
        "the image down first"
    )


def test_an_image_is_turned_upright_as_its_exif_orientation_says(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored on its side: rotate 90 degrees clockwise to view
    Image.new("L", (30, 40), 255).save(tmp_path / "photo.jpg", exif=exif)
    assert read_image(tmp_path / "photo.jpg").size == (40, 30)


def truncated(path: Path) -> Path:
    """``path`` cut after its first 60 bytes."""
    return write(path, path.read_bytes()[:60])


def bmp(path: Path, **fields: int) -> Path:
    """A white 30x40 grey BMP saved as ``path``, with header ``fields`` (``width``, ``height``, ``colours``:
    the palette's size) overwritten: as a file made elsewhere may claim them."""
    buffer = io.BytesIO()
    Image.new("L", (30, 40), 255).save(buffer, "BMP")
    data = bytearray(buffer.getvalue())
    for name, value in fields.items():
        struct.pack_into("<i", data, {"width": 18, "height": 22, "colours": 46}[name], value)
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda d: write(d / "notes.png", b"hello"), "UnidentifiedImageError: cannot identify image file"),
        (lambda d: truncated(stroke(d / "page.png")), "OSError: image file is truncated"),
        (lambda d: bmp(d / "palette.bmp", colours=257), "ValueError: invalid palette size"),
        # Pillow's own limit, checked while opening: twice its 89 million pixels
        (
            lambda d: bmp(d / "bomb.bmp", width=20_000, height=20_000),
            "DecompressionBombError: Image size (400000000 pixels) exceeds limit of 178956970 pixels",
        ),
    ],
    ids=["not-an-image", "truncated", "palette-too-large", "decompression-bomb"],
)
def test_an_unreadable_image_is_one_line(tmp_path, make, reason):
    path = make(tmp_path)
    with pytest.raises(UserError) as error:
        read_image(path)
    assert str(error.value).startswith(f"inputs: {path} is not a readable image ({reason}")
    assert str(error.value).endswith(f"): {ALLOWED}")


def paper(border: list[float], inside: float, ink: float) -> torch.Tensor:
    """A 1 x 6 x 6 grey image: ``border`` (20 values, clockwise from the top left), a 4x4 inside of
    ``inside`` with one ``ink`` pixel at row 2, column 3."""
    grey = torch.full((1, 6, 6), inside)
    ring = [(0, c) for c in range(6)] + [(r, 5) for r in range(1, 6)]
    ring += [(5, c) for c in range(4, -1, -1)] + [(r, 0) for r in range(4, 0, -1)]
    for (row, col), value in zip(ring, border, strict=True):
        grey[0, row, col] = value
    grey[0, 2, 3] = ink
    return grey


# 20 border values: median 0.2 (torch takes the lower middle one), deviations' median 0.1
BORDER = [0.1] * 8 + [0.2] * 4 + [0.3] * 8
FLOOR = 0.2 + 3.0 * 1.4826 * 0.1  # the median plus 3 robust standard deviations: 0.64478


@pytest.mark.parametrize("dark_ink", [False, True])
def test_the_noise_floor_is_the_borders_median_plus_three_robust_deviations(dark_ink):
    grey = paper(BORDER, 0.8, 1.0)
    expected = torch.zeros(1, 6, 6)
    expected[0, 1:5, 1:5] = (0.8 - FLOOR) / (1.0 - FLOOR)  # 0.437: above the floor
    expected[0, 2, 3] = 1.0
    torch.testing.assert_close(bright_ink(1.0 - grey if dark_ink else grey), expected)


@pytest.mark.parametrize(
    "border",
    [[0.4] * 6 + [0.0] * 10 + [0.4] * 4, [0.0] * 6 + [0.4] * 10 + [0.0] * 4],
    ids=["shadow-bottom-right", "shadow-top-left"],
)
def test_the_background_is_judged_from_all_four_sides(border):
    """Paper in shadow (0.0) along two sides and lit (0.4) along the other two: the border's median (the
    lower middle one of its 20 pixels) is the shadow's 0.0, and so is the spread around it, so nothing is
    taken away. Leaving out any side, or a pixel of the shadow, makes the median 0.2 or 0.4."""
    grey = paper(border, 0.2, 1.0)
    torch.testing.assert_close(bright_ink(grey), grey)


def test_a_border_as_bright_as_the_images_mean_is_not_inverted():
    """Paper of 0.5 with one pixel of 1.0 and one of 0.0 inside: the mean is the paper's 0.5 too. Only a
    border lighter than the mean means dark ink; here the ink is the bright pixel."""
    grey = paper([0.5] * 20, 0.5, 1.0)
    grey[0, 3, 2] = 0.0
    expected = torch.zeros(1, 6, 6)
    expected[0, 2, 3] = 1.0
    torch.testing.assert_close(bright_ink(grey), expected)


def test_an_image_no_brighter_than_its_noise_floor_is_blank():
    assert bright_ink(torch.full((1, 6, 6), 0.5)).count_nonzero() == 0
    assert bright_ink(paper(BORDER, 0.2, 0.2)).count_nonzero() == 0  # all below the floor


def test_the_window_is_centred_on_the_inks_bounding_box():
    """2 rows x 4 columns of ink: a 4x4 window from row 0, column 1, enlarged to 8x8 (2x2 per pixel)."""
    ink = torch.zeros(1, 10, 10)
    ink[0, 1:3, 1:5] = 0.5
    expected = torch.zeros(8, 8)
    expected[2:6] = 1.0
    torch.testing.assert_close(fit(ink, DIGITS), expected)


def test_a_shrunk_stroke_is_brought_back_to_a_brightest_pixel_of_1(monkeypatch):
    """A dotted stroke (1, 0, 1, 0, 0.5) too long for a window of MAX_SIDE = 4: shrunk 2:1 it is
    (0.5, 0.5, 0.25, 0), divided by its maximum (1, 1, 0.5, 0) before its ink is found again, in columns
    0-2: a 3x3 window from row -1, column 0, enlarged to 8x8 by area."""
    monkeypatch.setattr(images_module, "MAX_SIDE", 4)
    ink = torch.tensor([[[1.0, 0.0, 1.0, 0.0, 0.5, 0.0, 0.0, 0.0]]])
    rows = torch.tensor([0.0, 0.0, 0.5, 1.0, 1.0, 0.5, 0.0, 0.0])  # window rows -1, 0 (the ink), 1
    cols = torch.tensor([1.0, 1.0, 1.0, 1.0, 1.0, 0.75, 0.5, 0.5])  # window columns of 1, 1, 0.5
    torch.testing.assert_close(fit(ink, DIGITS), rows[:, None] * cols[None, :])


@pytest.mark.parametrize("transposed", [False, True], ids=["across", "down"])
def test_the_window_is_centred_on_the_inks_bounding_box_between_pixels(transposed):
    """2 rows x 3 columns of ink at rows 1-2, columns 1-3: the box's centre is (2, 2.5), the 3x3 window
    starts at row round(0.5) = 0, column round(1) = 1 and is enlarged to 8x8 by area: output rows 0-1
    show window row 0 (no ink), row 2 half of rows 0 and 1, rows 3-7 the ink. A pixel at exactly the
    ink threshold (0.1 of the brightest) is no ink: it does not widen the box. The same ink drawn
    transposed lands transposed."""
    ink = torch.zeros(1, 10, 10)
    ink[0, 1:3, 1:4] = 1.0
    ink[0, 9, 9] = INK_THRESHOLD
    expected = torch.ones(8, 8)
    expected[0:2] = 0.0
    expected[2] = 0.5
    if transposed:
        ink, expected = ink.transpose(1, 2), expected.T
    torch.testing.assert_close(fit(ink, DIGITS), expected)


def test_a_window_of_max_side_is_cut_without_shrinking(monkeypatch):
    """A stroke whose window is MAX_SIDE pixels exactly fits: shrinking it 1:1 would leave it as long and
    never end."""
    monkeypatch.setattr(images_module, "MAX_SIDE", 16)
    ink = torch.zeros(1, 3, 16)
    ink[0, 1] = 1.0
    expected = torch.zeros(8, 8)
    expected[3] = 1.0  # row 1, at row 7 of the 16-pixel window from row round(-6.5) = -6: output row 3
    torch.testing.assert_close(fit(ink, DIGITS), expected)


@pytest.mark.parametrize("transposed", [False, True], ids=["across", "down"])
def test_the_window_is_centred_on_the_inks_centre_of_mass(transposed):
    """Ink 0.25 at column 2 and 0.75 at column 5 of row 1: the centre of mass is at x = 2 + 0.25 * 0.5 +
    0.75 * 3.5 = 4.75 (pixel centres at +0.5), y = 1.5. The ink's 4 columns span 3 of 4 pixels: a window
    of ceil(4 * 4 / 3) = 6 from row round(-1.5) = -2 (padded), column round(1.75) = 2, shrunk to 4x4 by
    area (output pixel i averages the window's pixels 0-1, 1-2, 3-4, 4-5): row 2, columns 0 and 2. The
    same stroke drawn down a column lands transposed."""
    ink = torch.zeros(1, 4, 8)
    ink[0, 1, 2], ink[0, 1, 5] = 0.25, 0.75
    expected = torch.zeros(4, 4)
    expected[2, 0], expected[2, 2] = 1 / 3, 1.0
    if transposed:
        ink, expected = ink.transpose(1, 2), expected.T
    torch.testing.assert_close(fit(ink, Layout(4, 3, centre_of_mass=True)), expected)


def test_a_file_the_system_will_not_read_is_not_called_a_bad_image(tmp_path, monkeypatch):
    """chmod 000 stops every user but root (the tests may run as root): the refusal is played by open."""
    path = stroke(tmp_path / "a.png")

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(Image, "open", refused)
    with pytest.raises(UserError) as error:
        read_image(path)
    assert (
        str(error.value)
        == f"inputs: {path} cannot be read (PermissionError: [Errno 13] Permission denied: '{path}')"
    )


@pytest.mark.parametrize(
    ("mode", "scale", "suffix"),
    [("I;16", 257, ".png"), ("I", 257 * 1000, ".tif"), ("F", 1 / 255, ".tif")],
    ids=["16-bit-png", "32-bit-int-tiff", "float-tiff"],
)
def test_a_grey_image_of_more_than_8_bits_gives_the_input_of_its_8_bit_copy(tmp_path, mode, scale, suffix):
    """Pillow's RGB conversion clipped such images at 255: a 16-bit digit became a blank input."""
    eight_bit = stroke(tmp_path / "page.png", (30, 40))
    grey = torch.tensor(list(Image.open(eight_bit).getdata()), dtype=torch.float64).reshape(40, 30)
    array = (grey * scale).numpy().astype({"I;16": "uint16", "I": "int32", "F": "float32"}[mode])
    wide = tmp_path / f"wide{suffix}"
    Image.fromarray(array).save(wide)
    assert Image.open(wide).mode == mode
    expected = to_input(read_image(eight_bit), DIGITS)
    assert expected.max() == 1.0
    assert torch.allclose(to_input(read_image(wide), DIGITS), expected, atol=1e-6)


def test_a_float_image_without_contrast_or_numbers_is_blank_and_nan_counts_as_darkest():
    blank = Image.fromarray(torch.full((8, 8), float("nan")).numpy())
    assert to_input(blank, DIGITS).count_nonzero() == 0
    assert to_input(Image.fromarray(torch.full((8, 8), 7.0).numpy()), DIGITS).count_nonzero() == 0
    page = torch.zeros(16, 16)
    page[4:12, 7:9] = 5.0
    holes = page.clone()
    holes[0, 0], holes[15, 15] = float("nan"), float("-inf")
    assert torch.equal(
        to_input(Image.fromarray(holes.numpy()), DIGITS), to_input(Image.fromarray(page.numpy()), DIGITS)
    )


def test_a_wide_grey_image_is_scaled_from_its_darkest_pixel_to_its_lightest():
    """0 at the darkest, 1 at the lightest and linear between (``to_input`` would hide a wrong scale: it
    brings the brightest ink to 1 itself); NaN counts as the darkest, the infinities as the two ends."""
    sixteen_bit = Image.fromarray(np.array([[1000, 2000], [3000, 5000]], dtype=np.uint16))
    assert torch.equal(to_grey(sixteen_bit), torch.tensor([[[0.0, 0.25], [0.5, 1.0]]]))
    nan, inf = float("nan"), float("inf")
    floats = Image.fromarray(np.array([[0.25, 0.75, nan], [inf, -inf, 0.5]], dtype=np.float32))
    assert torch.equal(to_grey(floats), torch.tensor([[[0.0, 1.0, 0.0], [1.0, 0.0, 0.5]]]))
    for flat in (np.full((3, 2), 7, dtype=np.uint16), np.full((3, 2), nan, dtype=np.float32)):
        assert torch.equal(to_grey(Image.fromarray(flat)), torch.zeros(1, 3, 2))
