"""The benchmark (``python -m benchmarks``): every pipeline trains and computes what ``src.train`` computes,
the report marks the targets, the command line checks its arguments. Correctness only: no speed is asserted."""

import math
import os
import subprocess
from pathlib import Path

import hydra
import numpy as np
import pytest
import torch
from runs import compose_config, run_module, run_python, write_idx

from benchmarks import cli, pipelines, report, workload
from benchmarks.lightning_classes import TextbookClassifier
from benchmarks.pipelines import Measurement, Startup
from benchmarks.workload import PRESETS, Budget, Setting, Workload
from src.network import reference_numpy
from src.network.mlp import MLP

TINY = Setting("synthetic-mnist", (784, 8, 10), 1.5)
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
DEVICES = ["cpu", pytest.param("cuda", marks=[CUDA, pytest.mark.gpu])]


def make_workload(
    setting: Setting, workdir: Path, train_size: int = 40, batch_size: int = 10, device: str = "cpu"
) -> Workload:
    overrides = workload.data_overrides(setting.data, train_size, workdir)
    x, y = workload.load_training_data(overrides)
    initial = workload.initial_params(setting.sizes)
    return Workload(setting, batch_size, x.to(device), y.to(device), initial, overrides, workdir, device)


def run_benchmarks(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return run_module("benchmarks", *argv, env=env, timeout=60)


def test_pipeline_names_are_the_pipelines():
    assert tuple(pipelines.PIPELINES) == workload.PIPELINE_NAMES


@pytest.mark.slow
@pytest.mark.parametrize(
    ("pipeline", "device"),
    [
        *((name, "cpu") for name in workload.PIPELINE_NAMES if name not in workload.CUDA_ONLY),
        *(pytest.param(name, "cuda", marks=[CUDA, pytest.mark.gpu]) for name in workload.PIPELINE_NAMES),
    ],
)
def test_every_pipeline_trains_and_reports_a_positive_finite_throughput(tmp_path, pipeline, device):
    rate = pipelines.PIPELINES[pipeline](make_workload(TINY, tmp_path, device=device), Budget(epochs=1))
    assert rate > 0 and math.isfinite(rate)


@pytest.mark.slow
def test_synthetic_mnist_trains_on_the_data_src_train_composes(tmp_path):
    overrides = workload.data_overrides("synthetic-mnist", 30, tmp_path)
    assert overrides == ("data=synthetic_mnist", "data.train_size=30", "data.val_size=6", "data.test_size=6")
    x, y = workload.load_training_data(overrides)
    cfg = compose_config("train", tmp_path, *overrides)
    split = hydra.utils.instantiate(cfg.data).load()["train"]
    assert torch.equal(split[0], x) and torch.equal(split[1], y) and len(y) == 30


@pytest.mark.slow
def test_mnist_trains_on_the_first_images_of_src_trains_split(tmp_path):
    """On MNIST files (tiny ones here) the benchmark holds out all but ``train_size`` images for
    validation, so ``src.train`` trains on exactly the benchmark's images."""
    root = write_idx(tmp_path, "MNIST", n_train=50)
    overrides = workload.data_overrides("mnist", 30, root)
    assert overrides == ("data=mnist", f"data.root={root}", "data.val_size=59970")
    cfg = compose_config("train", tmp_path, *overrides[:2], "data.val_size=20")
    expected = hydra.utils.instantiate(cfg.data).load()["train"]
    x, y = workload.load_training_data((*overrides[:2], "data.val_size=20"))
    assert torch.equal(x, expected[0]) and torch.equal(y, expected[1]) and len(y) == 30


@CUDA
@pytest.mark.gpu
def test_plain_loops_on_cuda_train_where_the_data_lies(tmp_path):
    work = make_workload(TINY, tmp_path, device="cuda")
    model = pipelines._mlp(work, "manual")
    assert model.params.device.type == "cuda"
    step = pipelines.inplace_sgd_step(model, work.setting.lr)
    pipelines.chunked_epoch(work.x, work.y, work.batch_size, step)()
    assert model.params.device.type == "cuda" and torch.isfinite(model.params).all()


@pytest.mark.slow
def test_src_train_on_digits_within_a_seconds_budget(tmp_path):
    rate = pipelines.src_train(make_workload(PRESETS["digits"], tmp_path), Budget(seconds=1e-6))
    assert rate > 0 and math.isfinite(rate)
    assert len(list(tmp_path.glob("src.train-*/checkpoints/last.ckpt"))) == 1  # the real run's files


def test_budget_counts_whole_epochs():
    assert not Budget(epochs=2).done(1, 100.0) and Budget(epochs=2).done(2, 0.0)
    assert not Budget(seconds=1.0).done(0, 5.0)  # at least one epoch
    assert not Budget(seconds=1.0).done(1, 0.5) and Budget(seconds=1.0).done(1, 1.0)
    for wrong in ({}, {"epochs": 1, "seconds": 1.0}):
        with pytest.raises(ValueError, match="exactly one"):
            Budget(**wrong)


def test_the_numpy_peer_and_every_plain_step_make_the_same_sgd_steps():
    """The book's per-sample backprop (its ``eta`` twice our ``lr``: its cost has a 1/2), and autograd and
    our Function each with the in-place update: the same weights after three mini-batches, to 1e-12."""
    sizes, lr, batch = (20, 7, 5, 10), 1.5, 10
    torch.manual_seed(0)
    x, y = torch.rand(3 * batch, sizes[0], dtype=torch.float64), torch.randint(0, 10, (3 * batch,))
    expected = torch.eye(10, dtype=torch.float64)[y]
    initial = MLP(list(sizes)).params.detach().double()

    peer = reference_numpy.Network(sizes, initial.numpy())
    samples = reference_numpy.samples(x.numpy(), y.tolist())
    for start in range(0, len(y), batch):
        peer.update_mini_batch(samples[start : start + batch], 2 * lr)
    assert not np.allclose(peer.params(), initial.numpy(), atol=1e-3)  # the steps moved the weights

    for backprop in ("autograd", "manual"):
        model = MLP(list(sizes), backprop=backprop).double()
        with torch.no_grad():
            model.params.copy_(initial)
        step = pipelines.inplace_sgd_step(model, lr)
        for start in range(0, len(y), batch):
            step(x[start : start + batch], expected[start : start + batch])
        np.testing.assert_allclose(
            model.params.detach().numpy(), peer.params(), rtol=0, atol=1e-12, err_msg=backprop
        )


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("make_epoch", [pipelines.randperm_epoch, pipelines.chunked_epoch])
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
    textbook = TextbookClassifier(sizes, 3.0, model.params.detach())
    x, y = torch.rand(5, 64), torch.tensor([0, 3, 9, 3, 1])
    torch.testing.assert_close(textbook(x), model(x))
    with pytest.warns(UserWarning, match="self.log"):  # no Trainer attached
        loss = textbook.training_step((x, y), 0)
    torch.testing.assert_close(loss, model.loss(x, torch.eye(10)[y]))


def test_presets_data_and_sizes_make_the_settings(tmp_path):
    args = cli.parse_args(
        ["--preset", "digits,mnist", "--lr", "0.5", "--data-root", str(write_idx(tmp_path, "MNIST"))]
    )
    assert args.settings == [Setting("digits", (64, 16, 16, 10), 0.5), Setting("mnist", (784, 30, 10), 0.5)]
    assert (args.batch_sizes, args.seconds, args.epochs, args.threads, args.device) == (
        [10, 100],
        2.0,
        None,
        1,
        "cpu",
    )
    assert cli.parse_args(["--batch-size", "100,10", "--batch-size", "32"]).batch_sizes == [10, 32, 100]


def test_mnist_preset_falls_back_to_synthetic_data_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "DEFAULT_DATA_ROOT", tmp_path / "nothing")
    args = cli.parse_args(["--preset", "mnist"])
    assert args.settings == [Setting("synthetic-mnist", (784, 30, 10), 1.5)] and args.mnist_missing
    line = cli.data_line(args.settings, args.data_root, args.train_size, args.mnist_missing)
    assert line == (
        f"data: synthetic-mnist: 50,000 random images of MNIST's shape (no MNIST under {tmp_path / 'nothing'}: "
        "give --data-root for real MNIST)"
    )
    assert cli.parse_args(["--sizes", "784,20,10"]).settings == [
        Setting("synthetic-mnist", (784, 20, 10), 1.5)
    ]
    monkeypatch.setattr(cli, "DEFAULT_DATA_ROOT", write_idx(tmp_path, "MNIST"))
    args = cli.parse_args(["--preset", "mnist", "--train-size", "5000"])
    assert args.settings == [Setting("mnist", (784, 30, 10), 1.5)] and not args.mnist_missing
    line = cli.data_line(args.settings, args.data_root, args.train_size, args.mnist_missing)
    assert (
        line
        == f"data: mnist: real MNIST from {tmp_path}, the first 5,000 images of src.train's training split"
    )


