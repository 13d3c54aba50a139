"""Fast checks of src/visualize.py without a training run: the ``TensorBoardFigures`` hooks driven by a
stand-in trainer (a ``SimpleNamespace``) whose TensorBoard logger hands out a recording fake
``SummaryWriter``, with real, tiny ``MLPClassifier``s whose weights, gradients and predictions the tests
set or read; and the drawing helpers (upscaling, grids, labels, the confusion matrix) checked pixel by
pixel against positions and colours worked out from their documented geometry.

tests/test_tensorboard.py reads back what a real run writes; this file checks each decision on its own.
"""

from types import SimpleNamespace
from typing import Any

import pytest
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from omegaconf import OmegaConf
from PIL import Image, ImageDraw
from tensorboard.plugins.hparams import plugin_data_pb2
from torch import Tensor

from src.errors import UserError
from src.lit import MLPClassifier
from src.visualize import (
    TensorBoardFigures,
    add_histogram,
    confusion_image,
    flat_hparams,
    labelled_grid,
    neuron_grid,
    square_side,
    tensorboard_writer,
    upscale,
)
from tests.runs import REPO

# --- Stand-ins --------------------------------------------------------------------------------------

CONFIGURED = {
    key: value
    for key, value in OmegaConf.load(REPO / "conf" / "callbacks" / "default.yaml").tensorboard_figures.items()
    if key != "_target_"
}
"""The callback's arguments as every run gets them: its defaults are written there only."""


def figures_callback(**arguments: int) -> TensorBoardFigures:
    """A :class:`TensorBoardFigures` with the configured arguments, but for ``arguments``."""
    return TensorBoardFigures(**(CONFIGURED | arguments))


class FakeWriter:
    """Records what a ``SummaryWriter`` is asked to write; is also its own file writer (``add_summary``)."""

    def __init__(self) -> None:
        self.histograms: list[tuple[str, Tensor, int, str]] = []
        self.images: list[tuple[str, Tensor, int]] = []
        self.summaries: list[Any] = []

    def add_histogram(self, tag: str, values: Tensor, step: int, bins: str) -> None:
        self.histograms.append((tag, values.clone(), step, bins))

    def add_image(self, tag: str, image: Tensor, step: int) -> None:
        self.images.append((tag, image.clone(), step))

    def _get_file_writer(self) -> "FakeWriter":
        return self

    def add_summary(self, summary: Any) -> None:
        self.summaries.append(summary)

    def histogram(self, tag: str) -> tuple[Tensor, int, str]:
        """The values, step and bins of the one histogram written under ``tag``."""
        (found,) = [(values, step, bins) for name, values, step, bins in self.histograms if name == tag]
        return found

    def image(self, tag: str) -> tuple[Tensor, int]:
        """The picture and step of the one image written under ``tag``."""
        (found,) = [(image, step) for name, image, step in self.images if name == tag]
        return found

    def written(self) -> int:
        """How many things were written at all."""
        return len(self.histograms) + len(self.images) + len(self.summaries)


class FakeTensorBoardLogger(TensorBoardLogger):
    """A ``TensorBoardLogger`` (for ``isinstance``) without a log directory: its experiment is ``writer``."""

    def __init__(self, writer: Any) -> None:  # no super().__init__(): nothing on disk
        self.writer = writer

    @property
    def experiment(self) -> Any:
        return self.writer


def stand_in_trainer(writer: FakeWriter | None, **attributes: Any) -> SimpleNamespace:
    """A trainer at the last batch of epoch 0 on rank 0, out of sanity checking, logging to ``writer``
    (no TensorBoard logger at all if ``None``); ``attributes`` override any of that."""
    loggers = [] if writer is None else [FakeTensorBoardLogger(writer)]
    defaults = {
        "sanity_checking": False,
        "current_epoch": 0,
        "is_last_batch": True,
        "is_global_zero": True,
        "loggers": loggers,
        "datamodule": SimpleNamespace(),
        "max_epochs": 7,
    }
    return SimpleNamespace(**(defaults | attributes))


