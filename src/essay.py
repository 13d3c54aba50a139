"""Every worked example of the essay, computed by this project's own code: ``python -m src.essay``.

Section 3: the sigmoid and the ReLU with and without a bias, the 13,002 weights and biases of a
784-16-16-10 network, and the forward pass ``L_3 = S(W_{3,2} L_2 + B_3)`` of a 4 -> 2 output layer.
Section 4: the chain rule ``dC/dW_{1,1} = dC/da * da/dAS * dAS/dW_{1,1}`` for one weight, checked against
the hand-written :class:`~src.network.backprop.Backpropagation`, and the gradient-descent step for it.

Nothing here re-implements the mathematics: the numbers come from ``get_activation``, ``get_cost``,
``Architecture``, ``feedforward`` and ``Backpropagation``. The functions return numbers, for the tests; ``main`` prints
them, each formula with its numbers, to the digits the essay prints. Everything runs in float64.
"""

import sys
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from src.cli import report_user_errors
from src.errors import UserError
from src.network.activations import get_activation
from src.network.backprop import Backpropagation
from src.network.cost import get_cost
from src.network.layers import Architecture, feedforward

DTYPE = torch.float64
SIGMOID = get_activation("sigmoid")
MSE = get_cost("mse")

# Section 3: an activation's argument (the dot product) and the bias added to it (None: no bias).
BIAS_EXAMPLES: dict[str, list[tuple[float, float | None]]] = {
    "sigmoid": [(1.0, None), (1.0, -5.0), (-5.0, None), (-5.0, -5.0), (10.0, None), (10.0, -5.0)],
    "relu": [(3.0, None), (3.0, -5.0), (4.99, -5.0), (-4.0, None), (-4.0, 5.0)],
}

# Section 3: the 4 -> 2 output layer of Figure 3, with its "randomly generated" values.
W_32 = ((-1.48, -2.49, 2.72, 3.46), (-1.81, 2.84, -0.438, -4.80))
L_2 = (0.978, 0.322, 0.315, 0.201)
B_3 = (0.884, -0.226)
E_3 = (1.0, 1.0)  # the expected outputs E_1 = E_2 = 1 the output's cost is computed for (not in the essay)
OUTPUT_LAYER = Architecture((4, 2), SIGMOID, SIGMOID)

# Section 3: 28 x 28 pixels in, two hidden layers of 16, ten digits out.
MNIST_SIZES = (784, 16, 16, 10)

# Section 4: the weight W_{1,1}, the recorded a(n_1^2) and AS_1^3, the expected E_1 and the learning rate.
W_11, A_PREV, AS, E_1, RATE = 0.15, 0.8, 0.5, 1.0, 0.05
ESSAY_UPDATE = 0.1271  # what the essay prints for 0.15 - 0.05 * (-0.142): an arithmetic slip
ONE_WEIGHT = Architecture((1, 1), SIGMOID, SIGMOID)


def tensor(values: object) -> Tensor:
    return torch.tensor(values, dtype=DTYPE)


def activate(name: str, x: float, bias: float | None = None) -> float:
    """``S(x + bias)`` for the activation called ``name``."""
    return get_activation(name).value(tensor(x + (bias or 0.0))).item()


def pack(architecture: Architecture, layers: Sequence[tuple[object, object]]) -> Tensor:
    """The parameter vector ``P`` holding ``layers = [(W_{2,1}, B_2), ...]``, written through its views."""
    params = torch.empty(architecture.num_parameters, dtype=DTYPE)
    for (weight, bias), (w, b) in zip(architecture.split(params), layers, strict=True):
        weight.copy_(tensor(w))
        bias.copy_(tensor(b))
    return params


def parameter_count(sizes: Sequence[int]) -> tuple[list[tuple[int, int, int]], int]:
    """``(inputs, neurons, weights + biases)`` of each layer, and ``Architecture.num_parameters``."""
    architecture = Architecture(tuple(sizes), SIGMOID, SIGMOID)
    layers = architecture.split(torch.zeros(architecture.num_parameters))
    per_layer = [(w.shape[1], w.shape[0], w.numel() + b.numel()) for w, b in layers]
    return per_layer, architecture.num_parameters


