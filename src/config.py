"""The settings of every configuration group: each default, choice and range written once, as a dataclass
field, with the rule that turns a bad value into one line naming the key, the value and what is allowed,
e.g. ``model.hidden=[16, 0]: every hidden layer size must be an integer >= 1``. Each class's defaults are
registered with Hydra as ``base_<name>``, which the group's YAML files extend.

The same rules read a checkpoint's hyperparameters: a checkpoint is data, never instructions. Its data
module and optimizer are looked up by exact name in :func:`data_modules` and :data:`OPTIMIZERS`, never
imported or instantiated, and every value must be a plain number, string or list of numbers.

A whole command's checks (files on disk, the trainer) are in :mod:`src.checks`, a checkpoint's against the
configuration in :mod:`src.resume_checks`, and the command line's, before Hydra starts, in
:mod:`src.command_line`.
"""

import dataclasses
import difflib
import inspect
import math
import os
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from src.cuda_graph import MODES as CUDA_GRAPH_MODES
from src.errors import UserError
from src.network.activations import ACTIVATIONS, ESSAY_ACTIVATION, NEGATIVE_SLOPE
from src.network.cost import COSTS, ESSAY_COST
from src.network.mlp import BACKPROPS, HAND_WRITTEN, INITS

CONF = Path(__file__).resolve().parents[1] / "conf"
FLOAT32_MAX = torch.finfo(torch.float32).max
FLOAT32_TINY = torch.finfo(torch.float32).tiny  # the smallest normal float32: a smaller rate rounds towards 0
SEED_MAX = 2**32 - 1  # numpy's and scikit-learn's limit, which seed_everything enforces too
SIZE_MAX = 2**63 - 1  # torch's largest size or index (int64): a larger count is a traceback deep in torch
DIGITS_IMAGES = 1797  # scikit-learn's digits: each split fraction must leave every class a sample
SYNTHETIC_IMAGE_BYTES = 28 * 28 * 4  # data=synthetic_mnist: one random MNIST-shaped image in float32


def memory_bytes() -> int:
    """This machine's physical memory."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


# --- one field: its default and the rule its values follow ----------------------------------------------


def setting(default: Any, allowed: str | Callable[[Any], str], valid: Callable[[Any], bool]) -> Any:
    """A dataclass field with ``default`` (``MISSING``: a rule alone, for a key whose default is in
    ``conf/<command>.yaml``) whose values must satisfy ``valid``; ``allowed`` says what is (or says it for
    the value given)."""
    make = (lambda: list(default)) if isinstance(default, list) else None
    options = {"default_factory": make} if make else {"default": default}
    return field(metadata={"allowed": allowed, "valid": valid}, **options)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def integer(default: int, minimum: int, meaning: str = "", maximum: int | None = None) -> Any:
    """An integer from ``minimum`` to ``maximum``; without a ``maximum``, up to :data:`SIZE_MAX`, which the
    message names only for a value past it."""
    what = f"{meaning} must be" if meaning else "must be"
    if maximum is None:
        return setting(
            default,
            lambda v: (
                f"{what} an integer "
                + (f"from {minimum} to {SIZE_MAX}" if is_int(v) and v > SIZE_MAX else f">= {minimum}")
            ),
            lambda v: is_int(v) and minimum <= v <= SIZE_MAX,
        )
    return setting(
        default,
        f"{what} an integer from {minimum} to {maximum}",
        lambda v: is_int(v) and minimum <= v <= maximum,
    )


def choice(default: str, choices: tuple[str, ...]) -> Any:
    return setting(
        default, f"choose one of {', '.join(choices)}", lambda v: isinstance(v, str) and v in choices
    )


def flag(default: bool) -> Any:
    return setting(default, "must be true or false", lambda v: isinstance(v, bool))


def fraction(default: float) -> Any:
    return setting(
        default, "must be a number between 0 and 1 (exclusive)", lambda v: is_number(v) and 0 < v < 1
    )


def folder(default: str) -> Any:
    """A folder's name: a plain string, not empty (``data.root=$UNSET`` would read, and with
    ``download=true`` write, the working directory); an unresolved ``${...}`` (from a checkpoint) is
    refused, never resolved."""
    return setting(
        default,
        "must name a folder: a plain string, not empty",
        lambda v: isinstance(v, str) and bool(v.strip()) and "${" not in v,
    )


def seed(default: int, meaning: str = "") -> Any:
    return integer(default, 0, meaning, SEED_MAX)


def hidden_sizes(default: list[int]) -> Any:
    return setting(
        default,
        lambda v: (
            "every hidden layer size must be an integer >= 1"
            if isinstance(v, list)
            else "must be a list of hidden layer sizes, e.g. model.hidden=[16,16] ([] for none)"
        ),
        lambda v: isinstance(v, list) and all(is_int(size) and size >= 1 for size in v),
    )


# --- the groups ---------------------------------------------------------------------------------------


MONITOR_MODES = {"val/acc": "max", "val/loss": "min", "val/acc_best": "max", "train/loss": "min"}
"""The metrics ``src.lit`` logs every epoch that a callback (``monitor``) or the plateau schedule may
watch, each with the ``mode`` of its better values: ``max``, higher; ``min``, lower."""
MONITORS = tuple(MONITOR_MODES)
SCHEDULE_MONITORS = tuple(metric for metric in MONITORS if metric.startswith("val/"))
"""What the plateau schedule may watch: it judges an epoch when its validation ends, before the epoch's
``train/loss`` is logged."""
MODES = ("max", "min")


@dataclass
class Model:
    """``conf/model/mlp.yaml``: the network between the data's inputs and classes."""

    hidden: list[int] = hidden_sizes([16, 16])  # noqa: RUF009 (a field). The essay's two hidden layers of 16
    backprop: str = choice(HAND_WRITTEN, BACKPROPS)
    init: str = choice("scaled_normal", INITS)  # not ESSAY_INIT: N(0, 1) saturates the sigmoids
    cuda_graph: str = choice("auto", CUDA_GRAPH_MODES)  # on a GPU: replay SGD steps as CUDA graphs