def classifier(in_features: int, num_classes: int, hidden: int, seed: int = 0) -> MLPClassifier:
    """A small real classifier with seeded random weights."""
    torch.manual_seed(seed)
    return MLPClassifier(in_features, num_classes, [hidden])


# --- Settings and the schedule -------------------------------------------------------------------------


def test_the_smallest_allowed_settings_are_accepted_and_kept():
    with pytest.raises(UserError):
        figures_callback(every_n_epochs=0)
    with pytest.raises(UserError):
        figures_callback(max_misclassified=-1)
    figures = TensorBoardFigures(every_n_epochs=1, max_misclassified=0)
    assert (figures.every_n_epochs, figures.max_misclassified, figures.last_grad) == (1, 0, None)


@pytest.mark.parametrize(
    ("epoch", "due"), [(0, False), (1, False), (2, True), (3, False), (4, False), (5, True)]
)
def test_due_at_the_end_of_every_third_epoch(epoch: int, due: bool):
    # epochs count from 0: the 3rd and 6th epochs are numbers 2 and 5
    assert figures_callback(every_n_epochs=3)._due(stand_in_trainer(None, current_epoch=epoch)) is due


def test_never_due_while_sanity_checking():
    trainer = stand_in_trainer(None, current_epoch=2, sanity_checking=True)
    assert figures_callback(every_n_epochs=3)._due(trainer) is False
    assert figures_callback(every_n_epochs=1)._due(trainer) is False


# --- The writer -------------------------------------------------------------------------------------------


def test_the_writer_is_the_first_tensorboard_loggers_experiment():
    first, second = FakeWriter(), FakeWriter()
    other = SimpleNamespace(experiment=FakeWriter())  # not a TensorBoardLogger, though it has an experiment
    loggers = [other, FakeTensorBoardLogger(first), FakeTensorBoardLogger(second)]
    assert tensorboard_writer(stand_in_trainer(None, loggers=loggers)) is first


def test_no_writer_without_a_tensorboard_logger():
    other = SimpleNamespace(experiment=FakeWriter())
    assert tensorboard_writer(stand_in_trainer(None, loggers=[other])) is None
    assert tensorboard_writer(stand_in_trainer(None)) is None


def test_no_writer_on_other_ranks_than_zero():
    assert tensorboard_writer(stand_in_trainer(FakeWriter(), is_global_zero=False)) is None


# --- Keeping the last mini-batch gradient ---------------------------------------------------------------


def batch_end(figures: TensorBoardFigures, module: MLPClassifier, trainer: SimpleNamespace) -> None:
    """Lightning's call at the end of a training batch."""
    figures.on_train_batch_end(trainer, module, None, None, 0)


def test_the_last_batchs_gradient_is_kept_as_a_float32_copy():
    module = classifier(12, 3, 5).double()
    grad = torch.linspace(-1, 1, module.net.params.numel(), dtype=torch.float64)
    module.net.params.grad = grad.clone()
    figures = figures_callback()
    batch_end(figures, module, stand_in_trainer(FakeWriter()))
    assert figures.last_grad is not None and figures.last_grad.dtype == torch.float32
    assert torch.equal(figures.last_grad, grad.float())
    assert not figures.last_grad.requires_grad


def test_the_kept_gradient_does_not_change_with_the_parameters_gradient():
    module = classifier(12, 3, 5)  # float32: float() alone would not copy
    module.net.params.grad = torch.ones_like(module.net.params)
    figures = figures_callback()
    batch_end(figures, module, stand_in_trainer(FakeWriter()))
    module.net.params.grad.mul_(5)
    assert torch.equal(figures.last_grad, torch.ones(module.net.params.numel()))


