"""Training and evaluation end to end: every config option, the run directory, evaluate, resume."""

import json
import os

import pytest
import torch
from runs import QUICK, compose_config, options, run_module, write_idx

from src.checkpoint import load_checkpoint
from src.evaluate import evaluate
from src.train import train

pytestmark = pytest.mark.slow  # every test here trains


@pytest.mark.parametrize(
    "overrides",
    [
        *(
            [f"{group}={option}"]
            for group in ("activation", "cost", "optimizer")
            for option in options(group)
        ),
        ["activation=leaky_relu", "activation.negative_slope=0.1"],
        ["model.backprop=autograd"],
        ["model.init=normal"],
        ["model.hidden=[8]"],
        ["model.hidden=[12,10,8]"],
        ["data.batch_size=32"],
        ["trainer=cpu"],
        ["optimizer.lr=1e30"],  # weights past TensorBoard's largest histogram bucket (1e20)
        ["+trainer.max_time={hours:1}"],  # a mapping reaches Lightning as a dict (a DictConfig failed)
    ],
    ids=lambda overrides: " ".join(overrides),
)
def test_every_option_composes_and_trains(tmp_path, overrides):
    metrics = train(compose_config("train", tmp_path, *QUICK, *overrides))
    assert 0.0 <= metrics["test/acc"] <= 1.0
    assert torch.isfinite(torch.tensor(metrics["test/loss"]))
    assert metrics["train/samples_per_sec"] > 0
    assert (tmp_path / "metrics.json").exists()


