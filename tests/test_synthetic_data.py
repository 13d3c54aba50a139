"""``data=synthetic_mnist`` (:class:`src.data.SyntheticDataModule`): MNIST's shape made in memory,
reproducible, and a training run on it end to end."""

import torch
from runs import compose_config

from src.checkpoint import load_checkpoint
from src.data import SyntheticDataModule
from src.train import train


def test_synthetic_data_is_mnist_shaped_and_reproducible():
    first, second = (SyntheticDataModule(train_size=30, val_size=5, test_size=7).load() for _ in range(2))
    assert {name: tuple(x.shape) for name, (x, _) in first.items()} == {
        "train": (30, 784),
        "val": (5, 784),
        "test": (7, 784),
    }
    for name, (x, y) in first.items():
        assert x.dtype == torch.float32 and y.dtype == torch.long
        assert x.min() >= 0.0 and x.max() <= 1.0 and y.min() >= 0 and y.max() <= 9
        assert torch.equal(x, second[name][0]) and torch.equal(y, second[name][1])
    other = SyntheticDataModule(train_size=30, val_size=5, test_size=7, split_seed=1).load()
    assert not torch.equal(other["train"][0], first["train"][0])


def test_config_has_mnist_sizes(tmp_path):
    data = compose_config("train", tmp_path, "data=synthetic_mnist").data
    assert data._target_ == "src.data.SyntheticDataModule"
    assert (data.train_size, data.val_size, data.test_size) == (50000, 10000, 10000)
    assert (data.batch_size, data.batches_per_step, data.eval_batch_size, data.seed) == (10, 128, 1000, 12345)


def test_training_on_synthetic_mnist_runs_end_to_end(tmp_path):
    sizes = ["data.train_size=40", "data.val_size=10", "data.test_size=10", "data.batches_per_step=2"]
    cfg = compose_config("train", tmp_path, "data=synthetic_mnist", *sizes, "trainer.max_epochs=2")
    metrics = train(cfg)
    assert 0.0 <= metrics["test/acc"] <= 1.0 and torch.isfinite(torch.tensor(metrics["test/loss"]))
    assert metrics["train/samples_per_sec"] > 0 and (tmp_path / "metrics.json").exists()
    hparams = load_checkpoint(metrics["ckpt_path"])["hyper_parameters"]
    assert (hparams["in_features"], hparams["num_classes"]) == (784, 10)
    assert hparams["data"]["_target_"] == "src.data.SyntheticDataModule"
