"""Fast checks of src/predict.py's parts on hand-made inputs, with a tiny untrained checkpoint (the
tests of tests/test_predict.py that classify digits need the session's trained run): the layouts, the
inputs named on the command line, the image reader's refusals, the noise floor, the window around the
ink, ``run``'s lines and ``predictions.json``, and the command itself run in this process."""

import io
import json
import logging
import runpy
import struct
import sys
import warnings
from pathlib import Path

import pytest
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf
from PIL import Image, ImageDraw
from runs import compose_config, write

import src.predict as predict_module
from src.errors import UserError
from src.lit import MLPClassifier
from src.predict import (
    IMAGE_FORMATS,
    IMAGE_SUFFIXES,
    INK_THRESHOLD,
    Layout,
    bright_ink,
    fit,
    image_files,
    images_in,
    layout_for,
    predict,
    read_image,
    run,
    to_input,
)

DIGITS = Layout(8, 8, centre_of_mass=False)
ALLOWED = f"allowed are {', '.join(IMAGE_FORMATS)} images ({', '.join(IMAGE_SUFFIXES)})"


@pytest.fixture
def tiny_ckpt(tmp_path: Path) -> tuple[Path, MLPClassifier]:
    """An untrained 64-4-10 network on the digits, saved as ``src.train`` saves one, and the model."""
    data = OmegaConf.to_container(compose_config("train", tmp_path).data, resolve=True)
    torch.manual_seed(0)
    model = MLPClassifier(in_features=64, num_classes=10, hidden=[4], data=data)
    ckpt = tmp_path / "tiny.ckpt"
    torch.save({"hyper_parameters": dict(model.hparams), "state_dict": model.state_dict()}, ckpt)
    return ckpt, model.eval()


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


def test_a_directory_contributes_its_visible_image_files_sorted_and_names_the_others(tmp_path):
    for name in ("b.png", "a.JPG", "c.webp", ".hidden.png", "notes.txt", "png"):
        (tmp_path / name).write_text("")
    (tmp_path / "folder.png").mkdir()  # an image extension, but not a file
    images, others = images_in(tmp_path)
    assert [path.name for path in images] == ["a.JPG", "b.png", "c.webp"]
    assert [path.name for path in others] == ["notes.txt", "png"]


def test_a_directory_without_images_or_unreadable_is_one_line(tmp_path):
    (tmp_path / "notes.txt").write_text("")
    with pytest.raises(UserError) as error:
        images_in(tmp_path)
    assert str(error.value) == (
        f"inputs={tmp_path} holds no image files: allowed extensions are {', '.join(IMAGE_SUFFIXES)}"
    )
    with pytest.raises(UserError) as error:  # removed after it was named
        images_in(tmp_path / "gone")
    assert str(error.value) == (
        f"inputs={tmp_path / 'gone'} cannot be read (No such file or directory): give a readable directory"
    )


def test_inputs_name_files_and_directories_in_order(tmp_path, monkeypatch):
    (tmp_path / "images").mkdir()
    for name in ("2.png", "1.png"):
        (tmp_path / "images" / name).write_text("")
    (tmp_path / "3").write_text("")  # inputs=[3]: Hydra parses the name as a number
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert image_files("~/3") == [tmp_path / "3"]
    assert image_files(tmp_path / "images") == [tmp_path / "images" / "1.png", tmp_path / "images" / "2.png"]
    assert image_files([3, "images", Path("images/2.png")]) == [
        Path("3"),
        Path("images/1.png"),
        Path("images/2.png"),
        Path("images/2.png"),
    ]


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ([], "inputs is empty: give an image file or a directory of images"),
        ("missing.png", "inputs=missing.png does not exist: give an image file or a directory of images"),
        (
            "/dev/null",
            "inputs=/dev/null is neither a file nor a directory: give an image file or a directory of images",
        ),
    ],
)
def test_inputs_that_name_no_image_file_are_one_line(tmp_path, monkeypatch, inputs, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError) as error:
        image_files(inputs)
    assert str(error.value) == message


def test_an_image_of_at_most_max_pixels_is_read(tmp_path, monkeypatch):
    path = stroke(tmp_path / "page.png")  # 30 x 40: 1,200 pixels
    monkeypatch.setattr(predict_module, "MAX_PIXELS", 1_200)
    assert read_image(path).size == (30, 40)
    monkeypatch.setattr(predict_module, "MAX_PIXELS", 1_199)
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
    monkeypatch.setattr(predict_module, "MAX_SIDE", 4)
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
    monkeypatch.setattr(predict_module, "MAX_SIDE", 16)
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


