"""``src.visualize.TensorBoardFigures`` and ``src.loggers.EpochTensorBoardLogger``: the curves, histograms,
pictures and hparams a training run writes, read back with TensorBoard's own event reader and HParams
backend."""

from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.loggers import CSVLogger
from runs import compose_config
from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.context import RequestContext
from tensorboard.plugins import base_plugin
from tensorboard.plugins.hparams import api_pb2, backend_context, get_experiment, plugin_data_pb2

from src.data import DigitsDataModule
from src.errors import UserError
from src.lit import MLPClassifier
from src.train import train
from src.visualize import TensorBoardFigures, confusion_image, flat_hparams

LAYERS = (1, 2, 3)  # 64-16-16-10: three weighted layers
IMAGES = ("weights/layer_1_image", "validation/misclassified", "validation/confusion_matrix")
HISTOGRAMS = (
    "weights/layer_{}",
    "weights/layer_{}_biases",
    "weight_gradients/layer_{}",
    "weight_gradients/layer_{}_biases",
)


def events(run_dir: Path) -> EventAccumulator:
    accumulator = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"images": 0, "histograms": 0})
    return accumulator.Reload()


def test_histograms_and_pictures_every_epoch(trained_digits_run):
    accumulator = events(trained_digits_run)
    tags = accumulator.Tags()
    for kind in HISTOGRAMS:
        for layer in LAYERS:
            tag = kind.format(layer)
            assert tag in tags["histograms"]
            assert [event.step for event in accumulator.Histograms(tag)] == list(range(12))
    for tag in IMAGES:
        assert tag in tags["images"]
    assert [event.step for event in accumulator.Images("validation/confusion_matrix")] == list(range(12))
    picture = accumulator.Images("weights/layer_1_image")[-1]
    assert (picture.width, picture.height) == (4 * 64 + 5 * 2 * 8, 4 * 64 + 5 * 2 * 8)  # 16 neurons, 4x4


def tensorboard_group_order(tags: list[str]) -> list[str]:
    """The groups of TensorBoard's (2.21) Time Series page in the order it shows them: tags sorted with
    ``/``, ``_`` and digits before every other character, grouped by their part before the first ``/``."""
    groups: list[str] = []
    for tag in sorted(tags, key=lambda tag: [(c not in "/_" and not c.isdigit(), c) for c in tag]):
        if (group := tag.split("/", 1)[0]) not in groups:
            groups.append(group)
    return groups


def test_curves_at_every_epoch_open_first(trained_digits_run):
    accumulator = events(trained_digits_run)
    tags = accumulator.Tags()
    scalars = set(tags["scalars"])
    assert scalars == {"train/loss", "train/samples_per_sec", "val/loss", "val/acc", "val/acc_best"}
    for tag in scalars:  # x-axis: the epoch, as for the pictures
        assert [event.step for event in accumulator.Scalars(tag)] == list(range(12))
    every_tag = [tag for kind in ("scalars", "histograms", "images") for tag in tags[kind]]
    # TensorBoard opens the first two groups of its Time Series page, the others start collapsed
    assert tensorboard_group_order(every_tag)[:2] == ["train", "val"]


def test_the_x_axis_is_the_epoch_whatever_the_chunk_size(tmp_path):
    """13 Lightning steps (chunks of 10 mini-batches) per epoch: Lightning's own step would be 12, 25."""
    overrides = ("trainer.max_epochs=2", "test=false", "data.batches_per_step=10", "scheduler=step")
    train(compose_config("train", tmp_path, *overrides))
    accumulator = events(tmp_path)
    for tag in ("train/loss", "train/lr", "val/acc"):
        assert [event.step for event in accumulator.Scalars(tag)] == [0, 1]
    assert [event.step for event in accumulator.Histograms("weights/layer_1")] == [0, 1]


def test_hparams_are_the_runs_values(trained_digits_run):
    content = events(trained_digits_run).PluginTagToContent("hparams")
    # no experiment summary: TensorBoard then builds the columns from every run's values itself
    assert set(content) == {"_hparams_/session_start_info", "_hparams_/session_end_info"}
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    hparams = start.session_start_info.hparams
    assert hparams["activation/name"].string_value == "sigmoid"
    assert hparams["optimizer/lr"].number_value == 3.0
    assert hparams["trainer/max_epochs"].number_value == 12


def hparams_experiment(logdir: Path) -> api_pb2.Experiment:
    """What TensorBoard's HParams tab asks its backend for, answered from the event files in ``logdir``."""
    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(logdir))
    multiplexer.Reload()
    provider = data_provider.MultiplexerDataProvider(multiplexer, str(logdir))
    context = backend_context.Context(base_plugin.TBContext(logdir=str(logdir), data_provider=provider))
    request = api_pb2.GetExperimentRequest()
    return get_experiment.Handler(RequestContext(), context, "", request).run()


@pytest.mark.slow
def test_hparams_tab_shows_what_differs_between_runs_first(tmp_path):
    """Two runs that differ only in their optimizer: the HParams tab shows five columns at first, and the
    optimizer's must be among them."""
    for name, optimizer in (("a", "sgd"), ("b", "adam")):
        train(
            compose_config(
                "train", tmp_path / name, "trainer.max_epochs=1", "test=false", f"optimizer={optimizer}"
            )
        )
    experiment = hparams_experiment(tmp_path)
    names = [info.name for info in experiment.hparam_infos]
    assert names[:2] == ["optimizer/_target_", "optimizer/lr"]
    assert [info.differs for info in experiment.hparam_infos[:3]] == [True, True, False]
    assert {metric.name.tag for metric in experiment.metric_infos} >= {
        "val/acc_best",
        "val/acc",
        "train/loss",
    }


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
    assert [event.step for event in accumulator.Histograms("weight_gradients/layer_1")] == [1, 3]
    assert [event.step for event in accumulator.Images("validation/misclassified")] == [1, 3]


def test_without_tensorboard_it_does_nothing(tmp_path):
    trainer = L.Trainer(
        max_epochs=1,
        accelerator="cpu",
        logger=CSVLogger(tmp_path),
        callbacks=[TensorBoardFigures(every_n_epochs=1, max_misclassified=32)],
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
    key, value = next(iter(kwargs.items()))
    with pytest.raises(
        UserError, match=f"^callbacks.tensorboard_figures.{key}={value}: must be an integer >= "
    ):
        TensorBoardFigures(**({"every_n_epochs": 1, "max_misclassified": 0} | kwargs))
