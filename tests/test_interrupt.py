"""Training stopped early: Ctrl-C or SIGTERM leaves a usable checkpoint and the command that resumes it;
divergence stops at once, names the step and saves nothing non-finite."""

import itertools
import os
import shlex
import signal
import subprocess
import threading
import time
import types
from pathlib import Path

import lightning as L
import pytest
import torch
from runs import compose_config, csv_column, run_module, start_module

from src.checkpoint import load_checkpoint
from src.errors import DivergenceError, TrainingInterrupted
from src.train import train

LONG_RUN = ["trainer.max_epochs=1000", "+trainer.enable_progress_bar=false"]


class SendSigint(L.Callback):
    """Sends this process SIGINT ``times`` times after the training step that reaches ``at_step``, as
    pressing Ctrl-C would; ``SendSigint.weights`` keeps the weights it saw then."""

    weights: torch.Tensor | None = None

    def __init__(self, at_step: int, times: int = 1) -> None:
        self.at_step = at_step
        self.times = times
        self.sent = False

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if not self.sent and trainer.global_step >= self.at_step:
            self.sent = True
            SendSigint.weights = pl_module.net.params.detach().clone()
            for _ in range(self.times):
                signal.raise_signal(signal.SIGINT)


class PoisonWeights(L.Callback):
    """Makes one weight NaN at the start of epoch ``epoch``, as an overflow would."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if trainer.current_epoch == self.epoch:
            with torch.no_grad():
                pl_module.net.params[0] = float("nan")


def callback_overrides(name: str, target: str, **arguments) -> list[str]:
    return [f"+callbacks.{name}._target_={target}"] + [
        f"+callbacks.{name}.{key}={value}" for key, value in arguments.items()
    ]


@pytest.mark.slow
def test_ctrl_c_saves_the_state_after_the_last_whole_step(tmp_path):
    sender = callback_overrides("sigint", "test_interrupt.SendSigint", at_step=130)
    with pytest.raises(TrainingInterrupted) as stop:
        train(
            compose_config("train", tmp_path, "trainer.max_epochs=1000", "data.batches_per_step=64", *sender)
        )
    path = tmp_path / "checkpoints" / "interrupted.ckpt"
    assert (stop.value.signum, stop.value.exit_code, stop.value.checkpoint) == (signal.SIGINT, 130, path)
    checkpoint = load_checkpoint(path)
    # 126 SGD steps per epoch in chunks of 64 and 62: the step after 130 ends at 190, in epoch 1
    assert checkpoint["global_step"] == 190
    assert (
        stop.value.summary == f"training interrupted by SIGINT at SGD step 190 (epoch 1); checkpoint: {path}"
    )
    assert torch.equal(checkpoint["state_dict"]["net.params"], SendSigint.weights)
    assert not (tmp_path / "metrics.json").exists()  # no testing, no metrics after an interrupt
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_second_ctrl_c_stops_at_once_and_points_to_last_checkpoint(tmp_path):
    sender = callback_overrides("sigint", "test_interrupt.SendSigint", at_step=200, times=2)
    with pytest.raises(TrainingInterrupted) as stop:
        train(compose_config("train", tmp_path, "trainer.max_epochs=1000", *sender))
    assert stop.value.checkpoint == tmp_path / "checkpoints" / "last.ckpt"
    assert not (tmp_path / "checkpoints" / "interrupted.ckpt").exists()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.slow
def test_ctrl_c_under_overfit_batches_points_to_last_checkpoint(tmp_path):
    """Under overfit_batches a checkpoint from the middle of an epoch can't be resumed (Lightning's
    sequential batches keep no position), so none is saved there: the command to go on names last.ckpt."""
    sender = callback_overrides("sigint", "test_interrupt.SendSigint", at_step=4)
    with pytest.raises(TrainingInterrupted) as stop:
        train(compose_config("train", tmp_path, "debug=overfit", *sender))
    last = tmp_path / "checkpoints" / "last.ckpt"
    assert stop.value.checkpoint == last
    assert stop.value.summary == f"training interrupted by SIGINT at SGD step 4 (epoch 1); checkpoint: {last}"
    assert not (tmp_path / "checkpoints" / "interrupted.ckpt").exists()
    resume = compose_config("train", tmp_path / "resumed", "debug=overfit", f"ckpt_path={last}")
    assert load_checkpoint(last)["epoch"] == 0 and train(resume)["test/acc"] > 0  # it resumes, and trains


def start_training(tmp_path, *overrides: str) -> subprocess.Popen:
    """``python -m src.train`` for 1000 epochs, output to files; returns once it has saved a checkpoint."""
    run_dir = tmp_path / "run"
    process = start_module(
        "src.train",
        *LONG_RUN,
        *overrides,
        f"hydra.run.dir={run_dir}",
        stdout=(tmp_path / "stdout.txt").open("w"),
        stderr=(tmp_path / "stderr.txt").open("w"),
    )
    deadline = time.monotonic() + 120
    while not (run_dir / "checkpoints" / "last.ckpt").exists():
        assert process.poll() is None, (tmp_path / "stderr.txt").read_text()[-3000:]
        assert time.monotonic() < deadline, "training did not start"
        time.sleep(0.1)
    return process


def stop_training(tmp_path, process: subprocess.Popen, signum: int) -> tuple[int, list[str]]:
    """Send ``signum``; the exit code and the last two lines of stderr."""
    process.send_signal(signum)
    returncode = process.wait(timeout=60)
    return returncode, (tmp_path / "stderr.txt").read_text().splitlines()[-2:]


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "exit_code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_leaves_a_checkpoint_and_the_command_that_resumes_it(tmp_path, signum, exit_code):
    process = start_training(tmp_path, "model.hidden=[12,10]")
    returncode, (summary, resume) = stop_training(tmp_path, process, signum)
    checkpoint_path = tmp_path / "run" / "checkpoints" / "interrupted.ckpt"

    assert returncode == exit_code
    assert summary.startswith(f"training interrupted by {signal.Signals(signum).name} at SGD step ")
    assert summary.endswith(f"; checkpoint: {checkpoint_path}")
    expected = (
        f"python -m src.train {shlex.join(LONG_RUN)} 'model.hidden=[12,10]' ckpt_path={checkpoint_path}"
    )
    assert resume == f"resume with: {expected}"
    checkpoint = torch.load(checkpoint_path, weights_only=True)
    assert checkpoint["global_step"] > 0 and torch.isfinite(checkpoint["state_dict"]["net.params"]).all()
    assert not (tmp_path / "run" / "metrics.json").exists()
    if signum == signal.SIGTERM:
        return

    # the printed command resumes it (to two epochs more, into a fresh run directory)
    python, option, module, *arguments = shlex.split(resume.removeprefix("resume with: "))
    assert (python, option, module) == ("python", "-m", "src.train")
    arguments[arguments.index("trainer.max_epochs=1000")] = f"trainer.max_epochs={checkpoint['epoch'] + 2}"
    resumed = run_module(module, *arguments, f"hydra.run.dir={tmp_path / 'resumed'}", timeout=120)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"Restored all states from the checkpoint at {checkpoint_path}" in resumed.stdout + resumed.stderr
    assert (tmp_path / "resumed" / "metrics.json").exists()


@pytest.mark.slow
def test_divergence_stops_at_once_naming_the_step(tmp_path):
    """ReLU hidden layers and an absurd learning rate overflow to inf/NaN within a few SGD steps."""
    run = run_module(
        "src.train", "activation=relu", "optimizer.lr=1e30", f"hydra.run.dir={tmp_path}", timeout=120
    )
    assert run.returncode == 2
    last_line = run.stderr.splitlines()[-1]
    assert last_line.startswith("error: training diverged at SGD step ")
    assert "(epoch 0)" in last_line and "lr=1e+30; try a smaller learning rate (optimizer.lr)" in last_line
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "checkpoints").exists() and not (tmp_path / "metrics.json").exists()


@pytest.mark.slow
def test_divergence_after_checkpoints_saves_nothing_non_finite(tmp_path):
    poison = callback_overrides("poison", "test_interrupt.PoisonWeights", epoch=2)
    with pytest.raises(DivergenceError, match=r"SGD step 253 \(epoch 2\).*smaller learning rate"):
        train(compose_config("train", tmp_path, "trainer.max_epochs=5", *poison))
    saved = sorted((tmp_path / "checkpoints").iterdir())
    assert "interrupted.ckpt" not in {path.name for path in saved} and "last.ckpt" in {
        path.name for path in saved
    }
    for path in saved:
        checkpoint = load_checkpoint(path)
        assert checkpoint["epoch"] <= 1 and torch.isfinite(checkpoint["state_dict"]["net.params"]).all()
    assert not (tmp_path / "metrics.json").exists()


def epochs(run_dir: Path, name: str) -> dict[int, float]:
    """``name`` of each epoch in the run's ``logger=csv`` file."""
    return dict(csv_column(run_dir, name))


