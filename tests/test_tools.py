"""The tools around a training run: what the console prints (:mod:`src.console`), the logger, debug,
callbacks and scheduler config groups."""

import csv
import importlib.util
import logging
import re
from pathlib import Path

import pytest
from omegaconf import OmegaConf
from runs import CONF, compose_config, csv_column, run_module

from src.errors import UserError
from src.loggers import build_loggers
from src.train import train

PROGRESS_BAR = re.compile(r"^(Sanity Checking|Training|Epoch \d+|Validation|Testing)\b.*(it/s|s/it)")


def log_lines(output: str) -> list[str]:
    """The lines of ``output`` that are not progress bars (tqdm redraws them after ``\\r``)."""
    lines = (line.strip() for line in re.split(r"[\r\n]", output))
    return [line for line in lines if line and not PROGRESS_BAR.match(line) and "\x1b[A" not in line]


@pytest.mark.slow
def test_a_default_run_prints_each_line_once_and_ends_with_where_to_look(tmp_path):
    # the progress bar is tqdm's or, when rich is installed, rich's (several lines): left out here
    run = run_module(
        "src.train", "trainer.max_epochs=2", "+trainer.enable_progress_bar=false", f"hydra.run.dir={tmp_path}"
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stderr == ""  # no warnings, no second copy of the log
    lines = log_lines(run.stdout)
    checkpoint = tmp_path / "checkpoints" / "epoch_001.ckpt"
    expected = [
        "GPU available: False, used: False",
        "TPU available: False, using: 0 TPU cores",
        "model: 64-16-16-10 sigmoid neurons, mse cost, manual backprop: 1,482 parameters (5.9 kB)",
        "`Trainer.fit` stopped: `max_epochs=2` reached.",
        f"Restoring states from the checkpoint path at {checkpoint}",
        f"Loaded model weights from the checkpoint at {checkpoint}",
        "test/acc",
        f"checkpoint: {checkpoint}",
        f"run directory: {tmp_path}",
        f"tensorboard --logdir {tmp_path / 'tensorboard'}",
    ]
    assert len(lines) == len(expected), lines
    for line, start in zip(lines, expected, strict=True):
        assert line.startswith(start)
    assert re.fullmatch(r"test/acc 0\.\d{4}  test/loss 0\.\d{4}", lines[6])
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    # the run directory's log keeps every line with its time and origin
    assert (
        "[lightning.pytorch.utilities.rank_zero][INFO] - GPU available"
        in (tmp_path / "train.log").read_text()
    )


@pytest.mark.slow
def test_an_error_during_training_starts_its_own_line(tmp_path):
    run = run_module("src.train", "activation=relu", "optimizer.lr=1e30", f"hydra.run.dir={tmp_path}")
    assert run.returncode == 2
    combined = run.stdout + run.stderr
    assert run.stdout.endswith("\n")  # the progress bar's line was ended before the error was printed
    assert combined.count("error: training diverged") == 1
    assert run.stderr.splitlines()[-1].startswith("error: training diverged at SGD step")


def fit(tmp_path: Path, *overrides: str) -> dict:
    return train(compose_config("train", tmp_path, "trainer.max_epochs=2", "test=false", *overrides))


@pytest.mark.slow
def test_csv_logger_writes_the_learning_curves(tmp_path):
    metrics = fit(tmp_path, "logger=csv")
    with (tmp_path / "csv" / "metrics.csv").open() as file:
        rows = list(csv.DictReader(file))
    accuracies = [float(row["val/acc"]) for row in rows if row.get("val/acc")]
    assert len(accuracies) == 2 and accuracies[-1] == pytest.approx(metrics["val/acc"])
    assert not (tmp_path / "tensorboard").exists()


@pytest.mark.slow
@pytest.mark.parametrize("override", ["logger=none", "~logger"])
def test_no_logger(tmp_path, override):
    metrics = fit(tmp_path, override)
    assert metrics["val/acc_best"] > 0
    assert (tmp_path / "metrics.json").exists() and list((tmp_path / "checkpoints").glob("*.ckpt"))
    assert not (tmp_path / "tensorboard").exists() and not (tmp_path / "csv").exists()


@pytest.mark.slow
def test_logger_null_and_a_list_of_loggers_on_the_command_line(tmp_path):
    run = run_module("src.train", "trainer.max_epochs=1", "logger=null", f"hydra.run.dir={tmp_path / 'none'}")
    assert run.returncode == 0, run.stderr[-3000:]
    assert sorted(path.name for path in (tmp_path / "none").iterdir()) == [
        ".hydra",
        ".run.lock",
        "checkpoints",
        "metrics.json",
        "train.log",
    ]
    both = tmp_path / "both"
    run = run_module("src.train", "trainer.max_epochs=1", "logger=[tensorboard,csv]", f"hydra.run.dir={both}")
    assert run.returncode == 0, run.stderr[-3000:]
    assert (
        list((both / "tensorboard").glob("events.out.tfevents.*")) and (both / "csv" / "metrics.csv").exists()
    )
    assert f"learning curves: {both / 'csv' / 'metrics.csv'}" in run.stdout.splitlines()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (["logger=csv", "logger.csv.save_dir=/proc/foo"], "logger.csv.save_dir"),
        # a sweep: its first job is refused, and nothing is left of the sweep either
        (
            ["-m", "logger=many_loggers", "logger.tensorboard.save_dir=/proc/foo", "seed=1,2"],
            "logger.tensorboard.save_dir",
        ),
    ],
)
def test_a_logger_directory_that_cannot_be_written_is_one_line_and_leaves_no_run_directory(
    tmp_path, overrides, key
):
    """It was a traceback once training had started, exit code 1, and a run directory left behind."""
    run = run_module(
        "src.train", *overrides, f"hydra.run.dir={tmp_path / 'run'}", f"hydra.sweep.dir={tmp_path / 'sweep'}"
    )
    assert run.returncode == 2
    assert run.stderr == (
        f"error: {key}=/proc/foo: can't write there (No such file or directory): give a directory you can "
        f"write to with {key}=...\n"
    )
    assert "GPU available" not in run.stdout  # refused before the trainer was built
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("name", "package"), [("mlflow", "mlflow"), ("wandb", "wandb")])
def test_a_logger_whose_package_is_missing_is_one_error(monkeypatch, name, package):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n: None if n == package else real_find_spec(n))
    config = OmegaConf.load(CONF / "logger" / f"{name}.yaml")
    with pytest.raises(
        UserError, match=f"^logger={name} needs the {package} package: pip install {package}$"
    ):
        build_loggers(config)


