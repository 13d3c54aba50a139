"""Fast checks of src/data.py that the data tests leave open: MNIST-format pixels scaled to [0, 1], the
sizes each data module declares, the synthetic data's defaults."""

from types import SimpleNamespace

import pytest
import torch
from runs import compose_config, write_idx

from src.data import (
    DigitsDataModule,
    MiniBatchChunks,
    MiniBatchDataset,
    SyntheticDataModule,
    TorchvisionDataModule,
)
from src.errors import UserError


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


def test_a_resumed_epoch_skips_only_the_chunks_already_trained_in_it():
    """State saved in epoch 1 after 2 of its 4 chunks: resuming epoch 1 skips those 2, once; state saved
    at the end of epoch 0 skips nothing of epoch 1."""
    sampler = MiniBatchChunks(n=40, batch_size=5, batches_per_step=2, seed=3)
    sampler.set_epoch(1)
    epoch_1 = list(sampler)
    resumed = MiniBatchChunks(n=40, batch_size=5, batches_per_step=2, seed=3)
    resumed.load_state_dict({"epoch": 1, "chunks_trained": 2})
    resumed.set_epoch(1)
    assert [chunk.tolist() for chunk in resumed] == [chunk.tolist() for chunk in epoch_1[2:]]
    assert [chunk.tolist() for chunk in resumed] == [chunk.tolist() for chunk in epoch_1]  # once only
    after_epoch_0 = MiniBatchChunks(n=40, batch_size=5, batches_per_step=2, seed=3)
    after_epoch_0.load_state_dict({"epoch": 0, "chunks_trained": 4})
    after_epoch_0.set_epoch(1)
    assert [chunk.tolist() for chunk in after_epoch_0] == [chunk.tolist() for chunk in epoch_1]


def test_the_dataset_indexed_by_position_gives_the_i_th_mini_batch():
    """What Lightning's ``overfit_batches`` reads through a ``SequentialSampler``: 0, 1, ... up to the
    dataset's length, the number of mini-batches (the last one smaller)."""
    x, y = torch.arange(50.0).view(25, 2), torch.arange(25)
    dataset = MiniBatchDataset(x, y, batch_size=10)
    assert len(dataset) == 3
    assert [dataset[i].y.tolist() for i in range(len(dataset))] == [
        list(range(10)),
        list(range(10, 20)),
        list(range(20, 25)),
    ]
    assert torch.equal(dataset[2].x, x[20:]) and dataset[2].batch_size == 10


def limited(**limits) -> DigitsDataModule:
    """The digits with a stand-in trainer carrying Lightning's batch limits (1.0: all batches)."""
    data = DigitsDataModule(batch_size=10, batches_per_step=32, eval_batch_size=100)
    defaults = {"limit_train_batches": 1.0, "limit_val_batches": 1.0, "limit_test_batches": 1.0}
    data.trainer = SimpleNamespace(
        **{**defaults, "overfit_batches": 0.0, **limits}, global_rank=0, world_size=1, training=False
    )
    data.trainer.strategy = SimpleNamespace(root_device=torch.device("cpu"))
    data.setup()
    return data


def test_a_fraction_of_the_batches_must_keep_at_least_one():
    """1,257 training samples in chunks of 320: 4 batches; 180 validation and 360 test samples, 100 a
    batch: 2 and 4."""
    assert len(limited(limit_train_batches=0.25).train_dataloader()) == 4  # 0.25 * 4 = 1 batch: fine
    assert len(limited(limit_val_batches=0.5).val_dataloader()) == 2
    assert len(limited(overfit_batches=0.25).train_dataloader()) == 4
    assert len(limited(overfit_batches=0.25).val_dataloader()) == 2  # overfit_batches is training's
    refused = {
        "limit_train_batches": (0.2, limited(limit_train_batches=0.2).train_dataloader, "4 train"),
        "limit_val_batches": (0.4, limited(limit_val_batches=0.4).val_dataloader, "2 val"),
        "limit_test_batches": (0.2, limited(limit_test_batches=0.2).test_dataloader, "4 test"),
        "overfit_batches": (0.2, limited(overfit_batches=0.2).train_dataloader, "4 train"),
    }
    for key, (limit, loader, batches) in refused.items():
        with pytest.raises(UserError, match=f"trainer.{key}={limit} keeps none of the {batches} batch"):
            loader()


def test_digits_pixels_are_grey_levels_over_16():
    """scikit-learn's digits have 17 grey levels, 0 to 16: scaled to 0, 1/16, ..., 1."""
    x = torch.cat([x for x, _ in DigitsDataModule().load().values()])
    assert x.min() == 0.0 and x.max() == 1.0
    torch.testing.assert_close(x * 16.0, (x * 16.0).round(), rtol=0, atol=1e-5)
