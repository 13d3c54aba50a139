"""The multilayer perceptron as a ``torch.nn.Module``: parameters, initialisation, output and cost."""

import math

import torch
from torch import Tensor, nn

from src.network.activations import ESSAY_ACTIVATION, NEGATIVE_SLOPE, get_activation
from src.network.backprop import Backpropagation
from src.network.cost import ESSAY_COST, get_cost
from src.network.layers import Architecture, feedforward

BACKPROPS = ("manual", "autograd")
HAND_WRITTEN = "manual"  # the Backpropagation Function, the project's point
INITS = ("normal", "scaled_normal")
ESSAY_INIT = "normal"  # N(0, 1) for every weight and bias, as the essay and Nielsen's chapter 1


class MLP(nn.Module):
    """Dense layers ``L_l = S(W_{l,l-1} L_{l-1} + B_l)`` with every weight and bias in one vector ``P``.

    Hidden layers use ``activation``; the output layer is sigmoid, so each output neuron is one of the
    essay's binary classifiers with a value between 0 and 1, compared with the expected 0 or 1.

    ``backprop="manual"`` computes the gradient with :class:`Backpropagation` (the chain rule by hand);
    ``backprop="autograd"`` runs the same forward pass through plain autograd, the reference it is
    checked against.

    ``init="normal"`` draws every weight and bias from N(0, 1) (the essay's random initialisation,
    Nielsen chapter 1); ``init="scaled_normal"`` draws weights from N(0, 1/fan_in) instead (Nielsen
    chapter 3), which keeps weighted inputs small in wide layers.
    """

    def __init__(
        self,
        sizes: list[int],
        activation: str = ESSAY_ACTIVATION,
        negative_slope: float = NEGATIVE_SLOPE,
        cost: str = ESSAY_COST,
        backprop: str = HAND_WRITTEN,
        init: str = ESSAY_INIT,
    ) -> None:
        super().__init__()
        if backprop not in BACKPROPS:
            raise ValueError(f"backprop {backprop!r} is unknown: choose one of {', '.join(BACKPROPS)}")
        if init not in INITS:
            raise ValueError(f"init {init!r} is unknown: choose one of {', '.join(INITS)}")
        self.architecture = Architecture(
            tuple(sizes), get_activation(activation, negative_slope), get_activation("sigmoid")
        )
        self.cost = get_cost(cost)
        self.backprop = backprop
        self.params = nn.Parameter(torch.empty(self.architecture.num_parameters))
        self._views: tuple[int, list[tuple[Tensor, Tensor]]] | None = None
        self.initialise(init)

    @torch.no_grad()
    def initialise(self, init: str) -> None:
        """Random initialisation of ``P`` from the global random generator (seed it for repeatability)."""
        for weight, bias in self.layers():
            std = 1.0 if init == "normal" else 1.0 / math.sqrt(weight.shape[1])
            weight.normal_(0.0, std)
            bias.normal_(0.0, 1.0)

    def layers(self) -> list[tuple[Tensor, Tensor]]:
        """``[(W_{2,1}, B_2), ...]``, views of ``P``."""
        return self.architecture.split(self.params)

    def detached_layers(self) -> list[tuple[Tensor, Tensor]]:
        """The same views outside autograd, made once per storage of ``P`` and reused: ``P`` is updated
        in place, and moving or converting the module gives ``P`` a new storage, and new views."""
        # The address identifies the storage: the cached views keep the old one alive, so a new storage
        # never reuses its address, on any device (CUDA's unified addressing keeps host and devices apart).
        address = self.params.data_ptr()
        if self._views is None or self._views[0] != address:
            self._views = (address, self.architecture.split(self.params.detach()))
        return self._views[1]

    def forward(self, x: Tensor) -> Tensor:
        """The output layer's activations for a batch ``x`` (one sample per row)."""
        return self.output_and_weighted_input(x)[0]

    def output_and_weighted_input(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The output layer's activations ``a`` and weighted input ``z`` (``a = S(z)``)."""
        activations, z = feedforward(self.layers(), self.architecture, x)
        return activations[-1], z

    def loss(self, x: Tensor, expected: Tensor) -> Tensor:
        """The mini-batch cost ``C = mean_x sum_k (a_k - E_k)^2`` (or the configured cost), ready for
        ``backward()``."""
        if self.backprop == "manual":
            return Backpropagation.apply(
                self.params, x, expected, self.architecture, self.cost, self.detached_layers()
            )
        activations, z = feedforward(self.layers(), self.architecture, x)
        return self.cost.per_sample(z, activations[-1], expected).mean()