def test_predict_gives_the_networks_outputs_for_each_readable_file(tmp_path, tiny_ckpt):
    ckpt, model = tiny_ckpt
    paths = [stroke(tmp_path / "a.png"), stroke(tmp_path / "b.png", (50, 20))]
    (tmp_path / "c.png").write_bytes(b"not an image")
    skipped: list[UserError] = []
    predictions = predict(ckpt, tmp_path, skipped)
    inputs = torch.stack([to_input(Image.open(path), DIGITS) for path in paths])
    with torch.no_grad():
        outputs = model(inputs)
    assert [(p.path, p.label, p.activations) for p in predictions] == [
        (path, int(output.argmax()), output.tolist()) for path, output in zip(paths, outputs, strict=True)
    ]
    assert [str(error) for error in skipped] == [
        f"inputs: {tmp_path / 'c.png'} is not a readable image (UnidentifiedImageError: cannot identify "
        f"image file '{tmp_path / 'c.png'}'): {ALLOWED}"
    ]
    with pytest.raises(UserError) as error:  # without a list: the first unreadable file's error
        predict(ckpt, tmp_path)
    assert [str(error.value)] == [str(skipped_error) for skipped_error in skipped]


def test_predict_with_no_readable_file_raises_the_only_error_or_counts_them(tmp_path, tiny_ckpt):
    ckpt, _ = tiny_ckpt
    for name in ("a.png", "b.png"):
        (tmp_path / name).write_bytes(b"not an image")
    unreadable = "is not a readable image (UnidentifiedImageError: cannot identify image file"
    with pytest.raises(UserError) as error:
        predict(ckpt, tmp_path / "a.png", [])
    assert str(error.value).startswith(f"inputs: {tmp_path / 'a.png'} {unreadable}")
    with pytest.raises(UserError) as error:
        predict(ckpt, tmp_path, [])
    assert str(error.value).startswith(
        f"inputs: none of the 2 files is readable; the first: inputs: {tmp_path / 'a.png'} {unreadable}"
    )


def test_run_prints_writes_and_counts_the_skipped_files(tmp_path, tiny_ckpt, capsys):
    """One image and two files that are none: 2 of 3 skipped, each on its own line."""
    ckpt, _ = tiny_ckpt
    images = tmp_path / "images"
    images.mkdir()
    stroke(images / "a.png")
    for name in ("b.png", "c.png"):
        (images / name).write_bytes(b"not an image")
    config = compose_config("predict", tmp_path / "run", f"ckpt_path={ckpt}", f"inputs=[{images / 'a.png'}]")
    [prediction] = run(config)
    written = tmp_path / "run" / "predictions.json"
    assert capsys.readouterr().out == f"{prediction}\nwrote 1 prediction to {written}\n"
    config = compose_config("predict", tmp_path / "run", f"ckpt_path={ckpt}", f"inputs={images}")
    with pytest.raises(UserError) as error:
        run(config)
    assert str(error.value) == (
        f"inputs: 2 of 3 files could not be read (skipped above); the others' predictions are in {written}"
    )
    out, err = capsys.readouterr()
    assert out == f"{prediction}\nwrote 1 prediction to {written}\n"
    skipped = [line.removeprefix("skipped: ") for line in err.splitlines()]
    assert [line.split(" is not a readable image")[0] for line in skipped] == [
        f"inputs: {images / name}" for name in ("b.png", "c.png")
    ]
    assert json.loads(written.read_text()) == {
        "ckpt_path": str(ckpt),
        "predictions": [
            {"path": str(images / "a.png"), "label": prediction.label, "activations": prediction.activations}
        ],
        "skipped": skipped,
        "left_out": [],
    }


