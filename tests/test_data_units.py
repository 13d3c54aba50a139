"""Fast checks of src/data.py that the data tests leave open: pixels scaled to [0, 1], the sizes each data
module declares and its defaults, the order of each epoch and where a resumed one starts, the limits on
the batches Lightning sees, and IDX files whose header or labels are wrong."""

import dataclasses
import re
import struct
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from runs import compose_config, write_idx

import src.data
from src.config import data_modules
from src.data import (
    DigitsDataModule,
    MiniBatchChunks,
    MiniBatchDataset,
    ResumableLoader,
    SyntheticDataModule,
    TorchvisionDataModule,
    checked_idx_pair,
    idx_file,
    read_idx,
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


def test_synthetic_data_has_mnists_shape(tmp_path):
    """``data=synthetic_mnist`` stands in for MNIST (benchmarks, smoke runs): the same inputs and classes as
    the MNIST module reads from real files, all 10 classes present."""
    write_idx(tmp_path, "MNIST", n_train=100, n_test=20)
    mnist = TorchvisionDataModule(name="MNIST", root=str(tmp_path), val_size=5)
    synthetic = SyntheticDataModule(train_size=300, val_size=5, test_size=7)
    x, y = mnist.load()["train"]
    assert (synthetic.in_features, synthetic.num_classes) == (x.shape[1], len(torch.unique(y))) == (784, 10)
    assert len(torch.unique(synthetic.load()["train"][1])) == 10


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
    late = int("1000")  # a number made at run time, as a checkpoint's is: equal, not the same object
    sampler.set_epoch(late)
    epoch_late = list(sampler)
    resumed.load_state_dict({"epoch": int("1000"), "chunks_trained": 3})
    resumed.set_epoch(late)
    assert [chunk.tolist() for chunk in resumed] == [chunk.tolist() for chunk in epoch_late[3:]]
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
    assert len(MiniBatchDataset(x[:20], y[:20], batch_size=10)) == 2  # no smaller last mini-batch
    assert [dataset[i].y.tolist() for i in range(len(dataset))] == [
        list(range(10)),
        list(range(10, 20)),
        list(range(20, 25)),
    ]
    assert torch.equal(dataset[2].x, x[20:]) and dataset[2].batch_size == 10


def limited(**limits) -> DigitsDataModule:
    """The digits with a stand-in trainer carrying Lightning's batch limits (1.0: all batches)."""
    data = DigitsDataModule(batch_size=10, batches_per_step=32, eval_batch_size=100)
    defaults = {
        "limit_train_batches": 1.0,
        "limit_val_batches": 1.0,
        "limit_test_batches": 1.0,
        "val_check_interval": 1.0,
        "check_val_every_n_epoch": 1,
    }
    data.trainer = SimpleNamespace(
        **{**defaults, "overfit_batches": 0.0, **limits}, global_rank=0, world_size=1, training=False
    )
    data.trainer.strategy = SimpleNamespace(root_device=torch.device("cpu"))
    data.setup()
    return data


def test_a_fraction_of_the_batches_must_keep_at_least_one():
    """1,257 training samples in chunks of 320: 4 batches; 180 validation and 360 test samples, 100 a
    batch: 2 and 4. Checked when Lightning sets the data up for a stage, before anything runs: the test
    split's limit was refused only after the whole training (``src.train`` tests after fitting)."""
    for limits in (
        {"limit_train_batches": 0.25},  # 0.25 * 4 = 1 batch: fine
        {"limit_val_batches": 0.5},
        {"limit_test_batches": 0.25},
        {"limit_val_batches": 0.0},  # 0: no validation, not an error
        {"overfit_batches": 0.5},  # 63 of the 126 mini-batches, 1 of the 2 validation batches
    ):
        data = limited(**limits)
        data.setup("fit")
        assert (len(data.train_dataloader()), len(data.val_dataloader()), len(data.test_dataloader())) == (
            4,
            2,
            4,
        )
    refused = [
        ("fit", {"limit_train_batches": 0.2}, "limit_train_batches=0.2 keeps none of the 4 train"),
        ("fit", {"limit_val_batches": 0.4}, "limit_val_batches=0.4 keeps none of the 2 val"),
        ("validate", {"limit_val_batches": 0.4}, "limit_val_batches=0.4 keeps none of the 2 val"),
        ("fit", {"limit_test_batches": 0.2}, "limit_test_batches=0.2 keeps none of the 4 test"),
        ("test", {"limit_test_batches": 0.2}, "limit_test_batches=0.2 keeps none of the 4 test"),
        # under overfit_batches Lightning's batches are the 126 mini-batches (a SequentialSampler)
        ("fit", {"overfit_batches": 0.005}, "overfit_batches=0.005 keeps none of the 126 train"),
        # Lightning sets limit_val_batches to it: the message names what was set, not that
        (
            "fit",
            {"overfit_batches": 0.3, "limit_val_batches": 0.3},
            "overfit_batches=0.3 keeps none of the 2 val",
        ),
    ]
    for stage, limits, message in refused:
        with pytest.raises(UserError, match=f"^trainer.{message} batch"):
            limited(**limits).setup(stage)
    limited(overfit_batches=0.005).setup("test")  # overfit_batches is training's and validation's
    limited(limit_test_batches=0.2).setup("validate")


def test_a_validation_interval_of_more_batches_than_an_epoch_is_one_line():
    """An integer ``val_check_interval`` counts Lightning's training batches, here 4 chunks of 32
    mini-batches (2 under ``limit_train_batches=2``): 5 was Lightning's ValueError traceback when training
    started. Every epoch may hold the interval when validation is counted across epochs."""
    assert len(limited(val_check_interval=4).train_dataloader()) == 4
    assert len(limited(val_check_interval=2).train_dataloader()) == 4  # fewer than an epoch's: fine
    assert len(limited(val_check_interval=3, limit_train_batches=0.75).train_dataloader()) == 4  # 3 of 4
    assert len(limited(val_check_interval=0.5).train_dataloader()) == 4  # a fraction of an epoch
    assert len(limited(val_check_interval=5, check_val_every_n_epoch=None).train_dataloader()) == 4
    assert len(limited(val_check_interval=5, limit_val_batches=0.0).train_dataloader()) == 4
    for limits, batches in (
        ({"val_check_interval": 5}, 4),
        ({"val_check_interval": 3, "limit_train_batches": 2}, 2),
        ({"val_check_interval": 4, "limit_train_batches": 0.75}, 3),  # int(4 * 0.75), as Lightning counts
    ):
        message = (
            f"trainer.val_check_interval={limits['val_check_interval']}: an epoch here has {batches} training"
        )
        with pytest.raises(UserError, match=message):
            limited(**limits).train_dataloader()


def test_a_process_whose_evaluation_shard_is_empty_is_not_refused():
    """Evaluation shards keep every sample: one validation sample under 2 processes leaves process 1 no
    batch, and ``limit_val_batches=1.0`` (all of them) keeps all of its none, not an error."""
    data = limited()
    data.trainer.global_rank, data.trainer.world_size = 1, 2
    x, y = data.splits["val"]
    data.splits["val"] = (x[:1], y[:1])
    assert len(data.val_dataloader()) == 0


def test_digits_pixels_are_grey_levels_over_16():
    """scikit-learn's digits have 17 grey levels, 0 to 16: scaled to 0, 1/16, ..., 1."""
    x = torch.cat([x for x, _ in DigitsDataModule().load().values()])
    assert x.min() == 0.0 and x.max() == 1.0
    torch.testing.assert_close(x * 16.0, (x * 16.0).round(), rtol=0, atol=1e-5)


def test_an_overfit_fraction_is_checked_against_the_mini_batches_lightning_trains():
    """Under ``overfit_batches`` Lightning swaps in a SequentialSampler: the training batches it sees are
    the data set's 126 mini-batches, not the 4 chunks of 32 (and it sets ``limit_train_batches`` to the
    same fraction). ``overfit_batches=0.1`` trains 12 mini-batches; it was refused as keeping "none of the
    4 train batch(es)"."""
    data = limited(overfit_batches=0.1, limit_train_batches=0.1)
    assert len(data.train_dataloader().dataset) == 126


def test_the_class_defaults_are_the_configured_ones():
    """A data module built in Python without arguments has the defaults of its settings in src/config.py,
    where every default is written."""
    for settings, module in data_modules().values():
        built = module()
        for field in dataclasses.fields(settings):
            value = getattr(built, field.name)
            value = str(value) if isinstance(value, Path) else value  # root, kept as a Path
            assert value == field.default, (module.__name__, field.name)


def test_each_epoch_is_the_documented_permutation():
    """Epoch ``e`` of seed ``s`` is torch's ``randperm`` from seed ``s + e``: the order, and so every
    published result, depends on nothing else."""
    sampler = MiniBatchChunks(n=30, batch_size=4, seed=7)
    sampler.set_epoch(3)
    expected = torch.randperm(30, generator=torch.Generator().manual_seed(10))
    assert torch.equal(torch.cat(list(sampler)), expected)


def test_a_checkpoint_saved_before_the_first_chunk_resumes_the_whole_epoch():
    sampler = MiniBatchChunks(n=40, batch_size=5, batches_per_step=2, seed=3)
    state = sampler.state_dict()
    assert state == {"epoch": 0, "chunks_trained": 0, "world_size": 1}
    resumed = MiniBatchChunks(n=40, batch_size=5, batches_per_step=2, seed=3)
    resumed.load_state_dict(state)
    assert torch.equal(torch.cat(list(resumed)), torch.cat(list(sampler)))


def test_a_position_in_an_epoch_resumes_only_with_as_many_processes():
    """Each process counts the chunks of its own shard: 2 chunks of each of 2 shards are the first 40
    samples of the epoch's permutation, and one process resumed after 2 of its chunks trained samples 20
    to 39 again, and never 40 to 59 (a ``trainer=ddp_cpu`` checkpoint resumed with ``trainer=cpu``)."""
    shards = [
        MiniBatchChunks(n=100, batch_size=5, batches_per_step=2, seed=3, rank=r, world_size=2) for r in (0, 1)
    ]
    for shard in shards:
        list(shard)
        shard.chunk_trained(), shard.chunk_trained()
    state = shards[0].state_dict()
    assert state == {"epoch": 0, "chunks_trained": 2, "world_size": 2}
    alone = MiniBatchChunks(n=100, batch_size=5, batches_per_step=2, seed=3)
    with pytest.raises(UserError, match="stopped in the middle of an epoch trained by 2 process"):
        alone.load_state_dict(state)
    alone.load_state_dict({**state, "chunks_trained": 0})  # before its first chunk: any processes
    with pytest.raises(UserError, match="stopped in the middle of an epoch trained by 1 process"):
        shards[1].load_state_dict(alone.state_dict() | {"chunks_trained": 2})  # and not with more
    alone.load_state_dict({"epoch": 0, "chunks_trained": 2})  # a checkpoint from before world_size was kept
    again = MiniBatchChunks(n=100, batch_size=5, batches_per_step=2, seed=3, rank=1, world_size=2)
    again.load_state_dict(state)
    assert torch.equal(torch.cat(list(again)), torch.cat(list(shards[1])[2:]))


def test_the_loader_saves_its_samplers_position_and_only_its():
    sampler = MiniBatchChunks(n=40, batch_size=5, batches_per_step=2, seed=3)
    loader = ResumableLoader(range(40), sampler=sampler, batch_size=None)
    sampler.set_epoch(2)
    list(sampler)
    sampler.chunk_trained()
    assert loader.state_dict() == {"epoch": 2, "chunks_trained": 1, "world_size": 1}
    restored = MiniBatchChunks(n=40, batch_size=5, batches_per_step=2, seed=3)
    ResumableLoader(range(40), sampler=restored, batch_size=None).load_state_dict(loader.state_dict())
    restored.set_epoch(2)
    assert torch.equal(torch.cat(list(restored)), torch.cat(list(sampler)[1:]))
    sequential = ResumableLoader(range(40), batch_size=None)  # what overfit_batches swaps in
    assert sequential.state_dict() == {}
    sequential.load_state_dict({"epoch": 2, "chunks_trained": 1})  # nothing to restore, no error


def idx(magic: int, dims: tuple[int, ...], data: bytes) -> bytes:
    return struct.pack(f">{1 + len(dims)}I", magic, *dims) + data


@pytest.mark.parametrize(
    ("ndim", "content", "message"),
    [
        (3, idx(2051, (1, 28, 28), b"")[:15], "is truncated: its header is cut short"),
        (3, idx(2051, (1, 28, 28), b"")[:4], "is truncated: its header is cut short"),
        (
            1,
            idx(2049, (1,), b"")[:3],
            "is not an IDX file of labels: it must start with the magic number 2049",
        ),
        (3, idx(2051, (2, 20, 24), bytes(2 * 480)), "holds images of 20x24 pixels: MNIST's are 28x28"),
    ],
    ids=[
        "header one byte short",
        "only the magic number",
        "magic number cut short",
        "images of another size",
    ],
)
def test_an_idx_file_with_a_wrong_header_is_refused(tmp_path, ndim, content, message):
    path = tmp_path / "file-idx3-ubyte"
    path.write_bytes(content)
    with pytest.raises(UserError, match=re.escape(f"{path} {message}")):
        read_idx(path, ndim)


def pair(tmp_path, labels: list[int], images: int = 3) -> tuple:
    images_file, labels_file = tmp_path / "images", tmp_path / "labels"
    images_file.write_bytes(idx(2051, (images, 28, 28), bytes(images * 784)))
    labels_file.write_bytes(idx(2049, (len(labels),), bytes(labels)))
    return images_file, labels_file


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (
            [0, 1, 2, 3],
            "{labels} holds 4 labels but {images} holds 3 images: there must be one label per image",
        ),
        ([0, 9, 10], "{labels}: label 10 (of image 2) is out of range: labels are 0 to 9"),
        ([0, 12, 10], "{labels}: label 12 (of image 1) is out of range: labels are 0 to 9"),
    ],
    ids=["more labels than images", "label = the number of classes", "a label above that first"],
)
def test_labels_must_match_the_images(tmp_path, labels, message):
    images_file, labels_file = pair(tmp_path, labels)
    with pytest.raises(UserError, match=re.escape(message.format(labels=labels_file, images=images_file))):
        checked_idx_pair(images_file, labels_file, 10)


