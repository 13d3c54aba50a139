"""The one use of torch's private API, so that an upgrade has one function to check: running autograd's
engine on a loss without ``Tensor.backward()``'s Python-side checks (see :func:`backward`).
``tests/test_torch_compat.py`` checks it against ``Tensor.backward()`` on the installed torch."""

import torch
from torch import Tensor

_ENGINE = getattr(torch.autograd.Variable, "_execution_engine", None)


def backward(loss: Tensor) -> None:
    """``loss.backward()`` for a scalar ``loss`` this program computed: the same backward pass through the
    same graph (our :class:`~src.network.backprop.Backpropagation` included), the gradients accumulated
    into ``.grad`` the same way.

    ``Tensor.backward()`` first checks in Python that the gradient it starts from fits each output (shape,
    dtype, nesting), makes it (``ones_like(loss)``) and stashes the caller's context for compiled autograd;
    then it calls autograd's engine. For one scalar loss, outside ``torch.compile``, none of that can
    change the result, and at mini-batch 10 it costs about a tenth of a 784-30-10 SGD step on a CPU
    (benchmarks/README.md). This calls the engine with the arguments ``Tensor.backward()`` gives it, or
    ``Tensor.backward()`` itself where the engine's entry point is not found.
    """
    if _ENGINE is None:
        loss.backward()
        return
    _ENGINE.run_backward(
        (loss,), (torch.ones_like(loss),), False, False, (), allow_unreachable=True, accumulate_grad=True
    )
