"""The benchmark (``src.bench``): every pipeline trains and computes what ``src.train`` computes, the
report marks the targets, the command line checks its arguments. Correctness only: no speed is asserted."""

import math
import os
import subprocess
import sys
from pathlib import Path

import hydra
import numpy as np
import pytest
import torch
from runs import compose_config

from src import bench
from src.network.mlp import MLP

REPO = Path(__file__).resolve().parents[1]
TINY = bench.Setting("synthetic-mnist", (784, 8, 10), 1.5)
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
DEVICES = ["cpu", pytest.param("cuda", marks=CUDA)]


def workload(
    setting: bench.Setting, workdir: Path, train_size: int = 40, batch_size: int = 10, device: str = "cpu"
) -> bench.Workload:
    (x, y), overrides = bench.load_training_data(setting.data, train_size)
    initial = bench.initial_params(setting.sizes)
    return bench.Workload(
        setting, batch_size, x.to(device), y.to(device), initial, overrides, workdir, device
    )


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("pipeline", bench.PIPELINE_NAMES)
def test_every_pipeline_trains_and_reports_a_positive_finite_throughput(tmp_path, pipeline, device):
    rate = bench.PIPELINES[pipeline](workload(TINY, tmp_path, device=device), bench.Budget(epochs=1))
    assert rate > 0 and math.isfinite(rate)


def test_synthetic_mnist_trains_on_the_data_src_train_composes(tmp_path):
    (x, y), overrides = bench.load_training_data("synthetic-mnist", 30)
    assert overrides == ("data=synthetic_mnist", "data.train_size=30", "data.val_size=6", "data.test_size=6")
    cfg = compose_config("train", tmp_path, *overrides)
    split = hydra.utils.instantiate(cfg.data).load()["train"]
    assert torch.equal(split[0], x) and torch.equal(split[1], y)


@CUDA
def test_plain_loops_on_cuda_train_where_the_data_lies(tmp_path):
    work = workload(TINY, tmp_path, device="cuda")
    model = bench._mlp(work, "manual")
    assert model.params.device.type == "cuda"
    step = bench.inplace_sgd_step(model, work.setting.lr)
    bench.chunked_epoch(work.x, work.y, work.batch_size, step)()
    assert model.params.device.type == "cuda" and torch.isfinite(model.params).all()


def test_src_train_on_digits_within_a_seconds_budget(tmp_path):
    rate = bench.src_train(workload(bench.PRESETS["digits"], tmp_path), bench.Budget(seconds=1e-6))
    assert rate > 0 and math.isfinite(rate)
    assert len(list(tmp_path.glob("src.train-*/checkpoints/last.ckpt"))) == 1  # the real run's files


def test_budget_counts_whole_epochs():
    assert not bench.Budget(epochs=2).done(1, 100.0) and bench.Budget(epochs=2).done(2, 0.0)
    assert not bench.Budget(seconds=1.0).done(0, 5.0)  # at least one epoch
    assert not bench.Budget(seconds=1.0).done(1, 0.5) and bench.Budget(seconds=1.0).done(1, 1.0)
    for wrong in ({}, {"epochs": 1, "seconds": 1.0}):
        with pytest.raises(ValueError, match="exactly one"):
            bench.Budget(**wrong)


