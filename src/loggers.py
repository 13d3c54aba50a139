"""The loggers of a training run, from the ``logger`` config group (``conf/logger/``): a mapping of
names to logger configs, as in lightning-hydra-template, so ``logger=[tensorboard,csv]`` combines them.
``logger=none``, ``logger=null`` and ``~logger`` mean no logger (see
:func:`src.command_line.null_groups_as_deletions`).

:class:`EpochTensorBoardLogger`, the ``tensorboard`` option, is Lightning's TensorBoard logger with every
curve's x-axis ("step") the epoch and the curves first on TensorBoard's opening page (see its docstring).
:class:`EpochCSVLogger`, the ``csv`` option, is Lightning's CSV logger writing each row's epoch as a whole
number.
"""

import importlib.util
from collections.abc import Mapping
from typing import Any

from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only

from src.errors import UserError
from src.instantiate import instantiate_entries

LOGGER_OPTIONS = "choose logger options from conf/logger/, e.g. logger=csv or logger=[tensorboard,csv]"
# loggers whose package is an optional install: the package each needs
OPTIONAL_PACKAGES = {"MLFlowLogger": "mlflow", "WandbLogger": "wandb"}


class EpochTensorBoardLogger(TensorBoardLogger):
    """Lightning's TensorBoard logger that writes each scalar at ``step`` = the epoch and leaves out the
    ``epoch`` curve and the ``test/*`` points.

    Lightning's own step is its count of ``training_step`` calls, i.e. of chunks of
    ``data.batches_per_step`` mini-batches, which is a speed setting; the epoch is what the pictures of
    :mod:`src.visualize` are logged at too, so every tab shares one x-axis. With ``epoch`` and ``test``
    gone, the first two groups of tags, the only ones TensorBoard's Time Series page opens, are ``train``
    and ``val``: the learning curves (the README's "TensorBoard" section says why, and where the test
    metrics are instead)."""

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        epoch = metrics.get("epoch")
        kept = {
            name: value for name, value in metrics.items() if name != "epoch" and not name.startswith("test/")
        }
        if kept:
            super().log_metrics(kept, step if epoch is None else int(epoch))


class EpochCSVLogger(CSVLogger):
    """Lightning's CSV logger with the ``epoch`` column a whole number on every row: the test row's epoch,
    that of the weights tested, is logged by :meth:`src.lit.MLPClassifier.on_test_epoch_end` as a metric,
    and Lightning hands every logged metric over as a float (``1.0`` beside the other rows' ``1``)."""

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        epoch = metrics.get("epoch")
        super().log_metrics(metrics if epoch is None else {**metrics, "epoch": int(epoch)}, step)


def build_loggers(config: Mapping[str, Any] | None) -> list[Logger] | bool:
    """The configured loggers, or ``False`` (Lightning's "no logger") when there are none."""
    for name, logger in (config or {}).items():
        target = logger.get("_target_") if isinstance(logger, Mapping) else None
        package = OPTIONAL_PACKAGES.get(str(target).rsplit(".", 1)[-1])
        if package and importlib.util.find_spec(package) is None:
            raise UserError(f"logger={name} needs the {package} package: pip install {package}")
    return instantiate_entries(config, "logger", Logger, "logger", LOGGER_OPTIONS) or False