def test_as_many_labels_as_images_are_accepted_beyond_pythons_small_ints(tmp_path):
    """Lengths compared by value: 300 labels and 300 images (ints above 256 are distinct objects)."""
    images_file, labels_file = pair(tmp_path, [i % 10 for i in range(300)], images=300)
    images, labels = checked_idx_pair(images_file, labels_file, 10)
    assert (images.shape, labels.tolist()) == ((300, 28, 28), [i % 10 for i in range(300)])


def test_a_missing_idx_file_is_named_with_both_its_names(tmp_path):
    with pytest.raises(
        UserError, match=re.escape(f"{tmp_path / 'x-idx1-ubyte'}.gz (or x-idx1-ubyte) is missing")
    ):
        idx_file(tmp_path, "x-idx1-ubyte")


def test_the_files_checked_before_training_are_not_read_again_to_train(tmp_path, monkeypatch):
    """The configuration check reads the training and the test pair; the data module's load reuses them."""
    write_idx(tmp_path, "MNIST", n_train=20, n_test=10)
    reads = []
    real_read_idx = src.data.read_idx

    def counted(file, ndim):
        reads.append(file.name)
        return real_read_idx(file, ndim)

    monkeypatch.setattr(src.data, "read_idx", counted)
    checked_idx_pair.cache_clear()
    data = TorchvisionDataModule(root=str(tmp_path), val_size=5)
    data.check()
    data.setup()
    assert len(reads) == 4 and len(data.splits["train"][1]) == 15