def test_nielsen_numpy_and_every_plain_step_make_the_same_sgd_steps():
    """Nielsen's per-sample backprop, and autograd and our Function each with the in-place update: the
    same weights after three mini-batches, to float64 rounding."""
    sizes, lr, batch = (20, 7, 5, 10), 1.5, 10
    torch.manual_seed(0)
    x, y = torch.rand(3 * batch, sizes[0], dtype=torch.float64), torch.randint(0, 10, (3 * batch,))
    expected = torch.eye(10, dtype=torch.float64)[y]
    initial = MLP(list(sizes)).params.detach().double()

    nielsen = bench.NielsenNetwork(sizes, initial.numpy())
    samples = bench.nielsen_samples(x, y)
    for start in range(0, len(y), batch):
        nielsen.update_mini_batch(samples[start : start + batch], lr)
    assert not np.allclose(nielsen.params(), initial.numpy(), atol=1e-3)  # the steps moved the weights

    for backprop in ("autograd", "manual"):
        model = MLP(list(sizes), backprop=backprop).double()
        with torch.no_grad():
            model.params.copy_(initial)
        step = bench.inplace_sgd_step(model, lr)
        for start in range(0, len(y), batch):
            step(x[start : start + batch], expected[start : start + batch])
        np.testing.assert_allclose(
            model.params.detach().numpy(), nielsen.params(), rtol=1e-10, atol=1e-12, err_msg=backprop
        )


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("make_epoch", [bench.randperm_epoch, bench.chunked_epoch])
def test_epochs_visit_every_sample_once_with_its_expected_output(make_epoch, device):
    n, batch = 1000, 7  # more than one chunk of 128 mini-batches, and a short last mini-batch
    x = torch.arange(n, dtype=torch.float32, device=device).unsqueeze(1)
    y = torch.randint(0, 10, (n,), device=device)
    seen, sizes = [], []

    def step(xs: torch.Tensor, expected: torch.Tensor) -> None:
        assert xs.device == expected.device == x.device  # gathered on the data's device
        indices = xs[:, 0].long()
        assert torch.equal(expected, torch.eye(10, device=device)[y[indices]])
        seen.extend(indices.tolist())
        sizes.append(len(indices))

    make_epoch(x, y, batch, step)()
    assert sorted(seen) == list(range(n)) and seen != sorted(seen)
    assert sizes.count(batch) == n // batch and sum(sizes) == n


def test_textbook_classifier_starts_from_our_weights_with_our_cost():
    sizes = (64, 16, 16, 10)
    model = MLP(list(sizes))
    textbook = bench.lightning_classes()["TextbookClassifier"](sizes, 3.0, model.params.detach())
    x, y = torch.rand(5, 64), torch.tensor([0, 3, 9, 3, 1])
    torch.testing.assert_close(textbook(x), model(x))
    with pytest.warns(UserWarning, match="self.log"):  # no Trainer attached
        loss = textbook.training_step((x, y), 0)
    torch.testing.assert_close(loss, model.loss(x, torch.eye(10)[y]))


def test_presets_data_and_sizes_make_the_settings():
    args = bench.parse_args(["--preset", "digits,mnist", "--lr", "0.5"])
    assert args.settings == [
        bench.Setting("digits", (64, 16, 16, 10), 0.5),
        bench.Setting("synthetic-mnist", (784, 30, 10), 0.5),
    ]
    assert (args.batch_sizes, args.seconds, args.epochs, args.threads, args.device) == (
        [10, 100],
        2.0,
        None,
        1,
        "cpu",
    )
    assert bench.parse_args(["--sizes", "784,20,10"]).settings == [
        bench.Setting("synthetic-mnist", (784, 20, 10), 1.5)
    ]
    assert bench.parse_args(["--batch-size", "100,10", "--batch-size", "32"]).batch_sizes == [10, 32, 100]


def test_report_marks_each_target_met_or_missed():
    digits, mnist = bench.PRESETS["digits"], bench.PRESETS["mnist"]
    rates = {"plain-autograd": [10.0, 10.0], "plain-manual": [12.0, 8.0], "src.train": [30.0, 60.0]}
    rates |= {"plain-manual-fastest": [60.0, 60.0], "nielsen-numpy": [10.0, 10.0]}
    measurements = [bench.Measurement(digits, 10, rates), bench.Measurement(mnist, 100, rates)]
    pipelines = list(rates)
    text = bench.report(measurements, [], pipelines, markdown=False)
    assert "1.00 met" in text and "0.75 MISSED" in text  # per-round ratios 1.2 and 0.8; 0.5 and 1.0
    assert text.count("4.50 met") == 1  # src.train / nielsen-numpy only for MNIST-shaped data
    assert "textbook" not in text  # no pipeline, no ratio
    markdown = bench.report(measurements, [bench.Startup(digits, 3.0, 4.5)], pipelines, markdown=True)
    lines = [line for line in markdown.splitlines() if line.startswith("|")]
    assert len(lines) == 4 + 4 + 3  # header, rule and rows of throughput, ratios and start-up
    assert all(line.endswith(" |") or line.endswith(":|") for line in lines)


