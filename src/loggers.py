"""The loggers of a training run, from the ``logger`` config group (``conf/logger/``): a mapping of
names to logger configs, as in lightning-hydra-template, so ``logger=[tensorboard,csv]`` combines them.
``logger=none``, ``logger=null`` and ``~logger`` mean no logger (see
:func:`src.command_line.null_groups_as_deletions`).

:class:`EpochTensorBoardLogger`, the ``tensorboard`` option, is Lightning's TensorBoard logger with every
curve's x-axis ("step") the epoch and the curves first on TensorBoard's opening page (see its docstring).
:class:`EpochCSVLogger`, the ``csv`` option, is Lightning's CSV logger writing each row's epoch as a whole
number.

:func:`build_loggers` refuses a logger whose directory (``save_dir``, MLflow's local ``tracking_uri``)
can't be written with one line, before training (:func:`src.run_dir.refuse_unwritable_directory`).
"""

import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only

from src.errors import UserError
from src.instantiate import instantiate_entries
from src.run_dir import refuse_unwritable_directory

LOGGER_OPTIONS = "choose logger options from conf/logger/, e.g. logger=csv or logger=[tensorboard,csv]"
# loggers whose package is an optional install: the package each needs
OPTIONAL_PACKAGES = {"MLFlowLogger": "mlflow", "WandbLogger": "wandb"}
# the options that name the directory a logger writes into (WandbLogger's `dir` is its other name for
# save_dir); MLFlowLogger writes into a local tracking_uri of these schemes instead: a directory (file:), or
# a database file, in the directory it lies in (sqlite:///relative/mlflow.db, sqlite:////absolute/mlflow.db)
DIRECTORY_OPTIONS = ("save_dir", "dir")
LOCAL_TRACKING_SCHEMES = ("sqlite:///", "file://", "file:")


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
    """The configured loggers, or ``False`` (Lightning's "no logger") when there are none. Refuses, before
    building any, a logger whose package is missing or whose directory can't be written
    (:func:`written_directories`): the loggers make their directories only once training has started,
    where that failed with a traceback."""
    for name, logger in (config or {}).items():
        target = logger.get("_target_") if isinstance(logger, Mapping) else None
        package = OPTIONAL_PACKAGES.get(str(target).rsplit(".", 1)[-1])
        if package and importlib.util.find_spec(package) is None:
            raise UserError(f"logger={name} needs the {package} package: pip install {package}")
        if target is not None:  # a logger config (instantiate_entries refuses anything else)
            for key, value, directory in written_directories(f"logger.{name}", logger):
                refuse_unwritable_directory(directory, key, value)
    return instantiate_entries(config, "logger", Logger, "logger", LOGGER_OPTIONS) or False


def written_directories(key: str, logger: Mapping[str, Any]) -> list[tuple[str, str, Path]]:
    """The local directories the logger config ``logger`` (at config key ``key``) writes into, each as
    (its option's key, the option's value, the directory): those of :data:`DIRECTORY_OPTIONS`, and an
    MLflow ``tracking_uri`` of :data:`LOCAL_TRACKING_SCHEMES` (MLflow ignores ``save_dir`` beside one).
    A URL (``s3://...``, an ``http://...`` tracking server) names no local directory."""
    uri = logger.get("tracking_uri")
    found = [
        (f"{key}.{option}", str(logger[option]), Path(str(logger[option])))
        for option in DIRECTORY_OPTIONS
        if logger.get(option) is not None
        and "://" not in str(logger[option])
        and not (option == "save_dir" and uri)
    ]
    for scheme in LOCAL_TRACKING_SCHEMES:  # file:// before file:
        if uri and str(uri).startswith(scheme):
            path = Path(str(uri).removeprefix(scheme))
            found.append((f"{key}.tracking_uri", str(uri), path.parent if scheme == "sqlite:///" else path))
            break
    return found