@pytest.mark.parametrize(
    ("attributes", "every_n", "with_grad"),
    [
        ({"is_last_batch": False}, 1, True),
        ({"current_epoch": 0}, 2, True),  # epoch 0 is the first of two: not due
        ({"sanity_checking": True}, 1, True),
        ({"is_global_zero": False}, 1, True),  # no writer
        ({}, 1, False),
    ],
)
def test_no_gradient_is_kept_unless_last_batch_due_with_writer_and_grad(
    attributes: dict[str, Any], every_n: int, with_grad: bool
):
    module = classifier(12, 3, 5)
    if with_grad:
        module.net.params.grad = torch.ones_like(module.net.params)
    figures = figures_callback(every_n_epochs=every_n)
    batch_end(figures, module, stand_in_trainer(FakeWriter(), **attributes))
    assert figures.last_grad is None


def test_no_gradient_is_kept_without_a_tensorboard_logger():
    module = classifier(12, 3, 5)
    module.net.params.grad = torch.ones_like(module.net.params)
    figures = figures_callback()
    batch_end(figures, module, stand_in_trainer(None))
    assert figures.last_grad is None


# --- Histograms and the first layer's picture at the end of a training epoch ---------------------------

DIGITS_TAGS = ["weights/layer_1", "weights/layer_1_biases", "weights/layer_2", "weights/layer_2_biases"]
GRADIENT_TAGS = [tag.replace("weights/", "weight_gradients/") for tag in DIGITS_TAGS]


def test_epoch_end_logs_every_layers_weights_and_the_kept_gradients_parts():
    module = classifier(64, 10, 16).double()  # 64-16-10: W 16x64, B 16, W 10x16, B 10: 1210 parameters
    module.net.params.grad = torch.arange(1210, dtype=torch.float64)  # each entry its own position
    writer, figures = FakeWriter(), figures_callback(every_n_epochs=5)
    trainer = stand_in_trainer(writer, current_epoch=4)
    batch_end(figures, module, trainer)
    figures.on_train_epoch_end(trainer, module)
    assert [tag for tag, *_ in writer.histograms] == DIGITS_TAGS + GRADIENT_TAGS
    assert {(step, bins) for _, _, step, bins in writer.histograms} == {(4, "tensorflow")}
    for tag, (weight, bias) in zip(DIGITS_TAGS[::2], module.net.layers(), strict=True):
        assert writer.histogram(tag)[0].dtype == torch.float32
        assert torch.equal(writer.histogram(tag)[0], weight.detach().float())
        assert torch.equal(writer.histogram(tag + "_biases")[0], bias.detach().float())
    # P is laid out W_1 (row by row), B_1, W_2, B_2
    expected = {
        "weight_gradients/layer_1": torch.arange(0, 1024.0).view(16, 64),
        "weight_gradients/layer_1_biases": torch.arange(1024, 1040.0),
        "weight_gradients/layer_2": torch.arange(1040, 1200.0).view(10, 16),
        "weight_gradients/layer_2_biases": torch.arange(1200, 1210.0),
    }
    for tag, values in expected.items():
        assert torch.equal(writer.histogram(tag)[0], values)
    assert figures.last_grad is None


def test_epoch_end_without_a_kept_gradient_logs_only_the_weights():
    module = classifier(12, 3, 5)
    writer, figures = FakeWriter(), figures_callback()
    figures.on_train_epoch_end(stand_in_trainer(writer, current_epoch=3), module)
    assert [(tag, step) for tag, _, step, _ in writer.histograms] == [(tag, 3) for tag in DIGITS_TAGS]
    assert writer.images == []  # 12 inputs are no square picture