def run_straight_and_interrupted(
    tmp_path: Path, options: list[str], at_step: int
) -> tuple[dict[str, float], TrainingInterrupted, Path]:
    """A run never stopped (in ``straight/``), and the same run interrupted by Ctrl-C after the training
    step that reaches ``at_step`` (in ``resumed/``): the first's metrics, the interrupt and its checkpoint."""
    straight = train(compose_config("train", tmp_path / "straight", *options))
    sender = callback_overrides("sigint", "test_interrupt.SendSigint", at_step=at_step)
    with pytest.raises(TrainingInterrupted) as stop:
        train(compose_config("train", tmp_path / "resumed", *options, *sender))
    return straight, stop.value, tmp_path / "resumed" / "checkpoints" / "interrupted.ckpt"


@pytest.mark.slow
def test_resume_from_a_mid_epoch_interrupt_continues_exactly(tmp_path, recwarn):
    """Mini-batch 7: 180 SGD steps per epoch in chunks of 64, 64 and 52. Interrupted after 244 steps (in
    epoch 1) and resumed: the same weights and metrics after 2 epochs as a run that was never stopped,
    bit for bit, the same number of SGD steps, and no warning that the resumed data may be unreliable."""
    options = ["trainer.max_epochs=2", "test=false", "data.batch_size=7", "data.batches_per_step=64"]
    expected, stop, interrupted = run_straight_and_interrupted(tmp_path, options, at_step=190)
    assert stop.summary.startswith("training interrupted by SIGINT at SGD step 244 (epoch 1); checkpoint: ")
    recwarn.clear()
    metrics = train(compose_config("train", tmp_path / "resumed", *options, f"ckpt_path={interrupted}"))
    assert not [w for w in recwarn if "resuming" in str(w.message)]
    for name in ("train/loss", "val/acc", "val/acc_best", "val/loss"):
        assert metrics[name] == expected[name], name
    straight, resumed = (
        load_checkpoint(tmp_path / run / "checkpoints" / "last.ckpt") for run in ("straight", "resumed")
    )
    assert resumed["global_step"] == straight["global_step"] == 360
    assert torch.equal(resumed["state_dict"]["net.params"], straight["state_dict"]["net.params"])


