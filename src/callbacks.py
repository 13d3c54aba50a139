"""Lightning callbacks of our own: training throughput."""

import time

import lightning as L
import torch


class TrainingThroughput(L.Callback):
    """Logs ``train/samples_per_sec``: training samples per second of wall time over the whole run so
    far, counting only the training loop (start-up, validation and testing excluded).

    Lightning's ``ThroughputMonitor`` reports a rolling window per batch outside ``callback_metrics``;
    this reports the run's average once per epoch, the figure ``metrics.json`` keeps.
    """

    def __init__(self) -> None:
        self.samples = 0
        self.seconds = 0.0
        self._started: float | None = None

    def _now(self, trainer: L.Trainer) -> float:
        if trainer.strategy.root_device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter()

    def _pause(self, trainer: L.Trainer) -> None:
        if self._started is not None:
            self.seconds += self._now(trainer) - self._started
            self._started = None

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._started = self._now(trainer)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.samples += sum(len(y) for _, y in batch) * trainer.world_size

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._pause(trainer)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.training and not trainer.sanity_checking:
            self._started = self._now(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._pause(trainer)
        if self.seconds > 0:
            pl_module.log("train/samples_per_sec", self.samples / self.seconds)
