"""Unit tests of the network's building blocks, each pinning one behaviour that other tests only see by
accident: the layout of ``P``, the initial scale of each layer, the cost under bf16 autocast, the ReLU
derivative at 0, and the check that keeps non-finite weights out of checkpoints."""

import math

import pytest
import torch

from src.checkpoint import finite_weights
from src.network.activations import get_activation
from src.network.mlp import MLP


def layers_of(net: MLP) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``[(W_{2,1}, B_2), ...]`` as the network uses them: the one place these tests name how."""
    return net.architecture.split(net.params)


def test_p_holds_each_layer_row_major_weights_then_biases():
    """``P = [W_{2,1} row by row, B_2, W_{3,2} row by row, B_3]``: checkpoints depend on this order."""
    net = MLP([3, 4, 2])
    assert net.params.numel() == 4 * 3 + 4 + 2 * 4 + 2
    with torch.no_grad():
        net.params.copy_(torch.arange(26, dtype=torch.float32))
    (w2, b2), (w3, b3) = layers_of(net)
    p = net.params.detach()
    assert torch.equal(w2, p[:12].view(4, 3))
    assert torch.equal(b2, p[12:16])
    assert torch.equal(w3, p[16:24].view(2, 4))
    assert torch.equal(b3, p[24:26])
    assert w2[1, 2].item() == 1 * 3 + 2  # row = neuron, column = input: row-major
    with torch.no_grad():
        w3[1, 0] = -7.0  # the layers are views: writing one writes P
    assert p[16 + 1 * 4 + 0].item() == -7.0


def test_forward_pass_reads_w_rows_as_neurons():
    """``L_2 = S(W_{2,1} L_1 + B_2)`` with ``W_{2,1}`` the first 12 entries of ``P`` as 4 rows of 3."""
    torch.manual_seed(0)
    net = MLP([3, 4, 2]).double()
    p = net.params.detach()
    x = torch.randn(5, 3, dtype=torch.float64)
    hidden = torch.sigmoid(x @ p[:12].view(4, 3).T + p[12:16])
    output = torch.sigmoid(hidden @ p[16:24].view(2, 4).T + p[24:26])
    torch.testing.assert_close(net(x), output, rtol=1e-12, atol=1e-12)


# Layer sizes with fan-ins 1000 and 200: every weight matrix has >= 10,000 entries (its sample standard
# deviation is within 1% of the true one), every bias vector >= 50 (within ~10%). The tolerances are
# 4-5 of those errors wide, and a 1/fan_in or a wrong layer's fan_in is off by 40% or more.
SIZES = [1000, 200, 50]


@pytest.mark.parametrize(
    ("init", "weight_std"),
    [("normal", lambda fan_in: 1.0), ("scaled_normal", lambda fan_in: 1.0 / math.sqrt(fan_in))],
)
@pytest.mark.parametrize("seed", [0, 1])
def test_initial_scale_of_each_layer(init, weight_std, seed):
    """``normal``: every weight and bias from N(0, 1); ``scaled_normal``: weights from N(0, 1/fan_in),
    biases from N(0, 1)."""
    torch.manual_seed(seed)
    net = MLP(SIZES, init="".join(list(init)))  # a name made at run time, as one read from YAML is
    for (weight, bias), fan_in in zip(layers_of(net), SIZES[:-1], strict=True):
        expected = weight_std(fan_in)
        assert weight.std().item() == pytest.approx(expected, rel=0.05), (init, fan_in)
        assert abs(weight.mean().item()) < 5 * expected / math.sqrt(weight.numel())
        assert bias.std().item() == pytest.approx(1.0, rel=0.4), (init, fan_in)
        assert abs(bias.mean().item()) < 5 / math.sqrt(bias.numel())


def test_bf16_autocast_cost_is_float32_cost_of_the_bf16_forward_pass():
    """Under bf16 autocast the layers run in bfloat16 and the cost ``mean sum_k (a_k - E_k)^2`` is
    computed in float32 from the bf16 output (a cost computed in bf16 is off by about 0.2%)."""
    torch.manual_seed(0)
    net = MLP([64, 32, 10])
    x = torch.rand(50, 64)
    expected = torch.eye(10)[torch.randint(0, 10, (50,))]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = net.loss(x, expected)
    assert loss.dtype == torch.float32

    a = x.bfloat16()
    for weight, bias in layers_of(net):
        a = torch.sigmoid(torch.nn.functional.linear(a, weight.detach().bfloat16(), bias.detach().bfloat16()))
    assert a.dtype == torch.bfloat16
    by_hand = ((a.float() - expected) ** 2).sum(dim=1).mean()
    torch.testing.assert_close(loss.detach(), by_hand, rtol=1e-6, atol=0.0)
    in_float32 = MLP([64, 32, 10])
    in_float32.load_state_dict(net.state_dict())
    assert abs(in_float32.loss(x, expected).item() - by_hand.item()) > 1e-4  # bf16 made a difference


def test_bf16_autocast_gradient_is_float32_and_close_to_the_float32_one():
    torch.manual_seed(0)
    net = MLP([64, 32, 10])
    x = torch.rand(50, 64)
    expected = torch.eye(10)[torch.randint(0, 10, (50,))]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        net.loss(x, expected).backward()
    in_bf16 = net.params.grad.clone()
    net.params.grad = None
    net.loss(x, expected).backward()
    assert in_bf16.dtype == torch.float32
    torch.testing.assert_close(in_bf16, net.params.grad, rtol=0.05, atol=0.02 * net.params.grad.abs().max())


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "leaky_relu"])
def test_derivative_from_the_output_is_autograds_at_every_z_and_at_exactly_0(name):
    """``S'(z)`` from ``a = S(z)`` equals autograd's derivative of torch's own function, at z = 0 too:
    ``f'(0) = 0`` for ReLU and ``slope`` for leaky ReLU, as torch has them."""
    activation = get_activation(name, negative_slope=0.2)
    z = torch.tensor([-2.0, -0.5, 0.0, 0.5, 3.0], dtype=torch.float64, requires_grad=True)
    reference = {
        "relu": torch.relu,
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "leaky_relu": lambda z: torch.nn.functional.leaky_relu(z, 0.2),
    }[name]
    (by_autograd,) = torch.autograd.grad(reference(z).sum(), z)
    a = activation.value(z.detach())
    torch.testing.assert_close(a, reference(z).detach())
    torch.testing.assert_close(activation.derivative(a), by_autograd)
    torch.testing.assert_close(activation.backward(torch.full_like(a, 5.0), a), 5.0 * by_autograd)