def test_report_marks_each_target_met_or_missed():
    digits, mnist = PRESETS["digits"], PRESETS["mnist"]
    rates = {"plain-autograd": [10.0, 10.0], "plain-manual": [12.0, 8.0], "src.train": [30.0, 60.0]}
    rates |= {"plain-manual-fastest": [60.0, 60.0], "nielsen-numpy": [10.0, 10.0]}
    measurements = [Measurement(digits, 10, rates), Measurement(mnist, 100, rates)]
    names = list(rates)
    text = report.report(measurements, [], names, markdown=False)
    assert "1.00 met" in text and "0.75 MISSED" in text  # per-round ratios 1.2 and 0.8; 0.5 and 1.0
    assert text.count("4.50 met") == 1  # src.train / nielsen-numpy only for MNIST-shaped data
    assert "textbook" not in text  # no pipeline, no ratio
    markdown = report.report(measurements, [Startup(digits, 3.0, 4.5)], names, markdown=True)
    lines = [line for line in markdown.splitlines() if line.startswith("|")]
    assert len(lines) == 4 + 4 + 3  # header, rule and rows of throughput, ratios and start-up
    assert all(line.endswith(" |") or line.endswith(":|") for line in lines)


def test_a_ratio_to_several_pipelines_takes_the_fastest_of_each_round():
    rates = {"src.train": [90.0, 90.0, 90.0], "plain-manual-fastest": [100.0, 80.0, 200.0]}
    rates["plain-manual"] = [120.0, 60.0, 100.0]
    measurement = Measurement(PRESETS["digits"], 10, rates)
    # per round: 90 / 120, 90 / 80, 90 / 200
    assert measurement.ratio("src.train", ["plain-manual-fastest", "plain-manual"]) == 0.75
    assert measurement.ratio("src.train", ["plain-manual-fastest"]) == 0.9
    target = next(t for t in report.TARGETS if t.minimum == 0.85)
    assert target.label == "src.train / fastest of plain-manual-fastest, plain-manual (>= 0.85)"
    assert target.measured(Measurement(PRESETS["digits"], 10, {"plain-manual": [1.0]})) == ["plain-manual"]


