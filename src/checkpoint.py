"""Our checkpoints on disk: written atomically, read safely.

Reading: ``torch.load(weights_only=True)`` only, so a file can't run code; every way a file can fail to
be one of our checkpoints (missing, unreadable, empty, truncated, random bytes, another program's pickle,
a pickle that would run code, hyperparameters that don't describe our network) ends in a
:class:`~src.errors.UserError` naming the file and what is wrong.

Writing: :class:`AtomicCheckpointIO` writes each checkpoint to a temporary file in the same directory,
flushes it to disk and renames it over the target, so a crash or kill during a save leaves the previous
file (``last.ckpt``) intact. Lightning's own ``TorchCheckpointIO`` stages the file in the system's
temporary directory and moves it into place, which is a copy, not a rename, wherever ``/tmp`` is another
file system (tmpfs on many Linux distributions): a kill during that copy leaves half a checkpoint.
"""

import dataclasses
import itertools
import os
import pickle
import re
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from fsspec.implementations.local import LocalFileSystem
from lightning.fabric.utilities.cloud_io import get_filesystem
from lightning.pytorch.plugins.io import TorchCheckpointIO
from torch import Tensor

from src.config import DEFAULT_OPTIMIZER, is_one_number, layer_sizes_text, show
from src.errors import UserError
from src.precisions import DEFAULT_PRECISION, PRECISIONS

WRITTEN_BY = "give a .ckpt file written by python -m src.train"
REQUIRED_HPARAMS = ("in_features", "num_classes", "hidden")
CHECKPOINT_KEY = "ckpt_path"  # the config key every command names its checkpoint by


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint at ``path`` (the value of config key :data:`CHECKPOINT_KEY`) as plain containers and
    tensors, on the CPU, after checking it holds one of our networks."""
    if not str(path).strip():  # Path("") would be the current directory
        raise UserError(f"{CHECKPOINT_KEY} is empty: {WRITTEN_BY}")
    # a value Hydra parsed as a number, a list, ...: the file name it was written as (ckpt_path=123)
    path = Path(path if isinstance(path, str | Path) else str(path)).expanduser()
    where = f"{CHECKPOINT_KEY}={path}"
    check_readable_file(path, CHECKPOINT_KEY, WRITTEN_BY)
    if path.stat().st_size == 0:
        raise UserError(f"{where} is an empty file: {WRITTEN_BY}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. torch's note on the pickle protocol of a foreign file
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        refused = re.search(r"GLOBAL ([\w.]+)", str(error))
        if refused:
            raise UserError(
                f"{where} was refused and not executed: loading it would call {refused.group(1)}, and "
                "checkpoints are loaded with weights_only=True, which allows only tensors and plain "
                f"containers; {WRITTEN_BY} (never load a file from an untrusted source without it)"
            ) from None
        raise UserError(f"{where} is not a checkpoint ({short_reason(error)}): {WRITTEN_BY}") from None
    except Exception as error:
        raise UserError(
            f"{where} is not a readable checkpoint, truncated or corrupt ({short_reason(error)}): {WRITTEN_BY}"
        ) from None
    check_structure(checkpoint, where)
    return checkpoint


def check_readable_file(path: Path, key: str, wanted: str) -> None:
    """Raise :class:`UserError` unless ``path`` (config key ``key``) is an existing, readable file."""
    where = f"{key}={path}"
    if not path.exists():
        raise UserError(f"{where} does not exist: {wanted}")
    if path.is_dir():
        raise UserError(f"{where} is a directory: {wanted}")
    if not path.is_file():  # a device (/dev/urandom), a pipe or a socket: reading it may never end
        raise UserError(f"{where} is not a regular file: {wanted}")
    if not os.access(path, os.R_OK):
        raise UserError(f"{where} can't be read (permission denied): {wanted}")


def short_reason(error: BaseException) -> str:
    """The informative part of a loading error, on one line."""
    text = str(error)
    detail = re.search(r"WeightsUnpickler error:\s*(.+)", text)
    if detail:
        text = detail.group(1)
    text = " ".join(text.split())
    first_sentence = text.split(". ")[0].rstrip(".")
    return f"{type(error).__name__}: {first_sentence}" if first_sentence else type(error).__name__


WEIGHT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
"""The dtypes a trained network's parameters can have (``trainer.precision``)."""