def test_the_first_layers_picture_scales_each_neuron_on_its_own_around_one_half():
    module = classifier(64, 10, 16).double()
    weight = module.net.layers()[0][0]
    with torch.no_grad():
        weight.zero_()
        weight[0, 0], weight[0, 63] = 2.0, -1.0  # neuron 0: its largest |w| is 2, pixels (0, 0), (7, 7)
        weight[5, 9], weight[5, 10] = -0.25, 0.125  # neuron 5: largest |w| 0.25 < 1, pixels (1, 1), (1, 2)
    writer = FakeWriter()
    figures_callback().on_train_epoch_end(stand_in_trainer(writer, current_epoch=6), module)
    image, step = writer.image("weights/layer_1_image")
    assert step == 6 and image.dtype == torch.float32
    # 16 neurons: a 4x4 grid of 8x8 pictures, 2 pixels of padding (white, 1.0) around each, then each
    # pixel enlarged 8 times (64 // 8); w / (2 max|w|) + 0.5 maps a neuron's weights into [0, 1]
    canvas = torch.ones(3, 42, 42)
    for neuron in range(16):
        top, left = 2 + 10 * (neuron // 4), 2 + 10 * (neuron % 4)
        canvas[:, top : top + 8, left : left + 8] = 0.5  # zero weight
    canvas[:, 2, 2], canvas[:, 2 + 7, 2 + 7] = 1.0, 0.25  # neuron 0: 2 / 4 + 0.5, -1 / 4 + 0.5
    canvas[:, 12 + 1, 12 + 1], canvas[:, 12 + 1, 12 + 2] = 0.0, 0.75  # neuron 5 (row 1, column 1)
    assert torch.equal(image, canvas.repeat_interleave(8, dim=1).repeat_interleave(8, dim=2))


@pytest.mark.parametrize(
    ("attributes", "every_n"),
    [({"is_global_zero": False}, 1), ({"current_epoch": 0}, 2), ({"sanity_checking": True}, 1)],
)
def test_epoch_end_writes_nothing_without_writer_or_when_not_due(attributes: dict[str, Any], every_n: int):
    module = classifier(64, 10, 16)
    writer = FakeWriter()
    figures = figures_callback(every_n_epochs=every_n)
    figures.last_grad = torch.zeros(1210)
    figures.on_train_epoch_end(stand_in_trainer(writer, **attributes), module)
    assert writer.written() == 0
    assert figures.last_grad is not None  # kept: it was not logged


# --- Validation pictures ---------------------------------------------------------------------------------


def argmax_classifier(in_features: int) -> MLPClassifier:
    """A 3-class classifier (5 sigmoid hidden neurons) that predicts the largest of the first three inputs:
    hidden neuron k < 3 is S(10 x_k), output k is S(hidden k); every other weight and bias is 0."""
    module = MLPClassifier(in_features, 3, [5])
    (hidden, _), (output, _) = module.net.layers()
    with torch.no_grad():
        module.net.params.zero_()
        for k in range(3):
            hidden[k, k], output[k, k] = 10.0, 1.0
    return module


PREDICTED = [0, 1, 2, 0, 1, 2, 0, 1, 2, 1]  # the class argmax_classifier gives each of the 10 rows below
LABELS = [0, 0, 2, 0, 2, 2, 2, 1, 1, 1]  # wrong at rows 1 and 8 (label below the guess), 4 and 6 (above)
# rows: the true class, columns: the predicted one; true 0 at rows 0, 1, 3, guessed 0, 1, 0; true 1 at
# rows 7, 8, 9, guessed 1, 2, 1; true 2 at rows 2, 4, 5, 6, guessed 2, 1, 2, 0
LABELS_MATRIX = [[2, 1, 0], [0, 2, 1], [1, 1, 2]]
CORRECT_MATRIX = [[3, 0, 0], [0, 4, 0], [0, 0, 3]]  # labels = guesses: classes 0, 1, 2 guessed 3, 4, 3 times


def validation_inputs(in_features: int) -> Tensor:
    """10 float64 rows of 0.2 with 0.9 at the input ``PREDICTED`` names."""
    x = torch.full((10, in_features), 0.2, dtype=torch.float64)
    x[range(10), PREDICTED] = 0.9
    return x


def validation_end(
    module: MLPClassifier, x: Tensor, y: Tensor, max_misclassified: int = 32, **attributes: Any
) -> FakeWriter:
    """The writer after ``on_validation_epoch_end`` at epoch 2 with ``(x, y)`` as the validation split."""
    writer = FakeWriter()
    due = {"current_epoch": 2, "datamodule": SimpleNamespace(splits={"val": (x, y)})}
    trainer = stand_in_trainer(writer, **(due | attributes))
    TensorBoardFigures(every_n_epochs=3, max_misclassified=max_misclassified).on_validation_epoch_end(
        trainer, module
    )
    return writer


def test_the_stand_in_classifier_predicts_as_planned():
    assert argmax_classifier(4)(validation_inputs(4).float()).argmax(dim=1).tolist() == PREDICTED


def test_validation_logs_the_confusion_matrix_and_the_first_misclassified_in_order():
    module = argmax_classifier(4)  # 4 inputs: 2x2 pictures
    x, y = validation_inputs(4), torch.tensor(LABELS)
    writer = validation_end(module, x, y, max_misclassified=3)
    assert [(tag, step) for tag, _, step in writer.images] == [
        ("validation/confusion_matrix", 2),
        ("validation/misclassified", 2),
    ]
    expected_matrix = confusion_image(torch.tensor(LABELS_MATRIX))
    assert torch.equal(writer.image("validation/confusion_matrix")[0], expected_matrix)
    # the first three wrong ones, in the validation set's order: rows 1, 4, 6
    pictures = x[[1, 4, 6]].float().view(3, 1, 2, 2)
    expected = labelled_grid(pictures, torch.tensor([1, 1, 0]), torch.tensor([0, 2, 2]))
    assert torch.equal(writer.image("validation/misclassified")[0], expected)


@pytest.mark.parametrize(
    ("in_features", "labels", "limit", "matrix"),
    [(12, LABELS, 32, LABELS_MATRIX), (4, PREDICTED, 32, CORRECT_MATRIX), (4, LABELS, 0, LABELS_MATRIX)],
)
def test_no_misclassified_grid_for_non_square_inputs_none_wrong_or_a_limit_of_zero(
    in_features: int, labels: list[int], limit: int, matrix: list[list[int]]
):
    x, y = validation_inputs(in_features), torch.tensor(labels)
    writer = validation_end(argmax_classifier(in_features), x, y, max_misclassified=limit)
    assert [tag for tag, _, _ in writer.images] == ["validation/confusion_matrix"]
    assert torch.equal(writer.image("validation/confusion_matrix")[0], confusion_image(torch.tensor(matrix)))


@pytest.mark.parametrize(
    "attributes",
    [
        {"is_global_zero": False},
        {"current_epoch": 0},  # every_n_epochs is 3: due at epochs 2, 5, ...
        {"sanity_checking": True},
        {"datamodule": SimpleNamespace()},  # no splits at all
        {"datamodule": SimpleNamespace(splits={"train": None})},  # no validation split
    ],
)
def test_validation_writes_nothing_without_writer_split_or_when_not_due(attributes: dict[str, Any]):
    x, y = validation_inputs(4), torch.tensor(LABELS)
    assert validation_end(argmax_classifier(4), x, y, **attributes).written() == 0


# --- Hyperparameters at the end of training ----------------------------------------------------------------


def test_train_end_writes_the_runs_hparams_and_max_epochs_as_two_summaries():
    module = classifier(64, 10, 16)
    writer = FakeWriter()
    figures_callback().on_train_end(stand_in_trainer(writer, max_epochs=7), module)
    assert writer.histograms == [] and writer.images == []
    start, end = writer.summaries
    assert start.value[0].tag == "_hparams_/session_start_info"
    assert end.value[0].tag == "_hparams_/session_end_info"
    content = plugin_data_pb2.HParamsPluginData.FromString(start.value[0].metadata.plugin_data.content)
    hparams = content.session_start_info.hparams
    assert hparams["trainer/max_epochs"].number_value == 7
    assert hparams["optimizer/lr"].number_value == 3.0  # flattened from {"optimizer": {"lr": 3.0}}
    assert hparams["activation/name"].string_value == "sigmoid"
    assert hparams["hidden"].string_value == "[16]"
    assert hparams["in_features"].number_value == 64


def test_train_end_writes_nothing_without_writer():
    writer = FakeWriter()
    figures_callback().on_train_end(stand_in_trainer(writer, is_global_zero=False), classifier(12, 3, 5))
    assert writer.written() == 0


# --- Helpers ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("features", "side"), [(64, 8), (1, 1), (0, 0), (784, 28), (63, None), (65, None), (12, None)]
)
def test_square_side(features: int, side: int | None):
    # 0 = 0 * 0: side 0, which callers read as false (no picture), as for None
    assert square_side(features) == side


