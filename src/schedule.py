"""A learning-rate schedule (``scheduler=step|cosine|plateau``, ``conf/scheduler/``) for our manual
optimization: :class:`LearningRateSchedule` steps a ``torch.optim.lr_scheduler`` after every training
epoch and logs the epoch's learning rate as ``train/lr``.

Lightning steps schedulers only under automatic optimization; ``training_step`` (:mod:`src.lit`) calls the
optimizer itself and reads its learning rate once per chunk of mini-batches, so a new rate takes effect
from the next epoch's first SGD step.
"""

import logging
import math
import warnings
from collections import Counter
from collections.abc import Mapping
from dataclasses import MISSING
from typing import Any

import lightning as L
import torch
from lightning.pytorch.utilities.rank_zero import rank_zero_only
from torch.optim.lr_scheduler import LRScheduler

from src.config import allowed_class, check_value, group_options, integer, is_number, rules_of, same, show
from src.errors import UserError

log = logging.getLogger(__name__)


class ReduceLROnPlateau(torch.optim.lr_scheduler.ReduceLROnPlateau):
    """torch's ``ReduceLROnPlateau`` (``lr * factor`` once more than ``patience`` epochs in a row brought
    no better metric), which can also end training, as Nielsen's chapter-3 schedule does: at the stall
    that would reduce the rate a ``max_reductions + 1``-th time, the rate stays and :attr:`should_stop`
    becomes true instead (``None``: never). Its state, the count included, is saved in checkpoints with
    torch's."""

    def __init__(self, optimizer: torch.optim.Optimizer, max_reductions: int | None = None, **kwargs) -> None:
        if max_reductions is not None and not (isinstance(max_reductions, int) and max_reductions >= 0):
            raise ValueError(f"max_reductions={max_reductions} must be an integer >= 0 or null (never stop)")
        super().__init__(optimizer, **kwargs)
        self.max_reductions = max_reductions
        self.reductions = 0
        self.should_stop = False

    def step(self, metrics: float, epoch: int | None = None) -> None:  # type: ignore[override]
        """torch's step; a reduction it makes is counted, or undone and training stopped."""
        rates = [group["lr"] for group in self.optimizer.param_groups]
        super().step(metrics)
        if [group["lr"] for group in self.optimizer.param_groups] == rates:
            return
        if self.reductions == self.max_reductions:
            for group, rate in zip(self.optimizer.param_groups, rates, strict=True):
                group["lr"] = rate
            self.should_stop = True
        else:
            self.reductions += 1

    def stop_reason(self, monitor: str) -> str:
        """Why :attr:`should_stop` became true, in one line worded as Lightning's ``EarlyStopping`` says it
        (``monitor``: the metric it was stepped with). The stall was ``patience + 1`` epochs in a row: torch
        lowers the rate when the count of stalled epochs passes ``patience``."""
        stalled = self.patience + 1
        return (
            f"Monitored metric {monitor} did not improve in the last {stalled} record{plural(stalled)} after "
            f"{self.reductions} learning-rate reduction{plural(self.reductions)} "
            f"(scheduler.max_reductions={self.max_reductions}). Best score: {self.best:.3f}. Signaling Trainer "
            "to stop."
        )


def plural(count: int) -> str:
    """``s`` unless ``count`` is 1."""
    return "" if count == 1 else "s"


Scheduler = LRScheduler | torch.optim.lr_scheduler.ReduceLROnPlateau
"""A learning-rate scheduler of torch's: the plateau schedule has another base class."""

SCHEDULERS: dict[str, type[Scheduler]] = {
    # constant names, never a file's
    f"torch.optim.lr_scheduler.{name}": getattr(torch.optim.lr_scheduler, name)
    for name in (
        "StepLR",
        "MultiStepLR",
        "ExponentialLR",
        "ConstantLR",
        "LinearLR",
        "PolynomialLR",
        "CosineAnnealingLR",
        "CosineAnnealingWarmRestarts",
        "ReduceLROnPlateau",
    )
} | {"src.schedule.ReduceLROnPlateau": ReduceLROnPlateau}
"""The learning-rate schedulers a ``scheduler._target_`` may name, looked up by exact name, never imported."""
UNSUPPORTED_SCHEDULERS = {
    f"torch.optim.lr_scheduler.{name}": reason
    for names, reason in (
        (("LambdaLR", "MultiplicativeLR"), "takes a Python function, which a configuration can't hold"),
        (
            ("SequentialLR", "ChainedScheduler"),
            "combines other schedulers, which a configuration can't build",
        ),
        (
            ("CyclicLR", "OneCycleLR"),
            "sets the rate (and momentum) for each mini-batch, and this project steps a schedule once an epoch",
        ),
    )
    for name in names
}