def check_structure(checkpoint: Any, where: str) -> None:
    """Raise :class:`UserError` unless ``checkpoint`` is a dict with our network's hyperparameters (plain
    data, see :func:`checked_hparams`, which replace the file's), a finite floating-point parameter
    vector of the size they imply and, where it records one, a ``trainer.precision`` this project knows."""
    if not isinstance(checkpoint, dict):
        raise UserError(f"{where} holds a {type(checkpoint).__name__}, not a checkpoint: {WRITTEN_BY}")
    hparams, state = checkpoint.get("hyper_parameters"), checkpoint.get("state_dict")
    if not isinstance(hparams, dict) or not isinstance(state, dict):
        raise UserError(f"{where} has no hyper_parameters and state_dict of a network: {WRITTEN_BY}")
    missing = [name for name in REQUIRED_HPARAMS if name not in hparams]
    if missing:
        raise UserError(
            f"{where}: its hyper_parameters lack {', '.join(missing)}, so they don't describe this "
            f"project's network: {WRITTEN_BY}"
        )
    try:
        checkpoint["hyper_parameters"] = hparams = checked_hparams(hparams)
    except UserError as error:
        raise UserError(f"{where}: {error}: {WRITTEN_BY}") from None
    sizes = network_sizes(hparams)
    params = state.get("net.params")
    expected = sum(n_out * (n_in + 1) for n_in, n_out in itertools.pairwise(sizes))
    if not isinstance(params, Tensor) or params.dim() != 1 or params.numel() != expected:
        found = "none" if not isinstance(params, Tensor) else f"shape {list(params.shape)}"
        raise UserError(
            f"{where}: its hyper_parameters describe a {layer_sizes_text(sizes)} network with {expected} "
            f"weights and biases, but its state_dict's net.params has {found}: {WRITTEN_BY}"
        )
    if params.layout != torch.strided:
        raise UserError(
            f"{where}: its state_dict's net.params is a sparse tensor ({params.layout}), not a dense vector"
        )
    if params.dtype not in WEIGHT_DTYPES:
        raise UserError(
            f"{where}: its state_dict's net.params holds {params.dtype}, not weights in float16, bfloat16, "
            "float32 or float64"
        )
    if params.stride() == (0,):  # one stored number for every weight: any computation would expand it
        raise UserError(
            f"{where}: its state_dict's net.params is one stored value repeated {expected} times (stride 0), "
            f"not a vector of {expected} weights"
        )
    if not bool(torch.isfinite(params).all()):
        raise UserError(
            f"{where}: its state_dict's net.params holds {int((~torch.isfinite(params)).sum())} NaN or "
            "infinite weights: it was saved from a run that diverged; give a checkpoint saved before that"
        )
    check_metric_states(state, where)
    precision = checkpoint.get("precision")  # older checkpoints don't record it
    if precision is not None and not (isinstance(precision, str) and precision in PRECISIONS):
        raise UserError(
            f"{where}: its precision={show(precision)} is not one of {', '.join(PRECISIONS)}: {WRITTEN_BY}"
        )


def check_metric_states(state: dict[str, Any], where: str) -> None:
    """Besides the weights, a checkpoint's ``state_dict`` may hold only the running values of the network's
    metrics (:func:`metric_states`), each one number (not NaN) in a tensor: torchmetrics takes them as they
    are, and a string or a vector there failed with a traceback when testing or at the epoch's end."""
    shapes = metric_states()
    for key, value in state.items():
        if key == "net.params":
            continue
        if key not in shapes:
            raise UserError(
                f"{where}: its state_dict holds {key}, which this project's network has not (it has "
                f"net.params, {', '.join(shapes)}): {WRITTEN_BY}"
            )
        if not (is_one_number(value) and value.shape == shapes[key]):
            raise UserError(
                f"{where}: its state_dict's {key} is {show(value)}, not one number (not NaN) in a tensor: "
                f"{WRITTEN_BY}"
            )


def metric_states() -> dict[str, torch.Size]:
    """The entries of :class:`~src.lit.MLPClassifier`'s ``state_dict`` besides ``net.params``, and their
    shapes: those of the smallest network, since its metrics' states don't depend on its sizes."""
    from src.lit import MLPClassifier

    state = MLPClassifier(1, 2, hidden=[]).state_dict()
    return {key: value.shape for key, value in state.items() if key != "net.params"}


DTYPE_PRECISIONS = {torch.float64: "64-true", torch.float16: "16-true", torch.bfloat16: "bf16-true"}
"""What a checkpoint written before it recorded its ``trainer.precision`` was trained at, by the dtype of
its weights (float32 weights: ``32-true``, or a mixed precision it did not record)."""


def trained_precision(checkpoint: dict[str, Any]) -> str:
    """The ``trainer.precision`` the checkpoint (checked by :func:`check_structure`) was trained at."""
    params = checkpoint["state_dict"]["net.params"]
    return checkpoint.get("precision", DTYPE_PRECISIONS.get(params.dtype, DEFAULT_PRECISION))


HPARAMS = (
    "in_features",
    "num_classes",
    "hidden",
    "activation",
    "cost",
    "backprop",
    "init",
    "optimizer",
    "data",
)
"""What :class:`~src.lit.MLPClassifier` records; checkpoints written before the activation became one
setting also hold ``negative_slope``."""


