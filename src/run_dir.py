"""The run directory: writable, and written by one run at a time (the README's "Errors, interrupts and
safety", "One run per run directory").

Two runs given the same directory (the same ``hydra.run.dir=...``, or two commands started in the same
second with the default ``outputs/<date>/<time>``) would mix their ``.hydra/``, checkpoints,
``metrics.json`` and TensorBoard streams. :class:`RunDirectoryLock`, a Hydra callback, claims the
directory (:func:`claim_run_directory`) before Hydra writes anything into it, and refuses one that holds
the files of an earlier run that has ended (:func:`refuse_an_earlier_run`), unless training resumes from
that run's own checkpoint.

:func:`refuse_unwritable_directory` refuses, before training, another directory the run will write into
(a logger's ``save_dir``) that can't be written, with the same one line.

The lock is ``fcntl.flock`` on ``.run.lock``, which the operating system releases when the process ends,
however it ends (``kill -9`` included). The file itself stays (it holds the process id of the run that
last held it). Under data parallelism only process 0 takes the lock: all processes share the run
directory, and the others start while process 0 holds it.
"""

import fcntl
import functools
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from src.cli import process_rank, report_user_errors
from src.errors import UserError
from src.run_dir_cleanup import make_run_directory

LOCK_FILE = ".run.lock"
CHECKPOINTS = "checkpoints"
"""A training run's checkpoints folder (``callbacks.*.dirpath`` in ``conf/callbacks/default.yaml``)."""
LAST_CHECKPOINT = "last.ckpt"
"""The checkpoint saved after every epoch (``callbacks.last_checkpoint.filename``, with its suffix)."""
METRICS_FILE = "metrics.json"
"""A training's or evaluation's final metrics, in its run directory."""
# a multirun's table of its jobs, in its sweep directory (src.sweep.write_summary)
SUMMARY_MARKDOWN, SUMMARY_JSON = "summary.md", "summary.json"
EARLIER_RUN = (".hydra", CHECKPOINTS, METRICS_FILE)
"""What an earlier run leaves in its directory: Hydra's ``.hydra/`` (every command's; a refused command's
directory is removed again), and training's checkpoints and training's or evaluation's ``metrics.json``
(also where a run was started without Hydra, as the tests do)."""
EARLIER_SWEEP = ("multirun.yaml", SUMMARY_MARKDOWN, SUMMARY_JSON)
"""What an earlier multirun leaves in its sweep directory, beside its jobs' directories."""


def cannot_write(value: str | Path, key: str, error: OSError) -> UserError:
    """The one line for config key ``key`` whose ``value`` names a directory that can't be written."""
    return UserError(
        f"{key}={value}: can't write there ({error.strerror}): give a directory you can write to with "
        f"{key}=..."
    )


def refuse_unwritable_directory(directory: Path, key: str, value: str) -> None:
    """Refuse ``directory``, named by config key ``key`` (whose value is ``value``), where something writes
    later in the run (a logger's ``save_dir``), unless a directory can be made in it or, where it doesn't
    exist yet, in the nearest directory above it that does: so it is refused before training, not by a
    traceback once training has started. Leaves nothing behind: the directory made to find out is removed
    at once, and a missing ``directory`` is not made (a refused run would leave it)."""
    try:  # (a relative path's parents end at ".", an absolute one's at "/": one of them exists)
        existing = next(path for path in (directory, *directory.parents) if path.exists())
        os.rmdir(tempfile.mkdtemp(prefix=".write-check-", dir=existing))
    except OSError as error:  # e.g. under /proc, a read-only file system, no permission, under a file
        raise cannot_write(value, key, error) from None


def claim_run_directory(directory: Path, key: str, check: Callable[[], None]) -> TextIO:
    """Create ``directory`` (the value of config key ``key``), check that it can be written and lock it:
    the open file returned holds the lock until it is closed or the process ends. ``check`` runs once the
    lock is held (so that a run still writing there is named as such) and before anything is written; its
    :class:`UserError` releases the lock and removes the lock file if this call made it."""
    where = f"{key}={directory}"
    lock_path = directory / LOCK_FILE
    try:
        make_run_directory(directory)
        made = not lock_path.exists()
        lock = open(lock_path, "a+")  # noqa: SIM115 (held open for the whole run)
    except OSError as error:
        raise cannot_write(directory, key, error) from None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "?"
        lock.close()
        raise UserError(
            f"{where}: another run (process {holder}) is writing into this directory: wait until it "
            f"ends, or choose another directory with {key}=..."
        ) from None
    try:
        check()
    except UserError:
        if made:  # the refused run leaves nothing behind
            lock_path.unlink(missing_ok=True)
        lock.close()
        raise
    try:  # a write, not only a new file: a full disk fails here, before anything else is written
        lock.truncate(0)
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        os.fsync(lock.fileno())
    except OSError as error:
        lock.close()
        raise cannot_write(directory, key, error) from None
    return lock


