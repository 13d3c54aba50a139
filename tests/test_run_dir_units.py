"""Fast checks of the run directory (src/run_dir.py, src/run_dir_cleanup.py) that call its functions
directly: the lock and its file, the refusal of a directory that holds an earlier run or sweep, the
callback Hydra runs (with the configuration Hydra composes) and the clean-up after a refused command.
The commands themselves, run as subprocesses, are tested in the slow tests of tests/test_faults.py."""

import errno
import functools
import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from lightning.fabric.utilities.rank_zero import rank_zero_only
from omegaconf import DictConfig, OmegaConf

import src.run_dir_cleanup as run_dir_cleanup
from src.config import CONF  # importing src.config registers the bases conf/ extends, as the commands do
from src.errors import UserError
from src.run_dir import (
    LOCK_FILE,
    RUN_DIRECTORY,
    RunDirectoryLock,
    claim_run_directory,
    refuse_an_earlier_run,
    refuse_unwritable_directory,
)
from src.run_dir_cleanup import discard_unused_run_dir

KEY = "hydra.run.dir"


def refused(directory: Path, what: str, found: str, key: str = KEY) -> str:
    """The message refusing a run into ``directory``, which holds ``what`` (its files ``found``), where it
    cannot go on from a checkpoint there: two choices."""
    return (
        f"{key}={directory} holds {what} ({found}): a new one would overwrite or mix with its files; "
        f"choose another directory with {key}=..., or delete that one first"
    )


def passing_check() -> None:
    """The check ``claim_run_directory`` runs once it holds the lock, here finding nothing to refuse."""


def another_run(directory: Path, holder: str, key: str = KEY) -> str:
    """The message refusing a run into ``directory`` while process ``holder`` holds its lock."""
    return (
        f"{key}={directory}: another run (process {holder}) is writing into this directory: wait until it "
        f"ends, or choose another directory with {key}=..."
    )


def test_a_new_run_directory_is_made_with_its_parents_and_holds_the_process_id(tmp_path):
    directory = tmp_path / "outputs" / "2026-12-06" / "03-00-00"
    lock = claim_run_directory(directory, KEY, passing_check)
    assert (directory / LOCK_FILE).read_text() == f"{os.getpid()}\n"
    lock.close()


def test_the_lock_file_of_an_earlier_run_is_rewritten_with_this_process_id(tmp_path):
    # a longer process id than ours, and a second line: nothing of it may be left
    (tmp_path / LOCK_FILE).write_text("4194304\nleft over\n")
    lock = claim_run_directory(tmp_path, KEY, passing_check)
    assert (tmp_path / LOCK_FILE).read_text() == f"{os.getpid()}\n"
    lock.close()


