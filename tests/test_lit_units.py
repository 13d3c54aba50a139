"""Fast checks of src/lit.py's data-parallel lines without starting processes: the LightningModule's own
methods driven by a stand-in trainer whose strategy averages like DDP's all-reduce, with the other
process's gradient computed here by autograd."""

import logging
from types import SimpleNamespace

import pytest
import torch
from lightning.pytorch.core.optimizer import LightningOptimizer

from src.lit import MLPClassifier

LR = 0.5


class AveragingStrategy:
    """``reduce(tensor, reduce_op="mean")`` as DDP's all-reduce does it: the mean of this process's tensor
    and the other processes' (``others``, one tensor each)."""

    def __init__(self, others: list[torch.Tensor], optimizer: torch.optim.Optimizer, model) -> None:
        self.others = others
        self.reduced = 0
        self._lightning_optimizers = [LightningOptimizer(optimizer)]
        self.model = model  # what DDP wraps; its hooks are switched off by the training step's owner
        self.root_device = torch.device("cpu")

    def reduce(self, tensor: torch.Tensor, reduce_op: str) -> torch.Tensor:
        assert reduce_op == "mean"
        self.reduced += 1
        return torch.stack([tensor, *self.others]).mean(dim=0)


def attach(model: MLPClassifier, others: list[torch.Tensor], **trainer) -> AveragingStrategy:
    """Gives ``model`` a stand-in trainer of ``1 + len(others)`` processes; returns its strategy."""
    strategy = AveragingStrategy(others, model.configure_optimizers(), SimpleNamespace())
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
    strategy = attach(model, [torch.zeros(1)] * (world_size - 1))
    with caplog.at_level(logging.INFO):
        model.on_train_start()
    said = [record.getMessage() for record in caplog.records if "data parallel" in record.getMessage()]
    if world_size == 1:
        assert said == [] and not hasattr(strategy.model, "require_backward_grad_sync")
        return
    assert said == [
        "data parallel: 2 processes x data.batch_size=10 per process = 20 samples averaged per SGD step"
    ]
    assert strategy.model.require_backward_grad_sync is False  # DDP's own averaging is off
