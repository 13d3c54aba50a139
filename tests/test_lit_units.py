"""Fast checks of src/lit.py: its data-parallel lines without starting processes (the LightningModule's
own methods driven by a stand-in trainer whose strategy averages like DDP's all-reduce, the other
process's gradient computed here), the validation and test metrics against values computed by hand, and
what a checkpoint keeps of the running metrics."""

import csv
import logging
import math
from types import SimpleNamespace

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.core.optimizer import LightningOptimizer
from lightning.pytorch.plugins.precision import Precision

from src.data import DigitsDataModule
from src.errors import DivergenceError
from src.lit import MLPClassifier, plain_sgd_lr
from src.loggers import EpochCSVLogger

LR = 0.5


class AveragingStrategy:
    """``reduce(tensor, reduce_op="mean")`` as DDP's all-reduce does it: the mean of this process's tensor
    and the other processes' (``others``, one tensor each)."""

    def __init__(self, others: list[torch.Tensor], optimizer: torch.optim.Optimizer) -> None:
        self.others = others
        self.reduced = 0
        self._lightning_optimizers = [LightningOptimizer(optimizer)]
        self.root_device = torch.device("cpu")

    def reduce(self, tensor: torch.Tensor, reduce_op: str) -> torch.Tensor:
        assert reduce_op == "mean"
        self.reduced += 1
        return torch.stack([tensor, *self.others]).mean(dim=0)


def attach(model: MLPClassifier, others: list[torch.Tensor], **trainer) -> AveragingStrategy:
    """Gives ``model`` a stand-in trainer of ``1 + len(others)`` processes; returns its strategy."""
    strategy = AveragingStrategy(others, model.configure_optimizers())
    model.trainer = SimpleNamespace(
        strategy=strategy,
        world_size=1 + len(others),
        precision_plugin=SimpleNamespace(),
        precision="32-true",
        global_step=0,
        datamodule=SimpleNamespace(batch_size=10),
        **trainer,
    )
    return strategy


