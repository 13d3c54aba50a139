"""Backpropagation written by hand: one autograd ``Function`` whose ``backward`` applies the chain rule.

Essay, section 4: ``dC/dW_{1,1} = dC/da * da/dAS * dAS/dW_{1,1}``. For every layer, from the last to the
first, with ``delta = dC/dz`` the layer's error (``z`` = the essay's activation sum ``AS``):

- output error:       ``delta_out = dC/da * S'(z)``  (the cost's ``output_error``)
- weight gradient:    ``dC/dW_l = delta_l^T L_{l-1}``  (``dAS/dW = a`` of the previous layer)
- bias gradient:      ``dC/dB_l = sum over the batch of delta_l``  (``dAS/dB = 1``)
- error passed back:  ``delta_{l-1} = (delta_l W_l) * S'(z_{l-1})``

``S'`` comes from the saved activations (``S'(z) = a(1 - a)`` for the sigmoid), so autograd computes no
derivative of the network: it only calls :meth:`Backpropagation.backward` once per mini-batch.

Under autocast (mixed precision) the Function runs its matrix products in the autocast dtype (bfloat16
or float16), as torch's own layers would, computes the cost in the parameters' dtype, and returns the
gradient in the parameters' dtype. Autocast itself is switched off inside: the dtypes are explicit.
"""

from contextlib import nullcontext
from typing import Any

import torch
from torch import Tensor

from src.network.cost import Cost
from src.network.layers import Architecture, feedforward


def compute_dtype(device: torch.device, params_dtype: torch.dtype) -> torch.dtype:
    """The autocast dtype when autocast is on for ``device``, else the parameters' own dtype."""
    if torch.is_autocast_enabled(device.type):
        return torch.get_autocast_dtype(device.type)
    return params_dtype


def autocast_off(device: torch.device, dtype: torch.dtype, params_dtype: torch.dtype):
    """A context with autocast switched off, entered only when mixed precision is in use (it costs
    microseconds per call, which matter at mini-batch 10)."""
    return torch.autocast(device.type, enabled=False) if dtype != params_dtype else nullcontext()


class Backpropagation(torch.autograd.Function):
    """``C = mean over the batch of cost(network(x), E)``, with a hand-written gradient for ``P`` and ``x``."""

    @staticmethod
    def forward(
        ctx: Any, params: Tensor, x: Tensor, expected: Tensor, architecture: Architecture, cost: Cost
    ) -> Tensor:
        dtype = compute_dtype(x.device, params.dtype)
        with autocast_off(x.device, dtype, params.dtype):
            layers = architecture.split(params)
            if dtype != params.dtype:
                layers = [(weight.to(dtype), bias.to(dtype)) for weight, bias in layers]
            activations, z = feedforward(layers, architecture, x.to(dtype))
            expected = expected.to(dtype)
            output, z = activations[-1].to(params.dtype), z.to(params.dtype)
            cost_value = cost.per_sample(z, output, expected.to(params.dtype)).mean()
        ctx.architecture = architecture
        ctx.cost = cost
        ctx.input_dtype = x.dtype
        ctx.save_for_backward(params, expected, *(weight for weight, _ in layers), *activations)
        return cost_value

    @staticmethod
    def backward(ctx: Any, grad_cost: Tensor) -> tuple[Tensor | None, ...]:
        architecture: Architecture = ctx.architecture
        params, expected, *saved = ctx.saved_tensors
        depth = len(architecture.layer_shapes)
        weights, activations = saved[:depth], saved[depth:]
        with autocast_off(params.device, expected.dtype, params.dtype):
            grad_params = torch.empty_like(params, dtype=expected.dtype)
            grads = architecture.split(grad_params)

            # The batch cost is the mean of the samples' costs, so each sample's error carries 1/batch.
            scale = grad_cost.to(expected.dtype) / activations[0].shape[0]
            delta = ctx.cost.output_error(activations[-1], expected, architecture.output) * scale
            grad_x = None
            for index in reversed(range(depth)):
                weight = weights[index]
                grad_weight, grad_bias = grads[index]
                previous = activations[index]
                torch.mm(delta.T, previous, out=grad_weight)
                torch.sum(delta, dim=0, out=grad_bias)
                if index > 0:
                    delta = (delta @ weight) * architecture.hidden.derivative(previous)
                elif ctx.needs_input_grad[1]:
                    grad_x = (delta @ weight).to(ctx.input_dtype)
        return grad_params.to(params.dtype), grad_x, None, None, None