def test_leaky_relu_slope_defaults_to_0_01_and_must_be_positive():
    assert get_activation("leaky_relu").derivative(torch.tensor([-1.0])).item() == pytest.approx(0.01)
    hidden = MLP([2, 3, 2], "leaky_relu").architecture.hidden
    assert hidden.derivative(torch.tensor([-1.0])).item() == pytest.approx(0.01)
    for slope in (0.0, -0.1):
        with pytest.raises(ValueError, match="negative_slope"):
            get_activation("leaky_relu", negative_slope=slope)


def test_choices_made_at_run_time_are_recognised():
    """Names read from a config are new string objects, not the literals in the code."""

    def fresh(text: str) -> str:
        return "".join(list(text))

    for activation in ("sigmoid", "relu", "tanh", "leaky_relu"):
        for cost in ("mse", "cross_entropy"):
            net = MLP(
                [2, 2], fresh(activation), cost=fresh(cost), backprop=fresh("manual"), init=fresh("normal")
            )
            assert (net.architecture.hidden.name, net.cost.name) == (activation, cost)


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "leaky_relu"])
def test_error_through_an_activation_is_the_error_times_the_derivative(name):
    """``dC/dz = dC/da * S'(z)``."""
    activation = get_activation(name)
    z = torch.linspace(-3, 3, 7, dtype=torch.float64)
    a = activation.value(z)
    grad = torch.linspace(-1, 2, 7, dtype=torch.float64)
    torch.testing.assert_close(activation.backward(grad.clone(), a), grad * activation.derivative(a))


