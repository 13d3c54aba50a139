"""What the entry points print: one stream of log lines, no adverts, and at the end of a run what it
produced and how to look at it.

- :func:`setup_console` (first thing in an entry point's ``main``): Lightning's log records go through
  Hydra's logging only (the console, and ``<task>.log`` in the run directory) instead of also through
  Lightning's own stderr handler, which printed every line twice; Lightning's advert tips are dropped;
  warnings that our use of the libraries triggers and can't avoid are silenced, each named below. In a
  Hydra multirun (``-m``) Lightning's lines and the model line go to the job's ``<task>.log`` only, their
  warnings to the console too (:class:`FileOnlyInMultirun`), so a sweep prints one line per job and its
  summary (:mod:`src.sweep`), not each job's log, and each job's ``<task>.log`` holds what a single run's
  does.
- :class:`ConsoleCallback`: a one-line model summary instead of Lightning's table (whose ``0 Total Flops``
  row is wrong: our backpropagation is a custom autograd Function that FLOP counting doesn't see, and
  whose other rows list the metrics); an error raised during training starts on its own line, not after
  the progress bar; no progress bars in a multirun.
- :func:`print_run_end`: test metrics, checkpoint, run directory and the command that opens the logs;
  :class:`SweepEnd` the command that opens a whole sweep's.
"""

import contextlib
import logging
import re
import shlex
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lightning as L
from hydra.experimental.callback import Callback
from lightning.pytorch.callbacks import ModelSummary, TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger
from omegaconf import DictConfig

from src.lightning_compat import mlflow_tracking_uri

log = logging.getLogger(__name__)

LIGHTNING_LOGGERS = (
    "lightning",
    "lightning.pytorch",
    "lightning.fabric",
    "lightning_fabric",
    "pytorch_lightning",
)
DROPPED_MESSAGES = (
    "💡 Tip:",  # Lightning's litlogger / litmodels adverts
    # Lightning's note that ConsoleCallback replaces its model summary, as configured
    "Trainer already configured with model summary callbacks",
)
# callbacks=early_stopping (verbose) announces every better epoch; only its line saying why it stops is kept
DROPPED_PATTERN = re.compile(r"Metric \S+ improved")
# in a multirun, the lines below WARNING of these loggers (Lightning's and the model line's) go to the job's
# <task>.log only: the console shows one line per job
FILE_ONLY_IN_MULTIRUN = (*LIGHTNING_LOGGERS, __name__)

IGNORED_WARNINGS = (
    # Lightning (2.6) builds a pytree LeafSpec for every data loader, which torch >= 2.9 deprecates;
    # nothing in our code can avoid it
    r"`isinstance\(treespec, LeafSpec\)` is deprecated",
    # conf/trainer/ddp*.yaml: torch 2.13 renamed broadcast_buffers=false, which older torch (from 2.4, as
    # pyproject.toml allows) knows only by that name
    r"`broadcast_buffers` is deprecated",
    # both are the same on every process already: train/loss is torchmetrics' mean over every process's
    # samples, train/samples_per_sec counts every process's samples
    r"It is recommended to use `self\.log\('train/(loss|samples_per_sec)', \.\.\., sync_dist=True\)`",
)


@contextlib.contextmanager
def quiet_loggers(names: tuple[str, ...]) -> Iterator[None]:
    """Only errors from the loggers ``names`` (and their children) while the block runs; their levels
    back after it."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


class DropMessages(logging.Filter):
    """Drops the records of :data:`DROPPED_MESSAGES` and :data:`DROPPED_PATTERN`: Lightning's adverts, notes
    about our own setup and early stopping's progress notes."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        return not (message.startswith(DROPPED_MESSAGES) or DROPPED_PATTERN.match(message))


class FileOnlyInMultirun(logging.Filter):
    """The console handler's filter in a multirun: drops the records below WARNING of the loggers in
    :data:`FILE_ONLY_IN_MULTIRUN` (and their children), which the job's log file still gets."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or not any(
            record.name == name or record.name.startswith(f"{name}.") for name in FILE_ONLY_IN_MULTIRUN
        )


class ProgressBarAwareHandler(logging.StreamHandler):
    """Writes each line with ``tqdm.write``, which lifts Lightning's progress bars out of the way and
    draws them again below, instead of appending the line to a bar's unfinished line."""

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        try:
            tqdm.write(self.format(record), file=self.stream)
        except BrokenPipeError:  # the reader went away (| head): src.cli ends the program quietly
            raise
        except Exception:
            self.handleError(record)


