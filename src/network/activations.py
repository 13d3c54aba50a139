"""Activation functions S: the value a = S(z) and the derivative S'(z), each written once.

Essay, section 3: a layer's activations are ``L_l = S(W_{l,l-1} L_{l-1} + B_l)``.
Every derivative here is written in terms of the layer's *output* ``a = S(z)``, because that is what
the forward pass keeps: for the sigmoid, ``S'(z) = S(z)(1 - S(z)) = a(1 - a)``.
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class Activation:
    """An activation function: ``value(z) = S(z)`` and ``derivative(a) = S'(z)`` where ``a = S(z)``."""

    name: str
    value: Callable[[Tensor], Tensor]
    derivative: Callable[[Tensor], Tensor]

    def backward(self, grad: Tensor, a: Tensor) -> Tensor:
        """The chain rule through ``S``: ``dC/dz = dC/da * S'(z)``."""
        derivative = self.derivative(a)  # a new tensor: multiplied in place below
        if self.name == "relu":
            # where S'(z) = 0 the error stops even if it overflowed to inf (inf * 0 would be NaN)
            blocked = derivative == 0
            return derivative.mul_(grad).masked_fill_(blocked, 0.0)
        return derivative.mul_(grad)


def sigmoid(z: Tensor) -> Tensor:
    """The logistic sigmoid ``S(x) = 1 / (1 + e^{-x})``, bounded between 0 and 1."""
    return torch.sigmoid(z)


def sigmoid_derivative(a: Tensor) -> Tensor:
    """``S'(x) = e^{-x} / (1 + e^{-x})^2 = S(x)(1 - S(x))``, from ``a = S(x)``: ``a(1 - a) = a - a * a``."""
    return torch.addcmul(a, a, a, value=-1.0)


def relu(z: Tensor) -> Tensor:
    """The rectified linear unit ``f(x) = max(0, x)``."""
    return torch.relu(z)


def relu_derivative(a: Tensor) -> Tensor:
    """``f'(x) = 1`` for ``x > 0`` and ``0`` for ``x <= 0``; ``x > 0`` exactly when ``a = f(x) > 0``."""
    return (a > 0).to(a.dtype)


def tanh(z: Tensor) -> Tensor:
    """The hyperbolic tangent ``tanh(x) = (e^x - e^{-x}) / (e^x + e^{-x})``, bounded between -1 and 1."""
    return torch.tanh(z)


def tanh_derivative(a: Tensor) -> Tensor:
    """``tanh'(x) = 1 - tanh(x)^2 = 1 - a^2``."""
    return torch.addcmul(torch.ones_like(a), a, a, value=-1.0)


def leaky_relu(negative_slope: float) -> Activation:
    """``f(x) = x`` for ``x > 0`` and ``slope * x`` otherwise; ``f'(x)`` is 1 or ``slope`` likewise."""

    def value(z: Tensor) -> Tensor:
        return torch.nn.functional.leaky_relu(z, negative_slope)

    def derivative(a: Tensor) -> Tensor:
        return torch.full_like(a, negative_slope).masked_fill_(a > 0, 1.0)

    return Activation("leaky_relu", value, derivative)


ACTIVATIONS = ("sigmoid", "relu", "tanh", "leaky_relu")
ESSAY_ACTIVATION = "sigmoid"  # the essay's S
NEGATIVE_SLOPE = 0.01  # leaky_relu's slope for x < 0 unless one is given


def get_activation(name: str, negative_slope: float = NEGATIVE_SLOPE) -> Activation:
    """The activation called ``name``, one of :data:`ACTIVATIONS`."""
    if name == "sigmoid":
        return Activation("sigmoid", sigmoid, sigmoid_derivative)
    if name == "relu":
        return Activation("relu", relu, relu_derivative)
    if name == "tanh":
        return Activation("tanh", tanh, tanh_derivative)
    if name == "leaky_relu":
        if not negative_slope > 0:
            raise ValueError(f"negative_slope={negative_slope!r} is not allowed: it must be > 0")
        return leaky_relu(negative_slope)
    raise ValueError(f"activation {name!r} is unknown: choose one of {', '.join(ACTIVATIONS)}")
