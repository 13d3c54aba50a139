"""What the demo page shows, computed by the project's own code on an in-memory copy of a checkpoint's
network; nothing here knows of HTTP.

- forward pass (essay, section 3): every layer's activations ``L_l = S(W_{l,l-1} L_{l-1} + B_l)`` by
  :func:`~src.network.layers.feedforward`, as :func:`src.predict.predict` computes the output;
- backpropagation (section 4): ``C`` and ``grad C`` from the hand-written
  :class:`~src.network.backprop.Backpropagation` (forward and backward), whatever ``backprop`` the
  checkpoint was trained with. For one sample ``dC/dB_l = delta_l`` (``dAS/dB = 1``), so each layer's
  error ``delta_l`` is read off the bias gradient Backpropagation returns;
- the chain rule for one weight ``W`` from neuron ``k`` of layer ``l-1`` to neuron ``j`` of layer ``l``:
  ``dC/dW = dC/da_j * da_j/dAS_j * dAS_j/dW`` with ``dC/da_j`` the cost's derivative (output layer) or
  ``(delta_{l+1} W_{l+1,l})_j`` (a hidden layer), ``da_j/dAS_j = S'(AS_j)`` the activation's derivative
  and ``dAS_j/dW = a_k``;
- gradient descent (section 4): ``P <- P - r grad C`` on the copy; the checkpoint file never changes. A
  step that would make a parameter, the output or the cost NaN or infinite is refused (:class:`Diverged`)
  and the copy kept as it was: NaN parameters would make every later answer NaN.

Layers are numbered as in the essay: ``L_1`` is the input layer, ``W_{l,l-1}`` feeds layer ``l``.
"""

import math
import threading
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from src.images import Layout, layout_for
from src.network.backprop import Backpropagation
from src.network.layers import feedforward
from src.network.mlp import MLP


@dataclass(frozen=True)
class WeightChoice:
    """``W_{l,l-1}[neuron, source]``: the weight from neuron ``source`` of layer ``l-1`` to neuron
    ``neuron`` of layer ``l`` (``layer`` = ``l``, 2 for the first weight matrix)."""

    layer: int
    neuron: int
    source: int


class Diverged(ArithmeticError):
    """An SGD step not taken: it would make (or the network already makes) a number NaN or infinite."""


def all_finite(*tensors: Tensor) -> bool:
    """Whether no number of ``tensors`` is NaN or infinite."""
    return all(bool(tensor.isfinite().all()) for tensor in tensors)


def finite_or_none(value: float) -> float | None:
    """``value``, or ``None`` where it is infinite or NaN (JSON has no such numbers): the cross-entropy's
    ``dC/da = (a - E) / (a(1 - a))`` of an output saturated to exactly 0 or 1."""
    return value if math.isfinite(value) else None


