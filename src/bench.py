"""``python -m src.bench``: training throughput of the essay's network, pipeline by pipeline, in one process.

Every pipeline trains the same network (sigmoid layers, the quadratic cost ``C = sum_k (a_k - E_k)^2``
averaged over the mini-batch, plain SGD updating after every mini-batch) from the same initial weights
on the same training data, already in memory:

- ``nielsen-numpy``: the algorithm of Nielsen's chapter-1 ``network.py`` in numpy, backpropagating one
  sample at a time in a Python loop over each mini-batch and averaging the gradients;
- ``textbook-lightning``: ``nn.Linear`` + ``nn.Sigmoid`` in a LightningModule fed by a shuffling
  ``TensorDataset`` DataLoader, automatic optimization, ``self.log`` every step, ``torch.optim.SGD``;
- ``plain-autograd``: a plain loop over ``randperm`` slices, our MLP with ``backprop="autograd"``,
  ``loss.backward()`` and the update ``P <- P - r * grad C`` done in place (the operation
  ``torch.optim.SGD.step()`` performs);
- ``plain-manual``: the same loop with ``backprop="manual"`` (our :class:`Backpropagation` Function): the
  manual step against the autograd step, the two differing only in how ``grad C`` is computed;
- ``plain-manual-fastest``: as ``plain-manual``, with one gather per chunk of mini-batches, which is
  faster than a gather per mini-batch for small mini-batches; ``src.train`` is compared with the faster
  of the two in each round, the fastest plain loop we know with our Function;
- ``src.train``: the real training path, :func:`src.train.train` with a composed Hydra config (logger,
  checkpoints and validation as in a real run), reporting its own ``train/samples_per_sec``.

Throughput is training samples per second of wall time over whole epochs, set-up excluded (and, for
``src.train``, validation excluded, as ``train/samples_per_sec`` counts). Pipelines run round-robin
``--repeats`` times; the table gives each pipeline's median and, for each ratio, the median of the ratios
taken within one round, so a machine that is faster or slower for a while cancels out.

The MNIST-shaped data is ``data=synthetic_mnist`` (:class:`src.data.SyntheticDataModule`): random images
and labels of MNIST's shape, made in memory.

``--device cuda`` puts the training data and the network on the GPU for every torch pipeline (the plain
loops index the data with permutations made on the GPU, ``textbook-lightning`` runs with
``accelerator="gpu"``, ``src.train`` with ``trainer=gpu``), so no step copies data from the host; the
clocks synchronize CUDA before they are read. ``nielsen-numpy`` stays on the CPU (numpy), and the
start-up measurement (``--startup``) stays the CPU run it is.

The Lightning classes here (:class:`EpochBudget`, :class:`FirstBatchClock`, :class:`TextbookClassifier`)
are defined on first use (module ``__getattr__``), so ``--help`` and argument errors don't wait seconds
for Lightning to import; Hydra reaches them as ``src.bench.<name>``.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import random
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from torch import Tensor

    from src.network.mlp import MLP

REPO = Path(__file__).resolve().parents[1]
PIPELINE_NAMES = (
    "nielsen-numpy",
    "textbook-lightning",
    "plain-autograd",
    "plain-manual",
    "plain-manual-fastest",
    "src.train",
)
IN_FEATURES = {"digits": 64, "synthetic-mnist": 784}
DEVICES = ("cpu", "cuda")
NUM_CLASSES = 10
INIT = "normal"  # every weight and bias N(0, 1): the essay's and Nielsen's chapter-1 initialisation
SEED = 12345  # conf/train.yaml's seed: src.train draws the same initial weights
CHUNK = 128  # mini-batches gathered at once by plain-manual-fastest: data.batches_per_step's default
MAX_EPOCHS = 10**6  # the Lightning pipelines run until their EpochBudget callback stops them


@dataclass(frozen=True)
class Setting:
    """A network on a data set with its learning rate."""

    data: str
    sizes: tuple[int, ...]
    lr: float

    @property
    def label(self) -> str:
        return f"{self.data} {'-'.join(map(str, self.sizes))}"


PRESETS = {
    "digits": Setting("digits", (64, 16, 16, 10), 3.0),
    # Nielsen's chapter 1: 784-30-10, eta = 3.0 for his cost with a 1/2, so lr = 1.5 for ours.
    "mnist": Setting("synthetic-mnist", (784, 30, 10), 1.5),
}


@dataclass(frozen=True)
class Budget:
    """How long each pipeline trains per round: ``epochs`` whole epochs, or whole epochs until
    ``seconds`` of training have passed (at least one). Exactly one of the two is set."""

    epochs: int | None = None
    seconds: float | None = None

    def __post_init__(self) -> None:
        if (self.epochs is None) == (self.seconds is None):
            raise ValueError(f"{self}: set exactly one of epochs and seconds")

    def done(self, epochs: int, seconds: float) -> bool:
        if self.seconds is None:
            return epochs >= self.epochs
        return epochs >= 1 and seconds >= self.seconds

    @property
    def label(self) -> str:
        return f"{self.epochs} epoch(s)" if self.seconds is None else f"{self.seconds:g} s"


@dataclass(frozen=True)
class Workload:
    """What every pipeline of one measurement shares: the setting, the mini-batch size, the training
    data in memory, the initial parameter vector ``P`` and the Hydra overrides that give ``src.train``
    the same data."""

    setting: Setting
    batch_size: int
    x: Tensor
    y: Tensor
    initial: Tensor
    data_overrides: tuple[str, ...]
    workdir: Path
    device: str = "cpu"  # where x, y and the torch pipelines' networks live; initial stays on the CPU

    @property
    def samples(self) -> int:
        return len(self.y)


def synchronize(device: Any) -> None:
    """Wait for the work queued on ``device`` (a CUDA GPU) to finish, so a clock read next counts it."""
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


# --- the Lightning classes, defined on first use -------------------------------------------------------

LIGHTNING_CLASSES = ("EpochBudget", "FirstBatchClock", "TextbookClassifier")


def __getattr__(name: str) -> Any:
    """``src.bench.EpochBudget`` and the other :data:`LIGHTNING_CLASSES`, defined when first asked for."""
    if name in LIGHTNING_CLASSES:
        return lightning_classes()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@cache
def lightning_classes() -> dict[str, type]:
    """:data:`LIGHTNING_CLASSES` by name, defined once (importing Lightning)."""
    import lightning as L
    import torch
    from torch import nn

    class EpochBudget(L.Callback):
        """Times every training epoch (epoch start to epoch end, CUDA synchronized) and stops fitting once
        the :class:`Budget` of ``epochs`` or ``seconds`` is spent."""

        def __init__(self, epochs: int | None = None, seconds: float | None = None) -> None:
            self.budget = Budget(epochs, seconds)
            self.epochs = 0
            self.seconds = 0.0
            self._started = 0.0

        def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
            synchronize(trainer.strategy.root_device)
            self._started = time.perf_counter()

        def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
            synchronize(trainer.strategy.root_device)
            self.seconds += time.perf_counter() - self._started
            self.epochs += 1
            if self.budget.done(self.epochs, self.seconds):
                trainer.should_stop = True

    class FirstBatchClock(L.Callback):
        """Writes the wall-clock time (``time.time()``) at which the first training batch starts to
        ``path``: the end of start-up."""

        def __init__(self, path: str) -> None:
            self.path = Path(path)
            self.written = False

        def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
            if not self.written:
                self.path.write_text(repr(time.time()))
                self.written = True

    class TextbookClassifier(L.LightningModule):
        """The network as a Lightning tutorial writes it: ``nn.Linear`` and ``nn.Sigmoid`` layers,
        automatic optimization, the loss logged every step. ``initial`` is our parameter vector ``P``."""

        def __init__(self, sizes: Sequence[int], lr: float, initial: Tensor) -> None:
            super().__init__()
            layers: list[nn.Module] = []
            for inputs, outputs in itertools.pairwise(sizes):
                layers += [nn.Linear(inputs, outputs), nn.Sigmoid()]
            self.net = nn.Sequential(*layers)
            self.lr = lr
            linears = [layer for layer in layers if isinstance(layer, nn.Linear)]
            offset = 0
            with torch.no_grad():
                for linear in linears:
                    for tensor in (linear.weight, linear.bias):
                        tensor.copy_(initial[offset : offset + tensor.numel()].view_as(tensor))
                        offset += tensor.numel()

        def forward(self, x: Tensor) -> Tensor:
            return self.net(x)

        def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
            x, y = batch
            output = self.net(x)
            expected = nn.functional.one_hot(y, output.shape[1]).to(output.dtype)
            # Our cost: the squared error summed over the outputs, averaged over the mini-batch.
            loss = nn.functional.mse_loss(output, expected, reduction="sum") / len(x)
            self.log("train/loss", loss)
            return loss

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=self.lr)

    classes: dict[str, type] = {
        "EpochBudget": EpochBudget,
        "FirstBatchClock": FirstBatchClock,
        "TextbookClassifier": TextbookClassifier,
    }
    for cls in classes.values():
        cls.__qualname__ = cls.__name__
    return classes


# --- Nielsen's chapter-1 network, in numpy ----------------------------------------------------------------


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _sigmoid_prime(z: np.ndarray) -> np.ndarray:
    s = _sigmoid(z)
    return s * (1.0 - s)


class NielsenNetwork:
    """The algorithm of Nielsen's chapter-1 ``network.py``: weights ``W_l`` (neurons x inputs) and
    column-vector biases ``b_l``; per sample, a forward pass keeping every ``z`` and activation, then the
    backward pass; a mini-batch's update is the average of its samples' gradients.

    The cost is ours, ``C = sum_k (a_k - E_k)^2`` (Nielsen's has a 1/2), so ``dC/da = 2(a - E)``.
    """

    def __init__(self, sizes: Sequence[int], params: np.ndarray) -> None:
        """Weights and biases cut from ``params``, laid out as our ``P``: ``W_2, B_2, W_3, B_3, ...``."""
        self.weights: list[np.ndarray] = []
        self.biases: list[np.ndarray] = []
        offset = 0
        for neurons, inputs in zip(sizes[1:], sizes[:-1], strict=True):
            self.weights.append(params[offset : offset + neurons * inputs].reshape(neurons, inputs).copy())
            offset += neurons * inputs
            self.biases.append(params[offset : offset + neurons].reshape(neurons, 1).copy())
            offset += neurons

    def params(self) -> np.ndarray:
        """The weights and biases as one vector laid out as our ``P``."""
        return np.concatenate(
            [t.ravel() for w, b in zip(self.weights, self.biases, strict=True) for t in (w, b)]
        )

    def backprop(self, x: np.ndarray, expected: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """``dC_x/dW_l`` and ``dC_x/db_l`` of one sample ``x`` (a column vector)."""
        activations, zs = [x], []
        for weight, bias in zip(self.weights, self.biases, strict=True):
            zs.append(weight @ activations[-1] + bias)
            activations.append(_sigmoid(zs[-1]))
        grad_w: list[np.ndarray] = [None] * len(self.weights)  # type: ignore[list-item]
        grad_b: list[np.ndarray] = [None] * len(self.weights)  # type: ignore[list-item]
        delta = 2.0 * (activations[-1] - expected) * _sigmoid_prime(zs[-1])
        for layer in reversed(range(len(self.weights))):
            if layer < len(self.weights) - 1:
                delta = (self.weights[layer + 1].T @ delta) * _sigmoid_prime(zs[layer])
            grad_b[layer] = delta
            grad_w[layer] = delta @ activations[layer].T
        return grad_w, grad_b

    def update_mini_batch(self, batch: Sequence[tuple[np.ndarray, np.ndarray]], lr: float) -> None:
        """One SGD step: ``W <- W - lr * mean over the batch of dC_x/dW`` (and likewise ``b``)."""
        sum_w = [np.zeros_like(w) for w in self.weights]
        sum_b = [np.zeros_like(b) for b in self.biases]
        for x, expected in batch:
            grad_w, grad_b = self.backprop(x, expected)
            sum_w = [s + g for s, g in zip(sum_w, grad_w, strict=True)]
            sum_b = [s + g for s, g in zip(sum_b, grad_b, strict=True)]
        scale = lr / len(batch)
        self.weights = [w - scale * s for w, s in zip(self.weights, sum_w, strict=True)]
        self.biases = [b - scale * s for b, s in zip(self.biases, sum_b, strict=True)]


def nielsen_samples(x: Tensor, y: Tensor) -> list[tuple[np.ndarray, np.ndarray]]:
    """The data as Nielsen's loader gives it: ``(image column vector, one-hot column vector)`` pairs."""
    identity = np.eye(NUM_CLASSES)
    return [
        (image.reshape(-1, 1), identity[label].reshape(-1, 1))
        for image, label in zip(x.numpy(), y.tolist(), strict=True)
    ]


# --- training steps and epochs of the plain loops ---------------------------------------------------------

Step = Callable[["Tensor", "Tensor"], None]


def inplace_sgd_step(model: MLP, lr: float) -> Step:
    """``model.loss`` (our :class:`Backpropagation` Function or autograd, as the model is built) and
    ``loss.backward()``, then ``P <- P - r * grad C`` in place: the update ``torch.optim.SGD.step()``
    performs, without its per-call bookkeeping."""
    params = model.params
    target = params.detach()  # shares P's storage: updating it updates P, outside the autograd graph

    def step(x: Tensor, expected: Tensor) -> None:
        model.loss(x, expected).backward()
        target.sub_(params.grad, alpha=lr)
        params.grad = None

    return step


def randperm_epoch(x: Tensor, y: Tensor, batch_size: int, step: Step) -> Callable[[], None]:
    """An epoch over a fresh ``randperm``, each mini-batch gathered by its own slice of it. The
    permutation is made on the data's device, so on a GPU no index crosses from the host."""
    import torch

    identity = torch.eye(NUM_CLASSES, dtype=x.dtype, device=x.device)

    def epoch() -> None:
        order = torch.randperm(len(y), device=x.device)
        for start in range(0, len(y), batch_size):
            indices = order[start : start + batch_size]
            step(x[indices], identity[y[indices]])

    return epoch


def chunked_epoch(x: Tensor, y: Tensor, batch_size: int, step: Step) -> Callable[[], None]:
    """An epoch over a fresh ``randperm`` (on the data's device), gathering :data:`CHUNK` mini-batches at
    once (fewer if they would take more than ``src.data.CHUNK_BYTES``, as ``src.train`` does); the
    expected outputs ``E`` are made once for the whole data set."""
    import torch

    from src.data import batches_per_chunk

    expected = torch.eye(NUM_CLASSES, dtype=x.dtype, device=x.device)[y]
    chunk = batch_size * batches_per_chunk(CHUNK, batch_size, x)

    def epoch() -> None:
        for indices in torch.randperm(len(y), device=x.device).split(chunk):
            for xs, es in zip(x[indices].split(batch_size), expected[indices].split(batch_size), strict=True):
                step(xs, es)

    return epoch


def timed_epochs(
    run_epoch: Callable[[], None], samples_per_epoch: int, budget: Budget, device: str = "cpu"
) -> float:
    """Samples per second of ``run_epoch()`` called until the budget is spent; on a GPU the clock is
    read once the epoch's queued work has finished."""
    epochs, seconds = 0, 0.0
    while not budget.done(epochs, seconds):
        synchronize(device)
        start = time.perf_counter()
        run_epoch()
        synchronize(device)
        seconds += time.perf_counter() - start
        epochs += 1
    return epochs * samples_per_epoch / seconds


# --- the pipelines: each trains the workload within the budget and returns samples/s -------------------


def _mlp(work: Workload, backprop: str) -> MLP:
    """Our MLP starting from ``P``, on the workload's device."""
    import torch

    from src.network.mlp import MLP

    torch.manual_seed(SEED)
    model = MLP(list(work.setting.sizes), "sigmoid", cost="mse", backprop=backprop)
    with torch.no_grad():
        model.params.copy_(work.initial)
    return model.to(work.device)


def nielsen_numpy(work: Workload, budget: Budget) -> float:
    """Nielsen's per-sample backprop in numpy (float64 weights, as his ``np.random.randn`` makes them),
    on the CPU whatever the workload's device."""
    network = NielsenNetwork(work.setting.sizes, work.initial.double().cpu().numpy())
    samples = nielsen_samples(work.x.cpu(), work.y.cpu())
    shuffler = random.Random(SEED)
    size = work.batch_size

    def epoch() -> None:
        shuffler.shuffle(samples)
        for start in range(0, len(samples), size):
            network.update_mini_batch(samples[start : start + size], work.setting.lr)

    return timed_epochs(epoch, work.samples, budget)


def textbook_lightning(work: Workload, budget: Budget) -> float:
    """A Lightning tutorial's pipeline, Trainer defaults (TensorBoard logger, checkpointing, progress bar).
    On a GPU the ``TensorDataset`` holds the GPU's tensors: the loader stacks each mini-batch there."""
    import lightning as L
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    classes = lightning_classes()
    torch.manual_seed(SEED)
    model = classes["TextbookClassifier"](work.setting.sizes, work.setting.lr, work.initial.cpu())
    loader = DataLoader(TensorDataset(work.x, work.y), batch_size=work.batch_size, shuffle=True)
    clock = classes["EpochBudget"](budget.epochs, budget.seconds)
    with quiet():
        trainer = L.Trainer(
            accelerator="gpu" if torch.device(work.device).type == "cuda" else "cpu",
            devices=1,
            max_epochs=MAX_EPOCHS,
            callbacks=[clock],
            default_root_dir=work.workdir / "textbook-lightning",
            enable_model_summary=False,
        )
        trainer.fit(model, loader)
    return clock.epochs * work.samples / clock.seconds


def plain_autograd(work: Workload, budget: Budget) -> float:
    """Autograd through the MLP's forward pass, the in-place update, ``randperm`` slices."""
    step = inplace_sgd_step(_mlp(work, "autograd"), work.setting.lr)
    epoch = randperm_epoch(work.x, work.y, work.batch_size, step)
    return timed_epochs(epoch, work.samples, budget, work.device)


def plain_manual(work: Workload, budget: Budget) -> float:
    """As ``plain-autograd``, with our hand-written :class:`Backpropagation` computing the gradient."""
    step = inplace_sgd_step(_mlp(work, "manual"), work.setting.lr)
    epoch = randperm_epoch(work.x, work.y, work.batch_size, step)
    return timed_epochs(epoch, work.samples, budget, work.device)


def plain_manual_fastest(work: Workload, budget: Budget) -> float:
    """Our Function with in-place SGD and chunked gathers: the floor for a Python training loop."""
    step = inplace_sgd_step(_mlp(work, "manual"), work.setting.lr)
    epoch = chunked_epoch(work.x, work.y, work.batch_size, step)
    return timed_epochs(epoch, work.samples, budget, work.device)


def train_overrides(work: Workload) -> list[str]:
    """The ``python -m src.train`` overrides for this workload (hidden layers, data, SGD, seed), on the
    default ``trainer=cpu``."""
    hidden = ",".join(map(str, work.setting.sizes[1:-1]))
    return [
        *work.data_overrides,
        f"data.batch_size={work.batch_size}",
        f"model.hidden=[{hidden}]",
        f"model.init={INIT}",
        "model.backprop=manual",
        "activation=sigmoid",
        "cost=mse",
        "optimizer=sgd",
        f"optimizer.lr={work.setting.lr}",
        f"seed={SEED}",
        "test=false",
    ]


def src_train(work: Workload, budget: Budget) -> float:
    """:func:`src.train.train` as configured by ``conf/``, stopped by an :class:`EpochBudget` callback;
    returns the ``train/samples_per_sec`` it reports. On a GPU it runs with ``trainer=gpu``, the data
    module holding the data on the GPU."""
    import torch
    from hydra import compose, initialize_config_dir

    from src.train import train

    output_dir = Path(tempfile.mkdtemp(prefix="src.train-", dir=work.workdir))
    overrides = [
        *train_overrides(work),
        *(["trainer=gpu"] if torch.device(work.device).type == "cuda" else []),
        f"paths.output_dir={output_dir}",
        f"trainer.max_epochs={MAX_EPOCHS}",
        "+callbacks.budget._target_=src.bench.EpochBudget",
        f"+callbacks.budget.epochs={'null' if budget.epochs is None else budget.epochs}",
        f"+callbacks.budget.seconds={'null' if budget.seconds is None else budget.seconds}",
    ]
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    with quiet():
        metrics = train(cfg)
    return metrics["train/samples_per_sec"]


PIPELINES: dict[str, Callable[[Workload, Budget], float]] = {
    "nielsen-numpy": nielsen_numpy,
    "textbook-lightning": textbook_lightning,
    "plain-autograd": plain_autograd,
    "plain-manual": plain_manual,
    "plain-manual-fastest": plain_manual_fastest,
    "src.train": src_train,
}


@contextmanager
def quiet() -> Iterator[None]:
    """Lightning's progress bar, info lines and warnings and ``train``'s prints go to ``/dev/null``."""
    import logging
    import warnings

    loggers = [logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric")]
    levels = [logger.level for logger in loggers]
    with (
        open(os.devnull, "w") as devnull,
        redirect_stdout(devnull),
        redirect_stderr(devnull),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)


# --- workloads, measurements, targets ---------------------------------------------------------------------


def synthetic_sizes(train_size: int) -> tuple[int, int]:
    """Validation and test sizes beside ``train_size`` synthetic training images: MNIST's 10,000 beside
    its 50,000, a fifth of smaller sets."""
    held_out = max(1, min(10000, train_size // 5))
    return held_out, held_out


def load_training_data(data: str, train_size: int) -> tuple[tuple[Tensor, Tensor], tuple[str, ...]]:
    """The training split ``(x, y)`` that ``src.train`` trains on (on the CPU), and the overrides that
    select it."""
    from src.data import DigitsDataModule, SyntheticDataModule

    if data == "digits":
        return DigitsDataModule().load()["train"], ("data=digits",)
    val_size, test_size = synthetic_sizes(train_size)
    module = SyntheticDataModule(train_size=train_size, val_size=val_size, test_size=test_size)
    overrides = (
        "data=synthetic_mnist",
        f"data.train_size={train_size}",
        f"data.val_size={val_size}",
        f"data.test_size={test_size}",
    )
    return module.load()["train"], overrides


def initial_params(sizes: Sequence[int]) -> Tensor:
    """``P`` as ``src.train`` draws it: the seed, then the MLP's :data:`INIT` initialisation."""
    import torch

    from src.network.mlp import MLP

    torch.manual_seed(SEED)
    return MLP(list(sizes), init=INIT).params.detach().clone()


@dataclass(frozen=True)
class Measurement:
    """Samples/s of each pipeline, one entry per round."""

    setting: Setting
    batch_size: int
    rates: dict[str, list[float]]

    def median(self, pipeline: str) -> float:
        return statistics.median(self.rates[pipeline])

    def ratio(self, numerator: str, denominators: Sequence[str]) -> float:
        """The median over rounds of ``numerator`` over the fastest of ``denominators``, all measured in
        the same round."""
        rounds = zip(self.rates[numerator], *(self.rates[name] for name in denominators), strict=True)
        return statistics.median(a / max(others) for a, *others in rounds)


def measure(
    work: Workload, pipelines: Sequence[str], budget: Budget, repeats: int, log: Callable[[str], None]
) -> Measurement:
    """Every pipeline once per round, ``repeats`` rounds; each round starts one pipeline later."""
    rates: dict[str, list[float]] = {name: [] for name in pipelines}
    for round_ in range(repeats):
        shift = round_ % len(pipelines)
        for name in [*pipelines[shift:], *pipelines[:shift]]:
            rates[name].append(PIPELINES[name](work, budget))
            log(
                f"{work.setting.label} batch {work.batch_size} round {round_ + 1}/{repeats}: "
                f"{name} {rates[name][-1]:,.0f} samples/s"
            )
    return Measurement(work.setting, work.batch_size, rates)


@dataclass(frozen=True)
class Target:
    """``numerator / denominator >= minimum``, the denominator being the fastest in each round of the
    ``denominators`` measured; for every setting or only MNIST-shaped ones."""

    numerator: str
    denominators: tuple[str, ...]
    minimum: float
    mnist_only: bool = False

    @property
    def label(self) -> str:
        names = ", ".join(self.denominators)
        denominator = names if len(self.denominators) == 1 else f"fastest of {names}"
        return f"{self.numerator} / {denominator} (>= {self.minimum:g})"

    def measured(self, measurement: Measurement) -> list[str]:
        """The denominators that were measured."""
        return [name for name in self.denominators if name in measurement.rates]

    def applies(self, measurement: Measurement) -> bool:
        return (
            self.numerator in measurement.rates
            and bool(self.measured(measurement))
            and (not self.mnist_only or measurement.setting.data == "synthetic-mnist")
        )


TARGETS = (
    Target("plain-manual", ("plain-autograd",), 1.0),
    Target("src.train", ("textbook-lightning",), 3.0),
    # the fastest plain loop with our Function: chunked gathers usually, per-mini-batch gathers for some sizes
    Target("src.train", ("plain-manual-fastest", "plain-manual"), 0.85),
    Target("src.train", ("nielsen-numpy",), 2.0, mnist_only=True),
)


# --- start-up ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Startup:
    """Median seconds from launching ``python -m src.train`` to its first training batch, and to its exit."""

    setting: Setting
    first_batch: float
    total: float


def measure_startup(work: Workload, repeats: int, threads: int) -> Startup:
    """Runs ``python -m src.train <overrides> trainer.max_epochs=1 test=false`` ``repeats`` times in a
    subprocess; a :class:`FirstBatchClock` callback notes when its first training batch starts."""
    first, total = [], []
    for repeat in range(repeats):
        run_dir = work.workdir / f"startup-{repeat}"
        clock = run_dir / "first_batch"
        command = [
            sys.executable,
            "-m",
            "src.train",
            *train_overrides(work),
            "trainer.max_epochs=1",
            f"hydra.run.dir={run_dir}",
            "+callbacks.first_batch._target_=src.bench.FirstBatchClock",
            f"+callbacks.first_batch.path={clock}",
        ]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
        launched = time.time()
        run = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False)
        total.append(time.time() - launched)
        if run.returncode != 0:
            raise RuntimeError(f"{shlex.join(command)} failed:\n{run.stderr[-2000:]}")
        first.append(float(clock.read_text()) - launched)
    return Startup(work.setting, statistics.median(first), statistics.median(total))


# --- report -----------------------------------------------------------------------------------------------


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], markdown: bool) -> str:
    """The first column left-aligned, the others right-aligned: with spaces, or as a Markdown table."""
    widths = [max(map(len, column)) for column in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = [
            cells[0].ljust(widths[0]),
            *(c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)),
        ]
        return f"| {' | '.join(padded)} |" if markdown else "  ".join(padded)

    lines = [line(header), *map(line, rows)]
    if markdown:
        lines.insert(
            1, "|" + "|".join([":" + "-" * (widths[0] + 1), *("-" * (w + 1) + ":" for w in widths[1:])]) + "|"
        )
    return "\n".join(lines)


def report(
    measurements: Sequence[Measurement], startups: Sequence[Startup], pipelines: Sequence[str], markdown: bool
) -> str:
    """Throughput per pipeline, the targets' ratios (met or missed) and start-up times."""
    rows = [
        [m.setting.label, str(m.batch_size), *(f"{m.median(name):,.0f}" for name in pipelines)]
        for m in measurements
    ]
    parts = [
        "Training throughput, samples/s (median of rounds):",
        _table(["setting", "batch", *pipelines], rows, markdown),
    ]
    targets = [t for t in TARGETS if any(t.applies(m) for m in measurements)]
    if targets:
        ratio_rows = []
        for m in measurements:
            cells = []
            for target in targets:
                if target.applies(m):
                    ratio = m.ratio(target.numerator, target.measured(m))
                    cells.append(f"{ratio:.2f} {'met' if ratio >= target.minimum else 'MISSED'}")
                else:
                    cells.append("-")
            ratio_rows.append([m.setting.label, str(m.batch_size), *cells])
        header = ["setting", "batch", *(t.label for t in targets)]
        parts += [
            "",
            "Ratios (median of per-round ratios) against the targets:",
            _table(header, ratio_rows, markdown),
        ]
    if startups:
        startup_rows = [[s.setting.label, f"{s.first_batch:.2f}", f"{s.total:.2f}"] for s in startups]
        header = ["setting", "launch to first training batch (s)", "whole 1-epoch run, no test (s)"]
        parts += ["", "Start-up of python -m src.train (median):", _table(header, startup_rows, markdown)]
    return "\n".join(parts)


def environment(threads: int, budget: Budget, repeats: int, device: str = "cpu") -> str:
    """One line on the software, the machine, the device and the measurement's budget."""
    import platform

    import lightning
    import torch

    where = "device cpu"
    if device == "cuda":
        where = f"device cuda ({torch.cuda.get_device_name()}; nielsen-numpy on the CPU)"
    return (
        f"torch {torch.__version__}, lightning {lightning.__version__}, numpy {np.__version__}, "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {threads} thread(s), {where}; "
        f"{repeats} round(s) of {budget.label} per pipeline"
    )


# --- command line -----------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: ``python -m src.bench: error: ...``."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def _positive(kind: type) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {'an integer' if kind is int else 'a number'}"
            ) from None
        if not (value > 0 and math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
        return value

    return parse


def _positive_ints(text: str) -> list[int]:
    return [_positive(int)(part) for part in text.split(",")]


def _names(choices: Sequence[str]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        names = text.split(",")
        for name in names:
            if name not in choices:
                raise argparse.ArgumentTypeError(f"{name!r} is not one of {', '.join(choices)}")
        return names

    return parse


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The options, checked; ``args.settings`` is the list of :class:`Setting` to measure."""
    parser = _Parser(
        prog="python -m src.bench",
        description="Training samples/s of the essay's network: our pipelines against textbook ones.",
    )
    parser.add_argument(
        "--preset",
        type=_names(tuple(PRESETS)),
        action="append",
        help="digits: 64-16-16-10 on scikit-learn's digits, lr 3.0; mnist: Nielsen's chapter-1 784-30-10 on "
        "synthetic MNIST-shaped data, lr 1.5. Comma list or repeated (default: digits)",
    )
    parser.add_argument(
        "--data", choices=tuple(IN_FEATURES), help="one setting on this data instead of presets"
    )
    parser.add_argument(
        "--sizes",
        type=_positive_ints,
        help="layer sizes, input first, e.g. 64,16,16,10 (input 64 for digits, 784 for synthetic-mnist; output 10)",
    )
    parser.add_argument("--lr", type=_positive(float), help="learning rate (default: the preset's)")
    parser.add_argument(
        "--batch-size",
        type=_positive_ints,
        action="append",
        help="mini-batch sizes, comma list or repeated (default: 10,100)",
    )
    parser.add_argument(
        "--train-size", type=_positive(int), default=50000, help="synthetic training images (default: 50000)"
    )
    parser.add_argument(
        "--threads", type=_positive(int), default=1, help="torch and numpy threads (default: 1)"
    )
    parser.add_argument(
        "--device",
        choices=DEVICES,
        default="cpu",
        help="where the torch pipelines keep the data and the network; nielsen-numpy always runs on the "
        "CPU (default: cpu)",
    )
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--epochs", type=_positive(int), help="whole epochs per pipeline and round")
    budget.add_argument(
        "--seconds",
        type=_positive(float),
        help="train whole epochs until this many seconds, per pipeline and round (default: 2)",
    )
    parser.add_argument(
        "--repeats", type=_positive(int), default=3, help="rounds over the pipelines (default: 3)"
    )
    parser.add_argument(
        "--pipelines",
        type=_names(PIPELINE_NAMES),
        default=list(PIPELINE_NAMES),
        help=f"comma list of {', '.join(PIPELINE_NAMES)} (default: all)",
    )
    parser.add_argument("--startup", action="store_true", help="also time start-up of python -m src.train")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    args = parser.parse_args(argv)
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            parser.error(
                "--device cuda: no CUDA GPU is visible to torch (torch.cuda.is_available() is False)"
            )

    args.batch_sizes = sorted({b for group in args.batch_size or [[10, 100]] for b in group})
    if args.epochs is None and args.seconds is None:
        args.seconds = 2.0
    if args.data is None and args.sizes is not None:
        matches = [data for data, features in IN_FEATURES.items() if features == args.sizes[0]]
        if not matches:
            parser.error(
                f"--sizes {args.sizes[0]},...: the input layer must be 64 (digits) or 784 (synthetic-mnist)"
            )
        args.data = matches[0]
    if args.data is not None:
        preset = next(setting for setting in PRESETS.values() if setting.data == args.data)
        sizes = tuple(args.sizes) if args.sizes else preset.sizes
        settings = [Setting(args.data, sizes, preset.lr)]
    else:
        settings = [PRESETS[name] for group in args.preset or [["digits"]] for name in group]
    for setting in settings:
        if (
            len(setting.sizes) < 2
            or setting.sizes[0] != IN_FEATURES[setting.data]
            or setting.sizes[-1] != NUM_CLASSES
        ):
            parser.error(
                f"--sizes {','.join(map(str, setting.sizes))}: {setting.data} needs input "
                f"{IN_FEATURES[setting.data]} first and output {NUM_CLASSES} last"
            )
    args.settings = [Setting(s.data, s.sizes, args.lr or s.lr) for s in dict.fromkeys(settings)]
    return args


@contextmanager
def limit_threads(threads: int) -> Iterator[None]:
    """Torch and the BLAS libraries numpy loaded use ``threads`` threads inside the block."""
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(threads):
            yield
    finally:
        torch.set_num_threads(before)


def warm_up(device: str) -> None:
    """Create the CUDA context and the cuBLAS handle before any clock runs: set-up, not training."""
    import torch

    if device == "cuda":
        weights = torch.ones(8, 8, device=device, requires_grad=True)
        (weights @ weights).sum().backward()
        synchronize(device)


def main(argv: Sequence[str] | None = None) -> None:
    """Measure and print the report; progress lines go to stderr."""
    args = parse_args(argv)
    command = shlex.join(["python", "-m", "src.bench", *(sys.argv[1:] if argv is None else argv)])
    budget = Budget(args.epochs, args.seconds)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    measurements, startups = [], []
    with limit_threads(args.threads), tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        warm_up(args.device)
        for setting in args.settings:
            (x, y), data_overrides = load_training_data(setting.data, args.train_size)
            x, y = x.to(args.device), y.to(args.device)  # once: the torch pipelines train where they lie
            initial = initial_params(setting.sizes)
            works = [
                Workload(setting, b, x, y, initial, data_overrides, Path(tmp), args.device)
                for b in args.batch_sizes
            ]
            measurements += [measure(work, args.pipelines, budget, args.repeats, log) for work in works]
            if args.startup:
                startups.append(measure_startup(works[0], args.repeats, args.threads))
                log(f"{setting.label} start-up: {startups[-1].first_batch:.2f} s to the first training batch")
    print(f"$ {command}\n{environment(args.threads, budget, args.repeats, args.device)}\n")
    print(report(measurements, startups, args.pipelines, args.markdown))


if __name__ == "__main__":
    main()