def checked_hparams(hparams: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint's hyperparameters as the plain values :class:`~src.lit.MLPClassifier` takes, each
    checked by the configuration's own rules (:mod:`src.config`); any other key or value (a nested
    ``_target_``, ``_partial_``, a ``${...}`` string, ...) is refused with :class:`UserError`."""
    from src.config import (
        Activation,
        Cost,
        Model,
        check_value,
        integer,
        optimizer_arguments,
        parse,
        parse_data,
    )

    for key, value in hparams.items():
        if key not in (*HPARAMS, "negative_slope"):
            raise UserError(f"hyper_parameters.{key}={show(value)}: not a setting of this project's network")
    for key in ("in_features", "num_classes"):
        check_value(integer(1, 1), hparams[key], f"hyper_parameters.{key}")
    activation = hparams.get("activation", Activation.name)
    if isinstance(activation, str):  # an older checkpoint: the name, and the slope beside it
        activation = {
            "name": activation,
            "negative_slope": hparams.get("negative_slope", Activation.negative_slope),
        }
    elif "negative_slope" in hparams:
        raise UserError("hyper_parameters.negative_slope: belongs in hyper_parameters.activation")
    model = parse(
        Model,
        {key: hparams[key] for key in ("hidden", "backprop", "init") if key in hparams},
        "hyper_parameters",
    )
    cost = hparams.get("cost", Cost.name)
    check_value(Cost.__dataclass_fields__["name"], cost, "hyper_parameters.cost")
    optimizer = hparams.get("optimizer")
    if optimizer is None or optimizer == {}:  # a tensor: no truth, but no optimizer either
        optimizer = dict(DEFAULT_OPTIMIZER)
    optimizer_arguments(optimizer, "hyper_parameters.optimizer")
    data = hparams.get("data")
    if data is not None:
        parse_data(data, "hyper_parameters.data")
    return {
        "in_features": hparams["in_features"],
        "num_classes": hparams["num_classes"],
        **dataclasses.asdict(model),
        "activation": dataclasses.asdict(parse(Activation, activation, "hyper_parameters.activation")),
        "cost": cost,
        "optimizer": optimizer,
        "data": data,
    }


def network_sizes(hparams: dict[str, Any]) -> list[Any]:
    """Layer sizes, input first: ``[in_features, *hidden, num_classes]``."""
    return [hparams["in_features"], *hparams["hidden"], hparams["num_classes"]]


def load_model(path: str | Path):
    """The :class:`~src.lit.MLPClassifier` the checkpoint at ``path`` holds, in evaluation mode: the whole
    safe load (:func:`load_checkpoint`), for every command that opens a checkpoint."""
    return model_from(load_checkpoint(path))


def model_from(checkpoint: dict[str, Any], dtype: torch.dtype = torch.float32):
    """The :class:`~src.lit.MLPClassifier` of a checkpoint :func:`load_checkpoint` returned, its weights
    loaded into a network of ``dtype`` (float64 keeps a ``64-true`` checkpoint's weights as they are)."""
    from src.lit import MLPClassifier

    model = MLPClassifier(**checkpoint["hyper_parameters"]).to(dtype)
    model.load_state_dict(checkpoint["state_dict"])  # check_structure checked every entry
    return model.eval()


def finite_weights(state_dict: dict[str, Any]) -> bool:
    """Whether every floating-point tensor of ``state_dict`` is finite."""
    return all(
        bool(torch.isfinite(value).all())
        for value in state_dict.values()
        if isinstance(value, Tensor) and value.is_floating_point()
    )


@contextmanager
def replaced_atomically(path: Path) -> Iterator[Path]:
    """A temporary path next to ``path`` to write to, renamed over ``path`` when the block ends (removed if
    the block fails): a reader sees the old file or the new one, never part of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_save(checkpoint: dict[str, Any], path: Path) -> None:
    """``torch.save`` through :func:`replaced_atomically`, the file flushed to disk before its rename and
    the rename after it."""
    with replaced_atomically(path) as tmp, open(tmp, "xb") as file:
        torch.save(checkpoint, file)
        file.flush()
        os.fsync(file.fileno())
    fsync_directory(path.parent)


def fsync_directory(directory: Path) -> None:
    """Flush a directory's entries (a rename into it) to disk, where the platform allows it."""
    if os.name != "posix":
        return
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint IO with atomic local writes (:func:`atomic_save`) and ``weights_only=True``
    loading unless a caller asks otherwise. Remote paths (``s3://``, ...) go through Lightning's own."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | os.PathLike, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None or not isinstance(get_filesystem(path), LocalFileSystem):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        atomic_save(checkpoint, Path(path))

    def load_checkpoint(
        self, path: str | os.PathLike, map_location: Any = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        options: dict[str, Any] = {"weights_only": True if weights_only is None else weights_only}
        if map_location is not None:  # else Lightning's default: tensors back on the device they came from
            options["map_location"] = map_location
        return super().load_checkpoint(path, **options)