def test_bytes_past_a_whole_number_of_blocks_are_noticed(tmp_path, monkeypatch):
    """The data is read block by block: a file whose data ends on a block boundary, plus one byte."""
    monkeypatch.setattr(src.data, "READ_BLOCK", 4)
    path = tmp_path / "labels-idx1-ubyte"
    path.write_bytes(idx(2049, (8,), bytes(8)) + b"\0")
    with pytest.raises(
        UserError, match=re.escape(f"{path} has more bytes than its header says (8 = 8 bytes")
    ):
        read_idx(path, 1)
    path.write_bytes(idx(2049, (8,), bytes(range(8))))
    assert read_idx(path, 1).tolist() == list(range(8))


def test_only_chunks_handed_to_training_are_counted():
    """Lightning fetches one chunk ahead; the sampler's position is what ``training_step`` has received:
    counted as each chunk is handed over during training, not during validation or without a trainer."""
    data = DigitsDataModule()
    data.train_sampler = sampler = MiniBatchChunks(n=40, batch_size=5, batches_per_step=2)
    chunk = MiniBatchDataset(torch.zeros(10, 1), torch.zeros(10), 5)[torch.arange(10)]
    assert data.on_after_batch_transfer(chunk, 0) is chunk  # no trainer
    for training in (True, True, False):
        data.trainer = SimpleNamespace(training=training)
        assert data.on_after_batch_transfer(chunk, 0) is chunk
    assert sampler.state_dict()["chunks_trained"] == 2