def test_run_names_the_files_of_a_directory_it_left_out_on_one_line(tmp_path, tiny_ckpt, capsys):
    """Files without an image extension are not read from a directory (a folder of digits may hold
    notes), but they are named, so an image saved as ``.HEIC`` or without an extension is not missed."""
    ckpt, _ = tiny_ckpt
    images = tmp_path / "images"
    images.mkdir()
    stroke(images / "a.png")
    others = [images / name for name in ("b.HEIC", "c", "d", "e", "f", "g", "h")]
    for path in others:  # the same PNG under names without an image extension
        path.write_bytes((images / "a.png").read_bytes())
    config = compose_config("predict", tmp_path / "run", f"ckpt_path={ckpt}", f"inputs={images}")
    [prediction] = run(config)
    out, err = capsys.readouterr()
    assert err == (
        f"left out 7 files without an image extension ({', '.join(IMAGE_SUFFIXES)}; give a file by name to "
        f"read it whatever its name): {', '.join(str(path) for path in others[:5])} and 2 more\n"
    )
    assert out.splitlines()[0] == str(prediction)
    written = json.loads((tmp_path / "run" / "predictions.json").read_text())
    assert written["left_out"] == [str(path) for path in others]
    assert [p.label for p in predict(ckpt, others[0])] == [p.label for p in predict(ckpt, images / "a.png")]


@pytest.mark.parametrize("inputs", ["", " ", ["a.png", ""]], ids=["empty", "blank", "empty-item"])
def test_an_empty_input_name_is_refused_not_taken_for_the_working_directory(tmp_path, monkeypatch, inputs):
    """``inputs=$UNSET`` gives Hydra an empty string, and ``Path("")`` is the working directory."""
    stroke(tmp_path / "a.png")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError) as error:
        image_files(inputs)
    assert str(error.value) == "inputs is empty: give an image file or a directory of images"


def test_a_broken_link_is_named_with_its_target(tmp_path):
    (tmp_path / "digit.png").symlink_to(tmp_path / "moved.png")
    with pytest.raises(UserError) as error:
        image_files(tmp_path / "digit.png")
    assert str(error.value) == (
        f"inputs={tmp_path / 'digit.png'} is a broken symbolic link (to {tmp_path / 'moved.png'}): give an "
        "image file or a directory of images"
    )


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


def test_the_command_ends_on_a_user_error_in_one_line_with_exit_code_2(tmp_path, monkeypatch, capsys):
    """``main`` as Hydra calls it with the composed configuration (the slow tests run the command)."""
    monkeypatch.setattr(predict_module, "setup_console", lambda: None)  # it sets up this process's logging
    with pytest.raises(SystemExit) as stop:
        predict_module.main(compose_config("predict", tmp_path, "ckpt_path=x.ckpt"))
    assert stop.value.code == 2
    assert capsys.readouterr().err == "error: inputs is missing: pass inputs=FILE_OR_DIR\n"


def run_as_command(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    """The exit code of ``python -m src.predict <args>``, run in this process (the slow tests run the
    command in a process of its own)."""
    monkeypatch.setattr(sys, "argv", ["predict.py", *args])
    with pytest.raises(SystemExit) as stop, warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # runpy: src.predict is imported already
        runpy.run_module("src.predict", run_name="__main__")
    return stop.value.code


def test_the_command_checks_its_command_line_first(monkeypatch, capsys):
    """Refused before Hydra starts, so nothing else runs here."""
    assert run_as_command(monkeypatch, "ckpt_path=x.ckpt", "inputs=x.png", "+topk=3") == 2
    assert capsys.readouterr().err.startswith(
        "error: +topk=3: there is no setting topk; see conf/predict.yaml"
    )


def test_the_command_is_hydras_and_shows_its_help(monkeypatch, capsys):
    """Hydra's decorator on ``main`` prints the predict configuration. Hydra leaves its configuration and
    its console handler set in this process: both are put back afterwards."""
    monkeypatch.setattr(HydraConfig.instance(), "cfg", HydraConfig.instance().cfg)
    monkeypatch.setattr(logging.getLogger(), "handlers", list(logging.getLogger().handlers))
    assert run_as_command(monkeypatch, "--help") == 0
    config = "== Config ==\nOverride anything in the config (foo.bar=value)\n\ntask_name: predict\n"
    assert config in capsys.readouterr().out


@pytest.mark.parametrize(("key", "example"), [("ckpt_path", "PATH"), ("inputs", "FILE_OR_DIR")])
def test_run_without_a_checkpoint_or_inputs_is_one_line(tmp_path, key, example):
    config = compose_config("predict", tmp_path, "ckpt_path=x.ckpt", "inputs=x.png", f"{key}=null")
    with pytest.raises(UserError) as error:
        run(config)
    assert str(error.value) == f"{key} is missing: pass {key}={example}"
