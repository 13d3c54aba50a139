"""Fast checks of src/data.py that the data tests leave open: MNIST-format pixels scaled to [0, 1]."""

import torch
from runs import write_idx

from src.data import TorchvisionDataModule


def test_mnist_format_pixels_are_grey_levels_over_255(tmp_path):
    """Every split's inputs are the file's bytes / 255: 0 stays 0, 255 (the digits' bands) becomes 1."""
    write_idx(tmp_path, "MNIST", n_train=40, n_test=20)
    data = TorchvisionDataModule(name="MNIST", root=str(tmp_path), val_size=8)
    data.setup()
    for split, (x, _) in data.splits.items():
        assert x.dtype == torch.float32 and x.min() >= 0.0 and x.max() == 1.0, split
        levels = x * 255.0
        torch.testing.assert_close(levels, levels.round(), rtol=0, atol=1e-4)
