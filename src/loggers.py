"""The loggers of a training run, from the ``logger`` config group (``conf/logger/``): a mapping of
names to logger configs, as in lightning-hydra-template, so ``logger=[tensorboard,csv]`` combines them.
``logger=none``, ``logger=null`` and ``~logger`` mean no logger."""

import importlib.util
import sys
from collections.abc import Mapping
from typing import Any

import hydra
from lightning.pytorch.loggers import Logger

from src.errors import UserError

# loggers whose package is an optional install: the package each needs
OPTIONAL_PACKAGES = {"MLFlowLogger": "mlflow", "WandbLogger": "wandb"}


def build_loggers(config: Mapping[str, Any] | None) -> list[Logger] | bool:
    """The configured loggers, or ``False`` (Lightning's "no logger") when there are none."""
    loggers = []
    for name, logger in (config or {}).items():
        if not isinstance(logger, Mapping) or "_target_" not in logger:
            raise UserError(
                f"logger.{name}: not a logger config (a mapping with _target_); choose logger options from "
                "conf/logger/, e.g. logger=csv or logger=[tensorboard,csv]"
            )
        package = OPTIONAL_PACKAGES.get(str(logger["_target_"]).rsplit(".", 1)[-1])
        if package and importlib.util.find_spec(package) is None:
            raise UserError(f"logger={name} needs the {package} package: pip install {package}")
        loggers.append(hydra.utils.instantiate(logger))
    return loggers or False


def accept_null_logger(argv: list[str] = sys.argv) -> None:
    """``logger=null`` on the command line as ``~logger``: Hydra accepts ``null`` only for a group whose
    default is null (``ValueError: Config group override must be a string or a list``)."""
    argv[1:] = [
        "~logger" if argument in ("logger=null", "+logger=null") else argument for argument in argv[1:]
    ]