def test_a_run_directory_under_a_file_is_one_line(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(UserError) as error:
        claim_run_directory(tmp_path / "file" / "run", KEY, passing_check)
    assert str(error.value) == (
        f"{KEY}={tmp_path / 'file' / 'run'}: can't write there (Not a directory): give a directory you can "
        f"write to with {KEY}=..."
    )


# --- another directory the run writes into (a logger's save_dir) ---------------------------------------

SAVE_DIR = "logger.csv.save_dir"


def cannot_write(value: str | Path, why: str, key: str = SAVE_DIR) -> str:
    return f"{key}={value}: can't write there ({why}): give a directory you can write to with {key}=..."


@pytest.mark.parametrize(
    ("directory", "why"),
    [
        ("/proc/foo", "No such file or directory"),  # /proc takes no new directory, even from root
        ("/proc/foo/bar", "No such file or directory"),
        ("file", "Not a directory"),
        ("file/logs", "Not a directory"),
    ],
)
def test_a_directory_that_cannot_be_written_is_one_line(tmp_path, directory, why):
    (tmp_path / "file").write_text("")
    path = Path(directory) if directory.startswith("/") else tmp_path / directory
    with pytest.raises(UserError) as error:
        refuse_unwritable_directory(path, SAVE_DIR, str(path))
    assert str(error.value) == cannot_write(path, why)
    assert [entry.name for entry in tmp_path.iterdir()] == ["file"]  # nothing left of the check


def test_a_directory_is_shown_as_its_key_names_it(tmp_path):
    (tmp_path / "file").write_text("")
    uri = f"sqlite:///{tmp_path}/file/mlflow.db"
    with pytest.raises(UserError) as error:
        refuse_unwritable_directory(tmp_path / "file", "logger.mlflow.tracking_uri", uri)
    assert str(error.value) == cannot_write(uri, "Not a directory", "logger.mlflow.tracking_uri")


@pytest.mark.parametrize("directory", [".", "runs", "runs/logs/csv"])
def test_a_directory_that_exists_or_can_be_made_is_accepted_and_nothing_is_made(
    tmp_path, monkeypatch, directory
):
    """Nor is a missing one made: a run refused later on would leave it behind."""
    made(tmp_path, "runs/metrics.json")
    monkeypatch.chdir(tmp_path)
    refuse_unwritable_directory(Path(directory), SAVE_DIR, directory)
    refuse_unwritable_directory(tmp_path / directory, SAVE_DIR, str(tmp_path / directory))
    assert sorted(str(path.relative_to(tmp_path)) for path in tmp_path.rglob("*")) == [
        "runs",
        "runs/metrics.json",
    ]


def test_a_full_disk_when_the_lock_file_is_written_is_one_line_and_releases_the_lock(tmp_path, monkeypatch):
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(UserError) as error:
        claim_run_directory(tmp_path, "hydra.sweep.dir", passing_check)
    assert str(error.value) == (
        f"hydra.sweep.dir={tmp_path}: can't write there (No space left on device): give a directory you can "
        "write to with hydra.sweep.dir=..."
    )
    monkeypatch.undo()
    claim_run_directory(tmp_path, "hydra.sweep.dir", passing_check).close()  # the failed run holds no lock


def test_a_run_starting_while_the_first_one_checks_is_refused_without_a_process_id(tmp_path):
    """The first run holds the lock but has not written its process id yet (it writes it once its check
    has passed): the second names the holder ``?``. Here the second starts from inside the first's check,
    so its refusal also refuses the first, which removes the lock file it made."""
    second = functools.partial(claim_run_directory, tmp_path, KEY, passing_check)
    with pytest.raises(UserError) as error:
        claim_run_directory(tmp_path, KEY, second)
    assert str(error.value) == another_run(tmp_path, "?")
    assert list(tmp_path.iterdir()) == []


def test_a_refused_run_keeps_the_lock_file_an_earlier_run_left(tmp_path):
    (tmp_path / "metrics.json").write_text("{}")
    (tmp_path / LOCK_FILE).write_text("4242\n")
    check = functools.partial(refuse_an_earlier_run, tmp_path, KEY)
    with pytest.raises(UserError, match="holds an earlier run"):
        claim_run_directory(tmp_path, KEY, check)
    assert (tmp_path / LOCK_FILE).read_text() == "4242\n"
    claim_run_directory(tmp_path, KEY, passing_check).close()  # and released the lock


def test_a_check_that_finds_the_directory_removed_still_ends_in_its_own_error(tmp_path):
    """Someone removed the new directory while the run started: the run still ends in the check's one
    line, not in a traceback about the lock file it made being gone."""
    directory = tmp_path / "run"

    def removed_then_refused() -> None:
        (directory / LOCK_FILE).unlink()
        directory.rmdir()
        raise UserError("the check's refusal")

    with pytest.raises(UserError) as error:
        claim_run_directory(directory, KEY, removed_then_refused)
    assert str(error.value) == "the check's refusal"


def test_an_evaluation_may_not_continue_an_earlier_run_even_from_its_checkpoint(tmp_path):
    """Only ``src.train`` goes on with a run in its directory; a checkpoint there, given to any other
    command (a run is not training unless said so), is one that command reads, not a run it continues."""
    checkpoint = tmp_path / "checkpoints" / "last.ckpt"
    checkpoint.parent.mkdir()
    checkpoint.write_text("weights")
    with pytest.raises(UserError) as error:
        refuse_an_earlier_run(tmp_path, KEY, resumed=checkpoint)
    assert str(error.value) == refused(tmp_path, "an earlier run", "checkpoints")
    refuse_an_earlier_run(tmp_path, KEY, training=True, resumed=checkpoint)  # training goes on


def test_a_new_training_into_a_run_with_a_checkpoint_is_offered_to_go_on_from_it(tmp_path):
    """The key as any caller may spell it (here built at run time, not a literal of src.run_dir)."""
    checkpoint = tmp_path / "checkpoints" / "last.ckpt"
    checkpoint.parent.mkdir()
    checkpoint.write_text("weights")
    key = ".".join(["hydra", "run", "dir"])
    with pytest.raises(UserError) as error:
        refuse_an_earlier_run(tmp_path, key, training=True)
    assert str(error.value) == (
        f"{KEY}={tmp_path} holds an earlier run (checkpoints): a new one would overwrite or mix with its "
        f"files; choose another directory with {KEY}=..., delete that one first, or go on training that run "
        f"there from its checkpoint (ckpt_path={checkpoint})"
    )


@pytest.mark.parametrize("training", [False, True])
def test_a_sweep_directory_names_its_files_and_its_first_job(tmp_path, training):
    """The first job (in sorted order) stands for all of them; a sweep is never offered to go on from a
    checkpoint, even one lying where a run would keep it."""
    for name in ("multirun.yaml", "summary.md", "summary.json", "checkpoints/last.ckpt"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("")
    for job in ("1_seed=2", "0_seed=1"):
        (tmp_path / job / ".hydra").mkdir(parents=True)
    with pytest.raises(UserError) as error:
        refuse_an_earlier_run(tmp_path, "hydra.sweep.dir", training=training)
    found = "multirun.yaml, summary.md, summary.json, 0_seed=1"
    assert str(error.value) == refused(tmp_path, "an earlier sweep", found, key="hydra.sweep.dir")


def test_a_training_into_a_run_without_a_checkpoint_is_offered_two_choices(tmp_path):
    (tmp_path / ".hydra").mkdir()
    (tmp_path / "metrics.json").write_text("{}")
    with pytest.raises(UserError) as error:
        refuse_an_earlier_run(tmp_path, KEY, training=True)
    assert str(error.value) == refused(tmp_path, "an earlier run", ".hydra, metrics.json")


def composed(task: str, *overrides: str) -> DictConfig:
    """``conf/<task>.yaml`` as Hydra composes it for its callbacks, the ``hydra`` node included."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(task, overrides=list(overrides), return_hydra_config=True)


def test_the_callback_resumes_a_training_in_its_directory_with_the_composed_configuration(tmp_path):
    """The task's name as Hydra reads it from conf/train.yaml (a string made at run time, not this
    module's literal)."""
    checkpoint = tmp_path / "checkpoints" / "last.ckpt"
    checkpoint.parent.mkdir()
    checkpoint.write_text("weights")
    config = composed("train", f"hydra.run.dir={tmp_path}", f"ckpt_path={checkpoint}")
    callback = RunDirectoryLock()
    callback.on_run_start(config)
    assert (tmp_path / LOCK_FILE).read_text() == f"{os.getpid()}\n"
    callback.on_run_end(config)


def callback_config(mode: str, directory: Path, output_dir: str = RUN_DIRECTORY) -> DictConfig:
    """What the lock's callback reads of a training's configuration: ``hydra.<mode>.dir`` ``directory``."""
    return OmegaConf.create(
        {"task_name": "train", "hydra": {mode: {"dir": str(directory)}}, "paths": {"output_dir": output_dir}}
    )


@pytest.mark.parametrize("mode", ["run", "sweep"])
@pytest.mark.parametrize("task", ["train", "evaluate", "predict", "export", "demo"])
def test_a_commands_files_go_to_the_run_directory_hydra_makes_and_no_other(tmp_path, mode, task, capsys):
    """``paths.output_dir=DIR`` sent the files (checkpoints, ``metrics.json``) where no lock and no check
    of an earlier run looked: two runs wrote into one directory, silently (a tester)."""
    assert OmegaConf.to_container(composed(task).paths)["output_dir"] == RUN_DIRECTORY  # as written
    start = RunDirectoryLock().on_run_start if mode == "run" else RunDirectoryLock().on_multirun_start
    with pytest.raises(SystemExit) as stop:
        start(callback_config(mode, tmp_path / "run", str(tmp_path / "elsewhere")))
    assert stop.value.code == 2
    assert capsys.readouterr().err == (
        f"error: paths.output_dir={tmp_path / 'elsewhere'}: is the run directory Hydra makes, and can't be "
        "set apart from it; choose the run directory with hydra.run.dir=... (hydra.sweep.dir=... for a "
        "multirun)\n"
    )
    assert not (tmp_path / "run").exists() and not (tmp_path / "elsewhere").exists()


def test_an_output_dir_written_as_another_interpolation_is_refused_as_written(tmp_path, capsys):
    """``${hydra:run.dir}`` is the run directory of a single run, but not of a multirun's job."""
    with pytest.raises(SystemExit):
        RunDirectoryLock().on_run_start(callback_config("run", tmp_path / "run", "${hydra:run.dir}"))
    assert capsys.readouterr().err.startswith(
        "error: paths.output_dir=${hydra:run.dir}: is the run directory"
    )
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("mode", ["run", "sweep"])
def test_the_callback_holds_the_lock_until_the_run_ends(tmp_path, mode):
    config = callback_config(mode, tmp_path)
    key = f"hydra.{mode}.dir"
    callback = RunDirectoryLock()
    start, end = (
        (callback.on_run_start, callback.on_run_end)
        if mode == "run"
        else (callback.on_multirun_start, callback.on_multirun_end)
    )
    start(config)
    with pytest.raises(UserError) as error:
        claim_run_directory(tmp_path, key, passing_check)
    assert str(error.value) == another_run(tmp_path, str(os.getpid()), key)
    end(config)
    claim_run_directory(tmp_path, key, passing_check).close()


def test_the_callback_of_a_process_other_than_0_neither_locks_nor_checks(tmp_path, monkeypatch):
    """Under data parallelism the other processes start while process 0 holds the lock, in the
    directory it has already written into."""
    (tmp_path / "metrics.json").write_text("{}")
    monkeypatch.setattr(rank_zero_only, "rank", 1)
    config = callback_config("run", tmp_path)
    callback = RunDirectoryLock()
    callback.on_run_start(config)
    assert not (tmp_path / LOCK_FILE).exists()
    callback.on_run_end(config)


def hydra_run(monkeypatch, run_dir: Path, sweep_dir: Path, mode: RunMode) -> None:
    """Hydra's configuration of a ``src.train`` job writing into ``run_dir`` (a job of ``sweep_dir``)."""
    hydra = OmegaConf.create(
        {"runtime": {"output_dir": str(run_dir)}, "job": {"name": "train"}, "sweep": {"dir": str(sweep_dir)}}
    )
    hydra.mode = mode
    monkeypatch.setattr(HydraConfig, "initialized", staticmethod(lambda: True))
    monkeypatch.setattr(HydraConfig, "get", staticmethod(lambda: hydra))


def made(directory: Path, *names: str) -> Path:
    """``directory`` with the empty files ``names`` (and the folders they lie in)."""
    for name in names:
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text("")
    return directory


def tree(directory: Path) -> list[str]:
    """Every file and folder below ``directory``, as paths relative to it, sorted."""
    return sorted(str(path.relative_to(directory)) for path in directory.rglob("*"))


@pytest.mark.parametrize(
    "names", [(".hydra/config.yaml", "train.log", LOCK_FILE), (".hydra/config.yaml", "train.log")]
)
def test_a_refused_run_removes_its_directory_and_no_sweep_directory(tmp_path, monkeypatch, names):
    """All Hydra and the lock wrote, or part of it (the processes other than 0 take no lock). A sweep
    directory holding only what Hydra writes first is left alone by a single run."""
    run_dir = made(tmp_path / "run", *names)
    sweep_dir = made(tmp_path / "sweep", "multirun.yaml")
    hydra_run(monkeypatch, run_dir, sweep_dir, RunMode.RUN)
    discard_unused_run_dir()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["sweep"]


def test_a_run_directory_holding_anything_else_is_kept(tmp_path, monkeypatch):
    run_dir = made(tmp_path / "run", ".hydra/config.yaml", "train.log", LOCK_FILE, "metrics.json")
    hydra_run(monkeypatch, run_dir, tmp_path, RunMode.RUN)
    discard_unused_run_dir()
    assert sorted(path.name for path in run_dir.iterdir()) == [
        ".hydra",
        LOCK_FILE,
        "metrics.json",
        "train.log",
    ]


def test_a_run_directory_that_was_never_made_is_no_error(tmp_path, monkeypatch):
    hydra_run(monkeypatch, tmp_path / "run", tmp_path / "sweep", RunMode.MULTIRUN)
    discard_unused_run_dir()
    assert list(tmp_path.iterdir()) == []


def test_a_refused_first_job_removes_the_sweep_directory_too(tmp_path, monkeypatch):
    sweep_dir = made(tmp_path / "sweep", "multirun.yaml", LOCK_FILE)
    run_dir = made(sweep_dir / "0_seed=1", ".hydra/config.yaml", "train.log")
    hydra_run(monkeypatch, run_dir, sweep_dir, RunMode.MULTIRUN)
    discard_unused_run_dir()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("relative", [False, True])
def test_a_refused_job_named_by_a_path_removes_the_folders_the_path_made(tmp_path, monkeypatch, relative):
    """``-m a=/tmp/x,...``: Hydra names the job ``0_a=/tmp/x``, folders ``0_a=`` and ``tmp`` holding
    its directory ``x``. The sweep directory is as given (relative by default), the job's absolute."""
    sweep_dir = made(tmp_path / "sweep", "multirun.yaml", LOCK_FILE)
    run_dir = made(sweep_dir / "0_a=" / "tmp" / "x", ".hydra/config.yaml", "train.log")
    monkeypatch.chdir(tmp_path)
    hydra_run(monkeypatch, run_dir, Path("sweep") if relative else sweep_dir, RunMode.MULTIRUN)
    discard_unused_run_dir()
    assert list(tmp_path.iterdir()) == []


def test_a_refused_later_job_named_by_a_path_removes_its_folders_only(tmp_path, monkeypatch):
    sweep_dir = made(tmp_path / "sweep", "multirun.yaml", LOCK_FILE, "0_a=/tmp/x/metrics.json")
    run_dir = made(sweep_dir / "1_a=" / "tmp" / "y", ".hydra/config.yaml", "train.log")
    hydra_run(monkeypatch, run_dir, sweep_dir, RunMode.MULTIRUN)
    discard_unused_run_dir()
    assert tree(sweep_dir) == [
        LOCK_FILE,
        "0_a=",
        "0_a=/tmp",
        "0_a=/tmp/x",
        "0_a=/tmp/x/metrics.json",
        "multirun.yaml",
    ]


def test_a_refused_job_keeps_the_folders_its_path_shares_with_an_earlier_job(tmp_path, monkeypatch):
    """``hydra.sweep.subdir=${hydra.job.override_dirname}`` (no job number): the jobs ``a=/tmp/x`` and
    ``a=/tmp/y`` share the folders ``a=`` and ``tmp``, which the refused second job must leave."""
    sweep_dir = made(tmp_path / "sweep", "multirun.yaml", LOCK_FILE, "a=/tmp/x/metrics.json")
    run_dir = made(sweep_dir / "a=" / "tmp" / "y", ".hydra/config.yaml", "train.log")
    hydra_run(monkeypatch, run_dir, sweep_dir, RunMode.MULTIRUN)
    discard_unused_run_dir()
    assert tree(sweep_dir) == [
        LOCK_FILE,
        "a=",
        "a=/tmp",
        "a=/tmp/x",
        "a=/tmp/x/metrics.json",
        "multirun.yaml",
    ]


def test_the_empty_folders_of_a_jobs_path_are_removed_up_to_the_sweep_directory_only(tmp_path):
    """Even an empty sweep directory is not the job's to remove (Hydra's ``multirun.yaml`` is in it)."""
    sweep_dir = tmp_path / "sweep"
    (sweep_dir / "0_a=" / "tmp").mkdir(parents=True)
    run_dir_cleanup.remove_empty_folders_between(sweep_dir / "0_a=" / "tmp" / "x", sweep_dir)
    assert [path.name for path in tmp_path.iterdir()] == ["sweep"]
    assert list(sweep_dir.iterdir()) == []


def test_a_refused_later_job_keeps_the_sweep_directory_and_the_jobs_before_it(tmp_path, monkeypatch):
    sweep_dir = made(tmp_path / "sweep", "multirun.yaml", LOCK_FILE, "0_seed=1/metrics.json")
    run_dir = made(sweep_dir / "1_seed=2", ".hydra/config.yaml", "train.log")
    hydra_run(monkeypatch, run_dir, sweep_dir, RunMode.MULTIRUN)
    discard_unused_run_dir()
    assert sorted(path.name for path in sweep_dir.iterdir()) == [LOCK_FILE, "0_seed=1", "multirun.yaml"]


def test_without_hydra_nothing_is_removed(tmp_path, monkeypatch):
    """A function called directly (as the tests do), with no Hydra run and so no run directory of its
    own: the current directory is not this run's."""
    monkeypatch.chdir(made(tmp_path, ".hydra/config.yaml", "train.log"))
    discard_unused_run_dir()
    assert sorted(path.name for path in tmp_path.iterdir()) == [".hydra", "train.log"]


def test_a_run_directory_made_remembers_the_parents_it_lacked_innermost_first(tmp_path, monkeypatch):
    made: list[Path] = []
    monkeypatch.setattr(run_dir_cleanup, "MADE_FOR_THIS_RUN", made)
    (tmp_path / "outputs").mkdir()
    run_dir_cleanup.make_run_directory(tmp_path / "outputs" / "day" / "time")
    assert (tmp_path / "outputs" / "day" / "time").is_dir()
    assert made == [tmp_path / "outputs" / "day" / "time", tmp_path / "outputs" / "day"]
    run_dir_cleanup.make_run_directory(tmp_path / "outputs" / "day" / "time")  # there already: none made
    assert made == [tmp_path / "outputs" / "day" / "time", tmp_path / "outputs" / "day"]


@pytest.mark.parametrize("mode", [RunMode.RUN, RunMode.MULTIRUN])
def test_a_refused_run_removes_the_parents_made_for_it(tmp_path, monkeypatch, mode):
    """A refused first run of the day left an empty ``outputs/<date>/`` (a tester, 2026-12-07)."""
    monkeypatch.setattr(run_dir_cleanup, "MADE_FOR_THIS_RUN", [])
    made(tmp_path / "outputs", "kept/metrics.json")
    top = tmp_path / "outputs" / "day" / "time"
    run_dir_cleanup.make_run_directory(top)  # as src.run_dir makes the run's, or the sweep's
    if mode == RunMode.MULTIRUN:
        run_dir = made(top / "0_seed=1", ".hydra/config.yaml", "train.log")
        made(top, "multirun.yaml", LOCK_FILE)
    else:
        run_dir = made(top, ".hydra/config.yaml", "train.log", LOCK_FILE)
    hydra_run(monkeypatch, run_dir, top, mode)
    discard_unused_run_dir()
    assert [path.name for path in (tmp_path / "outputs").iterdir()] == ["kept"]


def test_a_parent_made_for_a_refused_run_that_holds_anything_else_is_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(run_dir_cleanup, "MADE_FOR_THIS_RUN", [])
    run_dir = tmp_path / "outputs" / "day" / "time"
    run_dir_cleanup.make_run_directory(run_dir)
    made(run_dir, ".hydra/config.yaml", "train.log", LOCK_FILE)
    made(tmp_path / "outputs" / "day", "other/metrics.json")  # another run of the day, started meanwhile
    hydra_run(monkeypatch, run_dir, tmp_path / "sweep", RunMode.RUN)
    discard_unused_run_dir()
    assert [path.name for path in (tmp_path / "outputs" / "day").iterdir()] == ["other"]