@pytest.mark.slow
def test_mlflow_logger(tmp_path):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    fit(tmp_path, "logger=mlflow", f"logger.mlflow.tracking_uri={store}")
    client = MlflowClient(tracking_uri=store)
    (run,) = client.search_runs([client.get_experiment_by_name("backprop-lightning").experiment_id])
    assert [point.step for point in client.get_metric_history(run.info.run_id, "val/acc")] == [0, 1]


@pytest.mark.slow
def test_wandb_logger_offline(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    fit(tmp_path, "logger=wandb")
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and list(runs[0].glob("run-*.wandb"))


@pytest.mark.slow
@pytest.mark.parametrize("option", ["fdr", "overfit", "limit", "profiler"])
def test_debug_options_run_with_our_chunked_data(tmp_path, option):
    metrics = train(compose_config("train", tmp_path, f"debug={option}", "trainer.max_epochs=2"))
    assert 0 <= metrics["test/acc"] <= 1
    if option == "fdr":  # one mini-batch each, nothing saved
        assert metrics["ckpt_path"] == "" and not (tmp_path / "checkpoints").exists()
    else:
        assert Path(metrics["ckpt_path"]).parent == tmp_path / "checkpoints"


@pytest.mark.slow
def test_lightning_limits_that_keep_no_batch_are_one_error(tmp_path):
    run = run_module("src.train", "+trainer.limit_train_batches=0.5", f"hydra.run.dir={tmp_path}")
    assert run.returncode == 2
    assert run.stderr.splitlines() == [
        "error: trainer.limit_train_batches=0.5 keeps none of the 1 train batch(es) Lightning sees here (a "
        "training batch is data.batches_per_step=128 mini-batches, an evaluation batch "
        "data.eval_batch_size=1000 samples): give a number of batches (an integer) or a larger fraction, or "
        "use debug=limit (one mini-batch per batch)"
    ]


def column(run_dir: Path, name: str) -> list[float]:
    return [value for _, value in csv_column(run_dir, name)]


@pytest.mark.slow
def test_a_schedule_changes_the_rate_the_sgd_steps_use(tmp_path):
    """StepLR with gamma=0 after the first epoch: lr 0 from then on, so the weights, and with them
    val/loss, stay where one epoch left them (the plain-SGD step reads the new rate)."""
    one = fit(tmp_path / "one", "logger=csv", "trainer.max_epochs=1")
    scheduled = fit(
        tmp_path / "three",
        "logger=csv",
        "trainer.max_epochs=3",
        "scheduler=step",
        "scheduler.step_size=1",
        "scheduler.gamma=0.0",
    )
    assert column(tmp_path / "three", "train/lr") == [3.0, 0.0, 0.0]
    assert scheduled["val/loss"] == one["val/loss"]
    assert column(tmp_path / "three", "val/loss") == [one["val/loss"]] * 3


@pytest.mark.slow
@pytest.mark.parametrize("overrides", [["scheduler=cosine"], ["scheduler=plateau", "scheduler.patience=0"]])
def test_schedules_lower_the_rate(tmp_path, overrides):
    """lr 1e-6 learns nothing in 3 epochs, so val/acc stays put and the plateau schedule halves the rate."""
    fit(tmp_path, "logger=csv", "trainer.max_epochs=3", "optimizer.lr=1e-6", *overrides)
    rates = column(tmp_path, "train/lr")
    assert len(rates) == 3 and rates[0] == pytest.approx(1e-6) and rates[0] >= rates[1] > rates[2]


@pytest.mark.slow
def test_early_stopping_ends_when_val_acc_stops_improving(tmp_path):
    fit(
        tmp_path,
        "logger=csv",
        "trainer.max_epochs=10",
        "optimizer.lr=1e-9",
        "callbacks=early_stopping",
        "callbacks.early_stopping.patience=1",
    )
    assert len(column(tmp_path, "val/acc")) == 2  # no improvement after the first epoch: one more, stop


def test_early_stopping_says_why_it_stops_and_nothing_per_epoch():
    from src.console import DropMessages

    def kept(message: str) -> bool:
        return DropMessages().filter(logging.LogRecord("x", logging.INFO, "", 0, message, None, None))

    assert not kept("Metric val/acc improved by 0.122 >= min_delta = 0.0. New best score: 0.222")
    assert not kept("Metric val/loss improved. New best score: 0.100")
    assert kept(
        "Monitored metric val/acc did not improve in the last 5 records. Best score: 0.944. "
        "Signaling Trainer to stop."
    )