def test_the_data_modules_training_loader_shuffles_with_its_seed_and_evaluation_keeps_the_order():
    data = DigitsDataModule(seed=5)
    data.setup()
    train = torch.cat(list(data.train_dataloader().sampler))
    assert torch.equal(train, torch.randperm(1257, generator=torch.Generator().manual_seed(5)))
    assert torch.equal(torch.cat(list(data.val_dataloader().sampler)), torch.arange(180))


def test_mnist_test_pixels_are_the_files_bytes_over_255(tmp_path):
    write_idx(tmp_path, "MNIST", n_train=20, n_test=10)
    raw = tmp_path / "MNIST" / "raw"
    data = TorchvisionDataModule(root=str(tmp_path), val_size=5)
    data.setup()
    images = (raw / "t10k-images-idx3-ubyte").read_bytes()[16:]
    expected = torch.tensor(list(images), dtype=torch.float32).view(10, 784) / 255.0
    assert torch.equal(data.splits["test"][0], expected)


def test_synthetic_images_have_mnists_shape():
    x, _ = SyntheticDataModule(train_size=3, val_size=1, test_size=1).load()["train"]
    assert x.shape == (3, 28 * 28) and SyntheticDataModule.in_features == TorchvisionDataModule.in_features


def test_download_fetches_each_missing_file_once_from_the_first_mirror_that_has_it(tmp_path, monkeypatch):
    import torchvision
    import torchvision.datasets.utils

    fetched = []

    def download_url(url, root, filename, md5):
        fetched.append(url)
        (Path(root) / filename).parent.mkdir(parents=True, exist_ok=True)
        (Path(root) / filename).write_bytes(b"fetched")

    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", ["http://first/", "http://second/"])
    monkeypatch.setattr(torchvision.datasets.utils, "download_url", download_url)
    monkeypatch.setattr(torchvision.datasets.utils, "check_integrity", lambda path, md5: Path(path).is_file())
    files = [name for name, _ in torchvision.datasets.MNIST.resources]
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / files[0]).write_bytes(b"already there")
    TorchvisionDataModule(root=str(tmp_path), download=True).prepare_data()
    assert fetched == [f"http://first/{name}" for name in files[1:]]  # the others, once each
