"""Data: the digits split, the per-epoch shuffled index chunks, MNIST loading from IDX files (compressed
or not) and the one-line refusal of every kind of broken IDX file."""

import gzip
import os
import re
import shutil
import struct
from pathlib import Path

import pytest
import torch
import torchvision
from runs import run_module, write_idx

from src.data import (
    CHUNK_BYTES,
    DigitsDataModule,
    MiniBatchChunks,
    MiniBatchDataset,
    SyntheticDataModule,
    TorchvisionDataModule,
    batches_per_chunk,
    train_val_split,
)
from src.errors import UserError


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


def compress(raw: Path) -> None:
    """Replace every IDX file in ``raw`` by its ``.gz``, as downloaded."""
    for file in list(raw.iterdir()):
        file.with_name(file.name + ".gz").write_bytes(gzip.compress(file.read_bytes()))
        file.unlink()


def read_only(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)


@pytest.mark.parametrize("name", ["MNIST", "FashionMNIST"])
@pytest.mark.parametrize("compressed", [False, True], ids=["extracted", "gz"])
def test_torchvision_idx_files_load(tmp_path, name, compressed):
    write_idx(tmp_path, name, n_train=40, n_test=20)
    if compressed:
        compress(tmp_path / name / "raw")
    read_only(tmp_path)
    datamodule = TorchvisionDataModule(name=name, root=str(tmp_path), val_size=8)
    datamodule.setup()
    sizes = {split: tuple(x.shape) for split, (x, _) in datamodule.splits.items()}
    assert sizes == {"train": (32, 784), "val": (8, 784), "test": (20, 784)}
    x, y = datamodule.splits["test"]
    assert y.tolist() == [i % 10 for i in range(20)]
    assert x.max() == 1.0 and x.min() >= 0.0
    # the bright band of class c sits on rows 2c+3 .. 2c+5 of the 28x28 image
    assert x[7].view(28, 28)[2 * 7 + 3, 10] == 1.0
    # nothing written next to the files (the folder is read-only: writing would have raised)
    assert sorted(p.name for p in (tmp_path / name / "raw").iterdir()) == sorted(
        Path(url).name if compressed else Path(url).stem
        for url, _ in getattr(torchvision.datasets, name).resources
    )


def test_the_validation_split_is_disjoint_from_training_and_together_they_are_the_training_file(tmp_path):
    write_idx(tmp_path, "MNIST", n_train=50, n_test=10)
    datamodule = TorchvisionDataModule(root=str(tmp_path), val_size=15)
    datamodule.setup()
    train_idx, val_idx = train_val_split(50, 15, split_seed=0)
    assert sorted(torch.cat([train_idx, val_idx]).tolist()) == list(range(50))
    assert (len(train_idx), len(val_idx)) == (35, 15)
    # every image of the file once, in the one split or the other (the images are distinct: random noise)
    images = gzip.decompress(gzip.compress((tmp_path / "MNIST/raw/train-images-idx3-ubyte").read_bytes()))
    file_rows = torch.frombuffer(bytearray(images[16:]), dtype=torch.uint8).view(50, 784).float() / 255
    split_rows = torch.cat([datamodule.splits["train"][0], datamodule.splits["val"][0]])
    assert len({tuple(row.tolist()) for row in file_rows}) == 50
    assert sorted(tuple(row.tolist()) for row in split_rows) == sorted(
        tuple(row.tolist()) for row in file_rows
    )


def idx(magic: int, dims: tuple[int, ...], data: bytes) -> bytes:
    return struct.pack(f">{1 + len(dims)}I", magic, *dims) + data


