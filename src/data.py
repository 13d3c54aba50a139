"""Data sets held in memory as tensors on the training device, served as shuffled index slices.

Pixels are scaled to [0, 1] and images flattened, so a sample is the essay's input layer ``L_1``.
A training "batch" handed to Lightning is a *chunk* of ``batches_per_step`` mini-batches: the model
takes one SGD step per mini-batch inside ``training_step``, and Lightning's per-step bookkeeping is
paid once per chunk instead of once per mini-batch.
"""

import functools
import gzip
import math
import shutil
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from src.config import Data, DigitsData, SyntheticData, TorchvisionData
from src.errors import UserError

CHUNK_BYTES = 16 * 2**20
"""The most bytes of images one chunk gathers. A chunk is copied out of the data set at once and then
read mini-batch by mini-batch; while it fits in the CPU's last-level cache (tens of MiB) that costs less
than a gather per mini-batch, past it the copy goes through main memory and costs more."""


def batches_per_chunk(batches_per_step: int, batch_size: int, x: Tensor) -> int:
    """``batches_per_step``, or fewer if that many mini-batches of ``x``'s rows would take more than
    :data:`CHUNK_BYTES`; at least 1."""
    minibatch_bytes = batch_size * x[0].numel() * x.element_size()
    return max(1, min(batches_per_step, CHUNK_BYTES // minibatch_bytes))


class Chunk(NamedTuple):
    """The mini-batches of one training step, gathered at once: images ``x`` (one per row) and labels
    ``y``, to be cut into mini-batches of ``batch_size`` samples (the last one may be smaller)."""

    x: Tensor
    y: Tensor
    batch_size: int

    def minibatches(self, expected: Tensor | None = None) -> Iterator[tuple[Tensor, Tensor]]:
        """``(x, y)`` of each mini-batch, views of the chunk's tensors; with ``expected`` (one row per
        class) ``(x, E)``, ``E`` gathered for the whole chunk at once."""
        targets = self.y if expected is None else expected[self.y]
        return zip(self.x.split(self.batch_size), targets.split(self.batch_size), strict=True)


class MiniBatchChunks(Sampler[Tensor]):
    """Index chunks over ``n`` samples: each epoch a fresh permutation (``seed + epoch``), cut into
    chunks of ``batch_size * batches_per_step`` indices. Under data parallelism each of ``world_size``
    processes takes its own equal-sized shard of the same permutation.

    The order depends only on the seed and the epoch, so training resumed in the middle of an epoch
    continues it exactly: :meth:`state_dict` records the epoch and the chunks trained in it
    (:meth:`chunk_trained` counts them), :meth:`load_state_dict` makes the next iteration of that epoch
    skip them, once.
    """

    def __init__(
        self,
        n: int,
        batch_size: int,
        batches_per_step: int = 1,
        shuffle: bool = True,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        device: torch.device | str = "cpu",
    ) -> None:
        self.n = n
        self.chunk_size = batch_size * batches_per_step
        self.shuffle = shuffle
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.device = torch.device(device)
        self.epoch = 0
        self.chunks_trained = 0
        self._resume: dict[str, int] | None = None

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning before each training epoch: the permutation depends on it."""
        self.epoch = epoch

    def chunk_trained(self) -> None:
        self.chunks_trained += 1

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "chunks_trained": self.chunks_trained, "world_size": self.world_size}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Resume the position ``state`` records; the chunks trained are those of each process's shard,
        the same samples only with as many processes (a checkpoint without ``world_size`` predates it)."""
        saved = state.get("world_size", self.world_size)
        if saved != self.world_size and state.get("chunks_trained"):
            raise UserError(
                f"the checkpoint stopped in the middle of an epoch trained by {saved} process(es), after "
                f"{state['chunks_trained']} chunks of each one's shard; resumed by {self.world_size}, the "
                "epoch would not go on at the samples where it stopped: resume it with as many processes "
                "(trainer.devices, trainer.num_nodes), or from the last.ckpt of the epoch before"
            )
        self._resume = state

    @property
    def shard_size(self) -> int:
        """Training shards are cut to equal sizes, so every process takes the same number of SGD steps;
        evaluation shards (no shuffle) keep every sample, their metrics are summed across processes."""
        if self.world_size == 1:
            return self.n
        if self.shuffle:
            return self.n // self.world_size
        return len(range(self.rank, self.n, self.world_size))

    def __len__(self) -> int:
        return -(-self.shard_size // self.chunk_size)

    def __iter__(self):
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.n, generator=generator)
        else:
            order = torch.arange(self.n)
        if self.world_size > 1:
            order = order[self.rank :: self.world_size][: self.shard_size]
        resume, self._resume = self._resume, None
        self.chunks_trained = resume["chunks_trained"] if resume and resume["epoch"] == self.epoch else 0
        yield from order.to(self.device).split(self.chunk_size)[self.chunks_trained :]


class ResumableLoader(DataLoader):
    """A data loader whose position in the epoch Lightning saves in checkpoints and restores on resume,
    through its stateful-dataloader protocol (``state_dict``/``load_state_dict``): its sampler's."""

    def state_dict(self) -> dict[str, int]:
        # under overfit_batches Lightning swaps in a SequentialSampler, which has no position to save
        return self.sampler.state_dict() if isinstance(self.sampler, MiniBatchChunks) else {}

    def load_state_dict(self, state: dict[str, int]) -> None:
        if isinstance(self.sampler, MiniBatchChunks):
            self.sampler.load_state_dict(state)


class MiniBatchDataset(Dataset[Chunk]):
    """``dataset[indices]`` gathers those samples in one indexing operation, as a :class:`Chunk` of
    mini-batches of ``batch_size``."""

    def __init__(self, x: Tensor, y: Tensor, batch_size: int) -> None:
        self.x = x
        self.y = y
        self.batch_size = batch_size

    def __len__(self) -> int:
        """The number of mini-batches: what a ``SequentialSampler`` counts (see :meth:`__getitem__`)."""
        return -(-len(self.y) // self.batch_size)

    def __getitem__(self, indices: Tensor | int) -> Chunk:
        if isinstance(indices, int):  # Lightning's overfit_batches swaps in a SequentialSampler: 0, 1, ...
            rows = slice(indices * self.batch_size, (indices + 1) * self.batch_size)  # the i-th mini-batch
            return Chunk(self.x[rows], self.y[rows], self.batch_size)
        # index_select, not x[indices]: the same rows, gathered several times faster on the CPU
        return Chunk(self.x.index_select(0, indices), self.y.index_select(0, indices), self.batch_size)


class InMemoryDataModule(L.LightningDataModule):
    """Train/val/test tensors loaded once, moved to the training device, batched by index slicing.

    ``batch_size`` is the SGD mini-batch size *per process*: under data parallelism with ``N``
    processes each step averages ``N * batch_size`` samples.
    """

    in_features: int
    num_classes: int

    def __init__(
        self,
        batch_size: int = Data.batch_size,
        batches_per_step: int = Data.batches_per_step,
        eval_batch_size: int = Data.eval_batch_size,
        seed: int = Data.seed,
    ) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.batches_per_step = batches_per_step
        self.eval_batch_size = eval_batch_size
        self.seed = seed
        self.splits: dict[str, tuple[Tensor, Tensor]] = {}

    def load(self) -> dict[str, tuple[Tensor, Tensor]]:
        """``{"train": (x, y), "val": (x, y), "test": (x, y)}`` on the CPU: x float in [0, 1], y long."""
        raise NotImplementedError

    @property
    def device(self) -> torch.device:
        return self.trainer.strategy.root_device if self.trainer is not None else torch.device("cpu")

    def setup(self, stage: str | None = None) -> None:
        """Load the splits onto the device; then, before anything runs, check that each split the stage
        reads keeps a batch (:meth:`_check_limit`): the test split's limit was found wanting only after
        the whole training, which ``src.train`` follows with a test."""
        if not self.splits:
            self.splits = {
                name: (x.to(self.device), y.to(self.device)) for name, (x, y) in self.load().items()
            }
        for split in SPLITS_OF_STAGE.get(stage, ()):  # Lightning passes a str enum: equal, hashed alike
            self._check_limit(split, self._batches_seen(split))

    def _train_loader_parts(self) -> tuple[MiniBatchDataset, MiniBatchChunks]:
        """The training set's mini-batches and the sampler that chunks and shuffles them."""
        x, y = self.splits["train"]
        rank, world = self.rank_and_world_size()
        batches = batches_per_chunk(self.batches_per_step, self.batch_size, x)
        sampler = MiniBatchChunks(len(y), self.batch_size, batches, True, self.seed, rank, world, self.device)
        return MiniBatchDataset(x, y, self.batch_size), sampler

    def _eval_sampler(self, split: str) -> MiniBatchChunks:
        """The sampler of an evaluation split's batches in this process, in order."""
        rank, world = self.rank_and_world_size()
        return MiniBatchChunks(
            len(self.splits[split][1]),
            self.eval_batch_size,
            shuffle=False,
            rank=rank,
            world_size=world,
            device=self.device,
        )

    def _batches_seen(self, split: str) -> int:
        """How many batches of ``split`` Lightning sees in this process: training chunks (the mini-batches
        themselves under ``overfit_batches``, where Lightning swaps in a SequentialSampler), evaluation
        batches."""
        if split != "train":
            return len(self._eval_sampler(split))
        dataset, sampler = self._train_loader_parts()
        return len(dataset) if self.trainer is not None and self.trainer.overfit_batches else len(sampler)

    def train_dataloader(self) -> DataLoader:
        dataset, sampler = self._train_loader_parts()
        self.train_sampler = sampler
        self._check_val_check_interval(self._batches_seen("train"))
        return ResumableLoader(dataset, sampler=sampler, batch_size=None)

    def transfer_batch_to_device(self, batch: Chunk, device: torch.device, dataloader_idx: int) -> Chunk:
        """The data already lives on the training device: a chunk needs no transfer (Lightning's default
        would walk the batch looking for tensors)."""
        if batch.x.device == device:
            return batch
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    def on_after_batch_transfer(self, batch: Chunk, dataloader_idx: int) -> Chunk:
        """Count the training chunks handed to ``training_step`` (Lightning fetches one ahead, so the
        sampler's own count would be one too many)."""
        if self.trainer is not None and self.trainer.training:
            self.train_sampler.chunk_trained()
        return batch

    def rank_and_world_size(self) -> tuple[int, int]:
        """This process's rank and the number of processes."""
        return (self.trainer.global_rank, self.trainer.world_size) if self.trainer else (0, 1)

    def _eval_dataloader(self, split: str) -> DataLoader:
        x, y = self.splits[split]
        dataset = MiniBatchDataset(x, y, self.eval_batch_size)
        return DataLoader(dataset, sampler=self._eval_sampler(split), batch_size=None)

    def _check_limit(self, split: str, steps: int) -> None:
        """A fraction ``trainer.limit_<split>_batches`` (or ``overfit_batches``) must keep at least one of
        the ``steps`` batches Lightning sees: chunks of ``batches_per_step`` mini-batches, not mini-batches."""
        if self.trainer is None:
            return
        # overfit_batches first: Lightning sets the training's and the validation's limits to it
        for key in ("overfit_batches", f"limit_{split}_batches"):
            limit = getattr(self.trainer, key)
            if key == "overfit_batches" and (limit == 0 or split == "test"):
                continue
            if isinstance(limit, float) and 0 < limit < 1 and int(limit * steps) == 0:
                raise UserError(
                    f"trainer.{key}={limit} keeps none of the {steps} {split} batch(es) Lightning sees here (a "
                    f"training batch is data.batches_per_step={self.batches_per_step} mini-batches, an evaluation "
                    f"batch data.eval_batch_size={self.eval_batch_size} samples): give a number of batches (an "
                    "integer) or a larger fraction, or use debug=limit (one mini-batch per batch)"
                )

    def _check_val_check_interval(self, steps: int) -> None:
        """An integer ``trainer.val_check_interval`` counts training batches, chunks of ``batches_per_step``
        mini-batches: more than an epoch's ``steps`` (after ``limit_train_batches``) is a Lightning
        traceback when training starts, so it is one line here."""
        if self.trainer is None:
            return
        interval, limit = self.trainer.val_check_interval, self.trainer.limit_train_batches
        batches = min(steps, limit) if isinstance(limit, int) else int(steps * limit)
        if (
            isinstance(interval, int)
            and interval > batches
            and self.trainer.check_val_every_n_epoch is not None
            and self.trainer.limit_val_batches > 0
        ):
            raise UserError(
                f"trainer.val_check_interval={interval}: an epoch here has {batches} training batch(es) (a "
                f"training batch is data.batches_per_step={self.batches_per_step} mini-batches): give at most "
                f"{batches}, a fraction of an epoch (0 < x <= 1), or a smaller data.batches_per_step"
            )

    def val_dataloader(self) -> DataLoader:
        return self._eval_dataloader("val")

    def test_dataloader(self) -> DataLoader:
        return self._eval_dataloader("test")


SPLITS_OF_STAGE = {"fit": ("train", "val", "test"), "validate": ("val",), "test": ("test",)}
"""The splits each of Lightning's stages reads: ``src.train`` tests after it fits."""


class DigitsDataModule(InMemoryDataModule):
    """scikit-learn's 1,797 handwritten digits (8x8, 16 grey levels), shipped with scikit-learn: works
    offline. Split stratified by class with a fixed ``split_seed`` into train/val/test."""

    in_features = 64
    num_classes = 10

    def __init__(
        self,
        val_fraction: float = DigitsData.val_fraction,
        test_fraction: float = DigitsData.test_fraction,
        split_seed: int = DigitsData.split_seed,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.split_seed = split_seed

    def load(self) -> dict[str, tuple[Tensor, Tensor]]:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        digits = load_digits()
        x = torch.tensor(digits.data, dtype=torch.float32) / 16.0
        y = torch.tensor(digits.target, dtype=torch.long)
        rest_x, test_x, rest_y, test_y = train_test_split(
            x, y, test_size=self.test_fraction, stratify=y, random_state=self.split_seed
        )
        val_share = self.val_fraction / (1.0 - self.test_fraction)
        train_x, val_x, train_y, val_y = train_test_split(
            rest_x, rest_y, test_size=val_share, stratify=rest_y, random_state=self.split_seed
        )
        return {"train": (train_x, train_y), "val": (val_x, val_y), "test": (test_x, test_y)}


IDX_MAGIC = {1: 2049, 3: 2051}
"""The magic number that opens an IDX file of MNIST's kind: unsigned bytes (``0x08``) in 1 dimension
(labels) or 3 (images), big-endian."""

IMAGE_SIZE = (28, 28)
"""The height and width of every MNIST and Fashion-MNIST image (784 inputs)."""

READ_BLOCK = 2**20
"""Bytes decompressed at a time: a ``.gz`` file is read only as far as its header says it reaches (plus
one byte, to notice extra data), so a lying header or a compression bomb never fills the memory."""


def idx_file(raw: Path, stem: str) -> Path:
    """``raw/stem`` if it exists (extracted, as torchvision leaves it), else ``raw/stem.gz`` (as
    downloaded); raises :class:`UserError` if neither is there."""
    for file in (raw / stem, raw / f"{stem}.gz"):
        if file.is_file():
            return file
    raise UserError(f"{raw / stem}.gz (or {stem}) is missing")


def read_idx(file: Path, ndim: int) -> Tensor:
    """The ``uint8`` tensor an IDX file holds (LeCun's MNIST format: the magic number, then each of the
    ``ndim`` dimensions as a big-endian 32-bit count, then the bytes), from ``file`` or its gzip stream
    decompressed in memory. Raises :class:`UserError` naming the file if it is not such a file or its
    size does not match its header."""
    try:
        with gzip.open(file, "rb") if file.suffix == ".gz" else open(file, "rb") as stream:
            header = stream.read(4 * (1 + ndim))
            if not header:
                raise UserError(f"{file} is empty")
            if len(header) < 4 or struct.unpack(">I", header[:4])[0] != IDX_MAGIC[ndim]:
                raise UserError(
                    f"{file} is not an IDX file of {'labels' if ndim == 1 else 'images'}: it must start with "
                    f"the magic number {IDX_MAGIC[ndim]} (0x{IDX_MAGIC[ndim]:08x})"
                )
            if len(header) < 4 * (1 + ndim):
                raise UserError(f"{file} is truncated: its header is cut short")
            shape = struct.unpack(f">{ndim}I", header[4:])
            if ndim == 3 and shape[1:] != IMAGE_SIZE:
                raise UserError(
                    f"{file} holds images of {shape[1]}x{shape[2]} pixels: MNIST's are "
                    f"{IMAGE_SIZE[0]}x{IMAGE_SIZE[1]}"
                )
            expected = math.prod(shape)
            data = bytearray()
            while len(data) <= expected:
                block = stream.read(min(READ_BLOCK, expected + 1 - len(data)))
                if not block:
                    break
                data += block
    except (OSError, EOFError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
        raise UserError(f"{file} can't be read: {' '.join(str(error).split())}") from None
    size = f"{' x '.join(map(str, shape))} = {expected:,} bytes of data"
    if len(data) < expected:
        raise UserError(f"{file} is truncated: its header says {size}, it holds {len(data):,}")
    if len(data) > expected:
        raise UserError(f"{file} has more bytes than its header says ({size})")
    if not expected:
        return torch.empty(shape, dtype=torch.uint8)
    return torch.frombuffer(data, dtype=torch.uint8).view(shape)


def read_idx_pair(raw: Path, prefix: str, num_classes: int) -> tuple[Tensor, Tensor]:
    """The images (``uint8``, n x 28 x 28) and labels (``long``) of ``raw/<prefix>-images-idx3-ubyte``
    and ``raw/<prefix>-labels-idx1-ubyte`` (each extracted or ``.gz``), checked to match each other."""
    images_file = idx_file(raw, f"{prefix}-images-idx3-ubyte")
    labels_file = idx_file(raw, f"{prefix}-labels-idx1-ubyte")
    return checked_idx_pair(
        images_file, labels_file, num_classes, file_stamp(images_file), file_stamp(labels_file)
    )


def file_stamp(file: Path) -> tuple[int, int, int]:
    """What changes when a file is replaced or rewritten: its inode, size and modification time."""
    stat = file.stat()
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


@functools.lru_cache(maxsize=2)
def checked_idx_pair(
    images_file: Path, labels_file: Path, num_classes: int, *stamps: tuple[int, int, int]
) -> tuple[Tensor, Tensor]:
    """:func:`read_idx_pair`'s work, kept for the last two pairs read (``stamps`` tell a rewritten file
    from the one read): the configuration check reads the files before training, then the data module
    reads them again. Callers must not modify the tensors."""
    images, labels = read_idx(images_file, 3), read_idx(labels_file, 1).long()
    if len(images) == 0:
        raise UserError(f"{images_file} holds no images")
    if len(labels) != len(images):
        raise UserError(
            f"{labels_file} holds {len(labels):,} labels but {images_file} holds {len(images):,} images: "
            "there must be one label per image"
        )
    if int(labels.max()) >= num_classes:
        bad = int((labels >= num_classes).nonzero()[0])
        raise UserError(
            f"{labels_file}: label {int(labels[bad])} (of image {bad}) is out of range: labels are 0 to "
            f"{num_classes - 1}"
        )
    return images, labels


class TorchvisionDataModule(InMemoryDataModule):
    """MNIST or Fashion-MNIST (28x28, 70,000 images) read from ``root/<name>/raw/``, where the four IDX
    files lie as torchvision's ``download=True`` leaves them: compressed (``.gz``, decompressed in
    memory, so a read-only folder holding only the downloaded files works) or extracted. The validation
    set is the last ``val_size`` images of a fixed-seed shuffle of the official training set; the test
    set is the official one."""

    in_features = 784
    num_classes = 10

    def __init__(
        self,
        name: str = TorchvisionData.name,
        root: str = TorchvisionData.root,
        download: bool = TorchvisionData.download,
        val_size: int = TorchvisionData.val_size,
        split_seed: int = TorchvisionData.split_seed,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.root = Path(root).expanduser()
        self.download = download
        self.val_size = val_size
        self.split_seed = split_seed

    @property
    def raw(self) -> Path:
        """The folder of the IDX files, ``root/<name>/raw`` as in torchvision."""
        return self.root / self.name / "raw"

    def prepare_data(self) -> None:
        """With ``download=True``, fetch the missing ``.gz`` files into :attr:`raw` from torchvision's
        mirrors (checking their MD5). If that fails, the folders this made are removed again and a
        :class:`UserError` says where to put the files by hand."""
        if self.download:
            download_idx_files(self.name, self.raw)

    def check(self) -> None:
        """Read and check the files (see :meth:`load`) without keeping them; raises :class:`UserError`."""
        self.load()

    def load(self) -> dict[str, tuple[Tensor, Tensor]]:
        if self.root.exists() and not self.root.is_dir():  # else "... /MNIST/raw/... is missing" misleads
            raise UserError(f"data.root={self.root} is a file: give the folder that holds {self.name}/raw/")
        try:
            train_x, train_y = read_idx_pair(self.raw, "train", self.num_classes)
            test_x, test_y = read_idx_pair(self.raw, "t10k", self.num_classes)
        except UserError as error:
            raise UserError(f"data.root={self.root}: {error}") from None
        if self.val_size >= len(train_y):
            raise UserError(
                f"data.val_size={self.val_size}: must be less than the {len(train_y):,} images of "
                f"{idx_file(self.raw, 'train-images-idx3-ubyte')}, to leave some for training"
            )
        train_idx, val_idx = train_val_split(len(train_y), self.val_size, self.split_seed)
        x = train_x.flatten(1).float() / 255.0
        return {
            "train": (x[train_idx], train_y[train_idx]),
            "val": (x[val_idx], train_y[val_idx]),
            "test": (test_x.flatten(1).float() / 255.0, test_y.clone()),
        }


def train_val_split(n: int, val_size: int, split_seed: int) -> tuple[Tensor, Tensor]:
    """Indices of the training and validation samples among ``n``: a fixed-seed permutation, its last
    ``val_size`` for validation. Disjoint, and together every index once."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(split_seed))
    return order[: n - val_size], order[n - val_size :]


def download_idx_files(name: str, raw: Path) -> None:
    """Fetch the ``.gz`` files of torchvision's ``name`` data set that ``raw`` lacks from its mirrors (their
    MD5 checked). On failure, remove the folders this call created and raise :class:`UserError`."""
    import torchvision
    from torchvision.datasets.utils import check_integrity, download_url

    dataset = getattr(torchvision.datasets, name)
    # The topmost folder this call will create, and, apart, every folder missing now: only a folder of the
    # second kind is ever removed, so that no slip in the first (a flipped test would name "/") can take
    # away what was there before.
    created = next((folder for folder in reversed([raw, *raw.parents]) if not folder.exists()), None)
    missing_now = {folder for folder in [raw, *raw.parents] if not folder.exists()}
    try:
        for filename, md5 in dataset.resources:
            if (raw / filename).is_file() or (raw / Path(filename).stem).is_file():
                continue
            errors = []
            for mirror in dataset.mirrors:
                try:
                    download_url(f"{mirror}{filename}", root=str(raw), filename=filename, md5=md5)
                    break
                except (OSError, RuntimeError, ValueError) as error:  # URLError is an OSError
                    errors.append(f"{mirror}: {' '.join(str(error).split())}")
                    (raw / filename).unlink(missing_ok=True)
            if not check_integrity(str(raw / filename), md5):
                raise UserError(f"could not fetch {filename} ({'; '.join(errors) or 'checksum mismatch'})")
    except (UserError, OSError) as error:
        if created is not None and created in missing_now:
            shutil.rmtree(created, ignore_errors=True)
        files = ", ".join(filename for filename, _ in dataset.resources)
        raise UserError(
            f"data.download=true: {' '.join(str(error).split())}: download {files} by hand into {raw}/ "
            "(the .gz files are enough) and leave out data.download"
        ) from None


class SyntheticDataModule(InMemoryDataModule):
    """Random data of MNIST's shape, made in memory: images of 784 pixels uniform in [0, 1] and labels
    uniform over 10 classes, ``train_size``/``val_size``/``test_size`` of them (MNIST's 50,000/10,000/10,000
    by default), drawn from the fixed ``split_seed``. Nothing is read or downloaded.

    It stands in for MNIST's shape offline, for benchmarks (``python -m benchmarks``) and smoke runs
    (``python -m src.train data=synthetic_mnist``). The labels are independent of the pixels, so it is not
    learnable beyond chance: accuracy stays near 10%.
    """

    in_features = 784
    num_classes = 10

    def __init__(
        self,
        train_size: int = SyntheticData.train_size,
        val_size: int = SyntheticData.val_size,
        test_size: int = SyntheticData.test_size,
        split_seed: int = SyntheticData.split_seed,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.train_size = train_size
        self.val_size = val_size
        self.test_size = test_size
        self.split_seed = split_seed

    def load(self) -> dict[str, tuple[Tensor, Tensor]]:
        generator = torch.Generator().manual_seed(self.split_seed)

        def split(n: int) -> tuple[Tensor, Tensor]:
            x = torch.rand(n, self.in_features, generator=generator)
            return x, torch.randint(0, self.num_classes, (n,), generator=generator)

        return {"train": split(self.train_size), "val": split(self.val_size), "test": split(self.test_size)}
