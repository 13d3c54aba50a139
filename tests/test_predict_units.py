"""Fast checks of src/predict.py's parts on hand-made inputs, with a tiny untrained checkpoint (the
tests of tests/test_predict.py that classify digits need the session's trained run): the inputs named on
the command line, ``predict``'s outputs and skipped files, ``run``'s lines and ``predictions.json``, and the
command itself run in this process. The image reduction's own checks are in tests/test_images_units.py."""

import json
import logging
import runpy
import sys
import warnings
from pathlib import Path

import pytest
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf
from PIL import Image
from runs import compose_config
from test_images_units import ALLOWED, DIGITS, stroke

import src.predict as predict_module
from src.errors import UserError
from src.images import IMAGE_SUFFIXES, to_input
from src.lit import MLPClassifier
from src.predict import SHOWN_LEFT_OUT, image_files, images_in, left_out_line, predict, run


@pytest.fixture
def tiny_ckpt(tmp_path: Path) -> tuple[Path, MLPClassifier]:
    """An untrained 64-4-10 network on the digits, saved as ``src.train`` saves one, and the model."""
    data = OmegaConf.to_container(compose_config("train", tmp_path).data, resolve=True)
    torch.manual_seed(0)
    model = MLPClassifier(in_features=64, num_classes=10, hidden=[4], data=data)
    ckpt = tmp_path / "tiny.ckpt"
    torch.save({"hyper_parameters": dict(model.hparams), "state_dict": model.state_dict()}, ckpt)
    return ckpt, model.eval()


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


def test_run_counts_the_predictions_and_the_files_it_could_not_read(tmp_path, tiny_ckpt, capsys):
    """Three images and one file that is none: "1 of 4", and "3 predictions"."""
    ckpt, _ = tiny_ckpt
    images = tmp_path / "images"
    images.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        stroke(images / name)
    (images / "d.png").write_bytes(b"not an image")
    written = tmp_path / "run" / "predictions.json"
    with pytest.raises(UserError) as error:
        run(compose_config("predict", tmp_path / "run", f"ckpt_path={ckpt}", f"inputs={images}"))
    assert str(error.value) == (
        f"inputs: 1 of 4 files could not be read (skipped above); the others' predictions are in {written}"
    )
    assert capsys.readouterr().out.splitlines()[-1] == f"wrote 3 predictions to {written}"


@pytest.mark.parametrize(
    ("count", "counted", "more"),
    [
        (1, "1 file", ""),
        (2, "2 files", ""),
        (5, "5 files", ""),
        (6, "6 files", " and 1 more"),
        (12, "12 files", " and 7 more"),
    ],
)
def test_the_left_out_line_names_the_first_files_and_counts_the_others(count, counted, more):
    left_out = [Path(f"notes{number}.txt") for number in range(count)]
    names = ", ".join(str(path) for path in left_out[:SHOWN_LEFT_OUT])
    assert left_out_line(left_out) == (
        f"left out {counted} without an image extension ({', '.join(IMAGE_SUFFIXES)}; give a file by name to "
        f"read it whatever its name): {names}{more}"
    )


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
