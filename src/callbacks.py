"""Lightning callbacks of our own: training throughput, a graceful stop on Ctrl-C or SIGTERM (with a
checkpoint when training is interrupted), and a model checkpoint that remembers the best one on resume."""

import shutil
import signal
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.exceptions import SIGTERMException

from src.checkpoint import finite_weights, replaced_atomically
from src.errors import Interrupted, TestingInterrupted, TrainingInterrupted
from src.lightning_compat import stop_as_after_sigterm
from src.run_dir import CHECKPOINTS, LAST_CHECKPOINT


class TrainingThroughput(L.Callback):
    """Logs ``train/samples_per_sec``: training samples per second of wall time over the whole run so
    far, counting only the training loop (start-up, validation and testing excluded).

    The clock runs from the start of each epoch, through its training steps and the loading of their
    mini-batches, to the end of its last step; a validation pauses it. After a validation in the middle
    of an epoch (``val_check_interval``) it goes on at the next step: the loading of that step's
    mini-batch is not counted, as Lightning calls no hook between it and the checkpoints written after
    the validation.

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

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self._started is None:  # after a validation, or in an epoch resumed in its middle
            self._started = self._now(trainer)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.samples += len(batch.y) * trainer.world_size
        if batch_idx + 1 == trainer.num_training_batches:  # validation's set-up and checkpoints follow
            self._pause(trainer)

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._pause(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._pause(trainer)
        if self.seconds > 0:
            pl_module.log("train/samples_per_sec", self.samples / self.seconds)


class StopOnSignal(L.Callback):
    """Ctrl-C (SIGINT) or SIGTERM while Lightning trains or tests: finish the current step, then stop at a
    point every process agrees on; :func:`interrupts_reported` turns that into
    :class:`~src.errors.Interrupted` for the command line. A second Ctrl-C stops at once.

    Lightning's own SIGTERM handler is replaced while its loops run: under data parallelism it broadcasts
    from inside the signal handler, a collective that pairs with whatever the other processes happen to
    be doing, and training hung. Here the handler only records the signal:

    - one process: Lightning's own stop flag is set at once; Lightning checks it after every training step
      and test batch (and raises ``SIGTERMException``, a ``SystemExit``);
    - several processes: after every training step all of them take the largest signal number any of
      them received (one all-reduce of one number) and set the flag together, so all stop after the same
      step whether the signal reached one process (``kill`` of rank 0) or all (SLURM, Ctrl-C in a
      terminal). Testing agrees once, at its end: processes may test different numbers of batches.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self.stage = "training"
        self._trainer: L.Trainer | None = None

    def _listen(self, trainer: L.Trainer, stage: str) -> None:
        """Handle SIGINT and SIGTERM from now on; Lightning restores the handlers it found when it ends."""
        self._trainer, self.stage = trainer, stage
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, self._record)
            signal.signal(signal.SIGTERM, self._record)

    def _record(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            if signum == signal.SIGINT:  # a second Ctrl-C
                raise KeyboardInterrupt
            return  # a scheduler may send SIGTERM to every process of a job, more than once
        self.signum = signum
        if self._trainer.world_size == 1:
            stop_as_after_sigterm(self._trainer)  # Lightning's own stop flag

    def _agree(self, trainer: L.Trainer) -> None:
        """Under data parallelism: every process takes the largest signal any received; called where all
        processes pass in step."""
        if trainer.world_size == 1:
            return
        received = torch.tensor([self.signum or 0], device=trainer.strategy.root_device)
        torch.distributed.all_reduce(received, op=torch.distributed.ReduceOp.MAX)
        self.signum = int(received.item()) or None
        if self.signum is not None:
            stop_as_after_sigterm(trainer)

    def on_sanity_check_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._listen(trainer, "training")

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._listen(trainer, "training")

    def on_test_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._listen(trainer, "testing")

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._agree(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._agree(trainer)

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._agree(trainer)

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        if isinstance(exception, KeyboardInterrupt):  # a second Ctrl-C, or one before the loop started
            self.signum = signal.SIGINT
        elif isinstance(exception, SIGTERMException):
            self.signum = self.signum or signal.SIGTERM

    def error(self, trainer: L.Trainer) -> Interrupted:
        """What the signal stopped, and the checkpoint to go on from."""
        if self.stage == "testing":
            return TestingInterrupted(self.signum, Path(trainer.ckpt_path) if trainer.ckpt_path else None)
        return TrainingInterrupted(self.signum, trainer.global_step, trainer.current_epoch, None)


class InterruptCheckpoint(StopOnSignal):
    """:class:`StopOnSignal` that saves the state as ``interrupted.ckpt`` next to the other checkpoints
    when a signal stops training, if the weights are finite.

    What is saved is the state after a whole training step, never the middle of one. A second Ctrl-C
    stops at once and saves nothing; :meth:`error` then points to the last epoch's ``last.ckpt``.
    """

    FILENAME = "interrupted.ckpt"

    def __init__(self, dirpath: str | None = None) -> None:
        super().__init__()
        self.dirpath = dirpath
        self.checkpoint: Path | None = None

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        super().on_exception(trainer, pl_module, exception)
        if (
            isinstance(exception, SIGTERMException)
            and trainer.state.fn == TrainerFn.FITTING
            and trainer.global_step > 0
            and not trainer.sanity_checking
            # Lightning's sequential batches keep no position to resume from: error() names last.ckpt
            and not trainer.overfit_batches
            # the network's weights only: the metrics' state holds -inf (val/acc_best) before the first validation
            and finite_weights(pl_module.net.state_dict())
        ):
            self.checkpoint = self._directory(trainer) / self.FILENAME
            trainer.save_checkpoint(self.checkpoint, weights_only=False)  # every process: it synchronises

    def _directory(self, trainer: L.Trainer) -> Path:
        """``dirpath``, else the model checkpoint's, else ``checkpoints/`` in the trainer's root directory."""
        callback = trainer.checkpoint_callback
        return Path(
            self.dirpath or (callback and callback.dirpath) or Path(trainer.default_root_dir) / CHECKPOINTS
        )

    def error(self, trainer: L.Trainer) -> Interrupted:
        """Training: the checkpoint saved here, else the last epoch's ``last.ckpt`` if there is one."""
        if self.stage == "testing":
            return super().error(trainer)
        last = self._directory(trainer) / LAST_CHECKPOINT
        checkpoint = self.checkpoint or (last if last.is_file() else None)
        return TrainingInterrupted(self.signum, trainer.global_step, trainer.current_epoch, checkpoint)


def raise_if_interrupted(trainer: L.Trainer) -> None:
    """Raise :class:`~src.errors.Interrupted` if a signal stopped ``trainer`` (see :class:`StopOnSignal`).
    Under data parallelism every process leaves the process group here, at the same point, before the
    program ends."""
    for callback in trainer.callbacks:
        if isinstance(callback, StopOnSignal) and callback.signum is not None:
            if torch.distributed.is_available() and torch.distributed.is_initialized():
                torch.distributed.destroy_process_group()
            raise callback.error(trainer) from None


@contextmanager
def interrupts_reported(trainer: L.Trainer) -> Iterator[None]:
    """Around ``trainer.fit`` or ``trainer.test``: a run that a signal stopped ends in
    :class:`~src.errors.Interrupted`. Lightning ends it with ``SystemExit`` (``SIGTERMException``, or
    ``sys.exit(1)`` after a second Ctrl-C), or, for a signal after the last step, not at all."""
    try:
        yield
    except SystemExit:
        raise_if_interrupted(trainer)
        raise
    raise_if_interrupted(trainer)


class SafeModelCheckpoint(ModelCheckpoint):
    """Lightning's ``ModelCheckpoint`` that takes from a checkpoint's state only the paths of checkpoints
    beside it (:func:`checkpoints_beside`): Lightning restores them as they are, deletes the one a better
    checkpoint replaces, and so deleted any path a crafted checkpoint named (``local:///home``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._folder: Path | None = None

    @property
    def state_key(self) -> str:
        # the key of Lightning's ModelCheckpoint: checkpoints written with either class resume with either
        return super().state_key.replace(type(self).__qualname__, ModelCheckpoint.__qualname__, 1)

    def on_load_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        self._folder = Path(trainer.ckpt_path).resolve().parent if trainer.ckpt_path else None

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if isinstance(state_dict, dict):  # else nothing a run of ours saved: start afresh
            self.restore(checkpoints_beside(state_dict, self._folder))

    def restore(self, state_dict: dict[str, Any]) -> None:
        """Take ``state_dict``, its paths already checked, as Lightning does. Resumed into a new run
        directory, Lightning warns that the best score and the best checkpoints are not carried over: a
        checkpoint that watches no metric (``last.ckpt``'s) has none, so the warning is dropped there."""
        with warnings.catch_warnings():
            if self.monitor is None:
                warnings.filterwarnings("ignore", message="The dirpath has changed from")
            super().load_state_dict(state_dict)


class BestCheckpoint(SafeModelCheckpoint):
    """A :class:`SafeModelCheckpoint` that keeps the best checkpoints when training resumes into a new run
    directory.

    Lightning keeps the best score only if the checkpoint directory is unchanged ("The dirpath has
    changed ... won't be reloaded"); resumed into a new run directory, the first epoch after resuming then
    became the best whatever its score, and another checkpoint was tested than an uninterrupted run would.
    Here the best checkpoints of the run resumed are copied into the new directory with their scores, so
    later epochs compete with them as they would have, and the new run directory holds the checkpoint its
    ``metrics.json`` names.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._resuming = False
        self._copies: dict[Path, Path] = {}

    def on_load_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        super().on_load_checkpoint(trainer, pl_module, checkpoint)
        # Lightning restores callbacks also when it tests a checkpoint: only resuming carries over
        self._resuming = trainer.state.fn == TrainerFn.FITTING

    def restore(self, state_dict: dict[str, Any]) -> None:
        scores = state_dict["best_k_models"]
        best = state_dict.get("best_model_path") or ""
        if not self._resuming or state_dict.get("dirpath") == self.dirpath or not Path(best).is_file():
            super().restore(state_dict)
            return
        kept = {Path(path): score for path, score in scores.items() if Path(path).is_file()}
        self._copies = {path: Path(self.dirpath) / path.name for path in kept}
        self.best_k_models = {str(self._copies[path]): score for path, score in kept.items()}
        self.best_model_path = str(Path(self.dirpath) / Path(best).name)
        self.best_model_score = state_dict["best_model_score"]
        kth = Path(state_dict.get("kth_best_model_path") or best)
        self.kth_best_model_path = str(self._copies.get(kth, self.best_model_path))
        self.kth_value = state_dict.get("kth_value", self.best_model_score)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_start(trainer, pl_module)
        if self._copies:
            if trainer.is_global_zero:
                for source, target in self._copies.items():
                    with replaced_atomically(target) as tmp:
                        shutil.copyfile(source, tmp)
            trainer.strategy.barrier("BestCheckpoint.copies")
            self._copies = {}


MODEL_CHECKPOINT_PATHS = ("best_model_path", "kth_best_model_path", "last_model_path")


def checkpoints_beside(state: dict[str, Any], folder: Path | None) -> dict[str, Any]:
    """A ``ModelCheckpoint``'s state read from a checkpoint, naming only ``.ckpt`` files in ``folder`` (the
    folder of that checkpoint, where its run wrote them); any other path is dropped. A checkpoint is data:
    restored as it is, a path such as ``local:///home`` is one Lightning deletes when a better checkpoint
    replaces it, and one elsewhere would be copied into the new run directory."""

    def beside(path: Any) -> bool:
        if not (isinstance(path, str) and path.endswith(".ckpt") and "://" not in path and "\0" not in path):
            return False
        return folder is not None and Path(path).resolve().parent == folder and not Path(path).is_symlink()

    state = dict(state)
    for key in MODEL_CHECKPOINT_PATHS:  # each one set: Lightning reads best_model_path without a default
        state[key] = state.get(key) if beside(state.get(key)) else ""
    scores = state.get("best_k_models")
    state["best_k_models"] = (
        {path: score for path, score in scores.items() if beside(path)} if isinstance(scores, dict) else {}
    )
    return state
