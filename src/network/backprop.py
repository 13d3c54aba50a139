"""Backpropagation written by hand: one autograd ``Function`` whose ``backward`` applies the chain rule.

Essay, section 4: ``dC/dW_{1,1} = dC/da * da/dAS * dAS/dW_{1,1}``. For every layer, from the last to the
first, with ``delta = dC/dz`` the layer's error (``z`` = the essay's activation sum ``AS``):

- output error:       ``delta_out = dC/da * S'(z)``  (the cost's ``output_error``)
- weight gradient:    ``dC/dW_l = delta_l^T L_{l-1}``  (``dAS/dW = a`` of the previous layer)
- bias gradient:      ``dC/dB_l = sum over the batch of delta_l``  (``dAS/dB = 1``)
- error passed back:  ``delta_{l-1} = (delta_l W_l) * S'(z_{l-1})``

``S'`` comes from the saved activations (``S'(z) = a(1 - a)`` for the sigmoid), so autograd computes no
derivative of the network: it only calls :meth:`Backpropagation.backward` once per mini-batch.
"""

from typing import Any

import torch
from torch import Tensor

from src.network.cost import Cost
from src.network.layers import Architecture, feedforward


class Backpropagation(torch.autograd.Function):
    """``C = mean over the batch of cost(network(x), E)``, with a hand-written gradient for ``P`` and ``x``."""

    @staticmethod
    def forward(
        ctx: Any, params: Tensor, x: Tensor, expected: Tensor, architecture: Architecture, cost: Cost
    ) -> Tensor:
        layers = architecture.split(params)
        activations, z = feedforward(layers, architecture, x)
        ctx.architecture = architecture
        ctx.cost = cost
        ctx.save_for_backward(params, expected, *(weight for weight, _ in layers), *activations)
        return cost.per_sample(z, activations[-1], expected).mean()

    @staticmethod
    def backward(ctx: Any, grad_cost: Tensor) -> tuple[Tensor | None, ...]:
        architecture: Architecture = ctx.architecture
        params, expected, *saved = ctx.saved_tensors
        weights, activations = (
            saved[: len(architecture.layer_shapes)],
            saved[len(architecture.layer_shapes) :],
        )
        grad_params = torch.empty_like(params)
        grads = architecture.split(grad_params)

        # The batch cost is the mean of the samples' costs, so each sample's error carries 1/batch.
        scale = grad_cost / activations[0].shape[0]
        delta = ctx.cost.output_error(activations[-1], expected, architecture.output) * scale
        grad_x = None
        for index in reversed(range(len(weights))):
            weight = weights[index]
            grad_weight, grad_bias = grads[index]
            previous = activations[index]
            torch.mm(delta.T, previous, out=grad_weight)
            torch.sum(delta, dim=0, out=grad_bias)
            if index > 0:
                delta = (delta @ weight) * architecture.hidden.derivative(previous)
            elif ctx.needs_input_grad[1]:
                grad_x = delta @ weight
        return grad_params if ctx.needs_input_grad[0] else None, grad_x, None, None, None
