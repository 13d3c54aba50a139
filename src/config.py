"""The settings of every configuration group: each default, choice and range written once, as a dataclass
field, and the checks that turn a bad value into one line naming the key, the value and what is allowed,
e.g. ``model.hidden=[16, 0]: every hidden layer size must be an integer >= 1``.

The same checks read a checkpoint's hyperparameters: a checkpoint is data, never instructions. Its data
module and optimizer are looked up by exact name in :data:`DATA_MODULES` and :data:`OPTIMIZERS`, never
imported or instantiated, and every value must be a plain number, string or list of numbers.

:func:`validate_train` and :func:`validate_evaluate` run first in their entry points, before seeding,
data, model, trainer or any file in the run directory. Checks that relate two things (a checkpoint and
the configuration, the network and the machine's memory, files on disk) are written out by hand below.
"""

import dataclasses
import itertools
import math
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import MISSING, dataclass, field
from pathlib import Path
from typing import Any

import torch
from hydra.core.config_store import ConfigStore
from hydra.errors import InstantiationException
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from src.cuda_graph import LIGHTNING_PRECISION_ALIASES, capturable_off_gpu, decide, refused_on
from src.cuda_graph import MODES as CUDA_GRAPH_MODES
from src.errors import UserError
from src.network.activations import ACTIVATIONS, ESSAY_ACTIVATION, NEGATIVE_SLOPE
from src.network.cost import COSTS, ESSAY_COST
from src.network.mlp import BACKPROPS, HAND_WRITTEN, INITS

CONF = Path(__file__).resolve().parents[1] / "conf"
FLOAT32_MAX = torch.finfo(torch.float32).max
SEED_MAX = 2**32 - 1  # numpy's and scikit-learn's limit, which seed_everything enforces too
PRECISIONS = (
    "32-true",
    "64-true",
    "16-mixed",
    "bf16-mixed",
    "16-true",
    "bf16-true",
    "32",
    "64",
    "16",
    "bf16",
)
DIGITS_IMAGES = 1797  # scikit-learn's digits: each split fraction must leave every class a sample


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
    what = f"{meaning} must be" if meaning else "must be"
    if maximum is None:
        return setting(default, f"{what} an integer >= {minimum}", lambda v: is_int(v) and v >= minimum)
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


def text(default: str) -> Any:
    """A plain string: an unresolved ``${...}`` (from a checkpoint) is refused, never resolved."""
    return setting(default, "must be a plain string", lambda v: isinstance(v, str) and "${" not in v)


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
    root: str = text("data")
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
"""Each settings class's defaults as a config of its group, ``conf/<group>/base_<name>``, which the group's
YAML files extend (``defaults: [base_mlp, _self_]``) and then write only what makes their option differ."""


def store_bases() -> None:
    """Register :data:`BASES` in Hydra's ConfigStore, as plain values: our :func:`parse` checks them and
    says what is allowed, in one line (a typed schema would raise OmegaConf's errors first)."""
    store = ConfigStore.instance()
    for group, bases in BASES.items():
        for name, settings in bases.items():
            store.store(name=name, group=group, node=dataclasses.asdict(settings()), provider="src.config")


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
                f"{prefix}.{key}={show(value)}: {prefix} has no setting {key}; its settings are "
                f"{', '.join(fields)}"
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


