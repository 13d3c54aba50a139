"""The command line, checked before Hydra starts (each entry point's ``__main__``): an override Hydra's
parser cannot read, an unknown ``group=option``, an empty run directory, a search without its sweeper or an
override of a key the configuration lacks ends as one ``error:`` line with exit code 2, like any other bad
value; Hydra's own report is many lines and exit code 1. ``group=null`` becomes ``~group`` for every
group."""

import shlex
import sys
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from src.config import BASES, CONF, compose_config, is_int, meant, show
from src.errors import UserError

OUTPUT_DIRS = ("hydra.run.dir", "hydra.sweep.dir")


def null_groups_as_deletions(argv: list[str]) -> None:
    """``group=null`` on the command line (``logger=null``, ``debug=null``) as ``~group``, no such group:
    Hydra accepts ``null`` only for a group whose default is null, and then fails with a ValueError
    traceback for one that is off unless chosen (``Config group override must be a string or a list``)."""
    for index, argument in enumerate(argv[1:], start=1):
        group, equals, value = argument.lstrip("+").partition("=")
        if equals and value == "null" and "." not in group and (CONF / group).is_dir():
            argv[index] = f"~{group}"


def check_command_line(config_name: str) -> None:
    """Before Hydra starts (each entry point's ``__main__``): an unknown ``group=option`` or an override
    of a key ``conf/<config_name>.yaml`` lacks ends as one ``error:`` line with exit code 2 like any other
    bad value; Hydra's own report is many lines and exit code 1. ``sys.argv`` is checked, its
    ``group=null`` rewritten first (:func:`null_groups_as_deletions`) for Hydra to read."""
    from src.cli import EXIT_USER_ERROR, report

    null_groups_as_deletions(sys.argv)
    arguments = sys.argv[1:]
    try:
        refuse_rerun_of_a_pickle(arguments)
        refuse_another_configuration(config_name, arguments)
        refuse_overrides_hydra_cannot_read(arguments)
        refuse_unknown_group_options(arguments)
        refuse_empty_output_dirs(arguments)
        refuse_search_without_its_sweeper(arguments)
        refuse_overrides_hydra_cannot_apply(config_name, arguments)
    except UserError as error:
        report(f"error: {error}")
        raise SystemExit(EXIT_USER_ERROR) from None


def refuse_rerun_of_a_pickle(arguments: list[str]) -> None:
    """Hydra's ``--experimental-rerun FILE`` unpickles ``FILE`` (a run's ``.hydra/config.pickle``) before
    any check runs, and a pickle can hold code that runs as it loads: a file is data, never instructions.
    Hydra's argparse also takes the flag shortened (``--exp``): no other flag of Hydra's begins ``--e``."""
    for argument in arguments:
        flag = argument.partition("=")[0]
        if len(flag) > len("--") and "--experimental-rerun".startswith(flag):
            raise UserError(
                "--experimental-rerun: refused: it unpickles its file, which runs any code the file holds; "
                "run the command again with the overrides saved in the run's .hydra/overrides.yaml"
            )


def refuse_another_configuration(config_name: str, arguments: list[str]) -> None:
    """Hydra's ``--config-name``/``-cn`` and ``--config-path``/``-cp`` (also shortened, as argparse allows)
    swap the command's own ``conf/<config_name>.yaml`` for another: ``python -m src.train -cn predict``
    was refused for a key of predict's the training never has. ``--config-dir``/``-cd`` adds a folder to
    search, which must be one (Hydra's report of a missing one was several lines)."""
    for index, argument in enumerate(arguments):
        flag, equals, value = argument.partition("=")
        swaps = flag in ("-cn", "-cp") or (
            len(flag) > len("--config-")
            and any(name.startswith(flag) for name in ("--config-name", "--config-path"))
        )
        if swaps:
            raise UserError(
                f"{flag}: each command reads its own configuration, conf/{config_name}.yaml; change it with "
                "overrides (key=value, group=option), or keep a set of them in conf/experiment/ and give "
                "experiment=NAME"
            )
        if flag == "-cd" or (len(flag) > len("--config-") and "--config-dir".startswith(flag)):
            folder = value if equals else (arguments[index + 1] if index + 1 < len(arguments) else "")
            if not (folder and Path(folder).expanduser().is_dir()):  # Path("") is the working directory
                raise UserError(f"{flag} {folder}: not a folder; give a folder of configuration files")


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
    quoted = shlex.quote(f"{key}={hydra_quoted(value)}")
    if "~" in value:
        home = f", or let the shell expand it: {key}=$HOME{value[1:]}" if value.startswith("~/") else ""
        return f"{argument}: Hydra's override parser refuses an unquoted ~; quote the value: {quoted}{home}"
    listed = f" ({reason}): a list is written [16,16], a mapping {{a:1}}" if value[:1] in ("[", "{") else ""
    return (
        f"{argument}: Hydra's override parser cannot read this value unquoted{listed}; a name or text with "
        f"spaces, brackets, quotes, # or letters outside ASCII must be quoted: {quoted}"
    )


