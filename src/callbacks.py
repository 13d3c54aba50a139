"""Lightning callbacks of our own: training throughput, a checkpoint when training is interrupted."""

import signal
import threading
import time
from pathlib import Path
from types import FrameType

import lightning as L
import torch
from lightning.pytorch.utilities.exceptions import SIGTERMException

from src.checkpoint import finite_weights
from src.errors import TrainingInterrupted
from src.lightning_compat import stop_as_after_sigterm


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
        self._batches_left = False

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
        self.samples += len(batch.y) * trainer.world_size
        self._batches_left = batch_idx + 1 < trainer.num_training_batches
        if not self._batches_left:  # the epoch's training is done; validation and checkpoints follow
            self._pause(trainer)

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._pause(trainer)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.training and not trainer.sanity_checking and self._batches_left:
            self._started = self._now(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._pause(trainer)
        if self.seconds > 0:
            pl_module.log("train/samples_per_sec", self.samples / self.seconds)


class InterruptCheckpoint(L.Callback):
    """Ctrl-C (SIGINT) or SIGTERM during training: stop after the current training step and save the
    state as ``interrupted.ckpt`` next to the other checkpoints, if the weights are finite;
    :meth:`error` then describes it for the command line.

    On SIGTERM Lightning itself stops at the next step boundary (agreed between processes under data
    parallelism); a first Ctrl-C makes the same request, so what is saved is the state after a whole
    ``training_step``, never the middle of one. A second Ctrl-C stops at once and saves nothing;
    :meth:`error` then points to the last epoch's ``last.ckpt``.
    """

    FILENAME = "interrupted.ckpt"

    def __init__(self, dirpath: str | None = None) -> None:
        self.dirpath = dirpath
        self.signum: int | None = None
        self.checkpoint: Path | None = None
        self._trainer: L.Trainer | None = None
        self._previous_handler = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if threading.current_thread() is threading.main_thread():
            self._trainer = trainer
            self._previous_handler = signal.signal(signal.SIGINT, self._request_stop)

    def _request_stop(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum
        stop_as_after_sigterm(self._trainer)

    def _restore_handler(self) -> None:
        if self._previous_handler is not None:
            signal.signal(signal.SIGINT, self._previous_handler)
            self._previous_handler = None

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._restore_handler()

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        self._restore_handler()
        if isinstance(exception, KeyboardInterrupt):  # a second Ctrl-C, or one before training started
            self.signum = signal.SIGINT
            return
        if not isinstance(exception, SIGTERMException):
            return
        self.signum = self.signum or signal.SIGTERM
        if trainer.global_step > 0 and not trainer.sanity_checking and finite_weights(pl_module.state_dict()):
            self.checkpoint = self._directory(trainer) / self.FILENAME
            trainer.save_checkpoint(self.checkpoint, weights_only=False)

    def _directory(self, trainer: L.Trainer) -> Path:
        """``dirpath``, else the model checkpoint's, else ``checkpoints/`` in the trainer's root directory."""
        callback = trainer.checkpoint_callback
        return Path(
            self.dirpath or (callback and callback.dirpath) or Path(trainer.default_root_dir) / "checkpoints"
        )

    def error(self, trainer: L.Trainer) -> TrainingInterrupted:
        """What stopped training and the checkpoint to resume from: the one saved here, else the last
        epoch's ``last.ckpt`` if there is one."""
        last = self._directory(trainer) / "last.ckpt"
        checkpoint = self.checkpoint or (last if last.is_file() else None)
        return TrainingInterrupted(
            self.signum or signal.SIGINT, trainer.global_step, trainer.current_epoch, checkpoint
        )


def raise_if_interrupted(trainer: L.Trainer) -> None:
    """Raise :class:`TrainingInterrupted` if a signal stopped ``trainer``'s training (see
    :class:`InterruptCheckpoint`); Lightning itself ends ``fit`` with ``SystemExit`` then."""
    for callback in trainer.callbacks:
        if isinstance(callback, InterruptCheckpoint) and callback.signum is not None:
            raise callback.error(trainer) from None
