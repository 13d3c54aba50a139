"""The pipelines: each trains a :class:`~benchmarks.workload.Workload` within a
:class:`~benchmarks.workload.Budget` and returns training samples per second. Then the measurements:
pipelines round-robin, and the start-up time of ``python -m src.train``.

Every pipeline trains the same network (sigmoid layers, the quadratic cost ``C = sum_k (a_k - E_k)^2``
averaged over the mini-batch, plain SGD updating after every mini-batch) from the same initial weights on
the same training data, already in memory.
"""

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
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import Tensor

from benchmarks.workload import INIT, NUM_CLASSES, REPO, SEED, Budget, Setting, Workload, synchronize
from src.config import Data
from src.network import reference_numpy
from src.network.mlp import MLP
from src.torch_compat import backward

CHUNK = Data.batches_per_step  # mini-batches gathered at once by plain-manual-fastest, as src.train does
MAX_EPOCHS = 10**6  # the Lightning pipelines run until their EpochBudget callback stops them

Step = Callable[[Tensor, Tensor], None]


# --- the plain loops' parts ----------------------------------------------------------------------------


def inplace_sgd_step(model: MLP, lr: float) -> Step:
    """``P <- P - r * grad C`` as ``torch.optim.SGD.step()`` performs it, ``P.add_(grad, alpha=-lr)``,
    without the optimizer's per-call bookkeeping, the gradient from :func:`src.torch_compat.backward`
    (``src.train`` does the same for plain SGD)."""
    params = model.params
    weights = params.detach()

    def step(x: Tensor, expected: Tensor) -> None:
        params.grad = None
        backward(model.loss(x, expected))
        weights.add_(params.grad, alpha=-lr)

    return step


def randperm_epoch(x: Tensor, y: Tensor, batch_size: int, step: Step) -> Callable[[], None]:
    """An epoch over a fresh ``randperm`` (on the data's device), gathering each mini-batch and its
    expected outputs ``E`` (rows of the identity matrix)."""
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


def _mlp(work: Workload, backprop: str) -> MLP:
    """Our MLP starting from ``P``, on the workload's device."""
    torch.manual_seed(SEED)
    model = MLP(list(work.setting.sizes), "sigmoid", cost="mse", backprop=backprop)
    with torch.no_grad():
        model.params.copy_(work.initial)
    return model.to(work.device)


@contextmanager
def quiet() -> Iterator[None]:
    """Lightning's progress bar, info lines and warnings and ``train``'s prints go to ``/dev/null``."""
    import warnings

    from src.console import quiet_loggers  # here: --help must not import Lightning

    with (
        open(os.devnull, "w") as devnull,
        redirect_stdout(devnull),
        redirect_stderr(devnull),
        warnings.catch_warnings(),
        quiet_loggers(("lightning.pytorch", "lightning.fabric")),
    ):
        warnings.simplefilter("ignore")
        yield


# --- the pipelines ---------------------------------------------------------------------------------------


def nielsen_numpy(work: Workload, budget: Budget) -> float:
    """:class:`src.network.reference_numpy.Network`, the book's chapter-1 code operation for operation
    (float64 column vectors, a Python loop over each mini-batch's samples), on the CPU whatever the
    workload's device. The book's cost has a 1/2, so its ``eta`` is twice our ``lr``."""
    network = reference_numpy.Network(work.setting.sizes, work.initial.double().cpu().numpy())
    training_data = reference_numpy.samples(work.x.cpu().numpy(), work.y.cpu().tolist())
    rng = random.Random(SEED)

    def epoch() -> None:
        network.sgd_epoch(training_data, work.batch_size, 2 * work.setting.lr, rng)

    return timed_epochs(epoch, work.samples, budget)


