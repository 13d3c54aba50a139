"""The numpy reference network (the book's chapter-1 algorithm, per sample) against our Function: the same
outputs, gradients and SGD steps in float64, from the same start."""

import random

import numpy as np
import pytest
import torch

from src.network import reference_numpy
from src.network.mlp import MLP


def network_pair(sizes, seed=0):
    torch.manual_seed(seed)
    model = MLP(list(sizes), backprop="manual").double()
    return model, reference_numpy.Network(sizes, model.params.detach().numpy())


def data(n, features, seed=1):
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(n, features, generator=generator, dtype=torch.float64)
    return x, torch.randint(0, 10, (n,), generator=generator)


def test_samples_are_float64_columns_with_one_hot_columns():
    images = np.arange(6, dtype=np.float32).reshape(2, 3)
    [(x0, y0), (x1, y1)] = reference_numpy.samples(images, [3, 0])
    assert x0.shape == (3, 1) and x0.dtype == np.float64 and x1[:, 0].tolist() == [3.0, 4.0, 5.0]
    assert y0.shape == (10, 1) and y0[:, 0].tolist() == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0] and y1[0, 0] == 1.0
    with pytest.raises(ValueError):  # an image without its label is refused, not dropped
        reference_numpy.samples(images, [3])


def test_weights_and_biases_are_views_of_our_layout():
    model, peer = network_pair((5, 4, 3))
    for (weight, bias), w, b in zip(model.layers(), peer.weights, peer.biases, strict=True):
        assert np.array_equal(weight.detach().numpy(), w) and np.array_equal(bias.detach().numpy(), b[:, 0])
    assert np.array_equal(peer.params(), model.params.detach().numpy())


def test_feedforward_is_our_output():
    model, peer = network_pair((784, 30, 10))
    x, _ = data(4, 784)
    ours = model(x).detach().numpy()
    for row, image in enumerate(x.numpy()):
        np.testing.assert_allclose(
            peer.feedforward(image.reshape(-1, 1))[:, 0], ours[row], rtol=0, atol=1e-14
        )


def test_one_samples_gradient_is_half_ours():
    """The book's cost ``1/2 sum (a - y)^2`` is half the essay's: its gradient is half our Function's."""
    model, peer = network_pair((20, 7, 5, 10))
    x, y = data(1, 20)
    model.loss(x, torch.eye(10, dtype=torch.float64)[y]).backward()
    [(column, one_hot)] = reference_numpy.samples(x.numpy(), y.tolist())
    nabla_b, nabla_w = peer.backprop(column, one_hot)
    book = np.concatenate([t.ravel() for w, b in zip(nabla_w, nabla_b, strict=True) for t in (w, b)])
    np.testing.assert_allclose(2 * book, model.params.grad.numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("sizes", [(784, 30, 10), (20, 7, 5, 10), (12, 9, 7, 5, 10)])
def test_sgd_steps_equal_our_functions_from_the_same_start(sizes):
    """Ten mini-batches of 10, ``eta = 2 lr`` for the book against ``P <- P - lr * grad C`` with our
    Function: the same weights to 1e-12."""
    lr, batch = 1.5, 10
    model, peer = network_pair(sizes)
    x, y = data(10 * batch, sizes[0])
    expected = torch.eye(10, dtype=torch.float64)[y]
    training_data = reference_numpy.samples(x.numpy(), y.tolist())
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for start in range(0, len(y), batch):
        peer.update_mini_batch(training_data[start : start + batch], 2 * lr)
        optimizer.zero_grad()
        model.loss(x[start : start + batch], expected[start : start + batch]).backward()
        optimizer.step()
    moved = np.abs(peer.params() - network_pair(sizes)[1].params()).max()
    assert moved > 1e-3
    np.testing.assert_allclose(peer.params(), model.params.detach().numpy(), rtol=0, atol=1e-12)


def test_an_epoch_shuffles_and_takes_one_step_per_mini_batch():
    _, peer = network_pair((4, 3, 10))
    x, y = data(25, 4)
    training_data = reference_numpy.samples(x.numpy(), y.tolist())
    before = list(training_data)
    steps = []
    peer.update_mini_batch = lambda mini_batch, eta: steps.append((len(mini_batch), eta))
    peer.sgd_epoch(training_data, 10, 3.0, random.Random(0))
    assert steps == [(10, 3.0), (10, 3.0), (5, 3.0)]
    order = [id(sample) for sample in training_data]
    assert order != [id(sample) for sample in before] and sorted(order) == sorted(map(id, before))