def test_a_callback_set_to_null_is_switched_off(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = compose_config("train", tmp_path, *QUICK, "callbacks.tensorboard_figures=null", "test=false")
    assert train(cfg)["train/samples_per_sec"] > 0
    tags = EventAccumulator(str(tmp_path / "tensorboard")).Reload().Tags()
    assert "val/acc" in tags["scalars"] and not tags["images"] and not tags["histograms"]


@pytest.mark.parametrize(
    ("data", "experiment"),
    [("mnist", None), ("fashion_mnist", None), ("mnist", "essay_mnist"), ("mnist", "nielsen_ch1")],
)
def test_torchvision_data_and_experiments_train(tmp_path, data, experiment):
    folder = "FashionMNIST" if data == "fashion_mnist" else "MNIST"
    write_idx(tmp_path / "data", folder, n_train=60, n_test=20)
    overrides = [f"data={data}", f"data.root={tmp_path / 'data'}", "data.val_size=10", *QUICK]
    if experiment:
        overrides = [f"experiment={experiment}", *overrides]
    cfg = compose_config("train", tmp_path / "run", *overrides)
    metrics = train(cfg)
    model = load_checkpoint(metrics["ckpt_path"])["hyper_parameters"]
    assert model["in_features"] == 784 and model["num_classes"] == 10
    if experiment == "nielsen_ch1":
        assert (model["hidden"], model["optimizer"]["lr"], cfg.trainer.max_epochs) == ([30], 1.5, 1)
    if experiment == "essay_mnist":
        assert model["hidden"] == [16, 16]


def test_experiments_keep_their_settings(tmp_path):
    nielsen = compose_config("train", tmp_path, "experiment=nielsen_ch1")
    assert (nielsen.data.batch_size, nielsen.trainer.max_epochs, nielsen.optimizer.lr) == (10, 30, 1.5)
    assert (list(nielsen.model.hidden), nielsen.model.init, nielsen.activation.name) == (
        [30],
        "normal",
        "sigmoid",
    )
    essay = compose_config("train", tmp_path, "experiment=essay_mnist")
    assert (list(essay.model.hidden), essay.cost.name, essay.optimizer._target_) == (
        [16, 16],
        "mse",
        "torch.optim.SGD",
    )


def test_default_run_writes_its_directory_and_reaches_95_percent(tmp_path):
    """The README's ``python -m src.train``, as a user runs it (only the run directory moved)."""
    run = run_module("src.train", f"hydra.run.dir={tmp_path}")
    assert run.returncode == 0, run.stderr[-3000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["test/acc"] >= 0.95
    assert {"test/acc", "test/loss", "val/acc_best", "train/samples_per_sec", "ckpt_path"} <= metrics.keys()
    assert (tmp_path / ".hydra" / "config.yaml").exists()
    assert (tmp_path / "checkpoints" / "last.ckpt").exists()
    assert metrics["ckpt_path"].startswith(str(tmp_path / "checkpoints" / "epoch_"))
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    assert f"test/acc {metrics['test/acc']:.4f}" in run.stdout
    assert metrics["ckpt_path"] in run.stdout


def test_checkpoint_loads_weights_only_with_plain_hyperparameters(tmp_path):
    metrics = train(compose_config("train", tmp_path, *QUICK))
    checkpoint = torch.load(metrics["ckpt_path"], weights_only=True)
    hparams = checkpoint["hyper_parameters"]
    assert type(hparams) is dict and type(hparams["hidden"]) is list and type(hparams["data"]) is dict
    assert hparams["data"]["_target_"] == "src.data.DigitsDataModule"


def test_evaluate_reproduces_the_test_metrics_of_training(tmp_path, monkeypatch):
    """A relative ``ckpt_path`` is recorded as the absolute path training records (a tester): the
    ``metrics.json`` is read from elsewhere than the directory it was relative to."""
    trained = train(compose_config("train", tmp_path / "train", "trainer.max_epochs=3"))
    monkeypatch.chdir(tmp_path)
    relative = os.path.relpath(trained["ckpt_path"], tmp_path)
    cfg = compose_config("evaluate", tmp_path / "evaluate", f"ckpt_path={relative}")
    evaluated = evaluate(cfg)
    assert evaluated["test/acc"] == trained["test/acc"]
    assert evaluated["test/loss"] == pytest.approx(trained["test/loss"], rel=1e-6)
    written = json.loads((tmp_path / "evaluate" / "metrics.json").read_text())
    assert written["test/acc"] == trained["test/acc"] and written["ckpt_path"] == trained["ckpt_path"]


@pytest.mark.parametrize("precision", ["bf16-mixed", "64-true"])
def test_evaluate_tests_at_the_precision_the_checkpoint_was_trained_at(tmp_path, precision):
    """The checkpoint records its trainer.precision and evaluate tests at it: at 32-true, evaluate's default
    before, a bf16-mixed checkpoint gives other digits (a 64-true one had its weights rounded to float32,
    which its float32 metrics don't show: tests/test_checkpoint_units.py checks the weights)."""
    trained = train(
        compose_config("train", tmp_path / "train", "trainer.max_epochs=2", f"trainer.precision={precision}")
    )
    assert load_checkpoint(trained["ckpt_path"])["precision"] == precision
    evaluated = evaluate(
        compose_config("evaluate", tmp_path / "evaluate", f"ckpt_path={trained['ckpt_path']}")
    )
    assert evaluated["precision"] == precision
    assert evaluated["test/acc"] == trained["test/acc"]
    assert evaluated["test/loss"] == pytest.approx(trained["test/loss"], rel=1e-6)
    if precision == "64-true":
        return
    at_32 = evaluate(
        compose_config(
            "evaluate", tmp_path / "at_32", f"ckpt_path={trained['ckpt_path']}", "trainer.precision=32"
        )
    )
    assert at_32["precision"] == "32-true" and at_32["test/loss"] != trained["test/loss"]


def test_resume_from_last_checkpoint_continues_exactly(tmp_path):
    """2 epochs, then resume to 3, equals 3 straight: same weights and metrics, bit for bit. The final
    metrics are those of the first epoch after resuming, whose ``train/loss`` once also held the sums of
    the epoch before (saved in last.ckpt before Lightning reset the metric)."""
    straight = train(compose_config("train", tmp_path / "straight", "trainer.max_epochs=3"))
    train(compose_config("train", tmp_path / "resumed", "trainer.max_epochs=2", "test=false"))
    last = tmp_path / "resumed" / "checkpoints" / "last.ckpt"
    resumed = train(
        compose_config("train", tmp_path / "resumed", "trainer.max_epochs=3", f"ckpt_path={last}")
    )

    weights = [
        load_checkpoint(run / "checkpoints" / "last.ckpt")["state_dict"]["net.params"]
        for run in (tmp_path / "straight", tmp_path / "resumed")
    ]
    assert torch.equal(weights[0], weights[1])
    for name in ("test/acc", "test/loss", "val/acc_best", "train/loss"):
        assert resumed[name] == straight[name], name
    checkpoint = load_checkpoint(last)
    assert checkpoint["epoch"] == 2 and checkpoint["global_step"] == 3 * 126


def test_a_resumed_64_true_run_keeps_its_float64_weights(tmp_path):
    """Lightning restores the weights before it converts the module to the precision's dtype: a 64-true
    checkpoint was loaded into the float32 network, its weights rounded to float32 (up to 9e-8 apart
    from the straight run's after 1 + 1 epochs)."""
    options = [*QUICK, "trainer.precision=64-true", "test=false"]
    train(compose_config("train", tmp_path / "straight", *options, "trainer.max_epochs=2"))
    train(compose_config("train", tmp_path / "first", *options))
    last = tmp_path / "first" / "checkpoints" / "last.ckpt"
    train(
        compose_config("train", tmp_path / "resumed", *options, "trainer.max_epochs=2", f"ckpt_path={last}")
    )
    weights = [
        load_checkpoint(tmp_path / run / "checkpoints" / "last.ckpt")["state_dict"]["net.params"]
        for run in ("straight", "resumed")
    ]
    assert weights[0].dtype == weights[1].dtype == torch.float64
    assert torch.equal(weights[0], weights[1])


def test_plain_sgd_update_is_torch_sgd_step_bit_for_bit(tmp_path, monkeypatch):
    """The in-place ``P.add_(grad, alpha=-lr)`` used for plain SGD gives exactly ``SGD.step()``'s weights."""
    train(compose_config("train", tmp_path / "in_place", "trainer.max_epochs=2", "test=false"))
    monkeypatch.setattr("src.lit.plain_sgd_lr", lambda optimizer: None)  # force optimizer.step()
    train(compose_config("train", tmp_path / "step", "trainer.max_epochs=2", "test=false"))
    weights = [
        load_checkpoint(tmp_path / run / "checkpoints" / "last.ckpt")["state_dict"]["net.params"]
        for run in ("in_place", "step")
    ]
    assert torch.equal(weights[0], weights[1])


def test_plain_sgd_is_recognised_only_without_extras():
    from src.lit import plain_sgd_lr

    params = [torch.nn.Parameter(torch.zeros(3))]
    assert plain_sgd_lr(torch.optim.SGD(params, lr=0.5)) == 0.5
    assert plain_sgd_lr(torch.optim.SGD(params, lr=0.5, momentum=0.9)) is None
    assert plain_sgd_lr(torch.optim.SGD(params, lr=0.5, weight_decay=0.1)) is None
    assert plain_sgd_lr(torch.optim.Adam(params, lr=0.5)) is None