def hydra_quoted(value: str) -> str:
    """``value`` in Hydra's double quotes, a ``"`` in it escaped: read back as that string."""
    return '"' + value.replace('"', '\\"') + '"'


def override_of(key: str, value: str) -> str:
    """``key=value`` as Hydra reads back the string ``value``: unquoted where it can (``ckpt_path=a.ckpt``),
    in quotes where its parser would refuse it or read another value (a sweep job's directory holds ``=``
    and ``,``: ``ckpt_path=".../0_optimizer.lr=1,seed=2/last.ckpt"``)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    plain = f"{key}={value}"
    try:
        [override] = OverridesParser.create().parse_overrides([plain])
        if override.value() == value and not override.is_sweep_override():
            return plain
    except HydraException:
        pass
    return f"{key}={hydra_quoted(value)}"


def refuse_unknown_group_options(arguments: list[str]) -> None:
    """Check ``group=option`` overrides (``activation=relu``, ``-m optimizer=sgd,adam``,
    ``-m 'activation=choice(relu,tanh)'``) against the options in ``conf/<group>/``."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    for argument in arguments:
        key, equals, value = argument.lstrip("+~").partition("=")
        folder = CONF / key
        if not equals or "." in key or "/" in key or not folder.is_dir():
            continue
        if "(" in value:  # a sweep function: choice(...) and range(...) list their values
            try:
                values = list(OverridesParser.create().parse_overrides([argument])[0].sweep_string_iterator())
            except HydraException:  # glob(...) or an interval: no list of options to check
                continue
        else:
            values = value.strip("[]").split(",")  # also a list: logger=[tensorboard,csv]
        options = sorted(path.stem for path in folder.glob("*.yaml"))
        for option in values:
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
    refuse_bad_search_settings(arguments)


SEARCH_DIRECTIONS = ("maximize", "minimize")  # Optuna's, for the one metric a search optimises


