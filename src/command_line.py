"""The command line, checked before Hydra starts (each entry point's ``__main__``): an override Hydra's
parser cannot read, an unknown ``group=option``, an empty run directory, a search without its sweeper or an
override of a key the configuration lacks ends as one ``error:`` line with exit code 2, like any other bad
value; Hydra's own report is many lines and exit code 1. ``group=null`` becomes ``~group`` for every
group."""

import shlex
import sys
from typing import Any

from omegaconf import OmegaConf

from src.config import BASES, CONF, compose_config, meant, show
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
        refuse_overrides_hydra_cannot_read(arguments)
        refuse_unknown_group_options(arguments)
        refuse_empty_output_dirs(arguments)
        refuse_search_without_its_sweeper(arguments)
        refuse_overrides_hydra_cannot_apply(config_name, arguments)
    except UserError as error:
        report(f"error: {error}")
        raise SystemExit(EXIT_USER_ERROR) from None


def refuse_overrides_hydra_cannot_read(arguments: list[str]) -> None:
    """An override Hydra's grammar cannot read: a value with a space, brackets, a quote, ``#``, ``~`` or a
    letter outside ASCII must be quoted (``inputs=digit (1).png``, ``inputs=café.png``). Hydra's own
    message is its parser's (``LexerNoViableAltException: ...``), which names neither the cause nor the
    fix. Flags and their values (``-m``, ``--cfg job``) hold no ``=`` or begin with ``-``."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    parser = OverridesParser.create()
    for argument in arguments:
        if argument.startswith("-") or "=" not in argument:
            continue
        try:
            parser.parse_overrides([argument])
        except OverrideParseException as error:
            raise UserError(unreadable_override_message(argument, str(error))) from None


def unreadable_override_message(argument: str, error: str) -> str:
    """What to do about ``argument``, which Hydra's parser refused with ``error``: quote its value, for
    Hydra (in double quotes, a ``"`` in it escaped) inside the shell's quotes (:func:`shlex.quote`)."""
    key, _, value = argument.partition("=")
    reason = " ".join(error.split()).split(" See https://")[0]
    if value[:1] and value[:1] in "'\"":  # quoted already, the quotes unbalanced: Hydra's reason is the fix
        return f"{argument}: Hydra's override parser cannot read it ({reason})"
    quoted = shlex.quote(f'{key}="{value.replace(chr(34), chr(92) + chr(34))}"')
    if "~" in value:
        home = f", or let the shell expand it: {key}=$HOME{value[1:]}" if value.startswith("~/") else ""
        return f"{argument}: Hydra's override parser refuses an unquoted ~; quote the value: {quoted}{home}"
    listed = f" ({reason}): a list is written [16,16], a mapping {{a:1}}" if value[:1] in ("[", "{") else ""
    return (
        f"{argument}: Hydra's override parser cannot read this value unquoted{listed}; a name or text with "
        f"spaces, brackets, quotes, # or letters outside ASCII must be quoted: {quoted}"
    )


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
        for index, argument in enumerate(overrides):
            key = argument.lstrip("+~").partition("=")[0]
            if f"Could not override '{key}'" in message:
                others = overrides[:index] + overrides[index + 1 :]
                message = unknown_key_message(config_name, others, argument, key)
                break
        raise UserError(message) from None
    refuse_unknown_top_level_keys(OmegaConf.to_container(composed), config_name)


def unknown_key_message(config_name: str, others: list[str], argument: str, key: str) -> str:
    """What to say of ``argument``, an override of ``key``, which the configuration composed with the
    ``others`` lacks: the key it most likely meant, and whether ``+key=`` would add it. A group whose
    settings src/config.py fixes (:data:`~src.config.BASES`) and the top level take no new keys."""
    parent, _, name = key.rpartition(".")
    group = key.split(".")[0]
    known = known_top_level_keys(config_name)
    if not parent or group not in known:
        return f"{argument}: there is no setting {key}{meant(group, known)}; see conf/{config_name}.yaml"
    node = composed_node(config_name, others, parent)
    if node is None and parent != group:  # callbacks.early_stopping without callbacks=early_stopping
        return f"{argument}: this configuration has no {parent}; see the options in conf/{group}/"
    settings = (
        [str(setting) for setting in node if not str(setting).startswith("_")]
        if OmegaConf.is_dict(node)
        else []
    )
    if not settings:  # evaluate's data: the checkpoint's, with any key given here over it
        return f"{argument}: {parent} holds no settings here; to set {name}, write +{argument}"
    hint = meant(name, settings, f"{parent}.")
    if parent in BASES:
        return f"{argument}: {parent} has no setting {name}{hint}; its settings are {', '.join(settings)}"
    return f"{argument}: there is no setting {key}{hint}; to add a new key, write +{argument}"


def composed_node(config_name: str, others: list[str], key: str) -> Any:
    """The node at ``key`` of the configuration composed with the ``others``, or, where another of them
    fails too, with only their ``group=option`` choices; ``None`` where there is none."""
    from hydra.errors import HydraException

    choices = [other for other in others if "." not in other.lstrip("+~").partition("=")[0]]
    for overrides in (others, choices):
        try:
            return OmegaConf.select(compose_config(config_name, overrides), key)
        except HydraException:
            continue
    return None


def known_top_level_keys(config_name: str) -> set[str]:
    """The top-level keys of ``conf/<config_name>.yaml`` and the config groups: all a command reads."""
    return set(OmegaConf.load(CONF / f"{config_name}.yaml")) | {p.name for p in CONF.iterdir() if p.is_dir()}


def refuse_unknown_top_level_keys(plain: dict[str, Any], config_name: str) -> None:
    """``+foo=1`` adds a key nothing reads: refuse it (a typo of a real one, most likely)."""
    known = known_top_level_keys(config_name)
    for key in plain:
        if key not in known:
            raise UserError(
                f"{key}={show(plain[key])}: there is no setting {key}{meant(key, known)}; see "
                f"conf/{config_name}.yaml"
            )