GOOD_IMAGES = idx(2051, (3, 28, 28), bytes(3 * 784))
GOOD_LABELS = idx(2049, (3,), bytes([0, 1, 2]))
BROKEN_FILES = {  # file: (its bytes, what the message says)
    "empty": ("train-images-idx3-ubyte", b"", "is empty"),
    "wrong magic": (
        "train-images-idx3-ubyte",
        idx(2049, (3, 28, 28), bytes(3 * 784)),
        "is not an IDX file of images: it must start with the magic number 2051",
    ),
    "labels for images": (
        "train-labels-idx1-ubyte",
        GOOD_IMAGES,
        "is not an IDX file of labels: it must start with the magic number 2049",
    ),
    "header cut short": (
        "train-images-idx3-ubyte",
        GOOD_IMAGES[:10],
        "is truncated: its header is cut short",
    ),
    "truncated": (
        "train-images-idx3-ubyte",
        GOOD_IMAGES[:-100],
        "is truncated: its header says 3 x 28 x 28 = 2,352 bytes of data, it holds 2,252",
    ),
    "oversized count": (
        "train-images-idx3-ubyte",
        idx(2051, (2**32 - 1, 28, 28), bytes(3 * 784)),
        "is truncated: its header says 4294967295 x 28 x 28 = 3,367,254,359,280 bytes of data, it holds 2,352",
    ),
    "extra bytes": ("t10k-labels-idx1-ubyte", GOOD_LABELS + b"\0", "has more bytes than its header says"),
    "huge dimensions": (
        "train-images-idx3-ubyte",
        idx(2051, (1, 2**31, 2**31), b""),
        "holds images of 2147483648x2147483648 pixels: MNIST's are 28x28",
    ),
    "another image size": (
        "t10k-images-idx3-ubyte",
        idx(2051, (3, 32, 32), bytes(3 * 1024)),
        "holds images of 32x32 pixels: MNIST's are 28x28",
    ),
    "no images": ("train-images-idx3-ubyte", idx(2051, (0, 28, 28), b""), "holds no images"),
    "label out of range": (
        "train-labels-idx1-ubyte",
        idx(2049, (3,), bytes([0, 10, 255])),
        "label 10 (of image 1) is out of range: labels are 0 to 9",
    ),
    "fewer labels": (
        "train-labels-idx1-ubyte",
        idx(2049, (2,), bytes([0, 1])),
        "holds 2 labels but .*train-images-idx3-ubyte.* holds 3 images",
    ),
}


def write_good_files(raw: Path) -> None:
    raw.mkdir(parents=True)
    for prefix in ("train", "t10k"):
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(GOOD_IMAGES)
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(GOOD_LABELS)


def literal(text: str) -> str:
    return ".*".join(map(re.escape, text.split(".*")))


@pytest.mark.parametrize("compressed", [False, True], ids=["extracted", "gz"])
@pytest.mark.parametrize("case", BROKEN_FILES)
def test_a_broken_idx_file_is_refused_naming_the_file_and_the_fault(tmp_path, case, compressed):
    raw = tmp_path / "MNIST" / "raw"
    write_good_files(raw)
    TorchvisionDataModule(root=str(tmp_path), val_size=1).check()  # the good files pass
    filename, data, message = BROKEN_FILES[case]
    (raw / filename).write_bytes(data)
    if compressed:
        compress(raw)
        filename += ".gz"
    with pytest.raises(
        UserError, match=literal(f"data.root={tmp_path}: {raw / filename}") + ".*" + literal(message)
    ):
        TorchvisionDataModule(root=str(tmp_path), val_size=1).setup()


