"""Faults from outside the program (issue 10): a resumed run that must test the same checkpoint as an
uninterrupted one, two runs in one directory, a run directory that can't be written, a full disk, the
rank under SLURM, a device file given as a checkpoint."""

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from runs import QUICK, REPO, compose_config, run_module
from test_interrupt import run_straight_and_interrupted

from src.checkpoint import load_checkpoint
from src.cli import process_rank, report_user_errors
from src.errors import TestingInterrupted, UserError
from src.evaluate import evaluate
from src.run_dir import LOCK_FILE, RUN_DIRECTORY, RunDirectoryLock, claim_run_directory
from src.train import train

# 126 SGD steps per epoch on the digits, in chunks of 64 and 62; 9 epochs. Validation accuracy peaks at
# epoch 6, and epochs 7 and 8 score lower: a run interrupted in epoch 7 and resumed must still test
# epoch 6's checkpoint.
RESUME_OPTIONS = ["trainer.max_epochs=9", "data.batches_per_step=64"]


@pytest.fixture(scope="module")
def straight_and_interrupted(tmp_path_factory) -> tuple[dict, Path]:
    """The metrics of 9 epochs straight, and ``interrupted.ckpt`` of the same run stopped in epoch 7."""
    straight, stop, checkpoint = run_straight_and_interrupted(
        tmp_path_factory.mktemp("resume"), RESUME_OPTIONS, at_step=883
    )
    assert stop.summary.startswith("training interrupted by SIGINT at SGD step 946 (epoch 7); checkpoint: ")
    return straight, checkpoint


@pytest.mark.slow
def test_resumed_run_tests_the_same_best_checkpoint_as_an_uninterrupted_one(
    tmp_path, straight_and_interrupted
):
    straight, interrupted = straight_and_interrupted
    assert Path(straight["ckpt_path"]).name == "epoch_006.ckpt"  # the best epoch precedes the interrupt
    resumed = train(compose_config("train", tmp_path, *RESUME_OPTIONS, f"ckpt_path={interrupted}"))
    # Lightning alone forgot the best score in a new directory and tested epoch 8's checkpoint
    assert resumed["ckpt_path"] == str(tmp_path / "checkpoints" / "epoch_006.ckpt")
    for name in ("test/acc", "test/loss", "val/acc_best"):
        assert resumed[name] == straight[name], name
    assert json.loads((tmp_path / "metrics.json").read_text())["test/acc"] == straight["test/acc"]
    copied, original = (load_checkpoint(path) for path in (resumed["ckpt_path"], straight["ckpt_path"]))
    assert torch.equal(copied["state_dict"]["net.params"], original["state_dict"]["net.params"])


@pytest.mark.slow
@pytest.mark.parametrize("max_epochs", [7, 3])
def test_resume_with_nothing_left_to_train_is_refused(tmp_path, straight_and_interrupted, max_epochs):
    _, interrupted = straight_and_interrupted  # 7 epochs done, the 8th begun
    resume = [f"trainer.max_epochs={max_epochs}", "data.batches_per_step=64", f"ckpt_path={interrupted}"]
    with pytest.raises(UserError) as refused:
        train(compose_config("train", tmp_path, *resume))
    assert str(refused.value) == (
        f"trainer.max_epochs={max_epochs}: ckpt_path={interrupted} has trained 7 epochs already, so resuming "
        "it would train nothing: give trainer.max_epochs greater than 7 (to test it, run python -m "
        f"src.evaluate ckpt_path={interrupted})"
    )
    assert not (tmp_path / "metrics.json").exists()


