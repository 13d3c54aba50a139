"""The run directory: writable, and written by one run at a time (the README's "Errors, interrupts and
safety", "One run per run directory").

Two runs given the same directory (the same ``hydra.run.dir=...``, or two commands started in the same
second with the default ``outputs/<date>/<time>``) would mix their ``.hydra/``, checkpoints,
``metrics.json`` and TensorBoard streams. :class:`RunDirectoryLock`, a Hydra callback, claims the
directory (:func:`claim_run_directory`) before Hydra writes anything into it.

The lock is ``fcntl.flock`` on ``.run.lock``, which the operating system releases when the process ends,
however it ends (``kill -9`` included). The file itself stays (it holds the process id of the run that
last held it). Under data parallelism only process 0 takes the lock: all processes share the run
directory, and the others start while process 0 holds it.
"""

import fcntl
import os
from pathlib import Path
from typing import Any, TextIO

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from src.cli import process_rank, report_user_errors
from src.errors import UserError

LOCK_FILE = ".run.lock"


def claim_run_directory(directory: Path, key: str) -> TextIO:
    """Create ``directory`` (the value of config key ``key``), check that it can be written and lock it:
    the open file returned holds the lock until it is closed or the process ends."""
    where = f"{key}={directory}"
    unwritable = f"give a directory you can write to with {key}=..."
    try:
        directory.mkdir(parents=True, exist_ok=True)
        lock = open(directory / LOCK_FILE, "a+")  # noqa: SIM115 (held open for the whole run)
    except OSError as error:
        raise UserError(f"{where}: can't write there ({error.strerror}): {unwritable}") from None
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
    try:  # a write, not only a new file: a full disk fails here, before anything else is written
        lock.truncate(0)
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        os.fsync(lock.fileno())
    except OSError as error:
        lock.close()
        raise UserError(f"{where}: can't write there ({error.strerror}): {unwritable}") from None
    return lock


class RunDirectoryLock(Callback):
    """Hydra callback: :func:`claim_run_directory` for ``hydra.run.dir`` (or, for a multirun, for
    ``hydra.sweep.dir``) before Hydra writes into it, in process 0 only; released when the run ends."""

    def __init__(self) -> None:
        self._lock: TextIO | None = None

    @report_user_errors
    def _claim(self, directory: str, key: str) -> None:
        if process_rank() == 0:
            self._lock = claim_run_directory(Path(directory), key)

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._claim(config.hydra.run.dir, "hydra.run.dir")

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._claim(config.hydra.sweep.dir, "hydra.sweep.dir")

    def on_run_end(self, config: DictConfig, **kwargs: Any) -> None:
        self._release()

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self._release()
