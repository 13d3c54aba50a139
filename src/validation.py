"""Checks of a composed configuration before anything is built: a bad value ends in a
:class:`~src.errors.UserError` naming the key, the value and what is allowed, e.g.
``model.hidden=[16, 0]: every hidden layer size must be an integer >= 1``.

:func:`validate_train` and :func:`validate_evaluate` run first in their entry points, before seeding,
data, model, trainer or any file in the run directory; the ``check_*`` functions are the pieces.
"""

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from hydra.errors import InstantiationException
from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from src.checkpoint import describe, load_checkpoint, network_sizes
from src.cuda_graph import check_cuda_graph
from src.errors import UserError
from src.network.activations import ACTIVATIONS
from src.network.cost import COSTS
from src.network.mlp import BACKPROPS, INITS

FLOAT32_MAX = torch.finfo(torch.float32).max
SEED_MAX = 2**32 - 1  # numpy's limit, which seed_everything enforces
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
DATA_CHOICES = "data=digits, data=mnist, data=fashion_mnist or data=synthetic_mnist"


def validate_train(cfg: DictConfig) -> None:
    """Check ``python -m src.train``'s configuration and, when resuming, that ``ckpt_path`` is one of our
    checkpoints, holding the network and optimizer the configuration builds."""
    with config_errors():
        plain = to_plain(cfg)
    check_seed(plain.get("seed"), "seed")
    check_bool(plain.get("test"), "test")
    check_model(plain["model"], plain["activation"], plain["cost"])
    check_optimizer(plain["optimizer"])
    data_class = check_data(plain["data"])
    check_trainer(plain["trainer"])
    check_cuda_graph(plain["model"], plain["trainer"], plain["optimizer"])
    if plain.get("ckpt_path") is not None:
        check_resume(load_checkpoint(str(plain["ckpt_path"])), plain, data_class)