def test_a_corrupt_gzip_stream_is_refused(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    write_good_files(raw)
    compress(raw)
    stream = (raw / "t10k-images-idx3-ubyte.gz").read_bytes()
    (raw / "t10k-images-idx3-ubyte.gz").write_bytes(stream[:-12])  # cut before the CRC
    with pytest.raises(UserError, match=literal(f"{raw / 't10k-images-idx3-ubyte.gz'} can't be read: ")):
        TorchvisionDataModule(root=str(tmp_path), val_size=1).check()
    (raw / "t10k-images-idx3-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(
        UserError, match=literal("t10k-images-idx3-ubyte.gz can't be read: Not a gzipped file")
    ):
        TorchvisionDataModule(root=str(tmp_path), val_size=1).check()


def test_a_compression_bomb_is_read_no_further_than_its_header_says(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    write_good_files(raw)
    (raw / "train-labels-idx1-ubyte").unlink()
    with gzip.open(raw / "train-labels-idx1-ubyte.gz", "wb", compresslevel=1) as bomb:
        bomb.write(GOOD_LABELS)
        for _ in range(256):  # 256 MiB of zeros after the 3 labels, in about 256 KiB
            bomb.write(bytes(2**20))
    with pytest.raises(UserError, match=r"train-labels-idx1-ubyte\.gz has more bytes than its header says"):
        TorchvisionDataModule(root=str(tmp_path), val_size=1).check()


@pytest.mark.parametrize("val_size", [3, 4])
@pytest.mark.parametrize("gzipped", [False, True])
def test_a_validation_set_as_large_as_the_training_file_is_refused(tmp_path, val_size, gzipped):
    """The message names the file there is: a tester's named the extracted one beside the .gz."""
    raw = tmp_path / "MNIST" / "raw"
    write_good_files(raw)
    if gzipped:
        compress(raw)
    file = raw / f"train-images-idx3-ubyte{'.gz' if gzipped else ''}"
    with pytest.raises(UserError) as error:
        TorchvisionDataModule(root=str(tmp_path), val_size=val_size).check()
    assert str(error.value) == (
        f"data.val_size={val_size}: must be less than the 3 images of {file}, to leave some for training"
    )


def test_a_data_root_that_is_a_file_is_named_so(tmp_path):
    """It was said to lack <file>/MNIST/raw/... (a tester)."""
    (tmp_path / "mnist.gz").write_bytes(b"")
    with pytest.raises(UserError) as error:
        TorchvisionDataModule(root=str(tmp_path / "mnist.gz")).check()
    assert (
        str(error.value)
        == f"data.root={tmp_path / 'mnist.gz'} is a file: give the folder that holds MNIST/raw/"
    )


@pytest.mark.slow
def test_the_command_line_refuses_a_broken_file_in_one_line_before_training(tmp_path):
    raw = tmp_path / "data" / "MNIST" / "raw"
    write_good_files(raw)
    (raw / "train-labels-idx1-ubyte").write_bytes(idx(2049, (3,), bytes([0, 1, 12])))
    compress(raw)
    run = run_module(
        "src.train", "data=mnist", f"data.root={tmp_path / 'data'}", f"hydra.run.dir={tmp_path / 'run'}"
    )
    assert run.returncode == 2
    assert run.stderr == (
        f"error: data.root={tmp_path / 'data'}: {raw / 'train-labels-idx1-ubyte.gz'}: label 12 (of image 2) is "
        "out of range: labels are 0 to 9\n"
    )
    assert not (tmp_path / "run").exists()  # a refused run leaves no run directory behind


def rmtree_only_inside(folder: Path):
    """shutil.rmtree that refuses (AssertionError) anything outside ``folder``: a wrong folder given to the
    download's clean-up (a mutant of tests.mutation once made it "/") fails the test instead of deleting it."""
    real_rmtree = shutil.rmtree

    def rmtree(path, *args, **kwargs):
        assert Path(path).resolve().is_relative_to(folder.resolve()), f"rmtree({path}) outside {folder}"
        real_rmtree(path, *args, **kwargs)

    return rmtree


def test_download_without_a_network_is_one_error_and_leaves_no_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", ["http://127.0.0.1:9/"])  # connection refused
    monkeypatch.setattr(shutil, "rmtree", rmtree_only_inside(tmp_path))
    root = tmp_path / "datasets"
    datamodule = TorchvisionDataModule(root=str(root), download=True)
    with pytest.raises(UserError) as caught:
        datamodule.prepare_data()
    message = str(caught.value)
    assert message.startswith(
        "data.download=true: could not fetch train-images-idx3-ubyte.gz (http://127.0.0.1:9/: "
    )
    assert message.endswith(
        f"download train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
        f"t10k-labels-idx1-ubyte.gz by hand into {root / 'MNIST/raw'}/ (the .gz files are enough) and leave out "
        "data.download"
    )
    assert "\n" not in message
    assert not root.exists()  # the folders it made are gone again
    root.mkdir()
    (root / "mine.txt").write_text("kept")
    with pytest.raises(UserError):
        datamodule.prepare_data()
    assert os.listdir(root) == ["mine.txt"]  # a folder that was there stays, with its files


def test_download_skips_the_files_already_there(tmp_path, monkeypatch):
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", ["http://127.0.0.1:9/"])
    write_idx(tmp_path, "MNIST", n_train=20, n_test=10)
    compress(tmp_path / "MNIST" / "raw")
    datamodule = TorchvisionDataModule(root=str(tmp_path), download=True, val_size=5)
    datamodule.prepare_data()  # nothing to fetch, so no network needed
    datamodule.setup()
    assert len(datamodule.splits["train"][1]) == 15


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