@pytest.mark.slow
def test_sigterm_while_evaluating_writes_no_metrics(tmp_path, straight_and_interrupted, monkeypatch):
    """The signal arrives while the test loop runs (sent from its first hook): no metrics.json."""
    from src.callbacks import StopOnSignal

    listen = StopOnSignal.on_test_start

    def listen_then_signal(self, trainer, pl_module):
        listen(self, trainer, pl_module)
        signal.raise_signal(signal.SIGTERM)

    monkeypatch.setattr(StopOnSignal, "on_test_start", listen_then_signal)
    straight, _ = straight_and_interrupted
    with pytest.raises(TestingInterrupted) as stop:
        evaluate(compose_config("evaluate", tmp_path, f"ckpt_path={straight['ckpt_path']}"))
    assert (stop.value.exit_code, stop.value.summary) == (
        143,
        "testing interrupted by SIGTERM: no test metrics, no metrics.json",
    )
    assert not (tmp_path / "metrics.json").exists()


@pytest.mark.slow
def test_full_disk_during_a_checkpoint_save_is_one_line_and_keeps_the_last_checkpoint(
    tmp_path, monkeypatch, capsys
):
    """The 5th save (epoch 2's best checkpoint) writes part of the file, then the disk is full."""
    saves, save = [], torch.save
    last = tmp_path / "checkpoints" / "last.ckpt"

    def save_until_full(checkpoint, file, *args, **kwargs):
        saves.append(last.read_bytes() if last.exists() else None)
        if len(saves) == 5:
            file.write(b"PK\x03\x04 half a checkpoint")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        save(checkpoint, file, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save_until_full)
    with pytest.raises(SystemExit) as stop:
        report_user_errors(train)(compose_config("train", tmp_path, "trainer.max_epochs=4"))
    assert stop.value.code == 1
    assert capsys.readouterr().err.startswith(
        "error: No space left on device (ENOSPC): the run stopped; the files it saved before are intact"
    )
    assert last.read_bytes() == saves[-1]  # epoch 1's last.ckpt, as it was before the failed save
    assert load_checkpoint(last)["epoch"] == 1
    assert sorted(path.name for path in last.parent.iterdir()) == ["epoch_001.ckpt", "last.ckpt"]
    assert not (tmp_path / "metrics.json").exists()


def test_storage_errors_are_one_line_and_bugs_keep_their_traceback(capsys, tmp_path):
    @report_user_errors
    def main(error: BaseException) -> None:
        raise error

    with pytest.raises(SystemExit) as stop:
        main(OSError(errno.EROFS, os.strerror(errno.EROFS), str(tmp_path / "metrics.json")))
    assert stop.value.code == 1
    assert capsys.readouterr().err.startswith(
        f"error: Read-only file system (EROFS) writing {tmp_path / 'metrics.json'}: the run stopped;"
    )
    with pytest.raises(FileNotFoundError):  # not a disk failing: a bug
        main(FileNotFoundError(errno.ENOENT, "No such file or directory"))


def test_second_run_in_a_locked_directory_is_refused_until_the_first_ends(tmp_path):
    first = claim_run_directory(tmp_path / "run", "hydra.run.dir", lambda: None)
    with pytest.raises(UserError) as refused:
        claim_run_directory(tmp_path / "run", "hydra.run.dir", lambda: None)
    assert str(refused.value) == (
        f"hydra.run.dir={tmp_path / 'run'}: another run (process {os.getpid()}) is writing into this "
        "directory: wait until it ends, or choose another directory with hydra.run.dir=..."
    )
    first.close()
    claim_run_directory(tmp_path / "run", "hydra.run.dir", lambda: None).close()


def earlier_run(directory: Path) -> dict[str, bytes]:
    """A run directory as a finished training leaves it (without its lock file); returns its files."""
    for name, text in {
        ".hydra/overrides.yaml": "- seed=1\n",
        "checkpoints/last.ckpt": "weights",
        "metrics.json": "{}",
        "train.log": "log\n",
    }.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text)
    return files(directory)


def files(directory: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(directory)): path.read_bytes() for path in directory.rglob("*") if path.is_file()
    }


