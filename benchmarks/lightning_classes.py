"""The benchmark's Lightning classes: the clocks given to ``src.train`` as Hydra callbacks
(``+callbacks.budget._target_=benchmarks.lightning_classes.EpochBudget``) and the tutorial-style model of the
``textbook-lightning`` pipeline.

This module imports Lightning; the pipelines import it only when they run, so the command line stays quick.
"""

import itertools
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn

from benchmarks.workload import Budget, synchronize


class EpochBudget(L.Callback):
    """Times every training epoch (epoch start to epoch end, CUDA synchronized) and stops fitting once
    the :class:`~benchmarks.workload.Budget` of ``epochs`` or ``seconds`` is spent."""

    def __init__(self, epochs: int | None = None, seconds: float | None = None) -> None:
        self.budget = Budget(epochs, seconds)
        self.epochs = 0
        self.seconds = 0.0
        self._started = 0.0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        synchronize(trainer.strategy.root_device)
        self._started = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        synchronize(trainer.strategy.root_device)
        self.seconds += time.perf_counter() - self._started
        self.epochs += 1
        if self.budget.done(self.epochs, self.seconds):
            trainer.should_stop = True


class FirstBatchClock(L.Callback):
    """Writes the wall-clock time (``time.time()``) at which the first training batch starts to ``path``:
    the end of start-up."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.written = False

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        if not self.written:
            self.path.write_text(repr(time.time()))
            self.written = True


class TextbookClassifier(L.LightningModule):
    """The network as a Lightning tutorial writes it: ``nn.Linear`` and ``nn.Sigmoid`` layers, automatic
    optimization, the loss logged every step. ``initial`` is our parameter vector ``P``."""

    def __init__(self, sizes: Sequence[int], lr: float, initial: Tensor) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for inputs, outputs in itertools.pairwise(sizes):
            layers += [nn.Linear(inputs, outputs), nn.Sigmoid()]
        self.net = nn.Sequential(*layers)
        self.lr = lr
        offset = 0
        with torch.no_grad():
            for linear in (layer for layer in layers if isinstance(layer, nn.Linear)):
                for tensor in (linear.weight, linear.bias):
                    tensor.copy_(initial[offset : offset + tensor.numel()].view_as(tensor))
                    offset += tensor.numel()

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        x, y = batch
        output = self.net(x)
        expected = nn.functional.one_hot(y, output.shape[1]).to(output.dtype)
        # Our cost: the squared error summed over the outputs, averaged over the mini-batch.
        loss = nn.functional.mse_loss(output, expected, reduction="sum") / len(x)
        self.log("train/loss", loss)
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.lr)