SCHEDULER_RULES: dict[str, dict[str, Any]] = {
    "torch.optim.lr_scheduler.ReduceLROnPlateau": {
        # torch compares the count of stalled epochs with it as it is: -1 lowered the rate every epoch
        "patience": integer(MISSING, 0, "the number of stalled epochs to wait before lowering the rate"),
    },
}
"""The rules of scheduler arguments that torch takes without a word but misreads, by the scheduler's class
(``module.QualName``; :class:`ReduceLROnPlateau` here follows torch's)."""

SCHEDULE_PROGRESS = (
    "last_epoch",
    "_step_count",
    "_last_lr",
    "_is_initial",
    "_get_lr_called_within_step",
    "T_cur",
    "T_i",
    "best",
    "num_bad_epochs",
    "cooldown_counter",
    "reductions",
    "should_stop",
)
"""The entries of a scheduler's state (torch's ``state_dict()``) that change as it steps; each other entry
of the schedulers in :data:`SCHEDULERS` is fixed by its arguments and the optimizer's learning rate."""


def scheduler_arguments(values: Any) -> tuple[type[Scheduler], dict[str, Any]]:
    """A non-empty ``scheduler`` group: the class its ``_target_`` names in :data:`SCHEDULERS` and its
    keyword arguments (all its keys but ``_target_`` and ``monitor``), each a plain number, flag, string or
    list of numbers, and within its range where :data:`SCHEDULER_RULES` gives one."""
    target = values.get("_target_") if isinstance(values, Mapping) else None
    if target is None:  # e.g. experiment=essay_mnist's plateau settings with scheduler=none
        raise UserError(
            f"scheduler={show(values)}: settings without a scheduler to take them; choose one with "
            f"scheduler={group_options('scheduler')}"
        )
    scheduler_class = allowed_class(
        target,
        "scheduler",
        SCHEDULERS,
        UNSUPPORTED_SCHEDULERS,
        "learning-rate scheduler",
        "torch.optim.lr_scheduler.StepLR",
    )
    arguments = {key: value for key, value in values.items() if key not in ("_target_", "monitor")}
    for key, value in arguments.items():
        plain = value is None or isinstance(value, bool | str) or is_number(value)
        if not (plain or (isinstance(value, list) and all(is_number(item) for item in value))):
            raise UserError(
                f"scheduler.{key}={show(value)}: must be a number, true/false, null, a string or a list of "
                "numbers"
            )
    for key, rule in rules_of(scheduler_class, SCHEDULER_RULES).items():
        if key in arguments:
            check_value(rule, arguments[key], f"scheduler.{key}")
    return scheduler_class, arguments


def described(values: Mapping[str, Any]) -> str:
    """How the messages about a ``scheduler`` group's rates begin: its target and its arguments."""
    return f"scheduler: {values['_target_']} with {show(scheduler_arguments(values)[1])}"


def check_rate(what: str, lr: Any, epoch: int) -> None:
    """A schedule's rate after ``epoch`` (``what`` names the schedule) must be a finite number >= 0.
    :func:`src.checks.check_scheduler` steps through a run's first epochs before training; past those,
    a rising schedule (``ExponentialLR`` with ``gamma > 1``) is checked here as the run reaches them."""
    if not (is_number(lr) and math.isfinite(lr) and lr >= 0):
        shown = f"{lr:.4g}" if is_number(lr) else show(lr)
        raise UserError(
            f"{what} makes the learning rate {shown} after epoch {epoch}: it must stay a finite number >= 0"
        )


