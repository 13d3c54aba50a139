"""The same network in plain numpy, one sample at a time: the algorithm of Nielsen's chapter-1 ``network.py``.

A second reading of :mod:`src.network.backprop` for a learner: no autograd, no batches, no parameter
vector. Each layer holds a weight matrix ``W_l`` (one row per neuron) and a bias column ``b_l``; a sample
is a column vector ``x`` with a one-hot column ``y`` of expected outputs. It does what the book's code
does, operation for operation (lists of float64 column vectors, ``np.dot``, a Python loop over the samples
of a mini-batch, the gradients summed as lists), so its speed is the book's: the benchmark
(``python -m benchmarks``) uses it as the textbook peer, and ``tests/test_reference_numpy.py`` checks that
it makes the same SGD steps as our :class:`~src.network.backprop.Backpropagation` Function.

Per sample (essay, section 4), with ``z_l = W_l a_{l-1} + b_l`` and ``a_l = S(z_l)``:

- output error:       ``delta_L = dC/da * S'(z_L)``
- error passed back:  ``delta_l = (W_{l+1}^T delta_{l+1}) * S'(z_l)``
- gradients:          ``dC/db_l = delta_l``, ``dC/dW_l = delta_l a_{l-1}^T``

and a mini-batch of ``m`` samples moves every ``W`` by ``-(eta / m) * sum of dC/dW`` (likewise ``b``).

The book's cost is ``C = 1/2 sum_k (a_k - y_k)^2``, half the essay's, so its ``dC/da = a - y`` and its
learning rate ``eta`` is twice ours: ``eta = 2 * lr`` takes the same step (chapter 1's ``eta = 3.0`` is
``experiment=nielsen_ch1``'s ``optimizer.lr=1.5``).
"""

import itertools
import random
from collections.abc import Sequence

import numpy as np

Sample = tuple[np.ndarray, np.ndarray]  # (x, y): a float64 column of inputs and its one-hot column


def sigmoid(z: np.ndarray) -> np.ndarray:
    """``S(z) = 1 / (1 + e^{-z})``."""
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z: np.ndarray) -> np.ndarray:
    """``S'(z) = S(z)(1 - S(z))``, computed from ``z`` as the book does."""
    return sigmoid(z) * (1 - sigmoid(z))


def one_hot_column(label: int, classes: int = 10) -> np.ndarray:
    """``y``: 1.0 in the row of the true class, 0.0 elsewhere, as a ``(classes, 1)`` column."""
    column = np.zeros((classes, 1))
    column[label] = 1.0
    return column


def samples(images: np.ndarray, labels: Sequence[int]) -> list[Sample]:
    """``(x, y)`` pairs as the book's loader makes them: each image a float64 column, each label one-hot."""
    return [
        (np.reshape(image, (len(image), 1)).astype(np.float64), one_hot_column(int(label)))
        for image, label in zip(images, labels, strict=True)
    ]


class Network:
    """Sigmoid layers with the book's quadratic cost, trained by per-sample backpropagation."""

    def __init__(self, sizes: Sequence[int], params: np.ndarray) -> None:
        """Weights and biases copied from ``params``, laid out as our ``P``: ``W_2, B_2, W_3, B_3, ...``
        (start from :func:`numpy.random.randn` values for the book's own initialisation)."""
        self.sizes = list(sizes)
        self.num_layers = len(sizes)
        self.weights: list[np.ndarray] = []
        self.biases: list[np.ndarray] = []
        offset = 0
        for inputs, neurons in itertools.pairwise(sizes):
            self.weights.append(params[offset : offset + neurons * inputs].reshape(neurons, inputs).copy())
            offset += neurons * inputs
            self.biases.append(params[offset : offset + neurons].reshape(neurons, 1).copy())
            offset += neurons

    def params(self) -> np.ndarray:
        """The weights and biases as one vector laid out as our ``P``."""
        return np.concatenate(
            [t.ravel() for w, b in zip(self.weights, self.biases, strict=True) for t in (w, b)]
        )

    def feedforward(self, a: np.ndarray) -> np.ndarray:
        """The output ``a_L`` for the input column ``a``: ``a_l = S(W_l a_{l-1} + b_l)`` layer by layer."""
        for b, w in zip(self.biases, self.weights, strict=True):
            a = sigmoid(np.dot(w, a) + b)
        return a

    def sgd_epoch(
        self, training_data: list[Sample], mini_batch_size: int, eta: float, rng: random.Random
    ) -> None:
        """One epoch of the book's ``SGD``: shuffle the list in place, then one update per mini-batch."""
        rng.shuffle(training_data)
        n = len(training_data)
        mini_batches = [training_data[k : k + mini_batch_size] for k in range(0, n, mini_batch_size)]
        for mini_batch in mini_batches:
            self.update_mini_batch(mini_batch, eta)

    def update_mini_batch(self, mini_batch: Sequence[Sample], eta: float) -> None:
        """One SGD step: the samples' gradients summed layer by layer, then ``W <- W - (eta/m) sum dC/dW``."""
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b, strict=True)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w, strict=True)]
        self.weights = [w - (eta / len(mini_batch)) * nw for w, nw in zip(self.weights, nabla_w, strict=True)]
        self.biases = [b - (eta / len(mini_batch)) * nb for b, nb in zip(self.biases, nabla_b, strict=True)]

    def backprop(self, x: np.ndarray, y: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """``(dC_x/db_l, dC_x/dW_l)`` for every layer, for one sample: forward keeping every ``z`` and
        activation, then the errors from the output layer back."""
        # Allocated as the book does, though every entry is replaced below: the same work, the same speed.
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights, strict=True):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        delta = self.cost_derivative(activations[-1], y) * sigmoid_prime(zs[-1])
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for layer in range(2, self.num_layers):  # layer counts back from the output: -2 is the last hidden
            sp = sigmoid_prime(zs[-layer])
            delta = np.dot(self.weights[-layer + 1].transpose(), delta) * sp
            nabla_b[-layer] = delta
            nabla_w[-layer] = np.dot(delta, activations[-layer - 1].transpose())
        return nabla_b, nabla_w

    @staticmethod
    def cost_derivative(output_activations: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``dC_x/da = a - y`` for the book's cost ``1/2 sum_k (a_k - y_k)^2``."""
        return output_activations - y