@dataclass
class Activation:
    """``conf/activation/*.yaml``: the hidden layers' activation (the output layer is sigmoid)."""

    name: str = choice(ESSAY_ACTIVATION, ACTIVATIONS)
    negative_slope: float = setting(  # leaky_relu's slope for x < 0
        NEGATIVE_SLOPE,
        "the slope of leaky_relu for x < 0 must be a finite number > 0",
        lambda v: is_number(v) and math.isfinite(v) and v > 0,
    )


@dataclass
class Cost:
    """``conf/cost/*.yaml``."""

    name: str = choice(ESSAY_COST, COSTS)


@dataclass
class Data:
    """What every ``conf/data/*.yaml`` holds: the mini-batches and their order."""

    batch_size: int = integer(10, 1, "the mini-batch size")
    batches_per_step: int = integer(128, 1)
    eval_batch_size: int = integer(1000, 1)
    seed: int = seed(0)

    def check(self, prefix: str) -> None:
        """Checks that relate several fields (none here)."""


@dataclass
class DigitsData(Data):
    """``conf/data/digits.yaml``: scikit-learn's 8x8 digits, split stratified by class."""

    val_fraction: float = fraction(0.1)
    test_fraction: float = fraction(0.2)
    split_seed: int = seed(0)

    def check(self, prefix: str) -> None:
        if self.val_fraction + self.test_fraction >= 1:
            raise UserError(
                f"{prefix}.val_fraction={show(self.val_fraction)} and {prefix}.test_fraction="
                f"{show(self.test_fraction)}: together they must be < 1, to leave training data"
            )
        for key in ("val_fraction", "test_fraction"):
            if getattr(self, key) * DIGITS_IMAGES < 10:
                raise UserError(
                    f"{prefix}.{key}={show(getattr(self, key))}: must hold at least one image of each of the "
                    f"10 classes: at least {10 / DIGITS_IMAGES:.4f} of the {DIGITS_IMAGES} images"
                )


@dataclass
class TorchvisionData(Data):
    """``conf/data/mnist.yaml``, ``conf/data/fashion_mnist.yaml``: torchvision's files under ``root``."""

    name: str = choice("MNIST", ("MNIST", "FashionMNIST"))
    root: str = folder("data")
    download: bool = flag(False)
    val_size: int = integer(10000, 1, "the number of validation images")
    split_seed: int = seed(0)