def test_a_ratio_to_several_pipelines_takes_the_fastest_of_each_round():
    rates = {"src.train": [90.0, 90.0, 90.0], "plain-manual-fastest": [100.0, 80.0, 200.0]}
    rates["plain-manual"] = [120.0, 60.0, 100.0]
    measurement = bench.Measurement(bench.PRESETS["digits"], 10, rates)
    # per round: 90 / 120, 90 / 80, 90 / 200
    assert measurement.ratio("src.train", ["plain-manual-fastest", "plain-manual"]) == 0.75
    assert measurement.ratio("src.train", ["plain-manual-fastest"]) == 0.9
    target = next(t for t in bench.TARGETS if t.minimum == 0.85)
    assert target.label == "src.train / fastest of plain-manual-fastest, plain-manual (>= 0.85)"
    assert target.measured(bench.Measurement(bench.PRESETS["digits"], 10, {"plain-manual": [1.0]})) == [
        "plain-manual"
    ]


def test_main_prints_every_table(capsys):
    setting = ["--data", "synthetic-mnist", "--sizes", "784,8,10", "--train-size", "30", "--batch-size", "10"]
    bench.main([*setting, "--epochs", "1", "--repeats", "1", "--markdown", "--startup"])
    out = capsys.readouterr().out
    assert out.startswith("$ python -m src.bench --data synthetic-mnist")
    assert "device cpu;" in out
    for pipeline in bench.PIPELINE_NAMES:
        assert pipeline in out
    for target in bench.TARGETS:
        assert target.label in out
    assert "launch to first training batch" in out
    assert out.count("| synthetic-mnist 784-8-10 |") == 3


@CUDA
def test_main_on_cuda_prints_every_pipeline(capsys):
    setting = ["--data", "synthetic-mnist", "--sizes", "784,8,10", "--train-size", "30", "--batch-size", "10"]
    bench.main([*setting, "--epochs", "1", "--repeats", "1", "--device", "cuda"])
    out = capsys.readouterr().out
    assert "device cuda (" in out and "nielsen-numpy on the CPU" in out
    for pipeline in bench.PIPELINE_NAMES:
        assert pipeline in out


@pytest.mark.parametrize(
    "argv",
    [
        ["--batch-size", "0"],
        ["--batch-size", "10,x"],
        ["--threads", "0"],
        ["--repeats", "1.5"],
        ["--seconds", "-1"],
        ["--seconds", "nan"],
        ["--epochs", "1", "--seconds", "1"],
        ["--sizes", "64,16,9"],
        ["--sizes", "100,10"],
        ["--data", "synthetic-mnist", "--sizes", "64,10"],
        ["--preset", "imagenet"],
        ["--pipelines", "plain-manual,foo"],
        ["--device", "tpu"],
    ],
)
def test_bad_values_fail_with_one_clear_line(capsys, argv):
    with pytest.raises(SystemExit) as exit_:
        bench.parse_args(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert err.count("\n") == 1 and err.startswith("python -m src.bench: error: ")


def test_command_line_help_and_errors_without_importing_lightning():
    def run(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "src.bench", *argv], cwd=REPO, capture_output=True, text=True, timeout=60
        )

    helped = run("--help")
    assert helped.returncode == 0 and "--batch-size" in helped.stdout and "--startup" in helped.stdout
    failed = run("--batch-size", "0")
    assert failed.returncode == 2
    assert failed.stderr == "python -m src.bench: error: argument --batch-size: '0' must be > 0\n"
    no_gpu = subprocess.run(  # a machine without CUDA, wherever the test runs
        [sys.executable, "-m", "src.bench", "--device", "cuda"],
        cwd=REPO,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert no_gpu.returncode == 2 and no_gpu.stdout == ""
    assert no_gpu.stderr == (
        "python -m src.bench: error: --device cuda: no CUDA GPU is visible to torch "
        "(torch.cuda.is_available() is False)\n"
    )
    imports = subprocess.run(
        [sys.executable, "-c", "import sys, src.bench; print('lightning' in sys.modules)"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert imports.stdout.strip() == "False"