def test_relu_blocks_an_overflowed_error_where_it_is_off():
    """An error that overflowed to inf meets ``S'(z) = 0`` at an inactive ReLU: the result is 0, not
    ``inf * 0 = NaN``; where the ReLU is active the inf passes."""
    relu = get_activation("relu")
    a = relu.value(torch.tensor([-1.0, 0.0, 2.0]))
    error = torch.tensor([math.inf, -math.inf, math.inf])
    assert torch.equal(relu.backward(error, a), torch.tensor([0.0, 0.0, math.inf]))


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "leaky_relu"])
def test_other_activations_pass_an_overflowed_error_on_as_autograd_does(name):
    """Only ReLU stops an infinite error where it is off; elsewhere ``inf * S'(z)`` is what autograd
    gives, NaN where a saturated ``S'(z)`` is exactly 0."""
    activation = get_activation(name)
    reference = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "leaky_relu": torch.nn.functional.leaky_relu}[
        name
    ]
    z = torch.tensor([-1e4, -1.0, 0.0, 1.0, 1e4], requires_grad=True)
    error = torch.full((5,), math.inf)
    (by_autograd,) = torch.autograd.grad(reference(z), z, error)
    a = activation.value(z.detach())
    torch.testing.assert_close(activation.backward(error.clone(), a), by_autograd, equal_nan=True)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_finite_weights_refuses_nan_and_inf(bad):
    weights = torch.zeros(5)
    weights[3] = bad
    assert not finite_weights({"net.params": weights})
    assert not finite_weights({"a": torch.ones(2), "net.params": weights, "step": 3})
    assert not finite_weights({"half": weights.half()})


def test_finite_weights_accepts_finite_floats_and_ignores_other_values():
    huge = torch.tensor([torch.finfo(torch.float32).max, -1e-45, 0.0])
    assert finite_weights({"net.params": huge, "counts": torch.tensor([1, 2]), "name": "x"})
    assert finite_weights({})


def test_loss_follows_p_to_a_new_storage_at_a_lower_or_higher_address():
    """``P`` given new storage (as moving or converting the module does) is what the loss reads next,
    wherever in memory the new storage lies."""
    torch.manual_seed(0)
    net = MLP([5, 4, 3]).double()
    reference = MLP([5, 4, 3], backprop="autograd").double()
    x = torch.rand(6, 5, dtype=torch.float64)
    expected = torch.eye(3, dtype=torch.float64)[[0, 1, 2, 0, 1, 2]]
    net.loss(x, expected)
    pool = sorted(
        (torch.randn(net.params.numel(), dtype=torch.float64) for _ in range(8)), key=torch.Tensor.data_ptr
    )
    for storage in (pool[0], pool[-1], pool[0]):  # then higher, then lower than the one before
        net.params.data = storage
        reference.load_state_dict(net.state_dict())
        torch.testing.assert_close(net.loss(x, expected), reference.loss(x, expected), rtol=1e-12, atol=0)


def test_the_autocast_state_of_the_inputs_device_decides_the_dtype(monkeypatch):
    """Autocast is asked about the device ``x`` lives on (here a meta tensor, standing in for a GPU one on
    a machine without a GPU), not about the CPU."""
    from src.network.backprop import compute_dtype

    asked = []
    monkeypatch.setattr(torch, "is_autocast_enabled", lambda device_type: asked.append(device_type) or False)
    assert compute_dtype(torch.empty(2, device="meta"), torch.float32) == torch.float32
    assert compute_dtype(torch.empty(2), torch.float64) == torch.float64
    assert asked == ["meta", "cpu"]
