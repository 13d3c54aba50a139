"""src.torch_compat.backward does what ``loss.backward()`` does, on the installed torch: the same gradients
through our Function and through plain autograd, accumulated the same way, the same error without a graph."""

import pytest
import torch

from src import torch_compat
from src.network.mlp import MLP


def gradients(backprop: str, run_backward, twice: bool = False) -> torch.Tensor:
    torch.manual_seed(0)
    net = MLP([6, 5, 4, 3], backprop=backprop).double()
    x, expected = (
        torch.rand(7, 6, dtype=torch.float64),
        torch.eye(3, dtype=torch.float64)[[0, 1, 2, 0, 1, 2, 0]],
    )
    for _ in range(2 if twice else 1):
        run_backward(net.loss(x, expected))
    return net.params.grad


@pytest.mark.parametrize("backprop", ["manual", "autograd"])
@pytest.mark.parametrize("twice", [False, True])  # the second call accumulates into .grad, as backward() does
def test_backward_gives_tensor_backwards_gradients(backprop, twice):
    ours = gradients(backprop, torch_compat.backward, twice)
    assert torch.equal(ours, gradients(backprop, torch.Tensor.backward, twice))
    assert ours.abs().sum() > 0


def test_backward_falls_back_to_tensor_backward_without_the_engine(monkeypatch):
    monkeypatch.setattr(torch_compat, "_ENGINE", None)
    assert torch.equal(gradients("manual", torch_compat.backward), gradients("manual", torch.Tensor.backward))


def test_backward_of_a_loss_without_a_graph_is_refused_like_tensor_backward():
    with pytest.raises(RuntimeError, match="does not require grad"):
        torch_compat.backward(torch.tensor(1.0))
    assert torch_compat._ENGINE is not None  # the fast path is the one tested above on this torch


@pytest.mark.parametrize("backprop", ["manual", "autograd"])
def test_backward_frees_the_graph_and_builds_none_for_the_gradients(backprop):
    """As ``loss.backward()`` (``retain_graph=False``, ``create_graph=False``): a second backward through
    the same graph is refused, and the gradients are plain numbers, no graph of their own."""
    for run_backward in (torch.Tensor.backward, torch_compat.backward):
        net = MLP([6, 5, 3], backprop=backprop)
        loss = net.loss(torch.rand(4, 6), torch.eye(3)[[0, 1, 2, 0]])
        run_backward(loss)
        assert not net.params.grad.requires_grad and net.params.grad.grad_fn is None
        with pytest.raises(RuntimeError, match="a second time"):
            run_backward(loss)
