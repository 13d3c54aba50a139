"""Every use of Lightning's (and TensorBoard's writer's) private API, one named function each, so that an
upgrade has one file to check: ``pyproject.toml`` pins the Lightning versions these were tested on, and
``tests/test_lightning_compat.py`` checks each function against the installed version.

Everything else goes through public mechanisms: mid-epoch resume, for instance, through Lightning's
stateful-dataloader protocol (``state_dict``/``load_state_dict``, see :class:`src.data.ResumableLoader`).
"""

from typing import Any

import lightning as L
from torch.utils.tensorboard import SummaryWriter


def count_optimizer_steps(trainer: L.Trainer, steps: int) -> None:
    """Advance ``trainer.global_step`` by ``steps`` optimizer steps taken outside Lightning's
    ``LightningOptimizer.step`` (which would run every callback hook per mini-batch)."""
    trainer.fit_loop.epoch_loop.manual_optimization.optim_step_progress.increment_by(steps)


def stop_as_after_sigterm(trainer: L.Trainer) -> None:
    """Make Lightning end ``fit`` at the next step as it does after SIGTERM (and tell the other processes
    under data parallelism, which it does only for this flag)."""
    trainer._signal_connector.received_sigterm = True


def relaunches_script(trainer: L.Trainer) -> bool:
    """Whether the trainer's strategy starts its processes by running the script again (``ddp`` and
    ``ddp_cpu`` from the command line)."""
    from lightning.pytorch.strategies.launchers.subprocess_script import _SubprocessScriptLauncher

    return isinstance(getattr(trainer.strategy, "launcher", None), _SubprocessScriptLauncher)


def add_summary(writer: SummaryWriter, summary) -> None:
    """Write a prepared TensorBoard ``Summary`` protobuf (e.g. the HParams plugin's) as it is, as
    Lightning's ``TensorBoardLogger.log_hyperparams`` does, without its extra scalar points."""
    writer._get_file_writer().add_summary(summary)


def mlflow_tracking_uri(logger: Any) -> str:
    """Where an ``MLFlowLogger`` writes: the ``tracking_uri`` it was given, which it keeps privately (it
    has no public property for it)."""
    return str(logger._tracking_uri)