def start(task: str, run_dir: Path, ckpt_path: str | None = None, key: str = "run") -> None:
    """What Hydra does first for ``python -m src.<task> hydra.<key>.dir=<run_dir>``: the lock's callback."""
    config = OmegaConf.create(
        {
            "task_name": task,
            "ckpt_path": ckpt_path,
            "hydra": {key: {"dir": str(run_dir)}},
            "paths": {"output_dir": RUN_DIRECTORY},  # conf/paths/default.yaml's
        }
    )
    callback = RunDirectoryLock()
    if key == "run":
        callback.on_run_start(config)
        callback.on_run_end(config)
    else:
        callback.on_multirun_start(config)
        callback.on_multirun_end(config)


@pytest.mark.parametrize(("task", "ckpt_path"), [("train", None), ("evaluate", "checkpoints/last.ckpt")])
def test_a_new_run_in_the_directory_of_an_earlier_one_is_refused_and_writes_nothing(
    tmp_path, capsys, task, ckpt_path
):
    """Hydra would overwrite the earlier run's .hydra/, and the new run mix its checkpoints, logs and
    metrics.json with the earlier run's (an evaluation would overwrite a training's metrics.json)."""
    before = earlier_run(tmp_path)
    with pytest.raises(SystemExit) as stop:
        start(task, tmp_path, None if ckpt_path is None else str(tmp_path / ckpt_path))
    assert stop.value.code == 2
    resume = (
        f", or go on training that run there from its checkpoint (ckpt_path={tmp_path}/checkpoints/last.ckpt)"
    )
    assert capsys.readouterr().err == (
        f"error: hydra.run.dir={tmp_path} holds an earlier run (.hydra, checkpoints, metrics.json): a new one "
        "would overwrite or mix with its files; choose another directory with hydra.run.dir=..., "
        + ("delete that one first" + resume if task == "train" else "or delete that one first")
        + "\n"
    )
    assert files(tmp_path) == before  # no lock file either


def test_training_may_resume_in_its_own_run_directory_only(tmp_path, capsys):
    before = earlier_run(tmp_path / "run")
    start("train", tmp_path / "run", str(tmp_path / "run" / "checkpoints" / "last.ckpt"))  # goes on
    (tmp_path / "elsewhere.ckpt").write_text("weights")
    with pytest.raises(SystemExit):  # another run's checkpoint would mix its files with this run's
        start("train", tmp_path / "run", str(tmp_path / "elsewhere.ckpt"))
    assert "holds an earlier run" in capsys.readouterr().err
    start("train", tmp_path / "new", str(tmp_path / "run" / "checkpoints" / "last.ckpt"))  # the README's way
    start("train", tmp_path / "empty")
    start("evaluate", tmp_path / "unrelated", str(tmp_path / "elsewhere.ckpt"))
    (tmp_path / "unrelated" / "notes.txt").write_text("not a run")  # files of no run of ours: accepted
    start("train", tmp_path / "unrelated")
    assert {path: text for path, text in files(tmp_path / "run").items() if path != LOCK_FILE} == before


def test_a_sweep_into_the_directory_of_an_earlier_sweep_is_refused(tmp_path, capsys):
    (tmp_path / "0_seed=1" / ".hydra").mkdir(parents=True)
    with pytest.raises(SystemExit):
        start("train", tmp_path, key="sweep")
    assert capsys.readouterr().err.startswith(
        f"error: hydra.sweep.dir={tmp_path} holds an earlier sweep (0_seed=1): a new one would overwrite"
    )
    assert not (tmp_path / LOCK_FILE).exists()
    start("train", tmp_path / "new", key="sweep")