def gradient(model: MLPClassifier, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``grad C`` of one mini-batch at the model's current weights."""
    (grad,) = torch.autograd.grad(model.net.loss(x, model.expected(y)), model.net.params)
    return grad


def model_and_batches():
    torch.manual_seed(0)
    model = MLPClassifier(4, 3, [5], optimizer={"_target_": "torch.optim.SGD", "lr": LR})
    x, y = torch.rand(2, 6, 4), torch.randint(0, 3, (2, 6))
    return model, x, y


@pytest.mark.parametrize("world_size", [2, 3])
def test_data_parallel_sgd_steps_with_the_gradient_averaged_over_the_processes(world_size):
    model, x, y = model_and_batches()
    before = model.net.params.detach().clone()
    own = gradient(model, x[0], y[0])
    others = [gradient(model, x[1], y[1]) * (rank + 1) for rank in range(world_size - 1)]
    strategy = attach(model, others)
    step = model._sgd_step()
    step(model.net.loss(x[0], model.expected(y[0])))
    assert strategy.reduced == 1
    expected = before - LR * torch.stack([own, *others]).mean(dim=0)
    torch.testing.assert_close(model.net.params.detach(), expected, rtol=0, atol=1e-6)
    assert (expected - (before - LR * own)).abs().max() > 1e-3  # the average is not this process's own


def test_one_process_steps_with_its_own_gradient():
    model, x, y = model_and_batches()
    before = model.net.params.detach().clone()
    own = gradient(model, x[0], y[0])
    attach(model, [])
    model._sgd_step()(model.net.loss(x[0], model.expected(y[0])))
    torch.testing.assert_close(model.net.params.detach(), before - LR * own, rtol=0, atol=1e-6)


@pytest.mark.parametrize("world_size", [1, 2])
def test_training_start_under_data_parallelism_says_how_many_samples_a_step_averages(world_size, caplog):
    model, _, _ = model_and_batches()
    attach(model, [torch.zeros(1)] * (world_size - 1))
    with caplog.at_level(logging.INFO):
        model.on_train_start()
    said = [record.getMessage() for record in caplog.records if "data parallel" in record.getMessage()]
    assert (
        said == []
        if world_size == 1
        else said
        == ["data parallel: 2 processes x data.batch_size=10 per process = 20 samples averaged per SGD step"]
    )


def test_validation_and_test_metrics_are_the_networks_accuracy_and_mean_cost():
    """After one epoch on the digits: ``val/*`` and ``test/*`` computed from the trained network by hand
    (accuracy: the most active output neuron is the label; loss: the mean over the images of
    ``sum_k (a_k - E_k)^2``), and the best validation accuracy so far is this epoch's."""
    torch.manual_seed(0)
    model = MLPClassifier(64, 10, [12], optimizer={"_target_": "torch.optim.SGD", "lr": 3.0})
    data = DigitsDataModule(batch_size=10, eval_batch_size=50)  # 180 val, 360 test images: 4 and 8 batches
    fit = L.Trainer(
        accelerator="cpu",
        max_epochs=1,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    fit.fit(model, datamodule=data)
    metrics = dict(fit.callback_metrics)
    fit.test(model, datamodule=data, verbose=False)
    metrics |= fit.callback_metrics
    assert set(metrics) == {
        "train/loss",
        "val/loss",
        "val/acc",
        "val/acc_best",
        "test/loss",
        "test/acc",
        "epoch",
    }
    assert metrics["epoch"].item() == 0  # the test's: the weights of the one epoch trained
    for split in ("val", "test"):
        x, y = data.splits[split]
        with torch.no_grad():
            a = model(x)
        accuracy = (a.argmax(dim=1) == y).double().mean().item()
        cost = ((a - torch.eye(10)[y]) ** 2).sum(dim=1).mean().item()
        assert metrics[f"{split}/acc"].item() == pytest.approx(accuracy, abs=1e-6), split
        assert metrics[f"{split}/loss"].item() == pytest.approx(cost, rel=1e-5), split
        assert 0.1 < accuracy < 1.0  # learnt something, not everything: a real check of the count
    assert metrics["val/acc_best"].item() == pytest.approx(metrics["val/acc"].item())


def test_test_metrics_are_logged_at_the_epoch_of_the_weights_tested(tmp_path):
    """The CSV logger's test rows: after 3 epochs, the weights in memory are epoch 2's, a checkpoint of
    epoch 0 restored is epoch 0's (also when the same weights are tested again), and a run resumed from it
    trains on to epoch 3. Lightning's own label, ``trainer.current_epoch``, is the count of epochs trained
    (3 here, an epoch that never ran), whatever was tested; every row's epoch is a whole number."""
    torch.manual_seed(0)
    model = MLPClassifier(64, 10, [12], optimizer={"_target_": "torch.optim.SGD", "lr": 3.0})
    data = DigitsDataModule(batch_size=10)

    def trainer(max_epochs: int) -> L.Trainer:
        return L.Trainer(
            accelerator="cpu",
            max_epochs=max_epochs,
            num_sanity_val_steps=0,
            logger=EpochCSVLogger(tmp_path, name="csv", version=""),
            callbacks=[
                ModelCheckpoint(
                    tmp_path, filename="epoch_{epoch}", save_top_k=-1, auto_insert_metric_name=False
                )
            ],
            enable_progress_bar=False,
            enable_model_summary=False,
        )

    fit = trainer(3)
    fit.fit(model, datamodule=data)
    fit.test(model, datamodule=data, verbose=False)
    first = tmp_path / "epoch_0.ckpt"
    fit.test(model, datamodule=data, ckpt_path=str(first), verbose=False)
    fit.test(model, datamodule=data, verbose=False)
    with (tmp_path / "csv" / "metrics.csv").open() as file:
        rows = list(csv.DictReader(file))
    assert [row["epoch"] for row in rows if row["test/acc"]] == ["2", "0", "0"]
    assert [row["epoch"] for row in rows if row["val/acc"]] == ["0", "1", "2"]
    resumed = trainer(4)
    resumed.fit(model, datamodule=data, ckpt_path=str(first))
    resumed.test(model, datamodule=data, verbose=False)
    assert resumed.callback_metrics["epoch"].item() == 3
    untrained = trainer(1)  # neither trained nor restored, as src.evaluate tests: no epoch to name
    untrained.test(MLPClassifier(64, 10, [12]), datamodule=data, verbose=False)
    assert "epoch" not in untrained.callback_metrics and "test/acc" in untrained.callback_metrics


def test_the_sanity_check_does_not_count_towards_the_best_accuracy():
    model, _, _ = model_and_batches()
    model.trainer = SimpleNamespace(sanity_checking=True)
    model.val_acc.update(torch.eye(3)[[0, 1, 2, 0]], torch.tensor([0, 1, 2, 0]))  # all right: 1.0
    model.on_validation_epoch_end()
    assert model.val_acc_best.max_value.item() == float("-inf")


def test_a_checkpoint_keeps_the_epochs_running_train_loss_and_the_best_accuracy():
    """What a run resumed mid-epoch needs to report the whole epoch's loss and to know its best."""
    model, _, _ = model_and_batches()
    model.train_loss.update(torch.tensor([1.0, 4.0]), torch.tensor([3.0, 1.0]))
    model.val_acc_best.update(torch.tensor(0.75))
    resumed, _, _ = model_and_batches()
    resumed.load_state_dict(model.state_dict())
    assert resumed.train_loss.compute().item() == pytest.approx((3 * 1.0 + 4.0) / 4)
    assert resumed.val_acc_best.compute().item() == 0.75


@pytest.mark.parametrize("world_size", [1, 2, 3])
def test_a_data_parallel_checkpoint_holds_every_processs_running_train_loss_once(world_size):
    """Each process keeps the running sums of its own samples, and only process 0 writes the checkpoint:
    saved, they are summed over the processes (here each holds the same sums, so the total is
    ``world_size`` times one process's); loaded, process 0 takes them back and the others start from 0, so
    the epoch's mean, summed over the processes at its end, counts every sample once."""
    model, _, _ = model_and_batches()
    model.train_loss.update(torch.tensor([1.0, 4.0]), torch.tensor([3.0, 1.0]))  # a sum of 7 over 4 samples
    model.trainer = SimpleNamespace(
        world_size=world_size,
        strategy=SimpleNamespace(reduce=lambda tensor, reduce_op: tensor * world_size),
        precision="bf16-mixed",
    )
    checkpoint = {"state_dict": model.state_dict()}
    model.on_save_checkpoint(checkpoint)
    assert checkpoint["precision"] == "bf16-mixed"  # what src.evaluate tests at
    saved = checkpoint["state_dict"]
    assert (saved["train_loss.mean_value"].item(), saved["train_loss.weight"].item()) == (
        7 * world_size,
        4 * world_size,
    )
    assert model.train_loss.weight.item() == 4  # the process's own sums are left as they are
    for rank, share in ((0, 1), (1, 0)):
        resumed, _, _ = model_and_batches()
        resumed.trainer = SimpleNamespace(global_rank=rank, precision_plugin=Precision())  # 32-true
        loaded = {"state_dict": dict(saved)}
        resumed.on_load_checkpoint(loaded)
        resumed.load_state_dict(loaded["state_dict"])
        assert resumed.train_loss.weight.item() == share * 4 * world_size, rank
        assert resumed.train_loss.mean_value.item() == share * 7 * world_size, rank


def test_plain_sgd_is_recognised_only_without_extras():
    """The fast path ``P.add_(grad, alpha=-lr)`` is taken only where torch's SGD would do exactly that."""
    params = [torch.nn.Parameter(torch.zeros(3))]
    assert plain_sgd_lr(torch.optim.SGD(params, lr=0.5)) == 0.5
    others = [
        torch.optim.SGD(params, lr=0.5, momentum=0.9),
        torch.optim.SGD(params, lr=0.5, momentum=0.9, nesterov=True),
        torch.optim.SGD(params, lr=0.5, weight_decay=0.1),
        torch.optim.SGD(params, lr=0.5, maximize=True),
        torch.optim.SGD([{"params": params}, {"params": [torch.nn.Parameter(torch.zeros(2))]}], lr=0.5),
        torch.optim.Adam(params, lr=0.5),
    ]
    assert [plain_sgd_lr(optimizer) for optimizer in others] == [None] * len(others)


@pytest.mark.parametrize(
    ("losses", "poisoned", "step"),
    [([0.5, math.nan, math.inf, math.nan], False, 12), ([0.5, 0.4, 0.3, 0.2], True, 14)],
    ids=["the second step's loss is NaN", "the losses are finite, the weights after the last step not"],
)
def test_divergence_names_the_first_sgd_step_that_went_wrong(losses, poisoned, step):
    """After 10 steps, a chunk of 4: the first step whose loss, or the weights after the chunk, is not
    finite."""
    model, _, _ = model_and_batches()
    attach(model, [], current_epoch=3)
    model.trainer.global_step = 10
    if poisoned:
        with torch.no_grad():
            model.net.params[2] = math.inf
    with pytest.raises(DivergenceError, match=rf"diverged at SGD step {step} \(epoch 3\): .* with lr={LR};"):
        model._stop_if_diverged(torch.tensor(losses))


def test_a_checkpoint_holds_the_weights_and_the_running_metrics_only():
    """The one-hot targets are rebuilt from num_classes, not saved: checkpoints hold what src/checkpoint.py
    checks, and older ones without it load."""
    model, _, _ = model_and_batches()
    assert set(model.state_dict()) == {
        "net.params",
        "train_loss.mean_value",
        "train_loss.weight",
        "val_acc_best.max_value",
    }
