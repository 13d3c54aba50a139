"""A learning-rate schedule (``scheduler=step|cosine|plateau``, ``conf/scheduler/``) for our manual
optimization: :class:`LearningRateSchedule` steps a ``torch.optim.lr_scheduler`` after every training
epoch and logs the epoch's learning rate as ``train/lr``.

Lightning steps schedulers only under automatic optimization; ``training_step`` (:mod:`src.lit`) calls the
optimizer itself and reads its learning rate once per chunk of mini-batches, so a new rate takes effect
from the next epoch's first SGD step.
"""

import warnings
from collections.abc import Mapping
from typing import Any

import hydra
import lightning as L
from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau

from src.errors import UserError


class LearningRateSchedule(L.Callback):
    """Steps the scheduler ``scheduler`` (a config with ``_target_``; ``monitor``: the metric
    ``ReduceLROnPlateau`` watches) after each training epoch; ``None`` or empty: a constant rate."""

    def __init__(self, scheduler: Mapping[str, Any] | None = None) -> None:
        config = dict(scheduler or {})
        self.monitor = config.pop("monitor", None)
        self.config = config
        self.scheduler: LRScheduler | ReduceLROnPlateau | None = None
        self.restored: dict[str, Any] | None = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self.config:
            return
        self.scheduler = hydra.utils.instantiate(self.config, optimizer=trainer.optimizers[0])
        if isinstance(self.scheduler, ReduceLROnPlateau) and not self.monitor:
            raise UserError("scheduler.monitor is missing: ReduceLROnPlateau needs a metric, e.g. val/acc")
        if self.restored is not None:  # resumed from a checkpoint
            self.scheduler.load_state_dict(self.restored)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.scheduler is None:
            return
        pl_module.log("train/lr", trainer.optimizers[0].param_groups[0]["lr"])  # the rate of this epoch
        if isinstance(self.scheduler, ReduceLROnPlateau):
            value = trainer.callback_metrics.get(self.monitor)
            if value is None:
                raise UserError(f"scheduler.monitor={self.monitor}: no such metric; use val/acc or val/loss")
            self.scheduler.step(float(value))
        else:
            with warnings.catch_warnings():
                # torch warns when optimizer.step() was never called; the plain-SGD step updates the
                # weights in place instead (src/lit.py), so the warning is wrong here
                warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler.step\(\)` before")
                self.scheduler.step()

    def state_dict(self) -> dict[str, Any]:
        return self.scheduler.state_dict() if self.scheduler is not None else {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.restored = state_dict or None