def textbook_lightning(work: Workload, budget: Budget) -> float:
    """A Lightning tutorial's pipeline, Trainer defaults (TensorBoard logger, checkpointing, progress bar).
    On a GPU the ``TensorDataset`` holds the GPU's tensors: the loader stacks each mini-batch there."""
    import lightning as L
    from torch.utils.data import DataLoader, TensorDataset

    from benchmarks.lightning_classes import EpochBudget, TextbookClassifier

    torch.manual_seed(SEED)
    model = TextbookClassifier(work.setting.sizes, work.setting.lr, work.initial.cpu())
    loader = DataLoader(TensorDataset(work.x, work.y), batch_size=work.batch_size, shuffle=True)
    clock = EpochBudget(budget.epochs, budget.seconds)
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
    """As ``plain-autograd``, with our hand-written ``Backpropagation`` computing the gradient."""
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


def src_train(work: Workload, budget: Budget, *extra: str) -> float:
    """:func:`src.train.train` as configured by ``conf/`` (and ``extra`` overrides), stopped by an
    ``EpochBudget`` callback; returns the ``train/samples_per_sec`` it reports. On a GPU it runs with
    ``trainer=gpu``, the data module holding the data on the GPU (and CUDA graphs by default)."""
    from src.config import compose_config
    from src.train import train

    output_dir = Path(tempfile.mkdtemp(prefix="src.train-", dir=work.workdir))
    overrides = [
        *train_overrides(work),
        *(["trainer=gpu"] if torch.device(work.device).type == "cuda" else []),
        *extra,
        f"paths.output_dir={output_dir}",
        f"trainer.max_epochs={MAX_EPOCHS}",
        "+callbacks.budget._target_=benchmarks.lightning_classes.EpochBudget",
        f"+callbacks.budget.epochs={'null' if budget.epochs is None else budget.epochs}",
        f"+callbacks.budget.seconds={'null' if budget.seconds is None else budget.seconds}",
    ]
    cfg = compose_config("train", overrides)
    with quiet():
        metrics = train(cfg)
    return metrics["train/samples_per_sec"]


def src_train_eager(work: Workload, budget: Budget) -> float:
    """``src.train`` on the GPU as before CUDA graphs: each SGD step's kernels launched one by one."""
    return src_train(work, budget, "model.cuda_graph=off")


def src_train_cpu(work: Workload, budget: Budget) -> float:
    """``src.train trainer=cpu`` beside the GPU pipelines: the same data and network on this machine's CPU
    (``--threads`` threads), for the GPU/CPU ratio."""
    return src_train(replace(work, device="cpu"), budget)


def plain_manual_graph(work: Workload, budget: Budget) -> float:
    """Our Function's plain SGD loop, chunks gathered as in ``plain-manual-fastest``, each chunk's steps
    replayed as one CUDA graph (:func:`benchmarks.cuda_graphs.graph_epoch`): what ``src.train trainer=gpu``
    replays, without Lightning."""
    from benchmarks.cuda_graphs import graph_epoch
    from src.data import batches_per_chunk

    model = _mlp(work, "manual")
    batches = batches_per_chunk(CHUNK, work.batch_size, work.x)
    epoch = graph_epoch(
        model.params, model.loss, work.x, work.y, work.batch_size, batches, work.setting.lr, NUM_CLASSES
    )
    return timed_epochs(epoch, work.samples, budget, work.device)


PIPELINES: dict[str, Callable[[Workload, Budget], float]] = {
    "nielsen-numpy": nielsen_numpy,
    "textbook-lightning": textbook_lightning,
    "plain-autograd": plain_autograd,
    "plain-manual": plain_manual,
    "plain-manual-fastest": plain_manual_fastest,
    "plain-manual-graph": plain_manual_graph,
    "src.train": src_train,
    "src.train-eager": src_train_eager,
    "src.train-cpu": src_train_cpu,
}


# --- measurements ----------------------------------------------------------------------------------------


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
class Startup:
    """Median seconds from launching ``python -m src.train`` to its first training batch, and to its exit."""

    setting: Setting
    first_batch: float
    total: float


def measure_startup(work: Workload, repeats: int, threads: int) -> Startup:
    """Runs ``python -m src.train <overrides> trainer.max_epochs=1 test=false`` ``repeats`` times in a
    subprocess; a ``FirstBatchClock`` callback notes when its first training batch starts."""
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
            "+callbacks.first_batch._target_=benchmarks.lightning_classes.FirstBatchClock",
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
