"""The hand-written backward against finite differences (gradcheck) and against autograd."""

import itertools

import pytest
import torch

from src.network.activations import ACTIVATIONS
from src.network.backprop import Backpropagation
from src.network.cost import COSTS
from src.network.mlp import MLP

CASES = list(itertools.product(ACTIVATIONS, COSTS))


def make_pair(sizes, activation, cost, dtype=torch.float64, seed=0):
    """The same network twice: once with the hand-written backward, once through autograd."""
    torch.manual_seed(seed)
    manual = MLP(sizes, activation, cost=cost, backprop="manual").to(dtype)
    reference = MLP(sizes, activation, cost=cost, backprop="autograd").to(dtype)
    reference.load_state_dict(manual.state_dict())
    return manual, reference


def batch(n, features, classes, dtype=torch.float64, seed=1):
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(n, features, generator=generator, dtype=dtype)
    expected = torch.nn.functional.one_hot(torch.randint(0, classes, (n,), generator=generator), classes)
    return x, expected.to(dtype)


@pytest.mark.parametrize(("activation", "cost"), CASES)
def test_gradcheck_params_and_input(activation, cost):
    net, _ = make_pair([5, 4, 3, 3], activation, cost)
    x, expected = batch(6, 5, 3)
    params = net.params.detach().clone().requires_grad_(True)
    x = x.requires_grad_(True)

    def function(params, x):
        return Backpropagation.apply(params, x, expected, net.architecture, net.cost)

    assert torch.autograd.gradcheck(function, (params, x), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize(("activation", "cost"), CASES)
def test_manual_gradient_equals_autograd(activation, cost):
    manual, reference = make_pair([7, 6, 5, 4], activation, cost)
    x, expected = batch(9, 7, 4)
    manual.loss(x, expected).backward()
    reference.loss(x, expected).backward()
    torch.testing.assert_close(manual.params.grad, reference.params.grad, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(("activation", "cost"), CASES)
def test_extreme_preactivations_give_finite_gradients(activation, cost):
    manual, reference = make_pair([3, 4, 2], activation, cost)
    with torch.no_grad():
        for weight, bias in manual.layers():
            weight.fill_(0.0)
            bias.copy_(torch.linspace(-1e4, 1e4, len(bias), dtype=bias.dtype))
    reference.load_state_dict(manual.state_dict())
    x, expected = batch(4, 3, 2)
    loss = manual.loss(x, expected)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(manual.params.grad).all()
    reference.loss(x, expected).backward()
    finite = torch.isfinite(reference.params.grad)
    torch.testing.assert_close(manual.params.grad[finite], reference.params.grad[finite])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_sgd_steps_give_the_same_weights(dtype):
    manual, reference = make_pair([64, 16, 16, 10], "sigmoid", "mse", dtype=dtype)
    optimizers = [torch.optim.SGD(net.parameters(), lr=3.0) for net in (manual, reference)]
    for step in range(20):
        x, expected = batch(10, 64, 10, dtype=dtype, seed=step)
        for net, optimizer in zip((manual, reference), optimizers, strict=True):
            optimizer.zero_grad()
            net.loss(x, expected).backward()
            optimizer.step()
    assert not torch.equal(manual.params, make_pair([64, 16, 16, 10], "sigmoid", "mse", dtype)[0].params)
    tolerance = {"rtol": 1e-12, "atol": 1e-12} if dtype == torch.float64 else {"rtol": 1e-5, "atol": 1e-5}
    torch.testing.assert_close(manual.params, reference.params, **tolerance)


def test_manual_path_has_one_hand_written_node():
    """autograd computes no derivative of the network: the graph is our Function feeding ``P``."""
    manual, _ = make_pair([4, 3, 2], "sigmoid", "mse")
    x, expected = batch(2, 4, 2)
    loss = manual.loss(x, expected)
    assert type(loss.grad_fn).__name__ == "BackpropagationBackward"
    configured = MLP([4, 3, 2], backprop="".join(list("manual")))  # a name made at run time, as from YAML
    assert type(configured.loss(x.float(), expected.float()).grad_fn).__name__ == "BackpropagationBackward"
    [(leaf, _), *others] = loss.grad_fn.next_functions
    assert type(leaf).__name__ == "AccumulateGrad" and leaf.variable is manual.params
    assert all(node is None for node, _ in others)


def test_autograd_path_has_no_hand_written_node():
    """backprop=autograd, the reference: plain autograd through the forward pass."""
    _, reference = make_pair([4, 3, 2], "sigmoid", "mse")
    x, expected = batch(2, 4, 2)
    assert type(reference.loss(x, expected).grad_fn).__name__ == "MeanBackward0"


def test_quadratic_cost_value():
    """``C = mean over samples of sum_k (a_k - E_k)^2``, checked on a network whose output is known."""
    net = MLP([2, 2], cost="mse").double()
    with torch.no_grad():
        net.params.zero_()  # every output is S(0) = 0.5
    x = torch.zeros(3, 2, dtype=torch.float64)
    expected = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
    # per sample: 0.25 + 0.25, 0.25 + 0.25, 0.25 + 0.25
    assert net.loss(x, expected).item() == pytest.approx(0.5)


def test_weight_gradient_is_delta_times_previous_activation():
    """One sigmoid neuron: ``dC/dw = 2(a - E) * a(1 - a) * x`` and ``dC/db = 2(a - E) * a(1 - a)``."""
    net = MLP([1, 1]).double()
    with torch.no_grad():
        net.params.copy_(torch.tensor([0.3, -0.1], dtype=torch.float64))
    x = torch.tensor([[2.0]], dtype=torch.float64)
    net.loss(x, torch.tensor([[1.0]], dtype=torch.float64)).backward()
    a = torch.sigmoid(torch.tensor(0.3 * 2.0 - 0.1, dtype=torch.float64))
    delta = 2 * (a - 1) * a * (1 - a)
    torch.testing.assert_close(net.params.grad, torch.stack([delta * 2.0, delta]))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("activation", "softmax"),
        ("activation", "gelu"),
        ("activation", "unknown"),
        ("cost", "hinge"),
        ("cost", "squared"),
        ("cost", "absolute"),
        ("backprop", "numeric"),
        ("init", "uniform"),
    ],
)
def test_unknown_choices_are_refused(name, value):
    with pytest.raises(ValueError, match=f"{name} '{value}' is unknown: choose one of "):
        MLP([2, 2], **{name: value})


