"""Backpropagation written by hand: one autograd ``Function`` whose ``backward`` applies the chain rule.

Essay, section 4: ``dC/dW_{1,1} = dC/da * da/dAS * dAS/dW_{1,1}``. A mini-batch of ``m`` images costs
the mean of their costs, ``C = (1/m) sum_x C_x``. For every layer, from the last to the first, with
``delta = dC/dz`` the layer's error, one row per image (``z`` = the essay's activation sum ``AS``):

- output error:       ``delta_out = (1/m) dC_x/da * S'(z)``  (the cost's ``output_error``, then ``1/m``)
- weight gradient:    ``dC/dW_l = delta_l^T L_{l-1}``  (``dAS/dW = a`` of the previous layer)
- bias gradient:      ``dC/dB_l = sum over the batch of delta_l``  (``dAS/dB = 1``)
- error passed back:  ``delta_{l-1} = (delta_l W_l) * S'(z_{l-1})``

``S'`` comes from the saved activations (``S'(z) = a(1 - a)`` for the sigmoid), so autograd computes no
derivative of the network: it only calls :meth:`Backpropagation.backward` once per mini-batch.

Under autocast (mixed precision) the Function runs its matrix products in the autocast dtype (bfloat16
or float16), as torch's own layers would, computes the cost in the parameters' dtype, and returns the
gradient in the parameters' dtype. Autocast itself is switched off inside: the dtypes are explicit. One
code path serves both, the conversions made only where dtypes differ: converting the layers and the cost's
inputs tensor by tensor even when nothing changes is a visible share of a small mini-batch's step.
"""

from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch
from torch import Tensor

from src.network.cost import Cost
from src.network.layers import Architecture, feedforward


def compute_dtype(x: Tensor, params_dtype: torch.dtype) -> torch.dtype:
    """The autocast dtype when autocast is on for ``x``'s device, else the parameters' own dtype."""
    # x.is_cpu first: reading x.device.type builds a device object, which in the training loop costs as
    # much as a layer's arithmetic at mini-batch 10
    device_type = "cpu" if x.is_cpu else x.device.type
    if torch.is_autocast_enabled(device_type):
        return torch.get_autocast_dtype(device_type)
    return params_dtype


def cast(tensor: Tensor, dtype: torch.dtype) -> Tensor:
    """``tensor`` in ``dtype``: the tensor itself when it already is, without a call into torch (a call
    costs about as much as a small layer's arithmetic)."""
    return tensor if tensor.dtype == dtype else tensor.to(dtype)


def explicit_dtypes(device: torch.device, mixed: bool) -> AbstractContextManager:
    """Autocast switched off while ``mixed`` precision makes the dtypes explicit; otherwise nothing to do."""
    return torch.autocast(device.type, enabled=False) if mixed else nullcontext()


def backpropagate(
    architecture: Architecture,
    cost: Cost,
    weights: list[Tensor],
    activations: list[Tensor],
    expected: Tensor,
    grad_cost: Tensor,
    grad_params: Tensor,
    need_grad_x: bool,
) -> Tensor | None:
    """The chain rule, from the output layer back to the first: writes ``dC/dP`` into ``grad_params``
    and returns ``dC/dx`` (when ``need_grad_x``)."""
    grads = architecture.split(grad_params)
    # The batch cost is the mean of the samples' costs, so each sample's error carries 1/batch.
    scale = grad_cost / activations[0].shape[0]
    delta = cost.output_error(activations[-1], expected, architecture.output).mul_(scale)
    for index in reversed(range(len(weights))):
        grad_weight, grad_bias = grads[index]
        previous = activations[index]
        torch.mm(delta.T, previous, out=grad_weight)  # dC/dW_l = delta_l^T L_{l-1}
        torch.sum(delta, dim=0, out=grad_bias)  # dC/dB_l = sum of delta_l
        if index > 0:  # delta_{l-1} = (delta_l W_l) * S'(z_{l-1})
            delta = architecture.hidden.backward(torch.mm(delta, weights[index]), previous)
    return torch.mm(delta, weights[0]) if need_grad_x else None


class Backpropagation(torch.autograd.Function):
    """``C = mean over the batch of cost(network(x), E)``, with a hand-written gradient for ``P`` and ``x``."""

    @staticmethod
    def forward(
        ctx: Any,
        params: Tensor,
        x: Tensor,
        expected: Tensor,
        architecture: Architecture,
        cost: Cost,
        layers: list[tuple[Tensor, Tensor]] | None = None,
    ) -> Tensor:
        """``layers`` is ``architecture.split(params)``, views of ``P`` that a caller may keep from one
        mini-batch to the next (:class:`~src.network.mlp.MLP` does); made here when not given."""
        if layers is None:
            layers = architecture.split(params)
        dtype = compute_dtype(x, params.dtype)
        mixed = dtype != params.dtype
        with explicit_dtypes(x.device, mixed):
            if mixed:  # the layers in the autocast dtype
                layers = [(weight.to(dtype), bias.to(dtype)) for weight, bias in layers]
            activations, z = feedforward(layers, architecture, cast(x, dtype))
            output, target = activations[-1], expected
            if mixed:  # the cost in the parameters' dtype
                output, z, target = output.to(params.dtype), z.to(params.dtype), target.to(params.dtype)
            cost_value = cost.per_sample(z, output, target).mean()
        # The inputs go through save_for_backward, which notices if they change before backward. The
        # weights (views of P, sharing its version counter) and the activations are the forward pass's own
        # tensors: kept on ctx, which costs less per mini-batch, and freed with the graph.
        ctx.save_for_backward(params, expected)
        ctx.architecture = architecture
        ctx.cost = cost
        ctx.input_dtype = x.dtype
        ctx.weights = [weight for weight, _ in layers]
        ctx.activations = activations
        return cost_value

    @staticmethod
    def backward(ctx: Any, grad_cost: Tensor) -> tuple[Tensor | None, ...]:
        params, expected = ctx.saved_tensors
        architecture, cost, weights, activations = ctx.architecture, ctx.cost, ctx.weights, ctx.activations
        need_grad_x = ctx.needs_input_grad[1]
        dtype = activations[-1].dtype  # the layers' dtype (see forward)
        with explicit_dtypes(params.device, dtype != params.dtype):
            grad_params = torch.empty_like(params, dtype=dtype)
            grad_x = backpropagate(
                architecture,
                cost,
                weights,
                activations,
                cast(expected, dtype),
                grad_cost,
                grad_params,
                need_grad_x,
            )
        grad_x = None if grad_x is None else cast(grad_x, ctx.input_dtype)
        return cast(grad_params, params.dtype), grad_x, None, None, None, None