@dataclass
class SyntheticData(Data):
    """``conf/data/synthetic_mnist.yaml``: random MNIST-shaped data made in memory."""

    train_size: int = integer(50000, 1)
    val_size: int = integer(10000, 1)
    test_size: int = integer(10000, 1)
    split_seed: int = seed(0)

    def check(self, prefix: str) -> None:
        images = self.train_size + self.val_size + self.test_size
        needed, available = images * SYNTHETIC_IMAGE_BYTES, memory_bytes()
        if needed > available:
            raise UserError(
                f"{prefix}.train_size={self.train_size}, val_size={self.val_size}, test_size={self.test_size}: "
                f"{images} random 28x28 float32 images take {needed / 2**30:.1f} GiB, more than this machine's "
                f"{available / 2**30:.1f} GiB of memory"
            )


def data_modules() -> dict[str, tuple[type[Data], type]]:
    """The allow-list of data modules: ``data._target_`` (in a config or a checkpoint) -> its settings and
    class, matched as exact strings, never imported by name."""
    from src.data import DigitsDataModule, SyntheticDataModule, TorchvisionDataModule

    return {
        "src.data.DigitsDataModule": (DigitsData, DigitsDataModule),
        "src.data.TorchvisionDataModule": (TorchvisionData, TorchvisionDataModule),
        "src.data.SyntheticDataModule": (SyntheticData, SyntheticDataModule),
    }


BASES: dict[str, dict[str, type]] = {
    "model": {"base_mlp": Model},
    "activation": {"base_activation": Activation},
    "cost": {"base_cost": Cost},
    "data": {"base_digits": DigitsData, "base_torchvision": TorchvisionData, "base_synthetic": SyntheticData},
}
"""Each settings class's defaults, registered with Hydra as a config named ``base_<name>``, which the YAML
files of its group extend (``defaults: [/base_mlp@_here_, _self_]``: placed at the group's own key) and
then write only what makes their option what it is. Outside ``conf/<group>/``, a base is no option of the
group (``python -m src.train --help`` doesn't list it)."""


def store_bases() -> None:
    """Register :data:`BASES` in Hydra's ConfigStore, as plain values: our :func:`parse` checks them and
    says what is allowed, in one line (a typed schema would raise OmegaConf's errors first)."""
    store = ConfigStore.instance()
    for bases in BASES.values():
        for name, settings in bases.items():
            store.store(name=name, node=dataclasses.asdict(settings()), provider="src.config")


store_bases()  # before any composition: every entry point imports this module before Hydra starts


def compose_config(config_name: str, overrides: list[str]) -> DictConfig:
    """``conf/<config_name>.yaml`` with ``overrides``, composed in-process as Hydra's entry points do."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name, overrides=overrides)


def group_options(group: str, prefix: str = "") -> str:
    """``a, b or c``: the options of ``conf/<group>/`` (each written ``<prefix>a``), for error messages."""
    names = [f"{prefix}{path.stem}" for path in sorted((CONF / group).glob("*.yaml"))]
    return f"{', '.join(names[:-1])} or {names[-1]}"


OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    f"torch.optim.{name}": getattr(torch.optim, name)  # constant names, never a checkpoint's
    for name in (
        "SGD",
        "Adam",
        "AdamW",
        "RMSprop",
        "Adagrad",
        "Adadelta",
        "Adamax",
        "NAdam",
        "RAdam",
        "Rprop",
    )
}
"""The allow-list of optimizers: ``optimizer._target_`` -> torch's class, matched as exact strings."""
UNSUPPORTED_OPTIMIZERS = {
    "torch.optim.LBFGS": "needs a closure that re-evaluates the cost, and this project takes one step per mini-batch",
    "torch.optim.SparseAdam": "needs sparse gradients, and backpropagation here gives dense ones",
}
DEFAULT_OPTIMIZER = OmegaConf.to_container(OmegaConf.load(CONF / "optimizer" / "sgd.yaml"))
"""The essay's plain SGD, ``conf/optimizer/sgd.yaml``: a model (or a checkpoint) that names no optimizer."""


# --- reading a group's values ---------------------------------------------------------------------------


