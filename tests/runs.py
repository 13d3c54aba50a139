"""Helpers shared by the tests: compose a Hydra config in-process, write tiny MNIST IDX files, files and
PNG images."""

import base64
import copy
import csv
import io
import os
import re
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import lightning as L
import pytest
import torch
from omegaconf import DictConfig
from PIL import Image

from src import config
from src.errors import UserError

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"
QUICK = ["trainer.max_epochs=1", "data.batches_per_step=4", "+trainer.limit_train_batches=2"]
"""Overrides for a training of two steps of four mini-batches: enough to write every file of a run."""


def options(group: str) -> list[str]:
    """The options of ``conf/<group>/``, in the order error messages list them: every YAML file's name."""
    return sorted(path.stem for path in (CONF / group).glob("*.yaml"))


def csv_column(run_dir: Path, name: str) -> list[tuple[int, float]]:
    """``(epoch, value)`` of each row of the run's ``logger=csv`` file that holds ``name``."""
    with (run_dir / "csv" / "metrics.csv").open() as file:
        return [(int(row["epoch"]), float(row[name])) for row in csv.DictReader(file) if row.get(name)]


def literal(text: str) -> str:
    """A regex matching ``text`` literally, except that ``.*`` matches anything."""
    return ".*".join(map(re.escape, text.split(".*")))


def python_environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a test's ``python`` subprocess: ours, ``tests/`` importable (for test-only
    callbacks named in overrides), ``env`` over it."""
    return {**os.environ, "PYTHONPATH": str(REPO / "tests"), **(env or {})}


def run_python(*args: str, env: dict[str, str] | None = None, timeout: int = 300):
    """``python <args>`` in the repository root, as a user runs it; stdout and stderr captured as text."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        env=python_environment(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_module(module: str, *args: str, env: dict[str, str] | None = None, timeout: int = 300):
    """``python -m <module> <args>``, as :func:`run_python` runs it."""
    return run_python("-m", module, *args, env=env, timeout=timeout)


def start_module(module: str, *args: str, **options) -> subprocess.Popen:
    """``python -m <module> <args>`` started in the background, as :func:`run_python` runs it;
    ``options`` go to ``subprocess.Popen`` (where its output goes, ``start_new_session``)."""
    return subprocess.Popen(
        [sys.executable, "-m", module, *args], cwd=REPO, env=python_environment(), **options
    )


def compose_config(name: str, output_dir: Path, *overrides: str) -> DictConfig:
    """``conf/<name>.yaml`` with ``overrides``, writing into ``output_dir``; quiet and progress-bar free."""
    return config.compose_config(
        name,
        [
            f"paths.output_dir={output_dir}",
            "+trainer.enable_progress_bar=false",
            "+trainer.enable_model_summary=false",
            *overrides,
        ],
    )


def write_idx(root: Path, folder: str, n_train: int = 40, n_test: int = 20, seed: int = 0) -> Path:
    """Tiny MNIST-format IDX files (uncompressed, as torchvision keeps them) under ``root/folder/raw``.
    Each image of class ``c`` has a bright band at rows ``2c..2c+2`` so the classes are learnable."""
    raw = root / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(seed)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = torch.arange(n) % 10
        images = torch.randint(0, 40, (n, 28, 28), generator=generator, dtype=torch.uint8)
        for i, label in enumerate(labels.tolist()):
            images[i, 2 * label + 3 : 2 * label + 6, 4:24] = 255
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(
            struct.pack(">IIII", 2051, n, 28, 28) + images.numpy().tobytes()
        )
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(
            struct.pack(">II", 2049, n) + labels.to(torch.uint8).numpy().tobytes()
        )
    return root


class SaveRankWeights(L.Callback):
    """Saves each process's final ``P`` as ``rank<N>.pt`` in ``directory`` (to compare processes)."""

    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        torch.save(pl_module.net.params.detach().cpu(), self.directory / f"rank{trainer.global_rank}.pt")


class CountDDPAveraging(L.Callback):
    """Counts the gradient buckets ``DistributedDataParallel`` itself averages (through a communication
    hook, registered before the first step) and writes the count to ``directory/rank<N>.ddp_averaging``."""

    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)
        self.buckets = 0

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook

        def counted(state, bucket):
            self.buckets += 1
            return allreduce_hook(state, bucket)

        trainer.strategy.model.register_comm_hook(None, counted)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / f"rank{trainer.global_rank}.ddp_averaging").write_text(str(self.buckets))