@pytest.mark.parametrize(
    ("sizes", "message"),
    [
        ([3], r"sizes=\[3\] is not allowed: a network needs at least 2 layers"),
        ([3, 0, 2], r"layer size 0 in \[3, 0, 2\] is not allowed: sizes must be >= 1"),
    ],
)
def test_a_network_needs_two_layers_of_at_least_one_neuron(sizes, message):
    with pytest.raises(ValueError, match=message):
        MLP(sizes)
    assert MLP([1, 1]).params.numel() == 2  # the smallest network: one weight, one bias


@pytest.mark.parametrize("output", [name for name in ACTIVATIONS if name != "sigmoid"])
def test_cross_entropy_needs_sigmoid_outputs(output):
    from src.network.activations import get_activation
    from src.network.cost import get_cost

    with pytest.raises(ValueError, match=f"cost 'cross_entropy' needs sigmoid outputs, not '{output}'"):
        get_cost("cross_entropy").output_error(torch.zeros(1), torch.zeros(1), get_activation(output))


@pytest.mark.parametrize("cost", COSTS)
def test_cost_derivative_and_output_error_match_autograd(cost):
    """``dC/da`` by hand equals autograd's, and ``output_error = dC/da * S'(z)`` for sigmoid outputs."""
    from src.network.activations import get_activation
    from src.network.cost import get_cost

    chosen, sigmoid = get_cost(cost), get_activation("sigmoid")
    z = torch.linspace(-4, 4, 12, dtype=torch.float64).view(3, 4)
    expected = torch.eye(4, dtype=torch.float64)[[0, 2, 3]]
    a = torch.sigmoid(z).requires_grad_(True)
    (by_autograd,) = torch.autograd.grad(chosen.per_sample(torch.logit(a), a, expected).sum(), a)
    a = a.detach()
    torch.testing.assert_close(chosen.derivative(a, expected), by_autograd)
    torch.testing.assert_close(
        chosen.output_error(a, expected, sigmoid), chosen.derivative(a, expected) * sigmoid.derivative(a)
    )


def test_cached_layer_views_follow_p_through_updates_and_conversions():
    """The views the manual path reuses see in-place updates and loaded weights, and are made anew when
    the module gets a new storage for ``P`` (``.double()``): the loss always equals autograd's."""
    manual, reference = make_pair([5, 4, 3], "sigmoid", "mse", dtype=torch.float32)
    x, expected = batch(6, 5, 3, dtype=torch.float32)

    def assert_same_loss():
        reference.load_state_dict(manual.state_dict())
        inputs = x.to(manual.params.dtype), expected.to(manual.params.dtype)
        assert torch.equal(manual.loss(*inputs), reference.loss(*inputs))

    assert_same_loss()
    views = manual.detached_layers()
    with torch.no_grad():
        manual.params.mul_(0.5)  # an in-place SGD-like update
    assert_same_loss()
    assert manual.detached_layers() is views  # made once per storage of P, not per mini-batch
    manual.load_state_dict({"params": torch.rand_like(manual.params)})
    assert_same_loss()
    manual.double()
    reference.double()
    assert_same_loss()
    assert manual.detached_layers()[0][0].dtype == torch.float64


def test_one_path_under_autocast_runs_the_layers_in_its_dtype_and_returns_the_parameters_dtype():
    """Mixed precision: the layers in bfloat16, the cost and the gradients in the parameters' float32,
    close to the float32 ones; without autocast the same code gives the float32 results exactly."""
    manual, reference = make_pair([12, 8, 4], "sigmoid", "mse", dtype=torch.float32)
    x, expected = batch(6, 12, 4, dtype=torch.float32)
    x.requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = manual.loss(x, expected)
    assert loss.dtype == torch.float32
    assert loss.grad_fn.activations[-1].dtype == torch.bfloat16  # the layers ran in the autocast dtype
    loss.backward()
    assert manual.params.grad.dtype == torch.float32 and x.grad.dtype == torch.float32
    full = reference.loss(x, expected)
    (grad_params,) = torch.autograd.grad(full, reference.params)
    torch.testing.assert_close(loss, full, rtol=2e-2, atol=2e-2)
    torch.testing.assert_close(manual.params.grad, grad_params, rtol=5e-2, atol=5e-2)
    manual.params.grad = None
    manual.loss(x, expected).backward()  # autocast off: the parameters' dtype throughout
    torch.testing.assert_close(manual.params.grad, grad_params, rtol=1e-5, atol=1e-6)
