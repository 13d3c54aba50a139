"""``src.predict``: ordinary image files of digits, either ink polarity, any size, classified by a
checkpoint; bad input ends in one error line."""

import functools
import json
import os
import subprocess
from pathlib import Path

import pytest
import torch
from PIL import Image, ImageDraw, ImageOps
from runs import compose_config, run_module, write

import src.images as images_module
import src.predict as predict_module
from src.data import DigitsDataModule
from src.errors import UserError
from src.images import Layout, layout_for, to_input
from src.predict import Prediction, predict, run

N_IMAGES = 40
DIGITS = Layout(8, 8, centre_of_mass=False)


@functools.cache
def digits_test_split() -> tuple[torch.Tensor, torch.Tensor]:
    return DigitsDataModule().load()["test"]


def digit_image(index: int) -> tuple[Image.Image, int]:
    """Test-split digit ``index`` (never trained on) as an 8x8 grey image, bright ink on black."""
    x, y = digits_test_split()
    pixels = (x[index].view(8, 8) * 255).round().to(torch.uint8).numpy()
    return Image.fromarray(pixels, "L"), int(y[index])


def dark_on_light_rgb(digit: Image.Image) -> Image.Image:
    """Dark ink on white paper, colour, 37 wide x 40 high (not square), smoothly enlarged."""
    return ImageOps.invert(digit.resize((37, 40), Image.Resampling.BILINEAR)).convert("RGB")


def bright_on_dark_grey(digit: Image.Image) -> Image.Image:
    """Bright ink on black, grey, 24x24, enlarged pixel by pixel."""
    return digit.resize((24, 24), Image.Resampling.NEAREST)


def small_on_large_page(digit: Image.Image) -> Image.Image:
    """Dark ink, off-centre on a 120x90 white page."""
    page = Image.new("L", (120, 90), 0)
    page.paste(digit.resize((48, 56), Image.Resampling.BICUBIC), (60, 20))
    return ImageOps.invert(page)


@pytest.fixture(scope="module")
def digits_ckpt(trained_digits_run: Path) -> str:
    return json.loads((trained_digits_run / "metrics.json").read_text())["ckpt_path"]


@pytest.mark.parametrize(
    ("render", "suffix"),
    [(dark_on_light_rgb, ".png"), (bright_on_dark_grey, ".png"), (small_on_large_page, ".jpg")],
    ids=["dark-ink-rgb-37x40-png", "bright-ink-grey-24x24-png", "dark-ink-on-120x90-page-jpeg"],
)
def test_classifies_most_digit_images_right(tmp_path, digits_ckpt, render, suffix):
    """Unseen test digits saved as image files: the network gets about 93% of the 8x8 originals right and
    must get at least 80% of these (92.5% when written)."""
    labels = {}
    for index in range(N_IMAGES):
        digit, label = digit_image(index)
        path = tmp_path / f"{index:02d}{suffix}"
        render(digit).save(path)
        labels[path] = label
    predictions = predict(digits_ckpt, tmp_path)
    assert [p.path for p in predictions] == sorted(labels)
    for prediction in predictions:
        assert len(prediction.activations) == 10
        assert prediction.label == max(range(10), key=prediction.activations.__getitem__)
    accuracy = sum(p.label == labels[p.path] for p in predictions) / len(predictions)
    assert accuracy >= 0.8


def test_ink_polarity_and_colour_do_not_change_the_input():
    digit, _ = digit_image(0)
    bright = to_input(bright_on_dark_grey(digit), DIGITS)
    dark = to_input(ImageOps.invert(bright_on_dark_grey(digit)).convert("RGB"), DIGITS)
    torch.testing.assert_close(bright, dark, atol=1e-2, rtol=0)


def test_transparent_background_counts_as_paper():
    page = Image.new("RGBA", (30, 40), (0, 0, 0, 0))
    ImageDraw.Draw(page).line((15, 5, 15, 35), fill=(0, 0, 0, 255), width=4)
    on_white = Image.new("RGB", (30, 40), "white")
    ImageDraw.Draw(on_white).line((15, 5, 15, 35), fill="black", width=4)
    torch.testing.assert_close(to_input(page, DIGITS), to_input(on_white, DIGITS))