@dataclass(frozen=True)
class OutputLayer:
    weighted: list[float]  # W_{3,2} L_2
    activation_sum: list[float]  # W_{3,2} L_2 + B_3
    output: list[float]  # L_3 = S(W_{3,2} L_2 + B_3)


def output_layer() -> OutputLayer:
    """Section 3's forward pass by ``feedforward``; ``W_{3,2} L_2`` alone is the pass with ``B_3 = 0``."""
    x = tensor([L_2])  # one sample, as a row
    _, weighted = feedforward(OUTPUT_LAYER.split(pack(OUTPUT_LAYER, [(W_32, (0.0, 0.0))])), OUTPUT_LAYER, x)
    activations, z = feedforward(OUTPUT_LAYER.split(pack(OUTPUT_LAYER, [(W_32, B_3)])), OUTPUT_LAYER, x)
    return OutputLayer(weighted[0].tolist(), z[0].tolist(), activations[-1][0].tolist())


@dataclass(frozen=True)
class LayerGradient:
    cost: float  # C = (a(n_1^3) - E_1)^2 + (a(n_2^3) - E_2)^2
    weight: list[list[float]]  # dC/dW_{3,2}
    bias: list[float]  # dC/dB_3


def output_layer_gradient() -> LayerGradient:
    """The cost of the section 3 output for ``E`` = :data:`E_3` and its gradient from
    :class:`Backpropagation`."""
    params = pack(OUTPUT_LAYER, [(W_32, B_3)]).requires_grad_()
    cost = Backpropagation.apply(params, tensor([L_2]), tensor([E_3]), OUTPUT_LAYER, MSE)
    (grad,) = torch.autograd.grad(cost, params)
    [(grad_weight, grad_bias)] = OUTPUT_LAYER.split(grad)
    return LayerGradient(cost.item(), grad_weight.tolist(), grad_bias.tolist())


def one_weight_network() -> tuple[Tensor, Tensor, Tensor]:
    """``P``, ``x`` and ``E`` of a 1 -> 1 sigmoid layer: neuron ``n_1^3`` seen through ``W_{1,1}`` alone.

    Input ``a(n_1^2) = 0.8``, weight ``W_{1,1} = 0.15`` and a bias standing for the rest of
    ``AS_1^3`` (the other weighted inputs and ``b_1^3``), chosen so that ``AS_1^3 = 0.5``; ``E_1 = 1``.
    The second output's term of ``C`` does not depend on ``W_{1,1}``, so it is left out.
    """
    params = pack(ONE_WEIGHT, [(((W_11,),), (AS - W_11 * A_PREV,))])
    return params, tensor([[A_PREV]]), tensor([[E_1]])


@dataclass(frozen=True)
class ChainRule:
    activation_sum: float  # AS_1^3
    output: float  # a(n_1^3) = S(AS_1^3)
    dcost_doutput: float  # dC/da(n_1^3) = 2(a(n_1^3) - E_1)
    doutput_dsum: float  # da(n_1^3)/dAS_1^3 = S'(AS_1^3)
    dsum_dweight: float  # dAS_1^3/dW_{1,1} = a(n_1^2)
    output_error: float  # dC/dAS_1^3, the cost's output_error (backprop's delta)
    backprop: float  # dC/dW_{1,1} from Backpropagation

    @property
    def product(self) -> float:
        """``dC/da * da/dAS * dAS/dW_{1,1}`` from the unrounded factors."""
        return self.dcost_doutput * self.doutput_dsum * self.dsum_dweight

    @property
    def rounded_product(self) -> float:
        """The same product from the factors rounded as the essay prints them: -0.755 * 0.235 * 0.8."""
        return round(self.dcost_doutput, 3) * round(self.doutput_dsum, 3) * round(self.dsum_dweight, 3)


