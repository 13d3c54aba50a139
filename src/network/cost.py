"""Cost functions: the cost of one sample and its error at the output layer, written by hand.

Essay, section 4: ``C = sum_k (a_k - E_k)^2``, the sum over output neurons of the squared difference
between the network's output ``a`` and the expected output ``E`` (no 1/2 factor). A mini-batch's cost
is the mean of its samples' costs.
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from src.network.activations import Activation


@dataclass(frozen=True)
class Cost:
    """A cost: ``per_sample(z, a, E)`` is ``C_x`` for each row, ``derivative(a, E)`` is ``dC_x/da`` and
    ``output_error(a, E, S)`` is ``dC_x/dz = dC_x/da * S'(z)``.

    ``z`` is the output layer's weighted input (the essay's activation sum ``AS``), ``a = S(z)`` its
    activation and ``E`` the expected output.
    """

    name: str
    per_sample: Callable[[Tensor, Tensor, Tensor], Tensor]
    derivative: Callable[[Tensor, Tensor], Tensor]
    output_error: Callable[[Tensor, Tensor, Activation], Tensor]


def quadratic_per_sample(z: Tensor, a: Tensor, expected: Tensor) -> Tensor:
    """``C = sum_k (a_k - E_k)^2``."""
    return (a - expected).square().sum(dim=-1)


def quadratic_derivative(a: Tensor, expected: Tensor) -> Tensor:
    """``dC/da_k = 2(a_k - E_k)``."""
    return (a - expected).mul_(2.0)


def quadratic_output_error(a: Tensor, expected: Tensor, activation: Activation) -> Tensor:
    """``dC/dz_k = dC/da_k * da_k/dz_k = 2(a_k - E_k) * S'(z_k)``."""
    return activation.backward(quadratic_derivative(a, expected), a)


def cross_entropy_per_sample(z: Tensor, a: Tensor, expected: Tensor) -> Tensor:
    """``C = -sum_k [E_k ln a_k + (1 - E_k) ln(1 - a_k)]`` with ``a = S(z)``, computed from ``z`` so it
    stays finite when the sigmoid saturates (Nielsen, chapter 3)."""
    return torch.nn.functional.binary_cross_entropy_with_logits(z, expected, reduction="none").sum(dim=-1)


def cross_entropy_derivative(a: Tensor, expected: Tensor) -> Tensor:
    """``dC/da_k = -(E_k / a_k - (1 - E_k) / (1 - a_k)) = (a_k - E_k) / (a_k (1 - a_k))``."""
    return (a - expected) / (a * (1.0 - a))


def cross_entropy_output_error(a: Tensor, expected: Tensor, activation: Activation) -> Tensor:
    """``dC/dz_k = -(E_k / a_k - (1 - E_k) / (1 - a_k)) * a_k(1 - a_k) = a_k - E_k`` for sigmoid outputs:
    the ``S'(z)`` factor cancels, which is why this cost learns fast where the quadratic one stalls."""
    if activation.name != "sigmoid":
        raise ValueError(f"cost 'cross_entropy' needs sigmoid outputs, not {activation.name!r}")
    return a - expected


COSTS = ("mse", "cross_entropy")
ESSAY_COST = "mse"  # the essay's C = sum_k (a_k - E_k)^2


def get_cost(name: str) -> Cost:
    """The cost called ``name``, one of :data:`COSTS`."""
    if name == "mse":
        return Cost("mse", quadratic_per_sample, quadratic_derivative, quadratic_output_error)
    if name == "cross_entropy":
        return Cost(
            "cross_entropy", cross_entropy_per_sample, cross_entropy_derivative, cross_entropy_output_error
        )
    raise ValueError(f"cost {name!r} is unknown: choose one of {', '.join(COSTS)}")