@pytest.mark.slow
def test_training_twice_in_one_directory_is_refused_before_writing(tmp_path):
    first = run_module("src.train", *QUICK, f"hydra.run.dir={tmp_path}")
    assert first.returncode == 0, first.stderr[-3000:]
    before = files(tmp_path)
    second = run_module("src.train", *QUICK, "seed=2", f"hydra.run.dir={tmp_path}")
    assert second.returncode == 2 and second.stderr.startswith(
        f"error: hydra.run.dir={tmp_path} holds an earlier run"
    )
    assert second.stderr.count("\n") == 1 and second.stdout == ""
    assert files(tmp_path) == before


@pytest.mark.slow
def test_a_killed_run_leaves_no_lock_behind(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from src.run_dir import claim_run_directory; "
            f"lock = claim_run_directory(Path({str(tmp_path)!r}), 'hydra.run.dir', lambda: None); print(flush=True); "
            "time.sleep(600)",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
    )
    holder.stdout.readline()  # it holds the lock
    with pytest.raises(UserError, match=f"another run \\(process {holder.pid}\\)"):
        claim_run_directory(tmp_path, "hydra.run.dir", lambda: None)
    holder.kill()
    holder.wait()
    claim_run_directory(tmp_path, "hydra.run.dir", lambda: None).close()


@pytest.mark.slow
def test_train_in_a_directory_another_run_writes_is_refused_before_writing(tmp_path):
    lock = claim_run_directory(tmp_path, "hydra.run.dir", lambda: None)  # as a running training holds it
    run = run_module("src.train", f"hydra.run.dir={tmp_path}")
    lock.close()
    assert (run.returncode, run.stderr) == (
        2,
        f"error: hydra.run.dir={tmp_path}: another run (process {os.getpid()}) is writing into this "
        "directory: wait until it ends, or choose another directory with hydra.run.dir=...\n",
    )
    assert [path.name for path in tmp_path.iterdir()] == [LOCK_FILE]  # no .hydra/, no log


@pytest.mark.slow
def test_run_directory_that_cannot_be_created_is_one_line(tmp_path):
    (tmp_path / "file").write_text("")
    run = run_module("src.train", f"hydra.run.dir={tmp_path / 'file' / 'run'}")
    assert (run.returncode, run.stderr) == (
        2,
        f"error: hydra.run.dir={tmp_path / 'file' / 'run'}: can't write there (Not a directory): give a "
        "directory you can write to with hydra.run.dir=...\n",
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_run_directory_is_refused(tmp_path):
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(UserError, match="can't write there \\(Permission denied\\)"):
            claim_run_directory(tmp_path, "hydra.run.dir", lambda: None)
    finally:
        tmp_path.chmod(0o755)


def test_rank_comes_from_slurm_before_lightning_sets_it(monkeypatch):
    monkeypatch.delitem(sys.modules, "lightning.fabric.utilities.rank_zero")
    assert process_rank() == 0
    monkeypatch.setenv("SLURM_PROCID", "3")
    assert process_rank() == 3
    monkeypatch.setenv("LOCAL_RANK", "0")  # Lightning's order: LOCAL_RANK before SLURM_PROCID
    assert process_rank() == 0


@pytest.mark.slow
def test_only_slurm_rank_0_prints_the_error(tmp_path):
    quiet = run_module(
        "src.train", "model.hidden=[0]", f"hydra.run.dir={tmp_path}", env={"SLURM_PROCID": "1"}
    )
    assert (quiet.returncode, quiet.stderr) == (2, "")


@pytest.mark.parametrize("kind", ["device", "fifo"])
def test_ckpt_path_that_is_not_a_regular_file_is_refused_without_reading_it(tmp_path, kind):
    path = Path("/dev/urandom")
    if kind == "fifo":  # reading a pipe no one writes to would wait forever
        path = tmp_path / "pipe.ckpt"
        os.mkfifo(path)
    started = time.monotonic()
    with pytest.raises(UserError) as refused:
        load_checkpoint(path)
    assert (
        str(refused.value)
        == f"ckpt_path={path} is not a regular file: give a .ckpt file written by python -m src.train"
    )
    assert time.monotonic() - started < 5