def refuse_bad_search_settings(arguments: list[str]) -> None:
    """The search's own settings, which Optuna refuses with a traceback once the sweep has started (a
    tester): ``hydra.sweeper.n_trials`` (0 ended in "No trials are completed yet"),
    ``hydra.sweeper.direction``, and each ``interval(low, high)`` searched: ``low <= high``, and
    ``low > 0`` on a log scale (``tag(log, interval(...))``)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import IntervalSweep

    parser = OverridesParser.create()
    for argument in arguments:
        if argument.startswith("-") or "=" not in argument:
            continue
        [override] = parser.parse_overrides([argument])
        key, value = override.get_key_element().lstrip("+~"), override.value()
        if key == "hydra.sweeper.n_trials" and not (is_int(value) and value >= 1):
            raise UserError(f"{argument}: the number of trials must be an integer >= 1")
        if key == "hydra.sweeper.direction" and value not in SEARCH_DIRECTIONS:
            raise UserError(f"{argument}: the search's direction is {' or '.join(SEARCH_DIRECTIONS)}")
        if isinstance(value, IntervalSweep):
            if not value.start <= value.end:
                raise UserError(f"{argument}: an interval's low end must be <= its high end")
            if "log" in value.tags and not value.start > 0:
                raise UserError(f"{argument}: a log-scale interval's low end must be > 0")


def refuse_overrides_hydra_cannot_apply(config_name: str, arguments: list[str]) -> None:
    """An override of a key the configuration lacks (``foo=1``, ``model.hiddden=[4]``) or an added top-level
    key nothing reads (``+fooo=1``): compose the configuration first. In a multirun (``-m``), as Hydra
    composes it before its sweep: with the overrides that sweep nothing (:func:`multirun_message` says
    why a key a swept group brings is missing there). Hydra's other flags (``--cfg``, ``--help``) are
    left to Hydra (and ``src.train`` checks the composed keys again)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    if any(argument.startswith("-") and argument not in MULTIRUN_FLAGS for argument in arguments):
        return
    overrides = [
        argument
        for argument in arguments
        if argument not in MULTIRUN_FLAGS and not argument.lstrip("+~").startswith("hydra")
    ]
    swept: list[str] = []
    if len(overrides) < len(arguments) and any(argument in MULTIRUN_FLAGS for argument in arguments):
        parsed = OverridesParser.create().parse_overrides(overrides)
        swept = [override.input_line for override in parsed if override.is_sweep_override()]
        overrides = [override.input_line for override in parsed if not override.is_sweep_override()]
    known = known_top_level_keys(config_name)
    for argument in overrides:
        key = argument.lstrip("+~").partition("=")[0]
        if key.split(".")[0] not in known:  # +model.hidden=[8] for src.evaluate: Hydra would add it
            raise UserError(
                f"{argument}: there is no setting {key}{meant(key.split('.')[0], known)}; see "
                f"conf/{config_name}.yaml"
            )
    try:
        composed = compose_config(config_name, overrides)
    except HydraException as error:
        message = " ".join(str(error).split())
        for index, argument in enumerate(overrides):
            key = argument.lstrip("+~").partition("=")[0]
            if f"Could not override '{key}'" in message:
                others = overrides[:index] + overrides[index + 1 :]
                message = multirun_message(argument, key, swept) or unknown_key_message(
                    config_name, others, argument, key
                )
                break
        raise UserError(message) from None
    refuse_unknown_top_level_keys(OmegaConf.to_container(composed), config_name)


MULTIRUN_FLAGS = ("-m", "--multirun")


def multirun_message(argument: str, key: str, swept: list[str]) -> str | None:
    """Why a multirun cannot set ``key``, where a swept group (``swept``) may bring it: Hydra composes a
    multirun's configuration with the overrides that sweep nothing before its jobs, so the README's
    ``-m experiment=essay_mnist,nielsen_ch1 data.root=DIR`` failed on the digits' data, which has no
    ``root``. ``None`` where no group is swept (a typo, most likely)."""
    groups = [line.lstrip("+~").partition("=")[0] for line in swept]
    groups = [group for group in groups if "." not in group and (CONF / group).is_dir()]
    if not groups:
        return None
    return (
        f"{argument}: a multirun sets it before its jobs choose {', '.join(groups)}, on the default "
        f"configuration, which has no {key}; write ++{argument} (set, or add where missing), or choose on the "
        f"command line too the option that has it (data=mnist has data.root)"
    )


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
    """The top-level keys of ``conf/<config_name>.yaml`` and the config groups its defaults list names: all
    a command reads. ``src.evaluate`` takes the network from the checkpoint, so ``+model.hidden=[8]`` there
    would be recorded and ignored (a tester)."""
    config = OmegaConf.load(CONF / f"{config_name}.yaml")
    entries = [str(entry) if isinstance(entry, str) else str(next(iter(entry))) for entry in config.defaults]
    # "optional data", "override hydra/job_logging", "paths", "_self_" -> data, hydra, paths
    groups = {entry.split()[-1].split("/")[0].split("@")[0] for entry in entries} - {"_self_"}
    return (set(config) - {"defaults"}) | groups


def refuse_unknown_top_level_keys(plain: dict[str, Any], config_name: str) -> None:
    """``+foo=1`` adds a key nothing reads: refuse it (a typo of a real one, most likely)."""
    known = known_top_level_keys(config_name)
    for key in plain:
        if key not in known:
            raise UserError(
                f"{key}={show(plain[key])}: there is no setting {key}{meant(key, known)}; see "
                f"conf/{config_name}.yaml"
            )