def test_digits_input_is_the_ink_at_full_height_centred():
    page = Image.new("L", (200, 150), 230)
    ImageDraw.Draw(page).rectangle((20, 30, 39, 69), fill=20)  # 20 wide x 40 high, top left
    image = to_input(page, DIGITS).view(8, 8)
    assert image.min() >= 0 and image.max() == 1
    rows, cols = (image > 0.5).nonzero(as_tuple=True)
    assert (rows.min(), rows.max()) == (0, 7)
    assert (cols.min(), cols.max()) == (2, 5)


def test_mnist_sized_input_follows_mnist_layout():
    layout = layout_for(784)
    assert layout == Layout(28, 20, centre_of_mass=True)
    page = Image.new("L", (300, 300), 255)
    ImageDraw.Draw(page).rectangle((200, 10, 239, 89), fill=0)  # 40 wide x 80 high
    image = to_input(page, layout).view(28, 28)
    rows, cols = (image > 0.5).nonzero(as_tuple=True)
    assert int(rows.max() - rows.min()) + 1 == 20
    centre = torch.tensor([rows.float().mean(), cols.float().mean()])
    torch.testing.assert_close(centre, torch.tensor([13.5, 13.5]), atol=0.6, rtol=0)


def test_blank_image_is_an_all_zero_input():
    assert to_input(Image.new("RGB", (20, 20), "white"), DIGITS).count_nonzero() == 0


def test_directory_skips_other_files_and_lists_images_in_order(tmp_path, digits_ckpt):
    digit, _ = digit_image(1)
    for name in ("b.png", "a.JPG"):
        bright_on_dark_grey(digit).convert("RGB").save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / ".hidden.png").write_text("not an image either")
    predictions = predict(digits_ckpt, [tmp_path, tmp_path / "b.png"])
    assert [p.path.name for p in predictions] == ["a.JPG", "b.png", "b.png"]
    assert isinstance(predictions[0], Prediction)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.png", r"inputs=.*missing\.png does not exist"),
        (lambda d: Path("/dev/zero"), r"inputs=/dev/zero is neither a file nor a directory"),
        (lambda d: d, r"inputs=.* holds no image files: allowed extensions are \.png"),
        (lambda d: write(d / "notes.txt", b"hello"), r"notes\.txt is not a readable image .*allowed"),
        (
            lambda d: write(d / "broken.png", b"\x89PNG\r\n\x1a\n" + b"0" * 40),
            r"broken\.png is not a readable",
        ),
    ],
    ids=["missing", "device", "empty-directory", "not-an-image", "corrupt-png"],
)
def test_bad_inputs_name_the_file(tmp_path, digits_ckpt, make, message):
    with pytest.raises(UserError, match=message):
        predict(digits_ckpt, make(tmp_path))


def test_a_file_of_another_format_is_never_decoded(tmp_path, digits_ckpt, monkeypatch):
    """PostScript named .png: Pillow would pick its EPS decoder by the content and run Ghostscript on it
    (here a stand-in ``gs`` that leaves a mark)."""
    mark = tmp_path / "ghostscript_ran"
    fake = tmp_path / "bin" / "gs"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\ntouch {mark}\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 28 28\nnewpath 0 0 moveto 28 28 lineto stroke\n"
    with pytest.raises(UserError, match=r"evil\.png is not a readable image .*allowed are PNG, JPEG"):
        predict(digits_ckpt, write(tmp_path / "evil.png", eps))
    assert not mark.exists()


def test_a_long_thin_stroke_is_shrunk_before_its_square_window_is_cut():
    """A 3 x 100,000 line (a 377-byte PNG) asked for a 140,000-pixel square window, 78 GB of float32."""
    ink = torch.zeros(1, 3, 100_000)
    ink[0, 1] = 1.0
    fitted = images_module.fit(ink, Layout(28, 20, centre_of_mass=True))
    assert fitted.shape == (28, 28) and fitted.max() == 1.0
    assert fitted[13:15, 4:24].min() > 0 and fitted[:13].max() == 0 == fitted[15:].max()  # the middle 20