class RecordRates(L.Callback):
    """Appends ``epoch learning-rate val/acc`` for each training epoch to ``directory/rates.txt`` (the rate
    the epoch trained with; a resumed run goes on in the same file) and saves the final ``P`` as
    ``directory/weights.pt``."""

    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)
        self.rate = 0.0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.rate = trainer.optimizers[0].param_groups[0]["lr"]

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        accuracy = float(trainer.callback_metrics.get("val/acc", -1.0))  # -1: not validated yet
        with (self.directory / "rates.txt").open("a") as file:
            print(trainer.current_epoch, repr(self.rate), repr(accuracy), file=file)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        torch.save(pl_module.net.params.detach().cpu(), self.directory / "weights.pt")


def recorded_rates(directory: Path) -> list[tuple[int, float, float]]:
    """What :class:`RecordRates` wrote: ``(epoch, learning rate, val/acc)`` per training epoch."""
    lines = (directory / "rates.txt").read_text().splitlines()
    return [(int(epoch), float(rate), float(accuracy)) for epoch, rate, accuracy in map(str.split, lines)]


def write(path: Path, content: bytes) -> Path:
    """``path``, holding ``content``."""
    path.write_bytes(content)
    return path


def png_of(image: Image.Image) -> str:
    """``image`` as a PNG file, base64-encoded as the demo's page sends a drawing."""
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def refused(check, *args, **kwargs) -> str:
    """The one-line message of the :class:`UserError` ``check(*args)`` raises."""
    with pytest.raises(UserError) as error:
        check(*args, **kwargs)
    assert "\n" not in str(error.value)
    return str(error.value)


HOSTILE = [torch.tensor([1.0, 2.0]), "x", -1, None, {"a": 1}, [1], float("nan"), 10**30]
"""What a crafted checkpoint may put in place of any of its entries: a tensor of two numbers (no truth,
no plain equality), a string, a negative number, null, a mapping, a list, NaN and a number past int64."""
DELETED = object()
"""In :data:`HOSTILE`'s place: the entry removed."""
SWEEP_GROUPS = (
    "scheduler=plateau",
    "callbacks=early_stopping",
    "optimizer=momentum",
    "data.batches_per_step=4",
)
"""The run whose checkpoint the sweep changes: every kind of state a checkpoint can hold."""


def train_for_sweep(run_dir: Path) -> dict:
    """The ``last.ckpt`` of one epoch of a run with :data:`SWEEP_GROUPS`, loaded."""
    from src.train import train

    train(compose_config("train", run_dir, "trainer.max_epochs=1", *SWEEP_GROUPS))
    return torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)


def sweep_resume_config(run_dir: Path, ckpt_path: Path) -> DictConfig:
    """The configuration that resumes the sweep's run from ``ckpt_path`` for two more epochs of three
    chunks."""
    return compose_config(
        "train",
        run_dir,
        "trainer.max_epochs=3",
        "+trainer.limit_train_batches=3",
        *SWEEP_GROUPS,
        f"ckpt_path={ckpt_path}",
    )


def checkpoint_places(checkpoint: dict) -> list[tuple]:
    """The path of every entry, mapping and list of ``checkpoint`` but its weights (a list of numbers is
    one entry), shortest first."""

    def leaves(node: object, path: tuple = ()):
        if isinstance(node, dict):
            for key, value in node.items():
                yield from leaves(value, (*path, key))
        elif isinstance(node, list) and not all(isinstance(item, int | float) for item in node):
            for index, value in enumerate(node):
                yield from leaves(value, (*path, index))
        else:
            yield path

    ends = [path for path in leaves(checkpoint) if path[:2] != ("state_dict", "net.params")]
    return sorted(
        {path[:depth] for path in ends for depth in range(1, len(path) + 1)},
        key=lambda path: (len(path), str(path)),
    )


def changed(checkpoint: dict, place: tuple, value: object) -> dict:
    """A copy of ``checkpoint`` with ``value`` at ``place``, or without the entry there (:data:`DELETED`)."""
    result = copy.deepcopy(checkpoint)
    *parents, key = place
    node = result
    for parent in parents:
        node = node[parent]
    if value is DELETED:
        del node[key]
    else:
        node[key] = value
    return result


def plateau_halving(
    patience: int, max_reductions: int | None = None, trainer: Any = None, module: Any = None
) -> Any:
    """``conf/scheduler/plateau.yaml``'s schedule over an SGD optimizer with lr 1, started by ``trainer``
    (a stand-in made here if not given), whose ``optimizers`` this sets to that one optimizer."""
    from types import SimpleNamespace

    from src.schedule import LearningRateSchedule

    schedule = LearningRateSchedule(
        {
            "_target_": "src.schedule.ReduceLROnPlateau",
            "monitor": "val/acc",
            "mode": "max",
            "factor": 0.5,
            "patience": patience,
            "threshold": 0.0,
            "max_reductions": max_reductions,
        }
    )
    trainer = SimpleNamespace() if trainer is None else trainer
    trainer.optimizers = [torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)]
    schedule.on_train_start(trainer, module)
    return schedule