@pytest.mark.slow
def test_a_ddp_resume_mid_epoch_reports_the_train_loss_of_a_run_never_stopped(tmp_path):
    """``trainer=ddp_cpu``, interrupted in the middle of epoch 0 and resumed. Each process keeps the
    running sums of its own samples, and only process 0 writes the checkpoint: its sums used to be loaded
    by every process, counting its part of the epoch twice and process 1's not at all (0.93895 against
    0.93710). Equal up to float32 rounding: the processes' sums are added in another order."""
    options = [
        "trainer=ddp_cpu",
        "trainer.max_epochs=1",
        "test=false",
        "data.batch_size=10",
        "data.batches_per_step=16",
        "logger=csv",
        "+trainer.enable_progress_bar=false",
    ]
    straight = run_module("src.train", *options, f"hydra.run.dir={tmp_path / 'straight'}")
    assert straight.returncode == 0, straight.stderr[-3000:]
    sender = callback_overrides("sigint", "test_interrupt.SendSigint", at_step=20)
    stopped = run_module("src.train", *options, f"hydra.run.dir={tmp_path / 'stopped'}", *sender)
    assert stopped.returncode == 130, stopped.stderr[-3000:]
    checkpoint = tmp_path / "stopped" / "checkpoints" / "interrupted.ckpt"
    resumed = run_module(
        "src.train", *options, f"hydra.run.dir={tmp_path / 'resumed'}", f"ckpt_path={checkpoint}"
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    expected = epochs(tmp_path / "straight", "train/loss")[0]
    assert epochs(tmp_path / "resumed", "train/loss")[0] == pytest.approx(expected, rel=1e-6)


@pytest.mark.slow
def test_an_epoch_resumed_in_its_middle_counts_its_training_time(tmp_path, monkeypatch):
    """``train/samples_per_sec`` on a clock that advances one second per reading. Resumed in the middle
    of an epoch, Lightning calls no ``on_train_epoch_start``: the resumed epoch's samples were counted but
    its time never was (no rate for it, and the next epoch's rate took its samples: 2,194 samples/s
    against 1,257 for a run never stopped)."""
    ticks = itertools.count()
    monkeypatch.setattr("src.callbacks.time", types.SimpleNamespace(perf_counter=lambda: float(next(ticks))))
    options = [
        "trainer.max_epochs=2",
        "test=false",
        "data.batch_size=10",
        "data.batches_per_step=32",
        "logger=csv",
    ]
    straight, stop, checkpoint = run_straight_and_interrupted(tmp_path, options, at_step=1)
    assert stop.summary.startswith("training interrupted by SIGINT at SGD step 32 (epoch 0); checkpoint: ")
    resumed = train(compose_config("train", tmp_path / "resumed", *options, f"ckpt_path={checkpoint}"))
    assert 0 in epochs(tmp_path / "resumed", "train/samples_per_sec")  # the resumed epoch has a rate
    assert resumed["train/samples_per_sec"] <= straight["train/samples_per_sec"]


class SignalWhileTesting(L.Callback):
    """Sends this process ``signum`` as testing starts, as a scheduler or Ctrl-C would. With ``linger``
    it first starts a thread that keeps the interpreter ``linger`` seconds in its shutdown (as the
    TensorBoard writer or the other processes can), to press Ctrl-C again there."""

    def __init__(self, signum: int, linger: float = 0) -> None:
        self.signum = signum
        self.linger = linger

    def on_test_start(self, trainer, pl_module) -> None:
        if self.linger:
            threading.Thread(target=time.sleep, args=(self.linger,)).start()
        signal.raise_signal(self.signum)


def wait_for_line(path, text: str, process: subprocess.Popen, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while text not in path.read_text():
        assert process.poll() is None or text in path.read_text(), path.read_text()[-3000:]
        assert time.monotonic() < deadline, f"no {text!r} in stderr"
        time.sleep(0.1)


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "exit_code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_while_testing_ends_without_metrics(tmp_path, signum, exit_code):
    """SIGTERM exits 143 and Ctrl-C 130 (Lightning alone: 0 and 1), with a line, and no metrics.json;
    after Ctrl-C a second Ctrl-C in the shutdown ends the program at once, without a traceback."""
    linger = 60 if signum == signal.SIGINT else 0
    run_dir, stderr = tmp_path / "run", tmp_path / "stderr.txt"
    process = start_module(
        "src.train",
        "trainer.max_epochs=1",
        "+trainer.enable_progress_bar=false",
        *callback_overrides("signal", "test_interrupt.SignalWhileTesting", signum=int(signum), linger=linger),
        f"hydra.run.dir={run_dir}",
        stdout=subprocess.DEVNULL,
        stderr=stderr.open("w"),
    )
    name = signal.Signals(signum).name
    wait_for_line(stderr, "test it with:", process)
    if linger:
        started = time.monotonic()
        process.send_signal(signal.SIGINT)  # the second Ctrl-C, while the interpreter waits
        assert process.wait(timeout=30) == -signal.SIGINT  # the shell shows 130
        assert time.monotonic() - started < 20
    else:
        assert process.wait(timeout=60) == exit_code
    lines = stderr.read_text().splitlines()
    assert "Traceback" not in stderr.read_text()
    best = run_dir / "checkpoints" / "epoch_000.ckpt"
    assert lines[-2:] == [
        f"testing interrupted by {name}: no test metrics, no metrics.json",
        f"test it with: python -m src.evaluate ckpt_path={best}",
    ]
    assert not (run_dir / "metrics.json").exists()


@pytest.mark.slow
@pytest.mark.parametrize("target", ["rank 0", "process group"])
def test_sigterm_under_ddp_stops_every_process_with_one_checkpoint(tmp_path, target):
    """``trainer=ddp_cpu``: SIGTERM to process 0 only (``kill``), or to every process (as SLURM and
    Ctrl-C in a terminal do). Lightning alone hung for minutes."""
    run_dir, stderr = tmp_path / "run", tmp_path / "stderr.txt"
    process = start_module(
        "src.train",
        "trainer=ddp_cpu",
        *LONG_RUN,
        f"hydra.run.dir={run_dir}",
        stdout=subprocess.DEVNULL,
        stderr=stderr.open("w"),
        start_new_session=True,  # its own process group, like a job
    )
    deadline = time.monotonic() + 300
    while not (run_dir / "checkpoints" / "last.ckpt").exists():
        assert process.poll() is None, stderr.read_text()[-3000:]
        assert time.monotonic() < deadline, "training did not start"
        time.sleep(0.1)
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    assert len(children) == 1  # process 1, started by Lightning

    started = time.monotonic()
    if target == "rank 0":
        process.send_signal(signal.SIGTERM)
    else:
        os.killpg(process.pid, signal.SIGTERM)
    wait_for_line(stderr, "resume with:", process, seconds=60)
    stopped = time.monotonic() - started
    assert process.wait(timeout=120) == 143
    assert stopped < 30, stopped  # (the interpreter's exit under DDP takes longer on a loaded machine)
    for child in children:  # process 1 ended too
        with pytest.raises(ProcessLookupError):
            for _ in range(100):
                os.kill(int(child), 0)
                time.sleep(0.1)

    text = stderr.read_text()
    checkpoint = run_dir / "checkpoints" / "interrupted.ckpt"
    assert text.count("training interrupted by SIGTERM") == text.count("resume with: ") == 1
    assert f"; checkpoint: {checkpoint}\nresume with: python -m src.train trainer=ddp_cpu" in text
    assert "Traceback" not in text
    saved = torch.load(checkpoint, weights_only=True)
    assert saved["global_step"] > 0 and torch.isfinite(saved["state_dict"]["net.params"]).all()
    assert not list(run_dir.rglob("*.tmp")) and not (run_dir / "metrics.json").exists()
