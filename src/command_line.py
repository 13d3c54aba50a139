"""The command line, checked before Hydra starts (each entry point's ``__main__``): an unknown
``group=option``, an empty run directory, a search without its sweeper or an override of a key the
configuration lacks ends as one ``error:`` line with exit code 2, like any other bad value; Hydra's own
report is many lines and exit code 1. ``group=null`` becomes ``~group`` for every group."""

import sys
from typing import Any

from omegaconf import OmegaConf

from src.config import CONF, compose_config, show
from src.errors import UserError

OUTPUT_DIRS = ("hydra.run.dir", "hydra.sweep.dir")


def null_groups_as_deletions(argv: list[str] = sys.argv) -> None:
    """``group=null`` on the command line (``logger=null``, ``debug=null``) as ``~group``, no such group:
    Hydra accepts ``null`` only for a group whose default is null, and then fails with a ValueError
    traceback for one that is off unless chosen (``Config group override must be a string or a list``)."""
    for index, argument in enumerate(argv[1:], start=1):
        group, equals, value = argument.lstrip("+").partition("=")
        if equals and value == "null" and "." not in group and (CONF / group).is_dir():
            argv[index] = f"~{group}"


def check_command_line(config_name: str, argv: list[str] | None = None) -> None:
    """Before Hydra starts (each entry point's ``__main__``): an unknown ``group=option`` or an override
    of a key ``conf/<config_name>.yaml`` lacks ends as one ``error:`` line with exit code 2 like any other
    bad value; Hydra's own report is many lines and exit code 1. Without ``argv``, ``sys.argv`` is checked,
    its ``group=null`` rewritten first (:func:`null_groups_as_deletions`) for Hydra to read."""
    from src.cli import EXIT_USER_ERROR, report

    if argv is None:
        null_groups_as_deletions(sys.argv)
    arguments = sys.argv[1:] if argv is None else argv
    try:
        refuse_unknown_group_options(arguments)
        refuse_empty_output_dirs(arguments)
        refuse_search_without_its_sweeper(arguments)
        refuse_overrides_hydra_cannot_apply(config_name, arguments)
    except UserError as error:
        report(f"error: {error}")
        raise SystemExit(EXIT_USER_ERROR) from None


def refuse_unknown_group_options(arguments: list[str]) -> None:
    """Check ``group=option`` overrides (``activation=relu``, ``-m optimizer=sgd,adam``) against the
    options in ``conf/<group>/``."""
    for argument in arguments:
        key, equals, value = argument.lstrip("+~").partition("=")
        folder = CONF / key
        if not equals or "." in key or "/" in key or "(" in value or not folder.is_dir():
            continue
        options = sorted(path.stem for path in folder.glob("*.yaml"))
        for option in value.strip("[]").split(","):  # also a list: logger=[tensorboard,csv]
            if option.strip() not in (*options, "null"):
                raise UserError(
                    f"{key}={option.strip()} is not an option of {key}: choose one of {', '.join(options)}"
                )


def refuse_empty_output_dirs(arguments: list[str]) -> None:
    """``hydra.run.dir=`` with nothing after it (``hydra.run.dir=$RUN`` with ``RUN`` unset) would make the
    current directory the run directory: the run's files would land among the project's."""
    for argument in arguments:
        key, equals, value = argument.lstrip("+").partition("=")
        if equals and key in OUTPUT_DIRS and not value.strip().strip("'\""):
            raise UserError(
                f"{key} is empty: give the directory the run writes into, e.g. {key}=outputs/my_run"
            )


def refuse_search_without_its_sweeper(arguments: list[str]) -> None:
    """``hparams_search=optuna`` needs Hydra's Optuna sweeper, an optional extra; without it Hydra would
    only say that it cannot find ``hydra/sweeper/optuna``."""
    import importlib.util

    searches = [a for a in arguments if a.startswith("hparams_search=") and not a.endswith("=null")]
    if not searches:
        return
    try:
        installed = importlib.util.find_spec("hydra_plugins.hydra_optuna_sweeper") is not None
    except ModuleNotFoundError:  # not even Hydra's plugin namespace
        installed = False
    if not installed:
        raise UserError(
            f"{searches[0]} needs Hydra's Optuna sweeper, which is not installed: pip install -e '.[sweep]'"
        )


def refuse_overrides_hydra_cannot_apply(config_name: str, arguments: list[str]) -> None:
    """An override of a key the configuration lacks (``foo=1``, ``model.hiddden=[4]``) or an added top-level
    key nothing reads (``+fooo=1``): compose the configuration first. Sweeps and Hydra's own flags (``-m``,
    ``--cfg``) are left to Hydra (and ``src.train`` checks the composed keys again)."""
    from hydra.errors import HydraException

    if any(argument.startswith("-") for argument in arguments):
        return
    overrides = [argument for argument in arguments if not argument.lstrip("+~").startswith("hydra")]
    try:
        composed = compose_config(config_name, overrides)
    except HydraException as error:
        message = " ".join(str(error).split())
        for argument in overrides:
            key = argument.lstrip("+~").partition("=")[0]
            if f"Could not override '{key}'" in message:
                message = f"{argument}: there is no setting {key} (to add a new key, write +{argument})"
                break
        raise UserError(message) from None
    refuse_unknown_top_level_keys(OmegaConf.to_container(composed), config_name)


def refuse_unknown_top_level_keys(plain: dict[str, Any], config_name: str) -> None:
    """``+foo=1`` adds a key nothing reads: refuse it (a typo of a real one, most likely)."""
    known = set(OmegaConf.load(CONF / f"{config_name}.yaml")) | {p.name for p in CONF.iterdir() if p.is_dir()}
    for key in plain:
        if key not in known:
            raise UserError(
                f"{key}={show(plain[key])}: there is no setting {key}; see conf/{config_name}.yaml"
            )
