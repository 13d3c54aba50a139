"""Halve the learning rate when validation stalls (Nielsen, "Neural Networks and Deep Learning", chapter 3,
"Variable learning rate schedule"): after ``patience`` epochs without a new best ``val/acc`` the rate of
every parameter group becomes half of what it was; once it has been halved ``max_halvings`` times and
stalls again, training stops.

It works on the optimizer's ``param_groups`` between epochs, so it suits the manual optimization of
:class:`~src.lit.MLPClassifier`, whose SGD step reads the learning rate afresh at every training step.
"""

from typing import Any

import lightning as L


class HalveLearningRateOnPlateau(L.Callback):
    """``r <- r / 2`` after ``patience`` validation epochs without a ``monitor`` value better (higher) than
    the best so far; stops training at the stall that would halve it a ``max_halvings + 1``-th time."""

    def __init__(self, patience: int = 5, max_halvings: int = 7, monitor: str = "val/acc") -> None:
        if patience < 1 or max_halvings < 0:
            raise ValueError(f"patience={patience} must be >= 1 and max_halvings={max_halvings} >= 0")
        self.patience = patience
        self.max_halvings = max_halvings
        self.monitor = monitor
        self.best = float("-inf")
        self.stalled = 0
        self.halvings = 0

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or self.monitor not in trainer.callback_metrics:
            return
        value = float(trainer.callback_metrics[self.monitor])
        if value > self.best:
            self.best, self.stalled = value, 0
            return
        self.stalled += 1
        if self.stalled < self.patience:
            return
        self.stalled = 0
        if self.halvings == self.max_halvings:
            trainer.should_stop = True
            return
        self.halvings += 1
        for optimizer in trainer.optimizers:
            for group in optimizer.param_groups:
                group["lr"] /= 2

    def state_dict(self) -> dict[str, Any]:
        """Saved in checkpoints, so a resumed run goes on with the same rate and count."""
        return {"best": self.best, "stalled": self.stalled, "halvings": self.halvings}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best, self.stalled, self.halvings = (
            state_dict["best"],
            state_dict["stalled"],
            state_dict["halvings"],
        )