@pytest.mark.parametrize(
    ("values", "bins"),
    [
        ([9.9e19, -3.0], "tensorflow"),  # below TensorBoard's last bucket edge, 1e20
        ([1e20, 0.0], "auto"),
        ([2.0, -1e21], "auto"),  # the size counts, not the sign
    ],
)
def test_histograms_fall_back_to_automatic_bins_from_1e20(values: list[float], bins: str):
    writer = FakeWriter()
    add_histogram(writer, "tag", torch.tensor(values), 5)
    (tag, recorded, step, used) = writer.histograms[0]
    assert (tag, step, used) == ("tag", 5, bins)
    assert torch.equal(recorded, torch.tensor(values))


@pytest.mark.parametrize(("side", "factor"), [(5, 12), (8, 8), (13, 4), (28, 2), (32, 2), (64, 1), (100, 1)])
def test_upscale_enlarges_by_64_floor_divided_by_the_side_at_least_1(side: int, factor: int):
    # 64 // side: the largest factor that keeps a picture at most 64 wide (5 * 12 = 60, 28 * 2 = 56)
    image = torch.rand(3, side, side + 1)
    assert upscale(image, side).shape == (3, side * factor, (side + 1) * factor)


def test_upscale_repeats_each_pixel_nearest_neighbour():
    image = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])
    expected = torch.tensor([[[1.0, 1.0, 2.0, 2.0]] * 2 + [[3.0, 3.0, 4.0, 4.0]] * 2])
    assert torch.equal(upscale(image, 32), expected)  # 64 // 32: factor 2