def optimizer_arguments(values: Any, prefix: str = "optimizer") -> tuple[type[torch.optim.Optimizer], dict]:
    """An optimizer group: torch's class its ``_target_`` names in :data:`OPTIMIZERS` and its keyword
    arguments, each a plain number, flag or list of numbers; the learning rate one torch can use."""
    target = values.get("_target_") if isinstance(values, Mapping) else None
    if target in UNSUPPORTED_OPTIMIZERS:
        raise UserError(
            f"{prefix}._target_={target}: {UNSUPPORTED_OPTIMIZERS[target]}; choose another optimizer"
        )
    if not isinstance(target, str) or target not in OPTIMIZERS:
        raise UserError(
            f"{prefix}._target_={show(target)}: must name a torch.optim optimizer class, e.g. torch.optim.SGD "
            f"(or choose optimizer={group_options('optimizer')}; allowed: {', '.join(OPTIMIZERS)})"
        )
    arguments = {key: value for key, value in values.items() if key != "_target_"}
    lr = arguments.get("lr")
    if not (is_number(lr) and math.isfinite(lr) and 0 < lr <= FLOAT32_MAX):
        raise UserError(
            f"{prefix}.lr={show(lr)}: the learning rate must be a finite number > 0 (at most {FLOAT32_MAX:.4g}, "
            "the largest float32)"
        )
    for key, value in arguments.items():
        plain = value is None or isinstance(value, bool) or is_number(value)
        if not (plain or (isinstance(value, list) and all(is_number(item) for item in value))):
            raise UserError(
                f"{prefix}.{key}={show(value)}: must be a number, true/false, null or a list of numbers"
            )
    optimizer_class = OPTIMIZERS[target]
    try:  # the optimizer's own checks of its arguments, on a throw-away parameter
        optimizer_class([torch.zeros(1, requires_grad=True)], **arguments)
    except (TypeError, ValueError) as error:
        raise UserError(f"{prefix}: {target} refuses its arguments {show(arguments)} ({error})") from None
    return optimizer_class, arguments


def build_optimizer(values: Mapping[str, Any], params) -> torch.optim.Optimizer:
    """The optimizer a checked optimizer group describes, over ``params`` (no ``instantiate``)."""
    optimizer_class, arguments = optimizer_arguments(values)
    return optimizer_class(params, **arguments)


# --- whole commands ----------------------------------------------------------------------------------------


def validate_train(cfg: DictConfig) -> None:
    """Check ``python -m src.train``'s configuration and, when resuming, that ``ckpt_path`` is one of our
    checkpoints, holding the network and optimizer the configuration builds."""
    from src.checkpoint import load_checkpoint

    with config_errors():
        plain = to_plain(cfg)
    refuse_unknown_top_level_keys(plain, "train")
    check_value(seed(MISSING, "the seed"), plain.get("seed"), "seed")
    check_value(flag(MISSING), plain.get("test"), "test")
    model = parse(Model, plain["model"], "model")
    parse(Activation, plain["activation"], "activation")
    parse(Cost, plain["cost"], "cost")
    optimizer_class, arguments = optimizer_arguments(plain["optimizer"])
    data, data_class = parse_data(plain["data"])
    check_data_files(data)
    check_trainer(plain["trainer"])
    optimizer = optimizer_class([torch.zeros(1, requires_grad=True)], **arguments)  # a throw-away one
    check_cuda_graph(model.cuda_graph, plain["trainer"], optimizer)
    check_scheduler(plain.get("scheduler"), optimizer)  # last: building a scheduler sets the optimizer's rate
    check_memory([data_class.in_features, *model.hidden, data_class.num_classes])
    if plain.get("ckpt_path") is not None:
        check_resume(load_checkpoint(str(plain["ckpt_path"])), plain, data_class)


