"""Data parallel training (DDP over CPU processes), mixed precision, and the GPU configurations."""

import json

import hydra
import lightning as L
import pytest
import torch
from lightning.pytorch.plugins.precision import MixedPrecision
from runs import compose_config, run_module

from src.evaluate import evaluate
from src.lit import MLPClassifier
from src.train import train

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("ddp")
    result = run_module(
        "src.train",
        "trainer=ddp_cpu",
        "trainer.max_epochs=6",
        f"hydra.run.dir={run_dir}",
        "+callbacks.rank_weights._target_=runs.SaveRankWeights",
        f"+callbacks.rank_weights.directory={run_dir / 'ranks'}",
        "+callbacks.ddp_averaging._target_=runs.CountDDPAveraging",
        f"+callbacks.ddp_averaging.directory={run_dir / 'ranks'}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir, result


@pytest.mark.slow
def test_ddp_ranks_end_with_identical_weights(ddp_run):
    run_dir, _ = ddp_run
    weights = [torch.load(run_dir / "ranks" / f"rank{rank}.pt", weights_only=True) for rank in (0, 1)]
    assert torch.equal(weights[0], weights[1])


@pytest.mark.slow
def test_ddp_leaves_the_gradient_averaging_to_training_step(ddp_run):
    """training_step averages each mini-batch's gradient itself (``strategy.reduce``); DDP's own averaging,
    made for one backward per forward, never runs (a chunk runs many, on a GPU inside a CUDA graph)."""
    run_dir, _ = ddp_run
    assert [(run_dir / "ranks" / f"rank{rank}.ddp_averaging").read_text() for rank in (0, 1)] == ["0", "0"]


@pytest.mark.slow
def test_ddp_writes_one_run_directory_once(ddp_run, tmp_path_factory):
    run_dir, result = ddp_run
    assert sorted(path.name for path in run_dir.iterdir() if path.is_dir()) == [
        ".hydra",
        "checkpoints",
        "ranks",
        "tensorboard",
    ]
    assert len(list(run_dir.parent.glob(f"{run_dir.name}*"))) == 1
    assert result.stdout.count("test/acc ") == 1
    assert "2 processes x data.batch_size=10 per process = 20 samples" in result.stdout + result.stderr
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["test/acc"] > 0.5


@pytest.mark.slow
def test_ddp_checkpoint_evaluates_to_the_reported_accuracy(ddp_run, tmp_path):
    run_dir, _ = ddp_run
    reported = json.loads((run_dir / "metrics.json").read_text())
    evaluated = evaluate(compose_config("evaluate", tmp_path, f"ckpt_path={reported['ckpt_path']}"))
    assert evaluated["test/acc"] == pytest.approx(reported["test/acc"], abs=1e-6)
    assert evaluated["test/loss"] == pytest.approx(reported["test/loss"], rel=1e-5)


@pytest.mark.slow
def test_multirun_with_a_relaunching_strategy_is_refused(tmp_path):
    sweep_dir = tmp_path / "sweep"
    result = run_module(
        "src.train", "-m", "trainer=ddp_cpu", "seed=1,2", f"hydra.sweep.dir={sweep_dir}", timeout=120
    )
    assert result.returncode == 2
    assert "error: Hydra multirun (-m) can't be combined" in result.stderr
    assert not sweep_dir.exists()  # refused in the first job: the sweep leaves nothing behind


def test_bf16_mixed_precision_trains_with_float32_weights(tmp_path):
    metrics = train(compose_config("train", tmp_path, "trainer.precision=bf16-mixed", "trainer.max_epochs=3"))
    assert metrics["test/acc"] > 0.3
    assert (
        torch.load(metrics["ckpt_path"], weights_only=True)["state_dict"]["net.params"].dtype == torch.float32
    )


def test_float16_gradient_scaler_path(tmp_path):
    """The 16-mixed path (loss scaling) exercised on the CPU with an explicit GradScaler."""
    cfg = compose_config("train", tmp_path)
    plugin = MixedPrecision("16-mixed", "cpu", scaler=torch.amp.GradScaler("cpu"))
    dm = hydra.utils.instantiate(cfg.data)
    model = MLPClassifier(
        dm.in_features, dm.num_classes, [16, 16], optimizer={"_target_": "torch.optim.SGD", "lr": 3.0}
    )
    before = model.net.params.detach().clone()
    trainer = L.Trainer(
        max_epochs=1,
        limit_train_batches=2,
        plugins=[plugin],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
    )
    trainer.fit(model, datamodule=dm)
    assert plugin.scaler.get_scale() > 0
    assert torch.isfinite(model.net.params).all() and not torch.equal(before, model.net.params)
    assert trainer.callback_metrics["train/loss"] < 1.0


@needs_cuda
def test_gpu_training_keeps_the_data_on_the_device(tmp_path):
    metrics = train(compose_config("train", tmp_path, "trainer=gpu", "trainer.max_epochs=5"))
    assert metrics["test/acc"] > 0.8


@needs_cuda
@pytest.mark.parametrize("precision", ["16-mixed", "bf16-mixed"])
def test_gpu_mixed_precision(tmp_path, precision):
    """Trains to the usual accuracy; evaluate on the GPU tests at the checkpoint's precision, giving
    training's numbers."""
    metrics = train(compose_config("train", tmp_path, "trainer=gpu", f"trainer.precision={precision}"))
    assert metrics["test/acc"] > 0.9
    evaluated = evaluate(
        compose_config("evaluate", tmp_path / "evaluate", f"ckpt_path={metrics['ckpt_path']}", "trainer=gpu")
    )
    assert evaluated["precision"] == precision
    assert evaluated["test/acc"] == pytest.approx(metrics["test/acc"], abs=1e-6)
    assert evaluated["test/loss"] == pytest.approx(metrics["test/loss"], rel=1e-5)


@needs_cuda
def test_manual_equals_autograd_on_gpu():
    from src.network.mlp import MLP

    torch.manual_seed(0)
    manual = MLP([64, 16, 16, 10]).cuda()
    reference = MLP([64, 16, 16, 10], backprop="autograd").cuda()
    reference.load_state_dict(manual.state_dict())
    x = torch.rand(100, 64, device="cuda")
    expected = torch.eye(10, device="cuda")[torch.randint(0, 10, (100,), device="cuda")]
    manual.loss(x, expected).backward()
    reference.loss(x, expected).backward()
    torch.testing.assert_close(manual.params.grad, reference.params.grad)