def test_neuron_grid_is_a_square_enough_grid():
    # 5 neurons: ceil(sqrt(5)) = 3 columns, 2 rows; 2x2 pictures with 2 pixels of padding, then 64 // 2 = 32x
    weights = torch.zeros(5, 1, 2, 2)
    weights[4, 0, 1, 0] = -3.0  # the last neuron (row 1, column 1), pixel (1, 0): -3 / 6 + 0.5 = 0
    grid = neuron_grid(weights)
    assert grid.shape == (3, (2 * 4 + 2) * 32, (3 * 4 + 2) * 32)
    small = grid[:, ::32, ::32]  # one pixel per enlarged block
    assert small[0, 6 + 1, 6 + 0] == 0.0
    assert small[0, 0, 0] == 1.0 and small[0, 2, 2] == 0.5
    assert torch.equal(small[:, 6:8, 10:12], torch.ones(3, 2, 2))  # no 6th neuron: the padding's white


# --- Labelled grid ------------------------------------------------------------------------------------


def label_strip(text: str, width: int) -> Tensor:
    """The 14-row strip below a ``width``-pixel picture as it should look: black, the text in white at
    (2, 1)."""
    strip = Image.new("L", (width, 14), 0)
    ImageDraw.Draw(strip).text((2, 1), text, fill=255)
    return torch.tensor(list(strip.getdata()), dtype=torch.uint8).view(14, width)


