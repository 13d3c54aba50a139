"""Property-based tests of the hand-written backpropagation: for random layer sizes, batch sizes,
activations, costs and float64 values (large magnitudes included), :class:`Backpropagation` gives the
cost autograd gives, and the same gradients wherever autograd's are finite."""

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from src.network.activations import ACTIVATIONS
from src.network.cost import COSTS
from src.network.mlp import MLP

MAGNITUDES = st.sampled_from([1.0, 10.0, 1e3, 1e6])


@st.composite
def cases(draw):
    """A network (sizes, activation, slope, cost), its parameters scaled by one magnitude, a batch scaled
    by another, and its expected outputs."""
    sizes = draw(st.lists(st.integers(1, 8), min_size=2, max_size=7))
    activation = draw(st.sampled_from(ACTIVATIONS))
    slope = draw(st.floats(0.01, 0.5))
    cost = draw(st.sampled_from(COSTS))
    batch = draw(st.integers(1, 8))
    architecture = MLP(sizes, activation, slope, cost).architecture
    params_scale, x_scale = draw(MAGNITUDES), draw(MAGNITUDES)
    unit = st.floats(-1.0, 1.0, allow_nan=False)
    params = draw(arrays(np.float64, architecture.num_parameters, elements=unit)) * params_scale
    x = draw(arrays(np.float64, (batch, sizes[0]), elements=unit)) * x_scale
    labels = draw(arrays(np.int64, batch, elements=st.integers(0, sizes[-1] - 1)))
    expected = np.eye(sizes[-1])[labels]
    return sizes, activation, slope, cost, params, x, expected


def cost_and_gradients(backprop, sizes, activation, slope, cost, params, x, expected):
    """``C``, ``dC/dP`` and ``dC/dx`` through the ``backprop`` path ("manual" or "autograd")."""
    net = MLP(sizes, activation, slope, cost, backprop=backprop).double()
    with torch.no_grad():
        net.params.copy_(torch.from_numpy(params))
    x = torch.from_numpy(x).requires_grad_(True)
    loss = net.loss(x, torch.from_numpy(expected))
    loss.backward()
    return loss.detach(), net.params.grad, x.grad


def assert_equal_where_finite(manual, reference):
    finite = torch.isfinite(reference)
    scale = 1.0 + float(reference[finite].abs().max()) if bool(finite.any()) else 1.0
    torch.testing.assert_close(manual[finite], reference[finite], rtol=1e-9, atol=1e-12 * scale)


def assert_same_as_autograd(case) -> None:
    manual = cost_and_gradients("manual", *case)
    reference = cost_and_gradients("autograd", *case)
    for ours, theirs in zip(manual, reference, strict=True):
        assert_equal_where_finite(ours, theirs)


@settings(max_examples=80, deadline=None)
@given(cases())
def test_hand_written_gradients_equal_autograd(case):
    assert_same_as_autograd(case)


def test_overflowing_gradient_before_an_inactive_relu():
    """Finite cost, but the error passed back to the hidden layer overflows (8 outputs x 1.5e308): the
    inactive second hidden neuron's weight and bias get gradient 0 from autograd."""
    sizes = [1, 2, 8]
    params = np.zeros(2 + 2 + 16 + 8)
    params[:2] = [1.0, -1.0]  # W_{2,1}: z = [x, -x], so the second ReLU is off
    params[4:20] = 1.5e308  # W_{3,2}
    x, expected = np.array([[1e-308]]), np.eye(8)[[0]]
    assert_same_as_autograd((sizes, "relu", 0.01, "mse", params, x, expected))


@settings(max_examples=40, deadline=None)
@given(cases())
def test_gradients_are_finite_where_the_cost_is(case):
    """Up to these magnitudes nothing overflows float64: the hand-written gradient is finite wherever the
    cost is, however saturated the sigmoids."""
    loss, grad_params, grad_x = cost_and_gradients("manual", *case)
    if torch.isfinite(loss):
        assert torch.isfinite(grad_params).all() and torch.isfinite(grad_x).all()