def refuse_an_earlier_run(
    directory: Path, key: str, training: bool = False, resumed: Path | None = None
) -> None:
    """Refuse a run into ``directory`` (config key ``key``: ``hydra.run.dir``, or ``hydra.sweep.dir`` for
    a multirun) that holds an earlier run's files (:data:`EARLIER_RUN`; for a sweep :data:`EARLIER_SWEEP`
    or a job's ``.hydra/``): Hydra would overwrite its ``.hydra/``, and the new run mix its checkpoints
    (Lightning names a second ``epoch_001.ckpt`` ``epoch_001-v1.ckpt`` and overwrites ``last.ckpt``),
    TensorBoard stream, log and ``metrics.json`` with the earlier ones. ``training``: the run is
    ``src.train``'s, which may go on with that run: ``resumed``, the checkpoint it resumes from, inside
    ``directory`` continues it there, which is allowed (the message says how, when it holds one)."""
    if (
        training
        and resumed is not None
        and resumed.expanduser().resolve().is_relative_to(directory.resolve())
    ):
        return
    if key == "hydra.sweep.dir":
        found = [name for name in EARLIER_SWEEP if (directory / name).exists()]
        found += sorted(path.parent.name for path in directory.glob("*/.hydra"))[:1]
        what = "an earlier sweep"
    else:
        found = [name for name in EARLIER_RUN if (directory / name).exists()]
        what = "an earlier run"
    if not found:
        return
    choices = [f"choose another directory with {key}=...", "delete that one first"]
    last = directory / CHECKPOINTS / LAST_CHECKPOINT
    if training and key == "hydra.run.dir" and last.is_file():
        choices.append(f"go on training that run there from its checkpoint (ckpt_path={last})")
    raise UserError(
        f"{key}={directory} holds {what} ({', '.join(found)}): a new one would overwrite or mix with its "
        f"files; {', '.join(choices[:-1])}, or {choices[-1]}"
    )


RUN_DIRECTORY = "${hydra:runtime.output_dir}"
"""``paths.output_dir`` (``conf/paths/default.yaml``): where a command writes its files is Hydra's run
directory, the one the lock claims."""


def refuse_another_output_dir(config: DictConfig) -> None:
    """``paths.output_dir`` set to another directory than Hydra's run directory: the command's files
    (checkpoints, ``metrics.json``, TensorBoard) would go where no lock and no check of an earlier run
    looks, and a second run into it would mix with the first's, silently."""
    value = OmegaConf.to_container(config.paths)["output_dir"]  # as written, unresolved
    if value != RUN_DIRECTORY:
        raise UserError(
            f"paths.output_dir={value}: is the run directory Hydra makes, and can't be set apart from it; "
            "choose the run directory with hydra.run.dir=... (hydra.sweep.dir=... for a multirun)"
        )


class RunDirectoryLock(Callback):
    """Hydra callback: :func:`claim_run_directory` for ``hydra.run.dir`` (or, for a multirun, for
    ``hydra.sweep.dir``) before Hydra writes into it, in process 0 only; released when the run ends."""

    def __init__(self) -> None:
        self._lock: TextIO | None = None

    @report_user_errors
    def _claim(
        self,
        config: DictConfig,
        directory: str,
        key: str,
        training: bool = False,
        resumed: Path | None = None,
    ) -> None:
        refuse_another_output_dir(config)
        if process_rank() == 0:  # the other processes start once process 0 has claimed it and written there
            path = Path(directory)
            check = functools.partial(refuse_an_earlier_run, path, key, training, resumed)
            self._lock = claim_run_directory(path, key, check)

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        training = config.get("task_name") == "train"  # evaluate's ckpt_path is the checkpoint it tests
        resumed = config.get("ckpt_path") if training else None
        self._claim(
            config,
            config.hydra.run.dir,
            "hydra.run.dir",
            training,
            None if resumed is None else Path(str(resumed)),
        )

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._claim(config, config.hydra.sweep.dir, "hydra.sweep.dir")

    def on_run_end(self, config: DictConfig, **kwargs: Any) -> None:
        self._release()

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self._release()