@pytest.mark.parametrize(("side", "factor"), [(8, 8), (7, 9)])
def test_labelled_grid_draws_each_picture_with_its_label_below(side: int, factor: int):
    torch.manual_seed(2)
    # 9 pictures: 8 columns (GRID_COLUMNS), so the 9th starts a second row; values outside [0, 1] are
    # clamped; 0.25 and 0.5 become 63 and 127 (float * 255, truncated)
    images = torch.tensor([-1.0, 0.0, 0.25, 0.5, 1.0, 2.0])[torch.randint(0, 6, (9, 1, side, side))]
    predicted, true = torch.arange(9), (torch.arange(9) + 1) % 10
    grid = labelled_grid(images, predicted, true)
    # each cell: the picture enlarged (size rows) + 14 label rows, size wide, 2 pixels of padding around
    size = side * factor
    height, width = size + 14 + 2, size + 2  # from one cell's top left corner to the next one's
    assert grid.shape == (1, 2 + 2 * height, 2 + 8 * width) and grid.dtype == torch.uint8
    for index in range(9):
        row, col = divmod(index, 8)
        top, left = 2 + row * height, 2 + col * width
        picture = (images[index, 0].clamp(0, 1) * 255).to(torch.uint8)
        expected = picture.repeat_interleave(factor, dim=0).repeat_interleave(factor, dim=1)
        assert torch.equal(grid[0, top : top + size, left : left + size], expected)
        strip = grid[0, top + size : top + size + 14, left : left + size]
        assert torch.equal(strip, label_strip(f"p:{index} t:{(index + 1) % 10}", size))
        assert strip.max() > 200  # the label is there, white (anti-aliased) on black
    assert grid[0, 0, 0] == 127 and grid[0, height, 2] == 127  # padding: 0.5 gray
    # the second row's empty cells: make_grid leaves them the padding's gray
    empty = grid[0, 2 + height :, 2 + width :]
    assert empty.numel() == (height * 7 * width) and bool((empty == 127).all())


def test_labelled_grid_needs_one_label_pair_per_picture():
    with pytest.raises(ValueError):
        labelled_grid(torch.zeros(2, 1, 8, 8), torch.tensor([1, 2]), torch.tensor([1]))


# --- Confusion matrix -------------------------------------------------------------------------------

# shares of the true class (row): 0.5 0.5 0 0 | 1/8 6/8 0 1/8 | none (no division by zero) | 0 0 0 1
MATRIX = torch.tensor([[2, 2, 0, 0], [1, 6, 0, 1], [0, 0, 0, 0], [0, 0, 0, 3]])
WHITE, BLACK, DIM_GRAY = (255, 255, 255), (0, 0, 0), (105, 105, 105)


def cell(image: Tensor, row: int, col: int) -> Tensor:
    """The 32x32 cell ``(row, col)`` of the picture (row 0 and column 0: the class numbers)."""
    return image[:, 32 * row : 32 * row + 32, 32 * col : 32 * col + 32]


def centred(text: str, background: tuple[int, int, int], fill: tuple[int, int, int]) -> Tensor:
    """A 32x32 cell of ``background`` with ``text`` in ``fill`` placed so that its box, as Pillow measures
    it, is in the middle of the cell."""
    image = Image.new("RGB", (32, 32), background)
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = draw.textbbox((0, 0), text)
    draw.text((16 - (right - left) / 2 - left, 16 - (bottom - top) / 2 - top), text, fill=fill)
    return torch.tensor(list(image.getdata()), dtype=torch.uint8).view(32, 32, 3).permute(2, 0, 1)


def test_confusion_image_size_is_one_cell_per_class_plus_the_numbers_and_a_legend():
    image = confusion_image(MATRIX)
    assert image.shape == (3, 32 * 5 + 14 + 4, 32 * 5) and image.dtype == torch.uint8


