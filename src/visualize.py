"""TensorBoard pictures of the network, not only curves: :class:`TensorBoardFigures`; the README's
"TensorBoard" section lists its tags.

Every ``every_n_epochs`` epochs, at step = the epoch number (as the curves: :mod:`src.loggers`), it logs
each weighted layer's weights, biases and last mini-batch gradient as histograms (layer k is
``W_{k+1,k}``, ``B_{k+1}`` in the essay's numbering), the first hidden layer's incoming weights as pictures
of the input (each neuron scaled on its own; only for a square input image), the first
``max_misclassified`` misclassified validation images (in the validation set's order, so a digit keeps its
place while it stays wrong) and the confusion matrix; at the end of training, the hyperparameters for the
HParams tab. Its tags sort after ``train/*`` and ``val/*`` so that the learning curves open first.
TensorBoard (2.21) lists the hyperparameters that differ between runs first only when it builds the list
from every run's values itself, so only each run's values are written, not an experiment summary (which
would fix one run's list, alphabetical).

The pictures are drawn with torchvision's ``make_grid`` and Pillow's ``ImageDraw``; matplotlib isn't
needed. Per step the only work is the check whether the step is the epoch's last. Without a
:class:`~lightning.pytorch.loggers.TensorBoardLogger`, or on other processes than rank 0, it does nothing.
"""

import math
from collections.abc import Mapping
from dataclasses import MISSING
from typing import Any

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from PIL import Image, ImageDraw
from torch import Tensor
from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams
from torchmetrics.functional.classification import multiclass_confusion_matrix
from torchvision.transforms.v2 import functional as F
from torchvision.utils import make_grid

from src.config import check_value, integer
from src.lightning_compat import add_summary
from src.network.mlp import MLP

CELL = 64  # pixels a picture of one input image is upscaled to, at most (by a whole factor: see upscale)
LABEL_HEIGHT = 14
MATRIX_CELL = 32
GRID_COLUMNS = 8
PADDING = 2
HParamValue = bool | int | float | str  # what TensorBoard's HParams tab shows as it is


FIGURES_RULES: dict[str, Any] = {
    "every_n_epochs": integer(MISSING, 1),
    "max_misclassified": integer(MISSING, 0),
}
"""The ranges of :class:`TensorBoardFigures`' arguments: checked when it is built, and by
:func:`src.checks.check_callbacks` before training, so that "abc" reads as 0 does."""


class TensorBoardFigures(L.Callback):
    """Logs histograms, pictures and hparams to TensorBoard every ``every_n_epochs`` epochs (see the
    module's docstring). Its arguments' defaults are written once, in ``conf/callbacks/default.yaml``."""

    def __init__(self, *, every_n_epochs: int, max_misclassified: int) -> None:
        for key, value in {"every_n_epochs": every_n_epochs, "max_misclassified": max_misclassified}.items():
            check_value(FIGURES_RULES[key], value, f"callbacks.tensorboard_figures.{key}")
        self.every_n_epochs = every_n_epochs
        self.max_misclassified = max_misclassified
        self.last_grad: Tensor | None = None

    def _due(self, trainer: L.Trainer) -> bool:
        return not trainer.sanity_checking and (trainer.current_epoch + 1) % self.every_n_epochs == 0

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """Keep the epoch's last mini-batch gradient: Lightning releases it before validation."""
        grad = pl_module.net.params.grad
        if trainer.is_last_batch and grad is not None and self._due(trainer) and tensorboard_writer(trainer):
            self.last_grad = grad.detach().clone().float()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        writer = tensorboard_writer(trainer)
        if writer is None or not self._due(trainer):
            return
        net: MLP = pl_module.net
        log_histograms(writer, net, self.last_grad, trainer.current_epoch)
        self.last_grad = None
        side = square_side(net.architecture.sizes[0])
        if side:
            first_weights = net.layers()[0][0].detach().float().cpu().view(-1, 1, side, side)
            writer.add_image("weights/layer_1_image", neuron_grid(first_weights), trainer.current_epoch)

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        writer = tensorboard_writer(trainer)
        val = getattr(trainer.datamodule, "splits", {}).get("val")
        if writer is None or val is None or not self._due(trainer):
            return
        x, y = val
        predicted = pl_module(x.to(pl_module.dtype)).argmax(dim=1).cpu()
        x, y = x.float().cpu(), y.cpu()
        matrix = multiclass_confusion_matrix(predicted, y, pl_module.hparams.num_classes)
        writer.add_image("validation/confusion_matrix", confusion_image(matrix), trainer.current_epoch)
        side = square_side(x.shape[1])
        wrong = (predicted != y).nonzero().flatten()[: self.max_misclassified]
        if side and len(wrong):
            grid = labelled_grid(x[wrong].view(-1, 1, side, side), predicted[wrong], y[wrong])
            writer.add_image("validation/misclassified", grid, trainer.current_epoch)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        writer = tensorboard_writer(trainer)
        if writer is None:
            return
        params = flat_hparams(pl_module.hparams) | {"trainer/max_epochs": trainer.max_epochs}
        # the run's values and status, as Lightning's TensorBoardLogger.log_hyperparams writes them, without
        # the experiment summary (see the module's docstring) and without extra scalar points
        _experiment, start, end = hparams(params, {})
        add_summary(writer, start)
        add_summary(writer, end)


def tensorboard_writer(trainer: L.Trainer) -> SummaryWriter | None:
    """The ``SummaryWriter`` of the trainer's TensorBoard logger on rank 0, else ``None``."""
    loggers = trainer.loggers if trainer.is_global_zero else []
    return next((logger.experiment for logger in loggers if isinstance(logger, TensorBoardLogger)), None)