def chain_rule() -> ChainRule:
    """Section 4's partial derivatives, each read off the project's forward pass, cost or activation."""
    params, x, expected = one_weight_network()
    activations, z = feedforward(ONE_WEIGHT.split(params), ONE_WEIGHT, x)
    previous, a = activations  # a(n_1^2) and a(n_1^3)
    cost = Backpropagation.apply(params.requires_grad_(), x, expected, ONE_WEIGHT, MSE)
    (grad,) = torch.autograd.grad(cost, params)
    return ChainRule(
        activation_sum=z.item(),
        output=a.item(),
        dcost_doutput=MSE.derivative(a, expected).item(),
        doutput_dsum=SIGMOID.derivative(a).item(),
        dsum_dweight=previous.item(),  # AS = w_{1,1} a(n_1^2) + ... + b, so dAS/dw_{1,1} = a(n_1^2)
        output_error=MSE.output_error(a, expected, SIGMOID).item(),
        backprop=grad[0].item(),
    )


def gradient_step(weight: float, rate: float, gradient: float) -> float:
    """``W - r dC/dW``: the corrected weight (the essay writes it ``ΔW``), one step of torch's SGD
    (``optimizer=sgd``), not a formula of our own."""
    parameter = torch.tensor([weight], dtype=torch.float64, requires_grad=True)
    parameter.grad = torch.tensor([gradient], dtype=torch.float64)
    torch.optim.SGD([parameter], lr=rate).step()
    return parameter.item()


def vector(values: Sequence[float], digits: int) -> str:
    return "[" + ", ".join(f"{v:.{digits}f}" for v in values) + "]"


def argument(x: float, bias: float | None) -> str:
    if bias is None:
        return f"{x:g}"
    return f"{x:g} + ({bias:g})" if bias < 0 else f"{x:g} + {bias:g}"


def heading(title: str) -> None:
    print(f"\n{title}\n{'=' * len(title)}")


def print_section_3() -> None:
    heading("3 Layer to layer transition and neuron activation")

    print("\nSigmoid S(x) = 1 / (1 + e^-x); a bias of -5 moves where the neuron activates:")
    for x, bias in BIAS_EXAMPLES["sigmoid"]:
        value = activate("sigmoid", x, bias)
        note = f"  (≈ {round(value):d})" if round(value, 4) in (0.0, 1.0) else ""
        print(f"  S({argument(x, bias)}) ≈ {value:.4f}{note}")

    print("\nReLU f(x) = max(0, x); the bias acts as an activation threshold:")
    for x, bias in BIAS_EXAMPLES["relu"]:
        print(f"  f({argument(x, bias)}) = {activate('relu', x, bias):g}")

    per_layer, total = parameter_count(MNIST_SIZES)
    sizes = "-".join(map(str, MNIST_SIZES))
    print(f"\nWeights and biases of a {sizes} network (a weight per connection, a bias per neuron):")
    for inputs, neurons, count in per_layer:
        print(f"  {inputs} × {neurons} + {neurons} = {count:,}")
    print(f"  total = {' + '.join(f'{count:,}' for *_, count in per_layer)} = {total:,}")

    layer = output_layer()
    weighted, summed = vector(layer.weighted, 5), vector(layer.activation_sum, 5)
    print("\nOutput layer of Figure 3: L_3 = S(W_{3,2} L_2 + B_3)")
    print(f"  W_{{3,2}} = {[list(row) for row in W_32]}")
    print(f"  L_2 = {list(L_2)},  B_3 = {list(B_3)}")
    for row, value in zip(W_32, layer.weighted, strict=True):
        terms = [f"{w:g} × {a:g}" if w >= 0 else f"({w:g} × {a:g})" for w, a in zip(row, L_2, strict=True)]
        print(f"  {' + '.join(terms)} = {value:.5f}")
    print(f"  W_{{3,2}} L_2 + B_3 = {weighted} + {vector(B_3, 3)} = {summed}")
    print(f"  L_3 = S({summed}) ≈ {vector(layer.output, 3)}")