def parse(settings: type, values: Any, prefix: str, ignore: tuple[str, ...] = ()) -> Any:
    """``values`` (a mapping from a config or a checkpoint) as ``settings``, each value checked against its
    field's rule; a key that is not a field (a typo, ``_partial_``, ``_args_``) is refused."""
    if not isinstance(values, Mapping):
        raise UserError(f"{prefix}={show(values)}: must be a mapping of settings")
    fields = {item.name: item for item in dataclasses.fields(settings)}  # type: ignore[arg-type]
    for key, value in values.items():
        if key in ignore:
            continue
        if key not in fields:
            raise UserError(
                f"{prefix}.{key}={show(value)}: {prefix} has no setting {key}{meant(key, fields, f'{prefix}.')}; "
                f"its settings are {', '.join(fields)}"
            )
        if not fields[key].metadata["valid"](value):
            raise UserError(f"{prefix}.{key}={show(value)}: {allowed(fields[key], value)}")
    return settings(**{key: value for key, value in values.items() if key in fields})


def parse_data(values: Any, prefix: str = "data") -> tuple[Data, type]:
    """A data group (config or checkpoint): its checked settings and the data module class its
    ``_target_`` names in :func:`data_modules`."""
    target = values.get("_target_") if isinstance(values, Mapping) else None
    known = data_modules()
    if not isinstance(target, str) or target not in known:
        raise UserError(
            f"{prefix}._target_={show(target)}: must name a data module of src.data ({group_options('data', 'data=')})"
        )
    settings_class, module_class = known[target]
    settings = parse(settings_class, values, prefix, ignore=("_target_",))
    settings.check(prefix)
    return settings, module_class


def build_data(values: Mapping[str, Any]):
    """The data module a checked data group describes: its class from the allow-list, called with the
    group's settings (no ``instantiate``)."""
    settings, module_class = parse_data(values)
    return module_class(**dataclasses.asdict(settings))


def allowed_class(
    target: Any,
    prefix: str,
    allowed: Mapping[str, Any],
    unsupported: Mapping[str, str],
    kind: str,
    example: str,
) -> Any:
    """The class a group's ``_target_`` names in its allow-list ``allowed`` (the group: the last part of
    ``prefix``, e.g. ``optimizer``; ``kind``: what its classes are, ``example`` one of them); one error line
    otherwise, saying why for a class ``unsupported`` names."""
    group = prefix.rsplit(".", 1)[-1]
    if isinstance(target, str) and target in unsupported:
        raise UserError(f"{prefix}._target_={target}: {unsupported[target]}; choose another {group}")
    if not isinstance(target, str) or target not in allowed:
        raise UserError(
            f"{prefix}._target_={show(target)}: must name a {kind}, e.g. {example} (or choose "
            f"{group}={group_options(group)}; allowed: {', '.join(allowed)})"
        )
    return allowed[target]


def argument_kind(default: Any) -> tuple[str, Callable[[Any], bool]]:
    """What an optimizer's argument must be, judged by its default in torch's signature: in words, and the
    test of a value. A ``None`` default is a flag torch may choose itself (``foreach``, ``fused``)."""
    if isinstance(default, bool):
        return "true or false", lambda value: isinstance(value, bool)
    if is_number(default):
        return "a number", is_number
    if isinstance(default, tuple):
        return (
            f"a list of {len(default)} numbers",
            lambda value: (
                isinstance(value, list)
                and len(value) == len(default)
                and all(is_number(item) for item in value)
            ),
        )
    return "true, false or null", lambda value: value is None or isinstance(value, bool)


def check_optimizer_arguments(target: str, arguments: Mapping[str, Any], prefix: str) -> None:
    """Each argument that torch's optimizer ``target`` has a default for is of its default's kind: torch's
    own checks let ``dampening=[0.1]`` through to fail in the second SGD step, and fail on ``betas=[0.9]``
    with an ``IndexError``. Its other arguments (``params``) are not the configuration's."""
    defaults = {
        name: parameter.default
        for name, parameter in inspect.signature(OPTIMIZERS[target]).parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }
    for key, value in arguments.items():
        if key not in defaults:
            raise UserError(
                f"{prefix}.{key}={show(value)}: {target} takes no argument {key}; its arguments are "
                f"{', '.join(defaults)}"
            )
        kind, is_of_kind = argument_kind(defaults[key])
        if not is_of_kind(value):
            default = list(defaults[key]) if isinstance(defaults[key], tuple) else defaults[key]
            raise UserError(
                f"{prefix}.{key}={show(value)}: must be {kind} ({target}'s default: {show(default)})"
            )


