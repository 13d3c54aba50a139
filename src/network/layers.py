"""The network's shape and its forward pass: ``L_l = S(W_{l,l-1} L_{l-1} + B_l)``.

All weights and biases live in one vector ``P``, the essay's parameter vector (section 4: "a parameter
vector, P, which contains all of the weights and biases of our network"). Each layer's ``W_{l,l-1}``
(one row per neuron, one column per neuron of the previous layer) and ``B_l`` are views into it, so
one gradient step ``P <- P - r * grad C`` updates every weight and bias at once.
"""

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import torch
from torch import Tensor

from src.network.activations import Activation


def chunk_sizes(sizes: Sequence[int]) -> list[int]:
    """The number of entries of ``W_{2,1}, B_2, W_{3,2}, B_3, ...`` in ``P`` for layer sizes ``sizes``: a
    weight per connection (``n_l * n_{l-1}``) and a bias per neuron (``n_l``)."""
    return [n for inputs, neurons in itertools.pairwise(sizes) for n in (neurons * inputs, neurons)]


@dataclass(frozen=True)
class Architecture:
    """Layer sizes (input first, output last), the hidden layers' activation and the output layer's."""

    sizes: tuple[int, ...]
    hidden: Activation
    output: Activation

    def __post_init__(self) -> None:
        if len(self.sizes) < 2:
            raise ValueError(f"sizes={list(self.sizes)} is not allowed: a network needs at least 2 layers")
        for size in self.sizes:
            if size < 1:
                raise ValueError(
                    f"layer size {size} in {list(self.sizes)} is not allowed: sizes must be >= 1"
                )

    @cached_property
    def layer_shapes(self) -> list[tuple[int, int]]:
        """``(neurons, inputs)`` of each ``W_{l,l-1}``, from the first hidden layer to the output layer."""
        return list(zip(self.sizes[1:], self.sizes[:-1], strict=True))

    @cached_property
    def _chunk_sizes(self) -> list[int]:
        return chunk_sizes(self.sizes)

    @property
    def num_parameters(self) -> int:
        """A weight per connection and a bias per neuron: 13,002 for 784-16-16-10."""
        return sum(self._chunk_sizes)

    def split(self, params: Tensor) -> list[tuple[Tensor, Tensor]]:
        """``[(W_{2,1}, B_2), (W_{3,2}, B_3), ...]``: views of ``P``, so writing them writes ``P``."""
        chunks = params.split_with_sizes(self._chunk_sizes)
        return [
            (chunks[2 * i].view(rows, cols), chunks[2 * i + 1])
            for i, (rows, cols) in enumerate(self.layer_shapes)
        ]


def feedforward(
    layers: list[tuple[Tensor, Tensor]], architecture: Architecture, x: Tensor
) -> tuple[list[Tensor], Tensor]:
    """Every layer's activations ``[L_1 = x, L_2, ..., L_out]`` and the output layer's weighted input ``z``.

    ``layers`` is ``architecture.split(P)``. ``L_l = S(W_{l,l-1} L_{l-1} + B_l)`` for a batch whose
    samples are rows reads ``L_l = S(L_{l-1} W^T + B)``: one matrix product per layer for the batch.
    """
    activations = [x]
    z = x
    for index, (weight, bias) in enumerate(layers):
        z = torch.nn.functional.linear(activations[-1], weight, bias)  # W L + B, one sample per row
        activation = architecture.output if index == len(layers) - 1 else architecture.hidden
        activations.append(activation.value(z))
    return activations, z