def square_side(features: int) -> int | None:
    """``side`` if ``features == side * side``, else ``None``."""
    side = math.isqrt(features)
    return side if side * side == features else None


def log_histograms(writer: SummaryWriter, net: MLP, grad: Tensor | None, step: int) -> None:
    """Histograms of each layer's weights and biases and, if ``grad`` (a gradient of ``P``) is given, of
    its parts for them."""
    for index, (weight, bias) in enumerate(net.layers(), start=1):
        add_histogram(writer, f"weights/layer_{index}", weight.detach().float(), step)
        add_histogram(writer, f"weights/layer_{index}_biases", bias.detach().float(), step)
    if grad is not None:
        for index, (weight_grad, bias_grad) in enumerate(net.architecture.split(grad), start=1):
            add_histogram(writer, f"weight_gradients/layer_{index}", weight_grad, step)
            add_histogram(writer, f"weight_gradients/layer_{index}_biases", bias_grad, step)


def add_histogram(writer: SummaryWriter, tag: str, values: Tensor, step: int) -> None:
    """TensorBoard's default buckets end at +-1e20 and refuse values beyond (a huge learning rate makes
    them): then numpy's automatic bins."""
    bins = "tensorflow" if bool(values.abs().max() < 1e20) else "auto"
    writer.add_histogram(tag, values, step, bins=bins)


def upscale(image: Tensor, side: int) -> Tensor:
    """A ``(C, H, W)`` picture made of ``side``-pixel images enlarged by an integer factor (nearest
    neighbour): the largest factor that keeps each image within :data:`CELL` pixels, 1 for larger images
    (digits' 8 pixels become 64, MNIST's 28 become 56)."""
    factor = max(1, CELL // side)
    return image.repeat_interleave(factor, dim=-2).repeat_interleave(factor, dim=-1)


def neuron_grid(weights: Tensor) -> Tensor:
    """``(N, 1, side, side)`` weights as one grid image: each neuron scaled to [0, 1] around 0.5 = 0."""
    largest = weights.abs().amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-12)
    grid = make_grid(weights / (2 * largest) + 0.5, nrow=math.ceil(math.sqrt(len(weights))), pad_value=1.0)
    return upscale(grid, weights.shape[-1])


def labelled_grid(images: Tensor, predicted: Tensor, true: Tensor) -> Tensor:
    """``(N, 1, side, side)`` images in [0, 1] as one grid, each with ``p:<predicted> t:<true>`` below."""
    side = images.shape[-1]
    pictures = upscale(images.clamp(0, 1), side)
    size = pictures.shape[-1]
    cells = torch.nn.functional.pad(pictures, (0, 0, 0, LABEL_HEIGHT))
    grid = F.to_pil_image(make_grid(cells, nrow=GRID_COLUMNS, padding=PADDING, pad_value=0.5)[:1])
    draw = ImageDraw.Draw(grid)
    for index, (guess, label) in enumerate(zip(predicted.tolist(), true.tolist(), strict=True)):
        row, col = divmod(index, GRID_COLUMNS)
        x = PADDING + col * (size + PADDING) + 2
        y = PADDING + row * (size + LABEL_HEIGHT + PADDING) + size + 1
        draw.text((x, y), f"p:{guess} t:{label}", fill=255)
    return F.pil_to_tensor(grid)


def confusion_image(matrix: Tensor) -> Tensor:
    """The confusion matrix as a ``(3, H, W)`` uint8 picture: class numbers along the top (predicted) and
    the left (true), each cell's count written in it, its blue the count's share of the true class."""
    n = len(matrix)
    size = MATRIX_CELL * (n + 1)
    image = Image.new("RGB", (size, size + LABEL_HEIGHT + 4), "white")
    draw = ImageDraw.Draw(image)
    share = (matrix / matrix.sum(dim=1, keepdim=True).clamp_min(1)).tolist()

    def write(row: int, col: int, text: str, fill: str = "black") -> None:
        left, top, right, bottom = draw.textbbox((0, 0), text)
        x = col * MATRIX_CELL + (MATRIX_CELL - (right - left)) / 2 - left
        y = row * MATRIX_CELL + (MATRIX_CELL - (bottom - top)) / 2 - top
        draw.text((x, y), text, fill=fill)

    for k in range(n):
        write(0, k + 1, str(k), "dimgray")
        write(k + 1, 0, str(k), "dimgray")
    for i, row in enumerate(matrix.tolist()):
        for j, count in enumerate(row):
            level = share[i][j]
            colour = (round(255 * (1 - level)), round(255 * (1 - 0.55 * level)), 255)
            box = ((j + 1) * MATRIX_CELL, (i + 1) * MATRIX_CELL)
            draw.rectangle((*box, box[0] + MATRIX_CELL - 1, box[1] + MATRIX_CELL - 1), fill=colour)
            write(i + 1, j + 1, str(count), "white" if level > 0.5 else "black")
    draw.text((4, size + 2), "rows: true class, columns: predicted", fill="dimgray")
    return F.pil_to_tensor(image)


def flat_hparams(params: Mapping[str, Any], prefix: str = "") -> dict[str, HParamValue]:
    """Nested hyperparameters as ``{"optimizer/lr": 3.0, ...}``, values TensorBoard can show (others as
    text)."""
    flat: dict[str, HParamValue] = {}
    for key, value in params.items():
        if isinstance(value, Mapping):
            flat |= flat_hparams(value, f"{prefix}{key}/")
        else:
            flat[f"{prefix}{key}"] = value if isinstance(value, HParamValue) else str(value)
    return flat