def validate_evaluate(cfg: DictConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check ``python -m src.evaluate``'s configuration; returns the checkpoint and the data configuration
    to test it on (the checkpoint's, with the keys of ``cfg.data`` over it)."""
    from src.checkpoint import load_checkpoint

    require(cfg, "ckpt_path", "PATH (a .ckpt file written by python -m src.train)")
    with config_errors():
        trainer = to_plain(cfg.trainer)
    check_trainer(trainer)
    checkpoint = load_checkpoint(str(cfg.ckpt_path))
    with config_errors():
        data = evaluation_data(cfg, checkpoint["hyper_parameters"].get("data"))
    settings, data_class = parse_data(data)
    check_inputs_match(checkpoint, cfg.ckpt_path, data, data_class)
    check_data_files(settings)
    return checkpoint, data


def check_value(rule: Any, value: Any, key: str) -> None:
    """Raise :class:`UserError` unless ``value`` follows ``rule`` (a :func:`setting` field)."""
    if not rule.metadata["valid"](value):
        raise UserError(f"{key}={show(value)}: {allowed(rule, value)}")


def allowed(rule: Any, value: Any) -> str:
    """What the field ``rule`` allows, said for ``value``."""
    text = rule.metadata["allowed"]
    return text if isinstance(text, str) else text(value)


def refuse_unknown_top_level_keys(plain: dict[str, Any], config_name: str) -> None:
    """``+foo=1`` adds a key nothing reads: refuse it (a typo of a real one, most likely)."""
    known = set(OmegaConf.load(CONF / f"{config_name}.yaml")) | {p.name for p in CONF.iterdir() if p.is_dir()}
    for key in plain:
        if key not in known:
            raise UserError(
                f"{key}={show(plain[key])}: there is no setting {key}; see conf/{config_name}.yaml"
            )


def check_data_files(data: Data) -> None:
    """For MNIST/Fashion-MNIST without download: the files in ``data.root``."""
    if isinstance(data, TorchvisionData) and not data.download:
        check_dataset_files(Path(data.root).expanduser(), data.name, data.val_size)


def check_dataset_files(root: Path, name: str, val_size: int) -> None:
    """Raise :class:`UserError` unless ``root`` holds the four ``name`` IDX files (``.gz`` or extracted),
    readable, well-formed and with more training images than ``val_size``."""
    import torchvision

    from src.data import TorchvisionDataModule

    fetch = f"put the {name} files in {root / name / 'raw'}/ or add data.download=true to fetch them"
    if not root.is_dir():
        raise UserError(
            f"data.root={root} {'is not a directory' if root.exists() else 'does not exist'}: {fetch}"
        )
    raw = root / name / "raw"
    for url, _ in getattr(torchvision.datasets, name).resources:
        file = next(
            (f for f in (raw / Path(url).stem, raw / Path(url).name) if f.is_file()), raw / Path(url).name
        )
        if not file.is_file():
            raise UserError(f"data.root={root} holds no {name} data (missing {file}): {fetch}")
        if not os.access(file, os.R_OK):
            raise UserError(f"data.root={root}: {file} can't be read (permission denied)")
    TorchvisionDataModule(name=name, root=str(root), val_size=val_size).check()


def check_trainer(trainer: dict[str, Any]) -> None:
    """What Lightning would accept and this project can't do, or would only fail on later; Lightning
    checks the rest when the trainer is built."""
    if "max_epochs" in trainer:
        check_value(integer(MISSING, 1, "the number of epochs"), trainer["max_epochs"], "trainer.max_epochs")
    precision = trainer.get("precision", "32-true")
    if str(precision) not in PRECISIONS or isinstance(precision, bool | float):
        raise UserError(f"trainer.precision={show(precision)}: choose one of {', '.join(PRECISIONS[:6])}")
    for key in ("num_nodes", "check_val_every_n_epoch"):
        if trainer.get(key) is not None:
            check_value(integer(MISSING, 1), trainer[key], f"trainer.{key}")
    if trainer.get("accumulate_grad_batches", 1) != 1:
        raise UserError(
            f"trainer.accumulate_grad_batches={show(trainer['accumulate_grad_batches'])}: training takes one "
            "SGD step per mini-batch; for steps over more samples raise data.batch_size instead"
        )
    if trainer.get("gradient_clip_val") is not None:
        raise UserError(
            f"trainer.gradient_clip_val={show(trainer['gradient_clip_val'])}: not supported: training steps "
            "by hand (manual optimization), where Lightning does not clip; lower optimizer.lr instead"
        )
    devices, cores = trainer.get("devices", 1), os.cpu_count() or 1
    if trainer.get("accelerator") == "cpu" and is_int(devices) and devices > cores:
        raise UserError(
            f"trainer.devices={devices}: more CPU processes than this machine's {cores} cores would only "
            f"compete for them; choose at most {cores}"
        )


def check_cuda_graph(mode: str, trainer: dict[str, Any], optimizer: torch.optim.Optimizer) -> None:
    """What the configuration alone shows about the run (a CPU trainer, the precision, the optimizer,
    here built on a throw-away parameter) allows ``model.cuda_graph=on`` and ``optimizer.capturable``.
    What only the started run knows (``accelerator=auto``, the number of processes) is checked by
    :func:`src.cuda_graph.chunk_graphs_for`."""
    device_type = "cpu" if trainer.get("accelerator") == "cpu" else "cuda"  # gpu or auto: known later
    refusal = capturable_off_gpu(device_type, optimizer)
    if refusal is not None:
        raise UserError(refusal)
    if mode == "on":
        precision = str(trainer.get("precision", "32-true"))
        precision = LIGHTNING_PRECISION_ALIASES.get(precision, precision)
        decision = decide(mode, device_type, precision, 1, optimizer)
        if not decision.use_graph:
            raise UserError(refused_on(decision.reason))


def check_scheduler(values: Any, optimizer: torch.optim.Optimizer) -> None:
    """The ``scheduler`` group (``conf/scheduler/``): empty (a constant rate), or a learning-rate
    scheduler that accepts its arguments, built here over ``optimizer`` (a throw-away one)."""
    import hydra

    if not values:
        return
    arguments = {key: value for key, value in values.items() if key not in ("_target_", "monitor")}
    if "_target_" not in values:  # e.g. experiment=essay_mnist's plateau settings with scheduler=none
        raise UserError(
            f"scheduler={show(values)}: settings without a scheduler to take them; choose one with "
            f"scheduler={group_options('scheduler')}"
        )
    try:
        scheduler = hydra.utils.instantiate(
            {"_target_": values["_target_"], **arguments}, optimizer=optimizer, _convert_="all"
        )
    except InstantiationException as error:
        cause = error.__cause__ or error
        raise UserError(
            f"scheduler: {values['_target_']} refuses its arguments {show(arguments)} "
            f"({' '.join(str(cause).split())})"
        ) from None
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau) and not values.get("monitor"):
        raise UserError("scheduler.monitor is missing: ReduceLROnPlateau needs a metric, e.g. val/acc")


def check_memory(sizes: list[int]) -> None:
    """Refuse a network whose weights and gradients alone (float32) would not fit in this machine's memory,
    before allocating them."""
    count = sum(n_out * (n_in + 1) for n_in, n_out in itertools.pairwise(sizes))
    needed, available = 2 * 4 * count, os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if needed > available:
        raise UserError(
            f"model.hidden={show(sizes[1:-1])}: a {layer_sizes_text(sizes)} network has {count} weights and "
            f"biases, {needed / 2**30:.1f} GiB with their gradients in float32, more than this machine's "
            f"{available / 2**30:.1f} GiB of memory"
        )


def evaluation_data(cfg: DictConfig, trained: dict[str, Any] | None) -> dict[str, Any]:
    """The data to test on: the checkpoint's (``trained``) with ``cfg.data``'s keys over it, or
    ``cfg.data`` alone where it names another data module (``data=mnist`` for a digits checkpoint)."""
    if trained is not None:  # never download into a folder a checkpoint names; data.download=true may
        trained = {key: value for key, value in trained.items() if key != "download"}
    if cfg.get("data") is None:
        if trained is None:
            raise UserError(
                f"ckpt_path={cfg.ckpt_path} doesn't record its training data: pass {group_options('data', 'data=')}"
            )
        return trained
    with open_dict(cfg):  # the data groups' `seed: ${seed}`; the seed only shuffles training data
        cfg.setdefault("seed", (trained or {}).get("seed", 0))
    override = to_plain(cfg.data)
    if trained is None or override.get("_target_", trained["_target_"]) != trained["_target_"]:
        return override
    return {**trained, **override}


def check_inputs_match(checkpoint: dict[str, Any], path: Any, data: dict[str, Any], data_class: type) -> None:
    """Raise :class:`UserError` unless the data has as many inputs and classes as the checkpoint's network."""
    from src.checkpoint import network_sizes

    hparams = checkpoint["hyper_parameters"]
    found = (data_class.in_features, data_class.num_classes)
    if (hparams["in_features"], hparams["num_classes"]) != found:
        name = f" {data['name']}" if "name" in data else ""
        raise UserError(
            f"ckpt_path={path}: its {layer_sizes_text(network_sizes(hparams))} network takes "
            f"{hparams['in_features']} inputs and {hparams['num_classes']} classes, but the data "
            f"({data_class.__name__}{name}) has {found[0]} inputs and {found[1]} classes: evaluate it on the "
            "data it was trained on (leave out data=...)"
        )


def check_resume(checkpoint: dict[str, Any], plain: dict[str, Any], data_class: type) -> None:
    """Raise :class:`UserError` unless the checkpoint holds the network and optimizer the configuration
    builds: resuming restores its weights and optimizer state, which only fit those."""
    from src.checkpoint import network_sizes

    hparams = checkpoint["hyper_parameters"]
    activation = dataclasses.asdict(parse(Activation, plain["activation"], "activation"))
    settings = {  # name: (trained, configured)
        "layer sizes": (
            network_sizes(hparams),
            [data_class.in_features, *plain["model"]["hidden"], data_class.num_classes],
        ),
        "activation": (activation_text(hparams["activation"]), activation_text(activation)),
        "cost": (hparams["cost"], plain["cost"]["name"]),
        "optimizer": (hparams["optimizer"], plain["optimizer"]),
    }
    differences = [
        f"{name} {show_sizes_or_value(trained)} (configured: {show_sizes_or_value(configured)})"
        for name, (trained, configured) in settings.items()
        if trained != configured
    ]
    if differences:
        raise UserError(
            f"ckpt_path={plain['ckpt_path']} was trained with {'; '.join(differences)}: resuming restores "
            "its weights and optimizer state, so give the configuration it was trained with, or leave out "
            "ckpt_path to start a new run"
        )


# --- small helpers --------------------------------------------------------------------------------------


@contextmanager
def config_errors() -> Iterator[None]:
    """Turn OmegaConf's errors (a ``???`` value left missing, a broken ``${...}`` interpolation) into a
    :class:`UserError` naming the key."""
    try:
        yield
    except OmegaConfBaseException as error:
        key = getattr(error, "full_key", None) or "config"
        message = " ".join(str(getattr(error, "msg", None) or error).split("full_key:")[0].split())
        raise UserError(f"{key}: {message}") from None


@contextmanager
def refused_arguments(key: str) -> Iterator[None]:
    """Turn an error raised while instantiating config group ``key`` into a :class:`UserError` naming it:
    e.g. a Trainer argument Lightning refuses (``trainer.accelerator=gpu`` on a machine without one)."""
    try:
        yield
    except InstantiationException as error:
        cause = error.__cause__ or error
        raise UserError(f"{key}: {type(cause).__name__}: {' '.join(str(cause).split())}") from None


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
    bad value; Hydra's own report is many lines and exit code 1."""
    from src.cli import EXIT_USER_ERROR, report

    arguments = sys.argv[1:] if argv is None else argv
    try:
        refuse_unknown_group_options(arguments)
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
    """An override of a key the configuration lacks (``foo=1``, ``model.hiddden=[4]``): compose the
    configuration first. Sweeps and Hydra's own flags (``-m``, ``--cfg``) are left to Hydra."""
    from hydra.errors import HydraException

    if any(argument.startswith("-") for argument in arguments):
        return
    overrides = [argument for argument in arguments if not argument.lstrip("+~").startswith("hydra")]
    try:
        compose_config(config_name, overrides)
    except HydraException as error:
        message = " ".join(str(error).split())
        for argument in overrides:
            key = argument.lstrip("+~").partition("=")[0]
            if f"Could not override '{key}'" in message:
                message = f"{argument}: there is no setting {key} (to add a new key, write +{argument})"
                break
        raise UserError(message) from None


def to_plain(node: Any) -> Any:
    """A config node as plain Python values, interpolations resolved."""
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def require(cfg: DictConfig, key: str, example: str) -> None:
    """Raise :class:`UserError` if the mandatory ``key`` (``???`` in the config file) was not given."""
    if OmegaConf.is_missing(cfg, key):
        raise UserError(f"{key} is missing: pass {key}={example}")


def show(value: Any) -> str:
    """A value as it would be written on the command line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(map(show, value)) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{key}: {show(item)}" for key, item in value.items()) + "}"
    return str(value)


def activation_text(activation: Mapping[str, Any]) -> str:
    """``tanh``, or ``leaky_relu(negative_slope=0.01)``: the slope only matters to leaky_relu."""
    if activation["name"] != "leaky_relu":
        return activation["name"]
    return f"leaky_relu(negative_slope={show(activation['negative_slope'])})"


def layer_sizes_text(sizes: list[Any]) -> str:
    """``64-16-16-10``."""
    return "-".join(map(str, sizes))


def show_sizes_or_value(value: Any) -> str:
    """Layer sizes as ``64-16-16-10``, anything else as :func:`show` writes it."""
    return layer_sizes_text(value) if isinstance(value, list) else show(value)