@pytest.mark.parametrize(
    ("row", "col", "colour", "text"),
    [
        # (round(255 (1 - share)), round(255 (1 - 0.55 share)), 255); white text only above one half
        (0, 0, (128, 185, 255), BLACK),  # share 0.5: 127.5 rounds to even 128, 255 * 0.725 = 184.875
        (0, 1, (128, 185, 255), BLACK),  # 2 of row 0's 4 (not of row 1's 8)
        (0, 2, WHITE, BLACK),
        (1, 0, (223, 237, 255), BLACK),  # 1/8: 223.125, 237.47
        (1, 1, (64, 150, 255), WHITE),  # 6/8: 63.75, 149.81
        (1, 3, (223, 237, 255), BLACK),
        (2, 2, WHITE, BLACK),  # an empty row
        (3, 3, (0, 115, 255), WHITE),  # 3 of 3: 0, 114.75
    ],
)
def test_confusion_cells_are_coloured_by_their_share_of_the_true_class(
    row: int, col: int, colour: tuple[int, int, int], text: tuple[int, int, int]
):
    expected = centred(str(MATRIX[row, col].item()), colour, text)
    assert torch.equal(cell(confusion_image(MATRIX), row + 1, col + 1), expected)


def test_class_numbers_in_dim_gray_along_the_top_and_the_left():
    image = confusion_image(MATRIX)
    assert bool((cell(image, 0, 0) == 255).all())  # the corner stays blank
    for k in range(4):
        number = centred(str(k), WHITE, DIM_GRAY)
        assert torch.equal(cell(image, 0, k + 1), number) and torch.equal(cell(image, k + 1, 0), number)


def test_the_legend_is_below_the_matrix():
    image = confusion_image(MATRIX)
    legend = Image.new("RGB", (160, 18), "white")
    ImageDraw.Draw(legend).text((4, 2), "rows: true class, columns: predicted", fill="dimgray")
    expected = torch.tensor(list(legend.getdata()), dtype=torch.uint8).view(18, 160, 3).permute(2, 0, 1)
    assert torch.equal(image[:, 160:, :], expected)  # the last matrix row's cells end at 159


def test_a_class_seen_once_is_all_its_share():
    """A row of one sample: its cell's share is 1 (the row sum is clamped only where it is 0)."""
    image = confusion_image(torch.tensor([[1, 0], [0, 2]]))
    assert torch.equal(cell(image, 1, 1), centred("1", (0, 115, 255), WHITE))
    assert torch.equal(cell(image, 1, 2), centred("0", WHITE, BLACK))


def test_confusion_image_of_a_single_class():
    image = confusion_image(torch.tensor([[3]]))
    assert image.shape == (3, 64 + 18, 64)
    assert torch.equal(cell(image, 1, 1), centred("3", (0, 115, 255), WHITE))  # all of class 0: share 1
    assert torch.equal(cell(image, 0, 1), centred("0", WHITE, DIM_GRAY))


# --- Hyperparameters flattened ---------------------------------------------------------------------------


def test_flat_hparams_joins_nested_keys_and_keeps_plain_values_with_their_type():
    params = {
        "model": {"optimizer": {"lr": 0.5, "nesterov": True}, "hidden": (16, 8)},
        "epochs": 3,
        "name": "mnist",
        "data": None,
    }
    flat = flat_hparams(params)
    assert flat == {
        "model/optimizer/lr": 0.5,
        "model/optimizer/nesterov": True,
        "model/hidden": "(16, 8)",
        "epochs": 3,
        "name": "mnist",
        "data": "None",
    }
    assert {key: type(value) for key, value in flat.items()} == {
        "model/optimizer/lr": float,
        "model/optimizer/nesterov": bool,
        "model/hidden": str,
        "epochs": int,
        "name": str,
        "data": str,
    }
    assert flat_hparams({"lr": 1.0}, "optimizer/") == {"optimizer/lr": 1.0}
