"""Fast checks of src/data.py that the data tests leave open: MNIST-format pixels scaled to [0, 1], the
sizes each data module declares, the synthetic data's defaults."""

import pytest
import torch
from runs import compose_config, write_idx

from src.data import DigitsDataModule, MiniBatchChunks, SyntheticDataModule, TorchvisionDataModule


def test_mnist_format_pixels_are_grey_levels_over_255(tmp_path):
    """Every split's inputs are the file's bytes / 255: 0 stays 0, 255 (the digits' bands) becomes 1."""
    write_idx(tmp_path, "MNIST", n_train=40, n_test=20)
    data = TorchvisionDataModule(name="MNIST", root=str(tmp_path), val_size=8)
    data.setup()
    for split, (x, _) in data.splits.items():
        assert x.dtype == torch.float32 and x.min() >= 0.0 and x.max() == 1.0, split
        levels = x * 255.0
        torch.testing.assert_close(levels, levels.round(), rtol=0, atol=1e-4)


def test_declared_sizes_are_those_of_the_data(tmp_path):
    """``in_features`` and ``num_classes``, which size the network, match the loaded inputs and labels."""
    write_idx(tmp_path, "MNIST", n_train=100, n_test=20)  # labels 0-9 in turn: 9 or 10 of each
    modules = [
        DigitsDataModule(),
        TorchvisionDataModule(name="MNIST", root=str(tmp_path), val_size=5),
        SyntheticDataModule(train_size=300, val_size=5, test_size=7),
    ]
    for data in modules:
        x, y = data.load()["train"]
        assert (data.in_features, data.num_classes) == (x.shape[1], len(torch.unique(y))), type(data).__name__


def test_synthetic_defaults_are_the_configured_mnist_sizes(tmp_path):
    configured = compose_config("train", tmp_path, "data=synthetic_mnist").data
    default = SyntheticDataModule()
    sizes = ("train_size", "val_size", "test_size")
    assert [getattr(default, size) for size in sizes] == [configured[size] for size in sizes]


@pytest.mark.parametrize("seed", [0, 1])
def test_every_epoch_has_its_own_order_whatever_the_seed(seed):
    """The default seed 0 too: four epochs, four different orders of the samples."""
    sampler = MiniBatchChunks(n=50, batch_size=10, seed=seed)
    orders = set()
    for epoch in range(4):
        sampler.set_epoch(epoch)
        orders.add(tuple(torch.cat(list(sampler)).tolist()))
    assert len(orders) == 4