def validate_evaluate(cfg: DictConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check ``python -m src.evaluate``'s configuration; returns the checkpoint and the data configuration
    to test it on (the checkpoint's, with the keys of ``cfg.data`` over it)."""
    require(cfg, "ckpt_path", "PATH (a .ckpt file written by python -m src.train)")
    with config_errors():
        trainer = to_plain(cfg.trainer)
    check_trainer(trainer)
    checkpoint = load_checkpoint(str(cfg.ckpt_path))
    with config_errors():
        data = evaluation_data(cfg, checkpoint["hyper_parameters"].get("data"))
    check_inputs_match(checkpoint, cfg.ckpt_path, data, data_module_class(data))
    check_data(data)
    return checkpoint, data


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
    if isinstance(value, list):
        return "[" + ", ".join(map(show, value)) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {show(item)}" for key, item in value.items()) + "}"
    return str(value)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_int(value: Any, key: str, minimum: int, meaning: str = "") -> None:
    if not (is_int(value) and value >= minimum):
        what = f"{meaning} must be" if meaning else "must be"
        raise UserError(f"{key}={show(value)}: {what} an integer >= {minimum}")


def check_bool(value: Any, key: str) -> None:
    if not isinstance(value, bool):
        raise UserError(f"{key}={show(value)}: must be true or false")


def check_choice(value: Any, key: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise UserError(f"{key}={show(value)}: choose one of {', '.join(choices)}")


def check_seed(value: Any, key: str) -> None:
    if not (is_int(value) and 0 <= value <= SEED_MAX):
        raise UserError(f"{key}={show(value)}: the seed must be an integer from 0 to {SEED_MAX}")


def check_model(model: dict[str, Any], activation: dict[str, Any], cost: dict[str, Any]) -> None:
    """Hidden layer sizes, backprop and init choices, the activation and the cost."""
    hidden = model.get("hidden")
    if not isinstance(hidden, list):
        raise UserError(
            f"model.hidden={show(hidden)}: must be a list of hidden layer sizes, e.g. model.hidden=[16,16] "
            "([] for none)"
        )
    if not all(is_int(size) and size >= 1 for size in hidden):
        raise UserError(f"model.hidden={show(hidden)}: every hidden layer size must be an integer >= 1")
    check_choice(model.get("backprop", "manual"), "model.backprop", BACKPROPS)
    check_choice(model.get("init", "normal"), "model.init", INITS)
    check_choice(activation.get("name"), "activation.name", ACTIVATIONS)
    if activation["name"] == "leaky_relu":
        slope = activation.get("negative_slope")
        if not (is_number(slope) and math.isfinite(slope) and slope > 0):
            raise UserError(
                f"activation.negative_slope={show(slope)}: the slope of leaky_relu for x < 0 must be a "
                "finite number > 0"
            )
    check_choice(cost.get("name"), "cost.name", COSTS)


def named_subclass(target: Any, base: type) -> type | None:
    """The class a ``_target_`` names, if it is a subclass of ``base``; else ``None``."""
    try:
        named = get_class(str(target))
    except Exception:
        return None
    return named if isinstance(named, type) and issubclass(named, base) else None


def check_optimizer(optimizer: dict[str, Any]) -> None:
    """A ``torch.optim`` class, a learning rate torch can use, and arguments the class accepts."""
    target = optimizer.get("_target_")
    optimizer_class = named_subclass(target, torch.optim.Optimizer)
    if optimizer_class is None:
        raise UserError(
            f"optimizer._target_={show(target)}: must name a torch.optim optimizer class, e.g. torch.optim.SGD "
            "(or choose optimizer=sgd, momentum, adam, adamw or rmsprop)"
        )
    lr = optimizer.get("lr")
    if not (is_number(lr) and math.isfinite(lr) and 0 < lr <= FLOAT32_MAX):
        raise UserError(
            f"optimizer.lr={show(lr)}: the learning rate must be a finite number > 0 (at most {FLOAT32_MAX:.4g}, "
            "the largest float32)"
        )
    arguments = {name: value for name, value in optimizer.items() if name != "_target_"}
    try:
        optimizer_class([torch.zeros(1, requires_grad=True)], **arguments)
    except (TypeError, ValueError) as error:
        raise UserError(f"optimizer: {target} refuses its arguments {show(arguments)} ({error})") from None


def data_module_class(data: dict[str, Any]) -> type:
    """The data module class ``data._target_`` names, one of :mod:`src.data`'s."""
    from src.data import InMemoryDataModule

    target = data.get("_target_")
    data_class = named_subclass(target, InMemoryDataModule)
    if data_class is None:
        raise UserError(f"data._target_={show(target)}: must name a data module of src.data ({DATA_CHOICES})")
    return data_class


def check_data(data: dict[str, Any]) -> type:
    """Batch sizes, split settings and, for MNIST/Fashion-MNIST without download, the files in
    ``data.root``; returns the data module class."""
    from src.data import DigitsDataModule, TorchvisionDataModule

    data_class = data_module_class(data)
    check_int(data.get("batch_size", 10), "data.batch_size", 1, "the mini-batch size")
    check_int(data.get("batches_per_step", 64), "data.batches_per_step", 1)
    check_int(data.get("eval_batch_size", 1000), "data.eval_batch_size", 1)
    check_int(data.get("seed", 0), "data.seed", 0)
    check_int(data.get("split_seed", 0), "data.split_seed", 0)
    if issubclass(data_class, DigitsDataModule):
        fractions = {
            key: data.get(key, default) for key, default in (("val_fraction", 0.1), ("test_fraction", 0.2))
        }
        for key, value in fractions.items():
            if not (is_number(value) and 0 < value < 1):
                raise UserError(f"data.{key}={show(value)}: must be a number between 0 and 1 (exclusive)")
        if sum(fractions.values()) >= 1:
            raise UserError(
                f"data.val_fraction={show(fractions['val_fraction'])} and data.test_fraction="
                f"{show(fractions['test_fraction'])}: together they must be < 1, to leave training data"
            )
    if issubclass(data_class, TorchvisionDataModule):
        name = data.get("name", "MNIST")
        check_choice(name, "data.name", TorchvisionDataModule.DATASETS)
        check_int(data.get("val_size", 10000), "data.val_size", 1, "the number of validation images")
        download = data.get("download", False)
        check_bool(download, "data.download")
        if not download:
            check_dataset_files(Path(str(data.get("root", "data"))).expanduser(), name)
    return data_class


def check_dataset_files(root: Path, name: str) -> None:
    """Raise :class:`UserError` unless ``root`` holds torchvision's uncompressed ``name`` files."""
    import torchvision

    fetch = f"put the {name} files in {root / name / 'raw'}/ or add data.download=true to fetch them"
    if not root.is_dir():
        raise UserError(
            f"data.root={root} {'is not a directory' if root.exists() else 'does not exist'}: {fetch}"
        )
    raw = root / name / "raw"
    for url, _ in getattr(torchvision.datasets, name).resources:
        file = raw / Path(url).stem
        if not file.is_file():
            raise UserError(f"data.root={root} holds no {name} data (missing {file}): {fetch}")
        if not os.access(file, os.R_OK):
            raise UserError(f"data.root={root}: {file} can't be read (permission denied)")


def check_trainer(trainer: dict[str, Any]) -> None:
    """The number of epochs and the precision; Lightning checks the rest when the trainer is built."""
    if "max_epochs" in trainer:
        check_int(trainer["max_epochs"], "trainer.max_epochs", 1, "the number of epochs")
    precision = trainer.get("precision", "32-true")
    if str(precision) not in PRECISIONS or isinstance(precision, bool | float):
        raise UserError(f"trainer.precision={show(precision)}: choose one of {', '.join(PRECISIONS[:6])}")


def evaluation_data(cfg: DictConfig, trained: dict[str, Any] | None) -> dict[str, Any]:
    """The data to test on: the checkpoint's (``trained``) with ``cfg.data``'s keys over it, or
    ``cfg.data`` alone where it names another data module (``data=mnist`` for a digits checkpoint)."""
    override = cfg.get("data")
    if override is None:
        if trained is None:
            raise UserError(
                f"ckpt_path={cfg.ckpt_path} doesn't record its training data: pass {DATA_CHOICES}"
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
    hparams = checkpoint["hyper_parameters"]
    found = (data_class.in_features, data_class.num_classes)
    if (hparams["in_features"], hparams["num_classes"]) != found:
        name = f" {data['name']}" if "name" in data else ""
        raise UserError(
            f"ckpt_path={path}: its {describe(network_sizes(hparams))} network takes {hparams['in_features']} "
            f"inputs and {hparams['num_classes']} classes, but the data ({data_class.__name__}{name}) has "
            f"{found[0]} inputs and {found[1]} classes: evaluate it on the data it was trained on (leave "
            "out data=...)"
        )


def check_resume(checkpoint: dict[str, Any], plain: dict[str, Any], data_class: type) -> None:
    """Raise :class:`UserError` unless the checkpoint holds the network and optimizer the configuration
    builds: resuming restores its weights and optimizer state, which only fit those."""
    hparams = checkpoint["hyper_parameters"]
    activation = plain["activation"]
    settings = {  # name: (trained, configured)
        "layer sizes": (
            network_sizes(hparams),
            [data_class.in_features, *plain["model"]["hidden"], data_class.num_classes],
        ),
        "activation": (hparams.get("activation", "sigmoid"), activation["name"]),
        "cost": (hparams.get("cost", "mse"), plain["cost"]["name"]),
        "optimizer": (hparams.get("optimizer") or {}, plain["optimizer"]),
    }
    if activation["name"] == "leaky_relu":
        settings["activation.negative_slope"] = (hparams.get("negative_slope"), activation["negative_slope"])
    differences = [
        f"{name} {shown(trained)} (configured: {shown(configured)})"
        for name, (trained, configured) in settings.items()
        if trained != configured
    ]
    if differences:
        raise UserError(
            f"ckpt_path={plain['ckpt_path']} was trained with {'; '.join(differences)}: resuming restores "
            "its weights and optimizer state, so give the configuration it was trained with, or leave out "
            "ckpt_path to start a new run"
        )


def shown(value: Any) -> str:
    """Layer sizes as ``64-16-16-10``, anything else as :func:`show` writes it."""
    return describe(value) if isinstance(value, list) else show(value)