def annotation_kind(annotation: Any) -> tuple[str, Callable[[Any], bool]] | None:
    """What an argument annotated ``annotation`` must be, in words and the test of a value, for the
    annotations a configuration's plain values can meet: ``bool``, ``int``, ``float`` (any number but NaN),
    ``str``, a ``Literal`` of strings, and unions of them with ``None`` (``Optional[float]``: ``a number or
    null``). ``None`` for any other (a path, a mapping, a class of its own): not judged here. Unlike
    :func:`argument_kind` this reads the annotation, not the default: Lightning's ``stopping_threshold``
    defaults to ``None`` and takes a number, and its ``patience`` defaults to ``3`` and takes only integers."""
    alternatives: list[str] = []
    tests: list[Callable[[Any], bool]] = []
    members = typing.get_args(annotation) if is_union(annotation) else (annotation,)
    for member in members:
        if member is type(None):
            alternatives.append("null")
            tests.append(lambda value: value is None)
        elif member is bool:
            alternatives += ["true", "false"]
            tests.append(lambda value: isinstance(value, bool))
        elif member is int:
            alternatives.append("an integer")
            tests.append(is_int)
        elif member is float:
            alternatives.append("a number")
            tests.append(lambda value: is_number(value) and not math.isnan(value))
        elif member is str:
            alternatives.append("a string")
            tests.append(lambda value: isinstance(value, str))
        elif typing.get_origin(member) is typing.Literal and all(
            isinstance(option, str) for option in typing.get_args(member)
        ):
            options = typing.get_args(member)
            alternatives += [show(option) for option in options]
            tests.append(lambda value, options=options: isinstance(value, str) and value in options)
        else:
            return None
    # "null" last: "a number or null", "true, false or null"
    alternatives.sort(key=lambda words: words == "null")
    words = (
        alternatives[0] if len(alternatives) == 1 else f"{', '.join(alternatives[:-1])} or {alternatives[-1]}"
    )
    return words, lambda value: any(test(value) for test in tests)


def is_union(annotation: Any) -> bool:
    """``Union[...]``, ``Optional[...]`` or ``X | Y``."""
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def class_arguments(cls: type) -> dict[str, Any]:
    """The keyword arguments ``cls`` takes, each with its annotation (``inspect.Parameter.empty`` where it
    has none, or where it can't be read), the arguments a ``**kwargs`` passes on to a base class included:
    ``src.callbacks.BestCheckpoint(*args, **kwargs)`` takes Lightning's ``ModelCheckpoint``'s."""
    arguments: dict[str, Any] = {}
    for base in cls.__mro__:
        init = base.__dict__.get("__init__")
        if init is None or base is object:
            continue
        try:
            parameters = inspect.signature(init).parameters
        except (TypeError, ValueError):  # a builtin without a signature
            return arguments
        try:
            hints = typing.get_type_hints(init)
        except (NameError, TypeError, AttributeError, SyntaxError):  # a name imported for type checkers only
            hints = {}
        for name, parameter in parameters.items():
            if parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY) and name != "self":
                arguments.setdefault(name, hints.get(name, inspect.Parameter.empty))
        if not any(parameter.kind is parameter.VAR_KEYWORD for parameter in parameters.values()):
            break
    return arguments


