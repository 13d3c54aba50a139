"""What one epoch of training does, checked against an independent replay: the LightningModule trained by
a tiny Trainer on the 8x8 digits, its weights and ``train/loss`` compared with plain autograd SGD on
the same mini-batches; and the interrupt checkpoint never written with non-finite weights."""

import math
import signal
from pathlib import Path

import lightning as L
import pytest
import torch

from src.callbacks import InterruptCheckpoint
from src.data import DigitsDataModule
from src.errors import DivergenceError
from src.lit import MLPClassifier

# The digits' 1,257 training images at mini-batch 100 in one chunk: one training_step of 13 SGD steps,
# the last on the 57 images left over.
BATCH_SIZE, STEPS, LAST = 100, 13, 57
HIDDEN, LR = [12], 0.5


# --- The project's names these tests depend on, in one place ---------------------------------------


def make_model(lr: float, **optimizer) -> MLPClassifier:
    return MLPClassifier(
        in_features=64,
        num_classes=10,
        hidden=HIDDEN,
        optimizer={"_target_": "torch.optim.SGD", "lr": lr, **optimizer},
    )


def make_data(batches_per_step: int = 128) -> DigitsDataModule:
    return DigitsDataModule(batch_size=BATCH_SIZE, batches_per_step=batches_per_step)


def weights(model: MLPClassifier) -> torch.Tensor:
    """A copy of ``P``."""
    return model.net.params.detach().clone()


def poison(model: MLPClassifier) -> None:
    with torch.no_grad():
        model.net.params[0] = float("nan")


def set_pixel(chunk, row: int, value: float) -> None:
    """Sets the first pixel of image ``row`` of a training chunk to ``value``."""
    chunk.x[row, 0] = value


def minibatches(chunk) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``(x, E)`` of each mini-batch of a training chunk, in the order they are trained."""
    pairs = []
    for x, labels_or_expected in chunk.minibatches():
        if labels_or_expected.dim() == 1:  # labels: E is the one-hot row of each
            labels_or_expected = torch.eye(10)[labels_or_expected]
        pairs.append((x, labels_or_expected))
    return pairs


# ---------------------------------------------------------------------------------------------------


def trainer(*callbacks: L.Callback, **options) -> L.Trainer:
    settings = {
        "accelerator": "cpu",
        "devices": 1,
        "max_epochs": 1,
        "limit_val_batches": 0,
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
    }
    return L.Trainer(callbacks=list(callbacks), **(settings | options))


class RecordStep(L.Callback):
    """Keeps the first training step's chunk and the weights before and after it."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if batch_idx == 0:
            self.chunk, self.before = batch, weights(pl_module)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if batch_idx == 0:
            self.after = weights(pl_module)


def cost_by_autograd(p: torch.Tensor, x: torch.Tensor, expected: torch.Tensor) -> torch.Tensor:
    """``mean_x sum_k (a_k - E_k)^2`` of the sigmoid network ``P`` holds (each layer's W row by row, then
    B), written independently of ``src.network``."""
    a, start = x, 0
    for n_in, n_out in zip([64, *HIDDEN], [*HIDDEN, 10], strict=True):
        weight = p[start : start + n_out * n_in].view(n_out, n_in)
        bias = p[start + n_out * n_in : start + n_out * (n_in + 1)]
        a, start = torch.sigmoid(a @ weight.T + bias), start + n_out * (n_in + 1)
    assert start == len(p)
    return ((a - expected) ** 2).sum(dim=1).mean()


def sgd_by_autograd(p: torch.Tensor, batches, lr: float, reset: bool = True):
    """Plain SGD, one step ``P <- P - lr * grad C`` per mini-batch with that mini-batch's gradient (or,
    with ``reset=False``, the gradients summed so far): the final ``P`` and each step's cost."""
    p, costs, summed = p.clone().double(), [], torch.zeros(len(p), dtype=torch.float64)
    for x, expected in batches:
        p.requires_grad_(True)
        cost = cost_by_autograd(p, x.double(), expected.double())
        (grad,) = torch.autograd.grad(cost, p)
        summed = grad if reset else summed + grad
        p = (p - lr * summed).detach()
        costs.append(cost.item())
    return p, costs


@pytest.fixture(scope="module")
def one_epoch():
    """A fresh network trained one epoch (one chunk) at lr=0.5, with the recorded chunk and weights."""
    torch.manual_seed(0)
    model, record = make_model(LR), RecordStep()
    fit = trainer(record)
    fit.fit(model, datamodule=make_data())
    return fit, record


def test_one_training_step_is_plain_sgd_with_each_mini_batch_gradient(one_epoch):
    fit, record = one_epoch
    batches = minibatches(record.chunk)
    assert [len(x) for x, _ in batches] == [BATCH_SIZE] * (STEPS - 1) + [LAST]
    assert fit.global_step == STEPS  # one Lightning step per SGD step
    expected, _ = sgd_by_autograd(record.before, batches, LR)
    torch.testing.assert_close(record.after.double(), expected, rtol=0, atol=2e-5)
    # the tolerance separates it from the wrong rules: the sign flipped, or gradients never reset
    for wrong in (
        sgd_by_autograd(record.before, batches, -LR)[0],
        sgd_by_autograd(record.before, batches, LR, False)[0],
    ):
        assert (wrong - expected).abs().max() > 1e-2


