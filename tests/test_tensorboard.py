"""``src.visualize.TensorBoardFigures``: the histograms, pictures and hparams a training run writes."""

from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.loggers import CSVLogger
from runs import compose_config
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from src.data import DigitsDataModule
from src.errors import UserError
from src.lit import MLPClassifier
from src.metrics_file import FINAL_METRICS
from src.train import train
from src.visualize import TensorBoardFigures, confusion_image, flat_hparams

LAYERS = (1, 2, 3)  # 64-16-16-10: three weighted layers
IMAGES = ("images/layer_1_weights", "images/misclassified", "images/confusion_matrix")


def events(run_dir: Path) -> EventAccumulator:
    accumulator = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"images": 0, "histograms": 0})
    return accumulator.Reload()


def test_histograms_and_pictures_every_epoch(trained_digits_run):
    accumulator = events(trained_digits_run)
    tags = accumulator.Tags()
    for kind in ("weights", "biases", "gradients", "bias_gradients"):
        for layer in LAYERS:
            tag = f"{kind}/layer_{layer}"
            assert tag in tags["histograms"]
            assert [event.step for event in accumulator.Histograms(tag)] == list(range(12))
    for tag in IMAGES:
        assert tag in tags["images"]
    assert [event.step for event in accumulator.Images("images/confusion_matrix")] == list(range(12))
    picture = accumulator.Images("images/layer_1_weights")[-1]
    assert (picture.width, picture.height) == (4 * 64 + 5 * 2 * 8, 4 * 64 + 5 * 2 * 8)  # 16 neurons, 4x4


def test_hparams_list_the_config_and_the_final_metrics(trained_digits_run):
    content = events(trained_digits_run).PluginTagToContent("hparams")
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
    assert [metric.name.tag for metric in experiment.metric_infos] == FINAL_METRICS
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    hparams = start.session_start_info.hparams
    assert hparams["activation/name"].string_value == "sigmoid"
    assert hparams["optimizer/lr"].number_value == 3.0
    assert hparams["trainer/max_epochs"].number_value == 12
    # the HParams tab shows the last value of each metric's curve
    assert {"test/acc", "val/acc_best"} <= set(events(trained_digits_run).Tags()["scalars"])


@pytest.mark.slow
def test_every_n_epochs(tmp_path):
    train(
        compose_config(
            "train",
            tmp_path,
            "trainer.max_epochs=4",
            "test=false",
            "callbacks.tensorboard_figures.every_n_epochs=2",
        )
    )
    accumulator = events(tmp_path)
    assert [event.step for event in accumulator.Histograms("gradients/layer_1")] == [1, 3]
    assert [event.step for event in accumulator.Images("images/misclassified")] == [1, 3]


def test_without_tensorboard_it_does_nothing(tmp_path):
    trainer = L.Trainer(
        max_epochs=1,
        accelerator="cpu",
        logger=CSVLogger(tmp_path),
        callbacks=[TensorBoardFigures()],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=1,
        default_root_dir=tmp_path,
    )
    trainer.fit(MLPClassifier(64, 10, [16]), datamodule=DigitsDataModule())
    assert not list(tmp_path.rglob("events.out.tfevents.*"))


def test_confusion_image_is_a_picture_of_the_table():
    matrix = torch.tensor([[5, 1], [0, 7]])
    image = confusion_image(matrix)
    assert image.dtype == torch.uint8 and image.shape[0] == 3
    assert image.shape[2] == 3 * 32  # a column of class numbers and one per class
    cell = image[:, 32 + 2, 32 + 2]  # true 0, predicted 0: 5 of 6, dark blue
    off = image[:, 2 * 32 + 2, 32 + 2]  # true 1, predicted 0: none, white
    assert cell[2] == 255 and cell[0] < 60 and off.tolist() == [255, 255, 255]


def test_flat_hparams():
    params = {"hidden": [16, 16], "optimizer": {"_target_": "torch.optim.SGD", "lr": 3.0}, "data": None}
    assert flat_hparams(params) == {
        "hidden": "[16, 16]",
        "optimizer/_target_": "torch.optim.SGD",
        "optimizer/lr": 3.0,
        "data": "None",
    }


@pytest.mark.parametrize("kwargs", [{"every_n_epochs": 0}, {"max_misclassified": -1}])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(UserError, match=f"{next(iter(kwargs))}=-?[0-9]+ is not allowed"):
        TensorBoardFigures(**kwargs)