class DemoNetwork:
    """An in-memory copy of a checkpoint's :class:`~src.network.mlp.MLP`, changed only by :meth:`step`
    and restored by :meth:`reset`. Its methods hold a lock: the server calls them from several threads."""

    def __init__(self, net: MLP, rate: float, data: object = None) -> None:
        self.net = net
        self.rate = rate  # the learning rate the page offers first: the checkpoint's own
        self.checkpoint_params = net.params.detach().clone()
        self.steps = 0
        self.layout: Layout = layout_for(self.sizes[0], data)  # data: the checkpoint's, as predict reads it
        self.identity = torch.eye(self.sizes[-1], dtype=net.params.dtype)
        self.lock = threading.Lock()

    @property
    def sizes(self) -> tuple[int, ...]:
        return self.net.architecture.sizes

    def as_input(self, values: list[float]) -> Tensor:
        """One sample as a row, in the network's dtype."""
        return torch.tensor([values], dtype=self.net.params.dtype)

    def describe(self) -> dict[str, Any]:
        """The network's shape, activations, cost, SGD steps taken, and every weight matrix
        ``W_{l,l-1}`` (one row per neuron of layer ``l``; in ``W_{2,1}`` a row is a ``side x side`` image)."""
        with self.lock:
            return {
                "sizes": list(self.sizes),
                "side": self.layout.side,
                "hidden_activation": self.net.architecture.hidden.name,
                "output_activation": self.net.architecture.output.name,
                "cost": self.net.cost.name,
                "rate": self.rate,
                "steps": self.steps,
                "weights": [weight.detach().tolist() for weight, _ in self.net.layers()],
            }

    def forward(self, x: list[float]) -> dict[str, Any]:
        """Every layer's activations ``[L_1 = x, L_2, ..., L_out]`` and the predicted class."""
        with self.lock, torch.no_grad():
            activations, _ = feedforward(self.net.layers(), self.net.architecture, self.as_input(x))
        return {
            "activations": [layer[0].tolist() for layer in activations],
            "prediction": int(activations[-1][0].argmax()),
        }

    def _cost_and_gradient(self, x: Tensor, expected: Tensor) -> tuple[Tensor, Tensor]:
        """``C`` and ``grad C`` from :class:`Backpropagation`'s forward and backward."""
        params = self.net.params.detach().requires_grad_()
        with torch.enable_grad():
            cost = Backpropagation.apply(params, x, expected, self.net.architecture, self.net.cost)
            (grad,) = torch.autograd.grad(cost, params)
        return cost.detach(), grad

    def backprop(self, x: list[float], digit: int, weight: WeightChoice) -> dict[str, Any]:
        """The cost for the expected ``digit``, its terms, every layer's ``delta``, ``grad C`` of each
        weight matrix and bias, and the chain rule for ``weight``."""
        with self.lock, torch.no_grad():
            sample, expected = self.as_input(x), self.identity[digit][None]
            cost, grad = self._cost_and_gradient(sample, expected)
            architecture, layers = self.net.architecture, self.net.layers()
            activations, z = feedforward(layers, architecture, sample)
            grads = architecture.split(grad)
            # each output neuron's term of C: the cost of that neuron alone (the costs sum over neurons)
            terms = [
                float(
                    self.net.cost.per_sample(
                        z[:, k : k + 1], activations[-1][:, k : k + 1], expected[:, k : k + 1]
                    )
                )
                for k in range(self.sizes[-1])
            ]
            return {
                "digit": digit,
                "expected": expected[0].tolist(),
                "cost": float(cost),
                "cost_terms": terms,
                "output": activations[-1][0].tolist(),
                "deltas": [grad_bias.tolist() for _, grad_bias in grads],  # dC/dB_l = delta_l
                "grad_weights": [grad_weight.tolist() for grad_weight, _ in grads],
                "grad_norm": float(grad.norm()),
                "chain": self._chain_rule(activations, expected, grads, weight),
            }

    def _chain_rule(
        self,
        activations: list[Tensor],
        expected: Tensor,
        grads: list[tuple[Tensor, Tensor]],
        weight: WeightChoice,
    ) -> dict[str, Any]:
        """``dC/dW = dC/da * da/dAS * dAS/dW`` for ``weight``, each factor read off the project's code,
        next to the value :class:`Backpropagation` returned."""
        architecture = self.net.architecture
        index = weight.layer - 2  # W_{l,l-1} is the (l-2)-th weight matrix
        last = index == len(grads) - 1
        a = activations[index + 1]
        if last:
            dcost_da = self.net.cost.derivative(a, expected)[0, weight.neuron]
            activation = architecture.output
        else:  # the error the next layer passes back, before this layer's S'
            next_delta, next_weight = grads[index + 1][1], self.net.layers()[index + 1][0]
            dcost_da = (next_delta @ next_weight)[weight.neuron]
            activation = architecture.hidden
        da_dsum = activation.derivative(a)[0, weight.neuron]
        dsum_dw = activations[index][0, weight.source]
        return {
            "layer": weight.layer,
            "neuron": weight.neuron,
            "source": weight.source,
            "weight": float(self.net.layers()[index][0][weight.neuron, weight.source]),
            "output_layer": last,
            "activation": activation.name,
            "a": float(a[0, weight.neuron]),
            "dcost_da": finite_or_none(float(dcost_da)),
            "da_dsum": float(da_dsum),
            "dsum_dw": float(dsum_dw),
            "product": finite_or_none(float(dcost_da) * float(da_dsum) * float(dsum_dw)),
            "backprop": float(grads[index][0][weight.neuron, weight.source]),
        }

    def step(self, x: list[float], digit: int, rate: float) -> dict[str, Any]:
        """One SGD step ``P <- P - r grad C`` for this sample: the output and cost before and after.
        Raises :class:`Diverged`, the parameters unchanged, where a parameter, the output or the cost
        is NaN or infinite before or after it."""
        with self.lock, torch.no_grad():
            sample, expected = self.as_input(x), self.identity[digit][None]
            before = self.net(sample)[0]
            cost_before, grad = self._cost_and_gradient(sample, expected)
            if not all_finite(before, cost_before):  # no rate helps: earlier steps made the weights huge
                raise Diverged(
                    "no step taken: the network's output or cost for this input is already NaN or infinite "
                    "(earlier steps made its weights huge): reset it to the checkpoint"
                )
            kept = self.net.params.detach().clone()
            self.net.params.add_(grad, alpha=-rate)
            after = self.net(sample)[0]
            cost_after, _ = self._cost_and_gradient(sample, expected)
            # finite parameters may still overflow to inf - inf = NaN in the forward pass: all are checked
            if not all_finite(self.net.params, after, cost_after):
                self.net.params.copy_(kept)
                raise Diverged(
                    "the SGD step diverged (a parameter, the output or the cost became NaN or infinite) and "
                    "was not taken: try a smaller rate"
                )
            self.steps += 1
            return {
                "rate": rate,
                "steps": self.steps,
                "output_before": before.tolist(),
                "output_after": after.tolist(),
                "cost_before": float(cost_before),
                "cost_after": float(cost_after),
            }

    def reset(self) -> dict[str, Any]:
        """Back to the checkpoint's parameters."""
        with self.lock, torch.no_grad():
            self.net.params.copy_(self.checkpoint_params)
            self.steps = 0
        return {"steps": 0}