def print_section_4() -> None:
    heading("4 System motivation, training, and optimization")

    grad = output_layer_gradient()
    a1, a2 = output_layer().output
    print("\nCost of section 3's output for E_1 = E_2 = 1 (not in the essay), and its gradient from")
    print("Backpropagation.apply:")
    print(f"  C = (a(n_1^3) - E_1)^2 + (a(n_2^3) - E_2)^2 = ({a1:.4f} - 1)^2 + ({a2:.4f} - 1)^2")
    print(f"    = {grad.cost:.4f}")
    for m, row in enumerate(grad.weight, start=1):
        print(f"  dC/dW_{{{m},p}} = {vector(row, 4)},  dC/db_{m}^3 = {grad.bias[m - 1]:.4f}")

    c = chain_rule()
    print(f"\nThe chain rule for W_{{1,1}} = {W_11:g}:")
    print("  dC/dW_{1,1} = dC/da(n_1^3) · da(n_1^3)/dAS_1^3 · dAS_1^3/dW_{1,1}")
    print(
        f"  a(n_1^2) = {A_PREV:g} and AS_1^3 = {c.activation_sum:g}, so a(n_1^3) = S({AS:g}) ≈ {c.output:.4f}"
    )
    print(f"  dC/da(n_1^3)      = 2(a(n_1^3) - E_1) = 2({c.output:.4f} - 1) = {c.dcost_doutput:.3f}")
    print(f"  da(n_1^3)/dAS_1^3 = S'({AS:g}) = e^-{AS:g} / (1 + e^-{AS:g})^2 ≈ {c.doutput_dsum:.3f}")
    print(f"  dAS_1^3/dW_{{1,1}}  = a(n_1^2) = {c.dsum_dweight:g}")
    factors = f"{c.dcost_doutput:.3f} × {c.doutput_dsum:.3f} × {c.dsum_dweight:g}"
    print(f"  dC/dW_{{1,1}}       = {factors} ≈ {c.rounded_product:.3f}")
    print(f"  Backpropagation.apply: dC/dW_{{1,1}} = {c.backprop:.5f} ≈ {c.backprop:.3f}, the essay's value")
    print(f"  (the rounded factors give {c.rounded_product:.5f}, the unrounded ones {c.product:.5f}:")
    print("  the small difference is only the rounding of the factors to 3 digits).")
    print(f"  Its route: delta = dC/dAS_1^3 = cost.output_error = {c.output_error:.4f},")
    print(f"  dC/dW_{{1,1}} = delta × a(n_1^2) = {c.output_error:.4f} × {A_PREV:g} = {c.backprop:.5f}.")

    essay_grad = round(c.rounded_product, 3)
    update = gradient_step(W_11, RATE, essay_grad)
    exact = gradient_step(W_11, RATE, c.backprop)
    print(f"\nGradient descent with learning rate r = {RATE:g}: ΔW_{{1,1}} = W_{{1,1}} - r dC/dW_{{1,1}}")
    print(f"  ΔW_{{1,1}} = {W_11:g} - {RATE:g} × ({essay_grad:g}) = {update:.4f}")
    print(f"  (with the exact gradient: {W_11:g} - {RATE:g} × ({c.backprop:.5f}) = {exact:.4f})")
    step = -RATE * essay_grad
    print(
        f"  The essay prints {ESSAY_UPDATE}: an arithmetic slip. -{RATE:g} × ({essay_grad:g}) = +{step:.4f}"
    )
    print(f"  is added, so the weight grows from {W_11:g} to {update:.4f} (against dC/dW_{{1,1}} < 0).")


@report_user_errors
def main(arguments: list[str]) -> None:
    if arguments:
        raise UserError(
            f"{arguments[0]}: python -m src.essay takes no arguments (it prints the essay's examples)"
        )
    print("The essay's worked examples, computed by src.network (float64)")
    print_section_3()
    print_section_4()


if __name__ == "__main__":
    main(sys.argv[1:])