def rules_of(cls: type, rules: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The rules (:func:`setting` fields) ``rules`` gives the arguments of ``cls`` and of its base classes,
    each keyed by its ``module.QualName``; a class's own over its bases'."""
    found: dict[str, Any] = {}
    for base in reversed(cls.__mro__):
        found |= rules.get(f"{base.__module__}.{base.__qualname__}", {})
    return found


def check_class_arguments(
    cls: type, arguments: Mapping[str, Any], prefix: str, rules: Mapping[str, Mapping[str, Any]]
) -> None:
    """Each of ``arguments`` that ``cls`` takes follows its rule in ``rules`` (:func:`rules_of`: a range,
    a choice), else is of the kind its annotation says (:func:`annotation_kind`). A key ``cls`` doesn't
    take, or takes through ``**kwargs`` only, is left to the class, which refuses it when it is built."""
    rules = rules_of(cls, rules)
    annotations = class_arguments(cls)
    for key, value in arguments.items():
        if key in rules:
            check_value(rules[key], value, f"{prefix}.{key}")
            continue
        kind = annotation_kind(annotations.get(key, inspect.Parameter.empty))
        if kind is not None and not kind[1](value):
            raise UserError(f"{prefix}.{key}={show(value)}: must be {kind[0]}")


def optimizer_arguments(values: Any, prefix: str = "optimizer") -> tuple[type[torch.optim.Optimizer], dict]:
    """An optimizer group: torch's class its ``_target_`` names in :data:`OPTIMIZERS` and its keyword
    arguments, each of the kind of torch's default for it (:func:`check_optimizer_arguments`); the learning
    rate one torch can use."""
    target = values.get("_target_") if isinstance(values, Mapping) else None
    optimizer_class = allowed_class(
        target, prefix, OPTIMIZERS, UNSUPPORTED_OPTIMIZERS, "torch.optim optimizer class", "torch.optim.SGD"
    )
    arguments = {key: value for key, value in values.items() if key != "_target_"}
    lr = arguments.get("lr")
    if not (is_number(lr) and math.isfinite(lr) and FLOAT32_TINY <= lr <= FLOAT32_MAX):
        raise UserError(
            f"{prefix}.lr={show(lr)}: the learning rate must be a finite number > 0 (from {FLOAT32_TINY:.4g} to "
            f"{FLOAT32_MAX:.4g}, the smallest normal and the largest float32)"
        )
    check_optimizer_arguments(target, arguments, prefix)
    try:  # the optimizer's own checks of its arguments, on a throw-away parameter
        optimizer_class([torch.zeros(1, requires_grad=True)], **arguments)
    except (TypeError, ValueError) as error:
        raise UserError(f"{prefix}: {target} refuses its arguments {show(arguments)} ({error})") from None
    return optimizer_class, arguments


def build_optimizer(values: Mapping[str, Any], params) -> torch.optim.Optimizer:
    """The optimizer a checked optimizer group describes, over ``params`` (no ``instantiate``)."""
    optimizer_class, arguments = optimizer_arguments(values)
    return optimizer_class(params, **arguments)


def check_value(rule: Any, value: Any, key: str) -> None:
    """Raise :class:`UserError` unless ``value`` follows ``rule`` (a :func:`setting` field)."""
    if not rule.metadata["valid"](value):
        raise UserError(f"{key}={show(value)}: {allowed(rule, value)}")


def allowed(rule: Any, value: Any) -> str:
    """What the field ``rule`` allows, said for ``value``."""
    text = rule.metadata["allowed"]
    return text if isinstance(text, str) else text(value)


def meant(name: str, names: Iterable[str], prefix: str = "") -> str:
    """`` (did you mean <prefix><the closest of names>?)``, or nothing where none is close to ``name``."""
    close = difflib.get_close_matches(name, sorted(names), n=1)
    return f" (did you mean {prefix}{close[0]}?)" if close else ""


def show(value: Any) -> str:
    """A value as it would be written on the command line: a string that reads as a number, a flag or null
    quoted, as it has to be written to stay a string (``optimizer.lr='"1e-3"'``), and an empty or blank one
    too, to be seen. A tensor (from a checkpoint) shows its number, or only its shape: never all its
    numbers."""
    if isinstance(value, torch.Tensor):
        return show(value.tolist()) if value.numel() == 1 else f"a tensor of shape {list(value.shape)}"
    if value is None:
        return "null"
    if isinstance(value, str) and (
        looks_like_a_number(value) or not value.strip() or value.lower() in ("null", "true", "false")
    ):
        return f'"{value}"'
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(map(show, value)) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{key}: {show(item)}" for key, item in value.items()) + "}"
    return str(value)


def same(value: Any, expected: Any) -> bool:
    """Whether ``value``, read from a file, equals ``expected``: a tensor never does, and a comparison
    with no plain truth (a tensor of several numbers inside a list or mapping) is no match either."""
    try:
        return not isinstance(value, torch.Tensor) and bool(value == expected)
    except RuntimeError:  # "Boolean value of Tensor with more than one value is ambiguous"
        return False


def is_one_number(value: Any) -> bool:
    """One floating-point number (not NaN) in a tensor: a metric's value as Lightning and torchmetrics keep
    it, e.g. in a checkpoint."""
    one = isinstance(value, torch.Tensor) and value.numel() == 1 and value.is_floating_point()
    return one and not bool(value.isnan().any())


def looks_like_a_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def layer_sizes_text(sizes: list[Any]) -> str:
    """``64-16-16-10``."""
    return "-".join(map(str, sizes))