def test_a_prediction_is_one_line_whatever_the_file_is_called():
    prediction = Prediction(Path("new\nline\x1b[31m.png"), 3, [0.5] * 10)
    assert (
        str(prediction) == "new\\nline\\x1b[31m.png: class 3  activations [" + ", ".join(["0.50"] * 10) + "]"
    )


def test_corrupt_image_in_a_directory_is_an_error(tmp_path, digits_ckpt):
    digit, _ = digit_image(2)
    bright_on_dark_grey(digit).save(tmp_path / "good.png")
    (tmp_path / "truncated.png").write_bytes((tmp_path / "good.png").read_bytes()[:60])
    with pytest.raises(UserError, match=r"truncated\.png is not a readable image"):
        predict(digits_ckpt, tmp_path)


def test_a_file_that_is_not_a_checkpoint_is_refused(tmp_path):
    digit, _ = digit_image(3)
    bright_on_dark_grey(digit).save(tmp_path / "digit.png")
    with pytest.raises(UserError, match=r"ckpt_path=.*digit\.png is not a checkpoint"):
        predict(tmp_path / "digit.png", tmp_path)


def test_run_prints_a_line_per_file_and_writes_predictions(tmp_path, digits_ckpt, capsys):
    images = tmp_path / "images"
    images.mkdir()
    digit, _ = digit_image(4)
    dark_on_light_rgb(digit).save(images / "digit.png")
    predictions = run(
        compose_config("predict", tmp_path / "run", f"ckpt_path={digits_ckpt}", f"inputs={images}")
    )
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{images / 'digit.png'}: class {predictions[0].label}  activations [")
    assert line.count(",") == 9
    written = json.loads((tmp_path / "run" / "predictions.json").read_text())
    assert written["predictions"][0]["label"] == predictions[0].label
    assert written["predictions"][0]["path"] == str(images / "digit.png")


def predict_cli(*args: str) -> subprocess.CompletedProcess:
    return run_module("src.predict", *args)


@pytest.mark.slow
def test_cli_classifies_a_directory(tmp_path, digits_ckpt):
    images = tmp_path / "images"
    images.mkdir()
    for index in range(3):
        digit, _ = digit_image(index)
        small_on_large_page(digit).save(images / f"{index}.jpg")
    result = predict_cli(f"ckpt_path={digits_ckpt}", f"inputs={images}", f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 0, result.stderr[-2000:]
    *lines, last = result.stdout.strip().splitlines()
    assert [line.split(": class ")[0] for line in lines] == [str(images / f"{i}.jpg") for i in range(3)]
    assert last == f"wrote 3 predictions to {tmp_path / 'run' / 'predictions.json'}"


@pytest.mark.slow
def test_cli_skips_an_unreadable_file_predicts_the_rest_and_fails_at_the_end(tmp_path, digits_ckpt):
    images = tmp_path / "images"
    images.mkdir()
    digit, _ = digit_image(5)
    bright_on_dark_grey(digit).save(images / "a.png")
    (images / "b.png").write_bytes((images / "a.png").read_bytes()[:60])  # truncated
    Image.new("1", (6000, 5000)).save(images / "c.png")  # 30 megapixels: more than MAX_PIXELS
    bright_on_dark_grey(digit).save(images / "d.png")
    run_dir = tmp_path / "run"
    result = predict_cli(f"ckpt_path={digits_ckpt}", f"inputs={images}", f"hydra.run.dir={run_dir}")
    assert result.returncode == 2
    stdout = result.stdout.strip().splitlines()
    assert [line.split(": class ")[0] for line in stdout[:2]] == [
        str(images / "a.png"),
        str(images / "d.png"),
    ]
    assert stdout[2:] == [f"wrote 2 predictions to {run_dir / 'predictions.json'}"]
    skipped_b, skipped_c, error = result.stderr.strip().splitlines()
    assert skipped_b.startswith(f"skipped: inputs: {images / 'b.png'} is not a readable image")
    assert skipped_c == (
        f"skipped: inputs: {images / 'c.png'} is 6000x5000 pixels: at most 25,000,000 pixels (e.g. 6000x4000) "
        "are decoded; scale the image down first"
    )
    assert error == (
        f"error: inputs: 2 of 4 files could not be read (skipped above); the others' predictions are in "
        f"{run_dir / 'predictions.json'}"
    )
    written = json.loads((run_dir / "predictions.json").read_text())
    assert [Path(p["path"]).name for p in written["predictions"]] == ["a.png", "d.png"]
    assert len(written["skipped"]) == 2


def test_an_image_too_large_is_refused_from_its_header(tmp_path, digits_ckpt, monkeypatch):
    """The pixel count is read from the header: the image is never decoded (load() is not called)."""
    Image.new("L", (30, 20)).save(tmp_path / "big.png")
    monkeypatch.setattr(images_module, "MAX_PIXELS", 599)
    monkeypatch.setattr(Image.Image, "load", lambda self: pytest.fail("decoded"))
    with pytest.raises(UserError, match=r"big\.png is 30x20 pixels: at most 599 pixels"):
        predict(digits_ckpt, tmp_path / "big.png")


@pytest.mark.slow
def test_a_refused_command_leaves_no_run_directory(tmp_path):
    run_dir = tmp_path / "run"
    result = predict_cli(
        f"ckpt_path={tmp_path / 'missing.ckpt'}", f"inputs={tmp_path}", f"hydra.run.dir={run_dir}"
    )
    assert result.returncode == 2 and result.stderr.startswith("error: ")
    assert not run_dir.exists()
    run_dir.mkdir()
    (run_dir / "keep.txt").write_text("an earlier run's file")
    result = predict_cli(
        f"ckpt_path={tmp_path / 'missing.ckpt'}", f"inputs={tmp_path}", f"hydra.run.dir={run_dir}"
    )
    assert result.returncode == 2 and (run_dir / "keep.txt").exists()


@pytest.mark.slow
def test_cli_bad_input_is_one_error_line(tmp_path):
    """The errors above, as the command line reports them; here the one only the command line has."""
    result = predict_cli(f"inputs={tmp_path}", f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode != 0
    assert result.stderr == "error: ckpt_path is missing: pass ckpt_path=PATH\n"


def test_a_network_of_non_square_inputs_cannot_classify_images():
    with pytest.raises(UserError, match=r"in_features=10 inputs, not a square image"):
        layout_for(10)


@pytest.mark.parametrize(("data", "rows"), [("mnist", 20), ("fashion_mnist", 28)])
def test_a_fashion_mnist_item_fills_the_frame_as_its_training_images_do(tmp_path, data, rows):
    """Fashion-MNIST's images fill 28 pixels (longer side resized to 28, centred), MNIST's digits a
    20-pixel box: a trouser photo given to a Fashion-MNIST checkpoint (or drawn on its demo page) was
    shrunk into MNIST's box, unlike every image the network was trained on."""
    from omegaconf import OmegaConf

    from src.demo.views import DemoNetwork
    from src.lit import MLPClassifier

    settings = OmegaConf.to_container(compose_config("train", tmp_path, f"data={data}").data, resolve=True)
    model = MLPClassifier(in_features=784, num_classes=10, hidden=[4], data=settings)
    ckpt = tmp_path / "tiny.ckpt"
    torch.save({"hyper_parameters": dict(model.hparams), "state_dict": model.state_dict()}, ckpt)
    trouser = Image.new("L", (300, 600), 255)
    ImageDraw.Draw(trouser).rectangle((60, 0, 240, 599), fill=0)  # dark on light, top to bottom
    trouser.save(tmp_path / "trouser.png")
    inputs = []

    def seen(*args):  # the input layer predict computes for the image
        inputs.append(to_input(*args))
        return inputs[-1]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(predict_module, "to_input", seen)
        [prediction] = predict(ckpt, tmp_path / "trouser.png")
    [x] = inputs
    assert int((x.view(28, 28) > 0).any(dim=1).sum()) == rows
    with torch.no_grad():
        assert prediction.activations == model(x[None])[0].tolist()
    assert DemoNetwork(model.net, 1.0, settings).layout.box == rows
