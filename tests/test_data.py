"""Data: the digits split, the per-epoch shuffled index chunks, MNIST loading from IDX files."""

import pytest
import torch
from runs import write_idx

from src.data import (
    CHUNK_BYTES,
    DigitsDataModule,
    MiniBatchChunks,
    MiniBatchDataset,
    SyntheticDataModule,
    TorchvisionDataModule,
    batches_per_chunk,
)


def test_digits_split_is_stratified_fixed_and_scaled():
    first, second = DigitsDataModule(), DigitsDataModule()
    first.setup()
    second.setup()
    sizes = {name: len(y) for name, (_, y) in first.splits.items()}
    assert sizes == {"train": 1257, "val": 180, "test": 360}
    for name, (x, y) in first.splits.items():
        assert x.shape[1] == 64 and x.min() >= 0.0 and x.max() <= 1.0
        assert torch.equal(x, second.splits[name][0]) and torch.equal(y, second.splits[name][1])
        counts = torch.bincount(y, minlength=10).float()
        assert counts.min() / counts.max() > 0.85  # every class about equally present
    train = {tuple(row.tolist()) for row in first.splits["train"][0]}
    assert not any(tuple(row.tolist()) in train for row in first.splits["test"][0][:50])


def test_chunks_cover_every_sample_once_per_epoch_in_a_new_order():
    sampler = MiniBatchChunks(n=103, batch_size=10, batches_per_step=3, seed=7)
    first = torch.cat(list(sampler))
    assert [len(chunk) for chunk in sampler] == [30, 30, 30, 13] == [30] * 3 + [13]
    assert sorted(first.tolist()) == list(range(103))
    assert torch.equal(first, torch.cat(list(sampler)))  # same epoch, same order
    sampler.set_epoch(1)
    assert not torch.equal(first, torch.cat(list(sampler)))


def test_shards_are_disjoint_and_equal_sized():
    shards = [torch.cat(list(MiniBatchChunks(101, 10, 2, seed=3, rank=r, world_size=2))) for r in range(2)]
    assert len(shards[0]) == len(shards[1]) == 50
    assert not set(shards[0].tolist()) & set(shards[1].tolist())


def test_dataset_cuts_a_chunk_into_mini_batches():
    x, y = torch.arange(50.0).view(25, 2), torch.arange(25)
    minibatches = list(MiniBatchDataset(x, y, batch_size=4)[torch.tensor([3, 1, 4, 1, 5, 9])].minibatches())
    assert [yb.tolist() for _, yb in minibatches] == [[3, 1, 4, 1], [5, 9]]
    assert torch.equal(minibatches[1][0], x[[5, 9]])


@pytest.mark.parametrize("name", ["MNIST", "FashionMNIST"])
def test_torchvision_idx_files_load(tmp_path, name):
    write_idx(tmp_path, name, n_train=40, n_test=20)
    datamodule = TorchvisionDataModule(name=name, root=str(tmp_path), val_size=8)
    datamodule.setup()
    sizes = {split: tuple(x.shape) for split, (x, _) in datamodule.splits.items()}
    assert sizes == {"train": (32, 784), "val": (8, 784), "test": (20, 784)}
    x, y = datamodule.splits["test"]
    assert y.tolist() == [i % 10 for i in range(20)]
    assert x.max() == 1.0 and x.min() >= 0.0
    # the bright band of class c sits on rows 2c+3 .. 2c+5 of the 28x28 image
    assert x[7].view(28, 28)[2 * 7 + 3, 10] == 1.0


def test_a_chunk_holds_batches_per_step_mini_batches_up_to_a_size_in_bytes():
    digits, mnist = torch.zeros(1, 64), torch.zeros(1, 784)
    assert batches_per_chunk(128, 10, digits) == 128  # 320 KiB
    assert batches_per_chunk(128, 10, mnist) == 128  # 3.8 MiB
    assert batches_per_chunk(128, 100, mnist) == CHUNK_BYTES // (100 * 784 * 4) == 53  # 15.9 MiB
    assert batches_per_chunk(128, 100, mnist.double()) == 26
    assert batches_per_chunk(128, 10**6, mnist) == 1  # never less than one mini-batch


def test_mnist_shaped_chunks_at_mini_batch_100_stay_within_the_byte_budget():
    data = SyntheticDataModule(train_size=6000, val_size=10, test_size=10, batch_size=100)
    data.setup("fit")
    chunks = list(data.train_dataloader())
    assert [len(chunk.y) for chunk in chunks] == [5300, 700]
    assert all(chunk.batch_size == 100 for chunk in chunks)
