"""``python -m benchmarks.book_check --network-py PATH``: our numpy peer against the book's own code.

``PATH`` is a Python 3 port of Nielsen's chapter-1 ``src/network.py`` (github.com/mnielsen/
neural-networks-and-deep-learning; ports exist, e.g. github.com/MichalDanielDobrzanski/DeepLearningPython),
which the project does not ship. Both networks start from the same weights on the same real MNIST images
(read from the ``.gz`` files with gzip and numpy, as float64 columns with one-hot targets), 784-30-10,
mini-batch 10, in one process: first one mini-batch each, whose weights must be bit for bit the same; then
both train the same shuffled order, alternating every 50 mini-batches so a machine that slows down for a
while slows both. Prints each one's samples/s and their ratio per round.
"""

import argparse
import gzip
import importlib.util
import itertools
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.workload import DEFAULT_DATA_ROOT
from src.network import reference_numpy

SIZES = (784, 30, 10)
ETA = 3.0  # the book's chapter-1 rate (our lr 1.5)
BATCH = 10
BLOCK = 50  # mini-batches one network trains before the other takes its turn


def read_mnist(root: Path, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``count`` training images (pixels in [0, 1]) and labels, from ``root/MNIST/raw/*.gz``."""
    raw = root / "MNIST" / "raw"
    with gzip.open(raw / "train-images-idx3-ubyte.gz") as images:
        pixels = np.frombuffer(images.read(), np.uint8, offset=16).reshape(-1, 784)[:count] / 255.0
    with gzip.open(raw / "train-labels-idx1-ubyte.gz") as labels:
        return pixels, np.frombuffer(labels.read(), np.uint8, offset=8)[:count]


def load_book(path: Path):
    """The module at ``path`` (the book's ``network.py``)."""
    spec = importlib.util.spec_from_file_location("book_network", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.book_check", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--network-py", type=Path, required=True, help="a Python 3 port of the book's network.py"
    )
    parser.add_argument(
        "--data-root", type=Path, default=DEFAULT_DATA_ROOT, help="folder holding MNIST/raw/*.gz"
    )
    parser.add_argument("--images", type=int, default=5000, help="training images (default: 5000)")
    parser.add_argument("--rounds", type=int, default=6, help="epochs over the images (default: 6)")
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    pixels, labels = read_mnist(args.data_root, args.images)
    data = reference_numpy.samples(pixels, labels.tolist())
    np.random.seed(0)
    start = np.random.randn(sum(n * (m + 1) for m, n in itertools.pairwise(SIZES)))
    ours = reference_numpy.Network(SIZES, start)
    book = load_book(args.network_py).Network(list(SIZES))
    book.weights, book.biases = [w.copy() for w in ours.weights], [b.copy() for b in ours.biases]
    for network in (ours, book):
        network.update_mini_batch(data[:BATCH], ETA)
    same = all(
        np.array_equal(a, b)
        for a, b in zip(ours.weights + ours.biases, book.weights + book.biases, strict=True)
    )
    print(f"one mini-batch from the same start: {'bit-identical' if same else 'DIFFERENT'} weights")
    networks = {"book": book, "ours": ours}
    rates: dict[str, list[float]] = {name: [] for name in networks}
    for round_ in range(args.rounds):
        order = list(data)
        random.Random(round_).shuffle(order)
        seconds = dict.fromkeys(networks, 0.0)
        for block, first in enumerate(range(0, len(order), BLOCK * BATCH)):
            for name in list(networks)[:: 1 if block % 2 == 0 else -1]:
                started = time.perf_counter()
                for k in range(first, min(first + BLOCK * BATCH, len(order)), BATCH):
                    networks[name].update_mini_batch(order[k : k + BATCH], ETA)
                seconds[name] += time.perf_counter() - started
        for name in networks:
            rates[name].append(len(order) / seconds[name])
    for name, values in rates.items():
        print(
            f"{name}: "
            + ", ".join(f"{v:,.0f}" for v in values)
            + f" samples/s (median {statistics.median(values):,.0f})"
        )
    ratios = [o / b for o, b in zip(rates["ours"], rates["book"], strict=True)]
    print(
        "ours / book per round: "
        + ", ".join(f"{r:.3f}" for r in ratios)
        + f" (median {statistics.median(ratios):.3f})"
    )
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
