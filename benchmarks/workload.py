"""What a measurement trains: the settings (network, data, learning rate), the budget of each pipeline, and
the workload every pipeline shares (the same training data in memory and the same initial weights ``P``).

Nothing here imports torch or Lightning at import time, so the command line answers ``--help`` and argument
errors at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import Tensor

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA_ROOT = REPO.parent / "shared" / "data"  # where the project's sessions keep real MNIST
PIPELINE_NAMES = (
    "nielsen-numpy",
    "textbook-lightning",
    "plain-autograd",
    "plain-manual",
    "plain-manual-fastest",
    "plain-manual-graph",
    "src.train",
    "src.train-eager",
    "src.train-cpu",
)
CUDA_ONLY = ("plain-manual-graph", "src.train-eager", "src.train-cpu")
"""The pipelines that measure the GPU against something (``--device cuda`` only): the captured plain loop,
``src.train`` without CUDA graphs (``model.cuda_graph=off``), and ``src.train trainer=cpu`` in the same run."""
IN_FEATURES = {"digits": 64, "mnist": 784, "synthetic-mnist": 784}
NUM_CLASSES = 10
DIGITS_TRAIN_IMAGES = (
    1257  # src.train's training split of scikit-learn's 1,797 digits (the default fractions)
)
MNIST_IMAGES = 60000  # MNIST's official training set, from which src.train holds out its validation images
INIT = "normal"  # every weight and bias N(0, 1): the essay's and Nielsen's chapter-1 initialisation
SEED = 12345  # every pipeline's seed, given to src.train too (seed=...): the same initial weights for all


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
    # Nielsen's chapter 1: 784-30-10, eta = 3.0 for his cost with a 1/2, so lr = 1.5 for ours. Real MNIST
    # when the data root holds it, else synthetic-mnist (the command line decides).
    "mnist": Setting("mnist", (784, 30, 10), 1.5),
}


def mnist_found(root: Path) -> bool:
    """Whether ``root`` holds MNIST's training images as ``data=mnist`` reads them (``MNIST/raw/``,
    extracted or gzipped)."""
    raw = root / "MNIST" / "raw"
    return any((raw / name).is_file() for name in ("train-images-idx3-ubyte", "train-images-idx3-ubyte.gz"))


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


def data_overrides(data: str, train_size: int, data_root: Path) -> tuple[str, ...]:
    """The ``python -m src.train`` overrides that select ``train_size`` training images of ``data``
    (all of the digits' training split)."""
    if data == "digits":
        return ("data=digits",)
    if data == "mnist":  # the training split is what src.train does not hold out for validation
        return ("data=mnist", f"data.root={data_root}", f"data.val_size={MNIST_IMAGES - train_size}")
    held_out = max(1, min(10000, train_size // 5))  # MNIST's 10,000 beside its 50,000, a fifth of less
    return (
        "data=synthetic_mnist",
        f"data.train_size={train_size}",
        f"data.val_size={held_out}",
        f"data.test_size={held_out}",
    )


def load_training_data(overrides: tuple[str, ...]) -> tuple[Tensor, Tensor]:
    """The training split ``(x, y)`` that ``python -m src.train <overrides>`` trains on, made by the
    same configuration (on the CPU)."""
    from omegaconf import OmegaConf

    from src.config import build_data, compose_config

    cfg = compose_config("train", list(overrides))
    return build_data(OmegaConf.to_container(cfg.data, resolve=True)).load()["train"]


def initial_params(sizes: tuple[int, ...]) -> Tensor:
    """``P`` as ``src.train`` draws it: the seed, then the MLP's :data:`INIT` initialisation."""
    import torch

    from src.network.mlp import MLP

    torch.manual_seed(SEED)
    return MLP(list(sizes), init=INIT).params.detach().clone()


def synchronize(device: Any) -> None:
    """Wait for the work queued on ``device`` (a CUDA GPU) to finish, so a clock read next counts it."""
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)