@pytest.mark.slow
def test_main_prints_every_table(capsys):
    setting = ["--data", "synthetic-mnist", "--sizes", "784,8,10", "--train-size", "30", "--batch-size", "10"]
    cli.main([*setting, "--epochs", "1", "--repeats", "1", "--markdown", "--startup"])
    out = capsys.readouterr().out
    assert out.startswith("$ python -m benchmarks --data synthetic-mnist")
    assert "device cpu;" in out and "\ndata: synthetic-mnist: 30 random images of MNIST's shape\n" in out
    for pipeline in workload.PIPELINE_NAMES:
        assert (pipeline in out) == (pipeline not in workload.CUDA_ONLY)
    for target in report.TARGETS:
        assert (target.label in out) == (not set(target.denominators) & set(workload.CUDA_ONLY))
    assert "launch to first training batch" in out
    assert out.count("| synthetic-mnist 784-8-10 |") == 3


def test_gpu_pipelines_are_left_out_on_the_cpu_and_refused_when_asked_for(capsys):
    assert cli.parse_args([]).pipelines == [n for n in workload.PIPELINE_NAMES if n not in workload.CUDA_ONLY]
    with pytest.raises(SystemExit) as exit_:
        cli.parse_args(["--pipelines", "src.train,plain-manual-graph,src.train-cpu"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == (
        "python -m benchmarks: error: --pipelines plain-manual-graph,src.train-cpu: only with --device cuda "
        "(they measure the GPU)\n"
    )


def test_the_gpu_targets_compare_src_train_with_the_graph_loop_the_cpu_and_the_eager_gpu():
    rates = {
        "src.train": [30.0],
        "plain-manual-graph": [40.0],
        "src.train-cpu": [10.0],
        "src.train-eager": [2.0],
    }
    out = report.report([Measurement(TINY, 10, rates)], [], list(rates), markdown=False)
    assert "src.train / plain-manual-graph (>= 0.8)" in out and "0.75 MISSED" in out
    assert "src.train / src.train-cpu (>= 3)" in out and "3.00 met" in out
    assert "src.train / src.train-eager (>= 10)" in out and "15.00 met" in out


@CUDA
@pytest.mark.gpu
def test_main_on_cuda_prints_every_pipeline(capsys):
    setting = ["--data", "synthetic-mnist", "--sizes", "784,8,10", "--train-size", "30", "--batch-size", "10"]
    cli.main([*setting, "--epochs", "1", "--repeats", "1", "--device", "cuda"])
    out = capsys.readouterr().out
    assert "device cuda (" in out and "nielsen-numpy on the CPU" in out
    for pipeline in workload.PIPELINE_NAMES:
        assert pipeline in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--batch-size", "0"], "argument --batch-size: '0' must be an integer > 0"),
        (["--batch-size", "10,x"], "argument --batch-size: 'x' is not an integer"),
        (["--batch-size", "101", "--train-size", "100"], "--batch-size 101: larger than --train-size 100"),
        (
            ["--batch-size", "1258"],
            "--batch-size 1258: larger than the digits' training split of 1,257 images",
        ),
        (["--preset", "mnist,digits", "--batch-size", "5000"], "larger than the digits' training split"),
        (["--threads", "0"], "argument --threads: '0' must be an integer > 0"),
        (["--threads", "100000"], f"argument --threads: '100000' must be at most {os.cpu_count()}"),
        (["--repeats", "1.5"], "argument --repeats: '1.5' is not an integer"),
        (["--seconds", "-1"], "argument --seconds: '-1' must be a finite number > 0"),
        (["--seconds", "nan"], "argument --seconds: 'nan' must be a finite number > 0"),
        (["--seconds", "inf"], "argument --seconds: 'inf' must be a finite number > 0"),  # inf is > 0,
        (["--seconds", "1e9"], "argument --seconds: '1e9' must be at most 3,600"),
        (["--epochs", "1", "--seconds", "1"], "argument --seconds: not allowed with argument --epochs"),
        (["--train-size", "10000000"], "argument --train-size: '10000000' must be at most 100,000"),
        (["--train-size", "99999999999999999999999"], "must be at most 100,000"),
        (["--sizes", "64,16,9"], "--sizes 64,16,9: digits needs input 64 first and output 10 last"),
        (["--sizes", "100,10"], "--sizes 100,...: the input layer must be 64 (digits) or 784 (MNIST)"),
        (["--data", "synthetic-mnist", "--sizes", "64,10"], "synthetic-mnist needs input 784 first"),
        (
            ["--sizes", "784,1000000000,10"],
            "--sizes 784,1000000000,10: 795,000,000,010 weights and biases (2,961.6 GiB per float32 copy); "
            "at most 10,000,000",
        ),
        (["--preset", "imagenet"], "'imagenet' is not one of digits, mnist"),
        (  # it measured the digits, not the preset asked for
            ["--preset", "mnist", "--sizes", "64,16,10"],
            "--preset mnist with --sizes 64,16,10: a preset is a whole setting (data, sizes, lr); give "
            "either --preset, or --data and/or --sizes for one setting of your own",
        ),
        (
            ["--preset", "digits,mnist", "--sizes", "784,30,10"],
            "--preset digits,mnist with --sizes 784,30,10: ",
        ),
        (
            ["--preset", "digits", "--data", "synthetic-mnist"],
            "--preset digits with --data synthetic-mnist: ",
        ),
        (
            ["--preset", "mnist", "--data", "mnist", "--sizes", "784,8,10"],
            "--preset mnist with --sizes 784,8,10 and --data mnist: ",
        ),
        (["--pipelines", "plain-manual,foo"], "'foo' is not one of"),
        (["--device", "tpu"], "argument --device: invalid choice: 'tpu'"),
        (["--preset", "mnist", "--data-root", "/nonexistent"], "--data-root /nonexistent: no MNIST there"),
        (["--data", "mnist", "--data-root", "/nonexistent"], "real MNIST was asked for (--data mnist or"),
    ],
)
def test_bad_values_fail_with_one_clear_line(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        cli.parse_args(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert err.count("\n") == 1 and err.startswith("python -m benchmarks: error: ") and message in err


def test_mnist_beyond_the_training_split_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli.parse_args(
            ["--preset", "mnist", "--data-root", str(write_idx(tmp_path, "MNIST")), "--train-size", "60000"]
        )
    assert "--train-size 60000: MNIST's training split holds 50,000 images" in capsys.readouterr().err


@pytest.mark.slow
def test_command_line_help_and_errors_without_importing_lightning():
    helped = run_benchmarks("--help")
    assert helped.returncode == 0 and "--batch-size" in helped.stdout and "--data-root" in helped.stdout
    failed = run_benchmarks("--batch-size", "0")
    assert failed.returncode == 2
    assert failed.stderr == "python -m benchmarks: error: argument --batch-size: '0' must be an integer > 0\n"
    no_gpu = run_benchmarks("--device", "cuda", env={"CUDA_VISIBLE_DEVICES": ""})  # wherever the test runs
    assert no_gpu.returncode == 2 and no_gpu.stdout == ""
    assert no_gpu.stderr == (
        "python -m benchmarks: error: --device cuda: no CUDA GPU is visible to torch "
        "(torch.cuda.is_available() is False)\n"
    )
    imports = run_python(
        "-c",
        "import sys, benchmarks.cli; print('lightning' in sys.modules, 'torch' in sys.modules)",
        timeout=60,
    )
    assert imports.stdout.strip() == "False False"


@pytest.mark.slow
def test_mnist_files_src_train_cannot_read_end_in_one_line(tmp_path, capsys):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "train-images-idx3-ubyte").write_bytes(b"not an IDX file")
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--preset", "mnist", "--data-root", str(tmp_path), "--epochs", "1", "--repeats", "1"])
    captured = capsys.readouterr()
    assert exit_.value.code == 2 and captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith(
        f"python -m benchmarks: error: --data-root {tmp_path}: data=mnist cannot read it: "
    )


def test_the_digits_batch_size_is_checked_against_their_training_split():
    """``--train-size`` is MNIST's: the digits train on all of src.train's split, which holds no more than
    ``DIGITS_TRAIN_IMAGES`` (a larger batch was reported as ``batch 5000`` while training on 1,257 images)."""
    _, y = workload.load_training_data(workload.data_overrides("digits", 50_000, Path("unused")))
    assert len(y) == workload.DIGITS_TRAIN_IMAGES == 1257
    assert cli.parse_args(["--batch-size", "1257"]).batch_sizes == [1257]