def test_train_loss_is_the_sample_weighted_mean_cost_of_the_epoch(one_epoch):
    """``train/loss`` = each mini-batch's cost (before its step) weighted by its size, over the epoch: the
    last, smaller mini-batch counts for 57 images, not for 100."""
    fit, record = one_epoch
    batches = minibatches(record.chunk)
    _, costs = sgd_by_autograd(record.before, batches, LR)
    sizes = torch.tensor([len(x) for x, _ in batches], dtype=torch.float64)
    weighted = (torch.tensor(costs, dtype=torch.float64) * sizes).sum() / sizes.sum()
    reported = fit.callback_metrics["train/loss"].item()
    assert reported == pytest.approx(weighted.item(), rel=1e-5)
    assert abs(sum(costs) / len(costs) - weighted.item()) > 1e-3 * weighted.item()  # unweighted differs


@pytest.mark.parametrize("batches_per_step", [128, 4], ids=["one chunk of 13", "chunks of 4, 4, 4, 1"])
def test_train_loss_at_a_negligible_lr_is_the_mean_cost_of_every_training_image(batches_per_step):
    """With the weights all but fixed (lr 1e-30; 0 is refused) the epoch's sample-weighted mean cost is the
    cost of the whole training set at once, whatever the order or the mini-batches and chunks."""
    torch.manual_seed(1)
    model, data = make_model(1e-30), make_data(batches_per_step)
    fit = trainer()
    fit.fit(model, datamodule=data)
    x, y = data.splits["train"]
    whole = cost_by_autograd(weights(model).double(), x.double(), torch.eye(10, dtype=torch.float64)[y])
    assert fit.callback_metrics["train/loss"].item() == pytest.approx(whole.item(), rel=1e-5)


class PoisonAndInterrupt(L.Callback):
    """After the first training step of epoch ``epoch``: makes one weight NaN (if ``poisoned``), then
    presses Ctrl-C."""

    def __init__(self, poisoned: bool, epoch: int = 1) -> None:
        self.poisoned = poisoned
        self.epoch = epoch

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.current_epoch == self.epoch:
            if self.poisoned:
                poison(pl_module)
            signal.raise_signal(signal.SIGINT)


def interrupted_run(directory: Path, poisoned: bool, epoch: int) -> tuple[InterruptCheckpoint, Path]:
    """Trains with validation, 4 training steps per epoch, interrupted after the first step of ``epoch``:
    the callback and the checkpoint it may write."""
    interrupt = InterruptCheckpoint(dirpath=str(directory))
    fit = trainer(interrupt, PoisonAndInterrupt(poisoned, epoch), max_epochs=3, limit_val_batches=1.0)
    with pytest.raises(SystemExit):
        fit.fit(make_model(LR), datamodule=make_data(batches_per_step=4))
    assert interrupt.signum == signal.SIGINT
    return interrupt, directory / InterruptCheckpoint.FILENAME


@pytest.mark.parametrize("poisoned", [False, True])
def test_interrupt_checkpoint_is_written_only_with_finite_weights(tmp_path: Path, poisoned):
    _, checkpoint = interrupted_run(tmp_path, poisoned, epoch=1)
    assert checkpoint.exists() is not poisoned
    if not poisoned:
        saved = torch.load(checkpoint, weights_only=True)["state_dict"]
        assert all(torch.isfinite(value).all() for value in saved.values())


def test_interrupt_in_the_first_epoch_saves_a_checkpoint(tmp_path: Path):
    _, checkpoint = interrupted_run(tmp_path, poisoned=False, epoch=0)
    assert checkpoint.exists()


class BadPixel(L.Callback):
    """Sets a pixel of image 350 of the second training chunk to ``value`` as the chunk is handed to
    ``training_step``: that image is in the chunk's fourth and last mini-batch of 100."""

    def __init__(self, value: float) -> None:
        self.value = value

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if batch_idx == 1:
            set_pixel(batch, 350, self.value)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(math.nan, id="NaN: the cost of SGD step 8 is NaN"),
        pytest.param(
            math.inf, id="inf: the cost of step 8 is finite (saturated sigmoids), the weights after it NaN"
        ),
    ],
)
def test_divergence_names_the_sgd_step_it_happened_at(value):
    """Mini-batch 100, 4 per training step: the bad image is trained at SGD step 4 + 4 = 8 of the run."""
    with pytest.raises(DivergenceError, match=r"diverged at SGD step 8 \(epoch 0\)"):
        trainer(BadPixel(value)).fit(make_model(LR), datamodule=make_data(batches_per_step=4))


def test_other_optimizers_take_their_own_step_per_mini_batch():
    """SGD with momentum is not the plain update: each mini-batch's gradient goes through the optimizer's
    ``step()``, as torch's SGD with momentum 0.9 does it on the same mini-batches."""
    torch.manual_seed(0)
    model, record = make_model(LR, momentum=0.9), RecordStep()
    trainer(record, limit_train_batches=1).fit(model, datamodule=make_data())
    p = record.before.double().requires_grad_(True)
    optimizer = torch.optim.SGD([p], lr=LR, momentum=0.9)
    for x, expected in minibatches(record.chunk):
        optimizer.zero_grad()
        cost_by_autograd(p, x.double(), expected.double()).backward()
        optimizer.step()
    torch.testing.assert_close(record.after.double(), p.detach(), rtol=0, atol=1e-4)
    plain, _ = sgd_by_autograd(record.before, minibatches(record.chunk), LR)
    assert (plain - p.detach()).abs().max() > 1e-2