def in_multirun() -> bool:
    """Whether this process runs a job of a Hydra multirun (``-m``)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def setup_console() -> None:
    """One stream of log lines without adverts or avoidable warnings (see the module's docstring)."""
    for name in LIGHTNING_LOGGERS:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            if type(handler) is logging.StreamHandler:  # Lightning's own console handler
                logger.removeHandler(handler)
        logger.propagate = True
    root = logging.getLogger()
    for handler in list(root.handlers):
        if type(handler) is logging.StreamHandler:  # Hydra's console handler
            console = ProgressBarAwareHandler(handler.stream)
            console.setFormatter(handler.formatter)
            console.setLevel(handler.level)
            root.removeHandler(handler)
            root.addHandler(console)
    multirun = in_multirun()
    for handler in root.handlers:
        if not any(isinstance(f, DropMessages) for f in handler.filters):
            handler.addFilter(DropMessages())
        # the console's only, not the levels of Lightning's loggers: the job's log file gets every line
        if (
            multirun
            and type(handler) is ProgressBarAwareHandler
            and not any(isinstance(f, FileOnlyInMultirun) for f in handler.filters)
        ):
            handler.addFilter(FileOnlyInMultirun())
    logging.getLogger("lightning.pytorch").setLevel(logging.INFO)
    logging.getLogger("lightning.fabric").setLevel(logging.INFO)
    for message in IGNORED_WARNINGS:
        warnings.filterwarnings("ignore", message=message)


class ConsoleCallback(ModelSummary):
    """The console side of a training run (see the module's docstring)."""

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:  # in a multirun to the job's log file only (FileOnlyInMultirun)
            log.info(model_line(pl_module))

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if in_multirun() and trainer.progress_bar_callback is not None:
            trainer.progress_bar_callback.disable()

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        """Close the progress bars now: each ends its line, so the error printed next starts its own
        (closed later, at exit, they would print again after it)."""
        bar = trainer.progress_bar_callback
        if not isinstance(bar, TQDMProgressBar) or bar.is_disabled:
            return
        for name in ("train_progress_bar", "val_progress_bar", "test_progress_bar", "predict_progress_bar"):
            with contextlib.suppress(TypeError):  # that bar was never opened
                getattr(bar, name).close()


def model_line(pl_module: L.LightningModule) -> str:
    """``model: 64-30-10 sigmoid neurons, mse cost, manual backprop: 2,260 parameters (9.0 kB)``."""
    hparams = pl_module.hparams
    activation = hparams.activation["name"]  # {"name": ..., "negative_slope": ...}
    parameters = sum(p.numel() for p in pl_module.parameters())
    size = sum(p.numel() * p.element_size() for p in pl_module.parameters())
    sizes = "-".join(str(n) for n in [hparams.in_features, *hparams.hidden, hparams.num_classes])
    return (
        f"model: {sizes} {activation} neurons, {hparams.cost} cost, {hparams.backprop} backprop: "
        f"{parameters:,} parameters ({size / 1000:.1f} kB)"
    )


def shown_path(path: str | Path) -> str:
    """``path`` relative to the working directory when it lies inside it (shorter to read and type)."""
    absolute = Path(path).resolve()
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)


def viewer_command(logger: Logger) -> str | None:
    """The command that shows what ``logger`` wrote, or where the file is."""
    if isinstance(logger, TensorBoardLogger):
        return shlex.join(["tensorboard", "--logdir", shown_path(logger.log_dir)])
    if isinstance(logger, CSVLogger):
        return f"learning curves: {shown_path(Path(logger.log_dir) / 'metrics.csv')}"
    name = type(logger).__name__
    if name == "MLFlowLogger":
        return shlex.join(["mlflow", "ui", "--backend-store-uri", mlflow_tracking_uri(logger)])
    if name == "WandbLogger":
        return shlex.join(["wandb", "sync", shown_path(logger.experiment.dir).removesuffix("/files")])
    return None


def print_run_end(trainer: L.Trainer, metrics: dict[str, Any], output_dir: str | Path) -> None:
    """Test metrics, checkpoint, run directory and how to look at the logs; in a multirun one line."""
    test = (
        f"test/acc {metrics['test/acc']:.4f}  test/loss {metrics['test/loss']:.4f}"
        if "test/acc" in metrics
        else ""
    )
    if in_multirun():
        best = f"val/acc_best {metrics['val/acc_best']:.4f}  " if "val/acc_best" in metrics else ""
        print(f"  {best}{test}  {shown_path(output_dir)}".rstrip(), flush=True)
        return
    if test:
        print(test)
    print(f"checkpoint: {shown_path(metrics['ckpt_path']) if metrics.get('ckpt_path') else '(none)'}")
    print(f"run directory: {shown_path(output_dir)}")
    for logger in trainer.loggers:
        if command := viewer_command(logger):
            print(command)


class SweepEnd(Callback):
    """After a multirun's summary (:mod:`src.sweep`): the command that opens every job's logs together,
    where a job wrote TensorBoard logs (an evaluate sweep's jobs, and runs with ``logger=csv`` or
    ``none``, write none: TensorBoard would open on an empty page)."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        if next(sweep_dir.glob("**/events.out.tfevents.*"), None) is not None:
            print(shlex.join(["tensorboard", "--logdir", shown_path(sweep_dir)]))