class LearningRateSchedule(L.Callback):
    """Steps the scheduler ``scheduler`` (a config with ``_target_``; ``monitor``: the metric a plateau
    schedule watches) after each training epoch; ``None`` or empty: a constant rate. A plateau schedule
    steps only after epochs that ran validation, and its ``should_stop`` ends training, with a log line
    saying why (:meth:`ReduceLROnPlateau.stop_reason`)."""

    def __init__(self, scheduler: Mapping[str, Any] | None = None) -> None:
        config = dict(scheduler or {})
        self.monitor = config.pop("monitor", None)
        self.config = config
        self.scheduler: Scheduler | None = None
        self.described = ""  # the scheduler and its arguments, as messages name them (described())
        self.restored: dict[str, Any] | None = None
        self.pending: float | None = None  # the monitored value of this epoch's validation, to judge

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self.config:
            return
        # src.checks.check_scheduler has built it once already, on a throw-away optimizer
        scheduler_class, arguments = scheduler_arguments(self.config)
        self.scheduler = scheduler_class(trainer.optimizers[0], **arguments)
        self.described = described(self.config)
        if self.restored is not None:  # resumed from a checkpoint
            self.scheduler.load_state_dict(self.restored)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Keep the monitored value for the plateau step at the end of the training epoch. It is saved
        with the schedule: under ``check_val_every_n_epoch > 1`` Lightning writes last.ckpt here, before
        that step, and a run resumed from it replays the epoch's end in a process with no metrics yet."""
        if trainer.sanity_checking or not isinstance(
            self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau
        ):
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:  # src.checks allowed it: a validation that logged less than training's does
            logged = ", ".join(sorted(trainer.callback_metrics)) or "nothing"
            raise UserError(
                f"scheduler.monitor={self.monitor}: the validation logged no such metric (it logged {logged})"
            )
        self.pending = float(value)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.scheduler is None:
            return
        group = self.scheduler.optimizer.param_groups[0]  # configure_optimizers builds one group (net.params)
        pl_module.log("train/lr", group["lr"])  # the rate of this epoch
        if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            if self.pending is None:  # check_val_every_n_epoch > 1: no new value to judge
                return
            value, self.pending = self.pending, None
            stopped = getattr(self.scheduler, "should_stop", False)
            self.scheduler.step(value)
            if getattr(self.scheduler, "should_stop", False):
                trainer.should_stop = True
                # early stopping says in one line why it ends a run; so does this, once, on rank 0
                if not stopped and rank_zero_only.rank == 0:
                    log.info(self.scheduler.stop_reason(self.monitor))
        else:
            with warnings.catch_warnings():
                # torch warns when optimizer.step() was never called; the plain-SGD step updates the
                # weights in place instead (src/lit.py), so the warning is wrong here
                warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler.step\(\)` before")
                self.scheduler.step()
            check_rate(self.described, group["lr"], self.scheduler.last_epoch)  # resumed epochs count too

    def state_dict(self) -> dict[str, Any]:
        if self.scheduler is None:
            return {}
        return {**self.scheduler.state_dict(), "pending": self.pending, "_target_": self.config["_target_"]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        restored = dict(state_dict)
        self.pending = restored.pop("pending", None)
        restored.pop("_target_", None)
        self.restored = restored or None


PLANNED_OVER_THE_RUN = {
    "T_max": "scheduler=cosine's T_max is trainer.max_epochs, and a cosine schedule once started can't be "
    "stretched over more epochs, so resume it with the trainer.max_epochs it was started with"
}
"""What to say of a schedule setting that conf/scheduler/ ties to the length of the run."""


def resume_differences(saved: Any, configured: Mapping[str, Any] | None) -> list[str]:
    """How the schedule ``configured`` (the ``scheduler`` group) differs from the one whose state a
    checkpoint saved (``saved``: :meth:`LearningRateSchedule.state_dict`, ``{}`` for a constant rate); empty
    when a resumed run would go on with it as it was. Only what the saved state records is compared."""
    saved = dict(saved) if isinstance(saved, Mapping) else {}
    configured = dict(configured or {})
    trained_target, configured_target = saved.get("_target_"), configured.get("_target_")
    if not saved or not configured:
        if saved or configured:
            named = (
                isinstance(trained_target, str) and trained_target
            )  # a file's: only a name is shown as one
            shown = [
                (trained_target if named else "a schedule") if saved else "none",
                configured_target or "none",
            ]
            return [f"scheduler {shown[0]} (configured: {shown[1]})"]
        return []
    if trained_target is not None and not same(trained_target, configured_target):
        return [f"scheduler {show(trained_target)} (configured: {configured_target})"]
    return [
        f"scheduler.{key} {show(as_configured(saved[key]))} (configured: {show(value)}"
        + (f"; {PLANNED_OVER_THE_RUN[key]})" if key in PLANNED_OVER_THE_RUN else ")")
        for key, value in configured.items()
        if key not in ("_target_", "monitor") and key in saved and not holds(saved[key], value)
    ]


def holds(saved: Any, configured: Any) -> bool:
    """Whether a scheduler's saved entry ``saved`` is what the configured argument ``configured`` makes it:
    ``MultiStepLR`` keeps its list of milestones as a ``Counter`` (so their order does not matter)."""
    if isinstance(saved, Counter):
        return isinstance(configured, list) and saved == Counter(configured)
    return same(saved, configured)


def as_configured(saved: Any) -> Any:
    """A scheduler's saved entry as its argument is written: a ``Counter`` of milestones as their list."""
    return list(saved.elements()) if isinstance(saved, Counter) else saved
