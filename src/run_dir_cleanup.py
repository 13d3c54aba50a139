"""A refused command leaves no run directory behind (see :func:`discard_unused_run_dir`)."""

import logging
import os
import shutil
from pathlib import Path

MADE_FOR_THIS_RUN: list[Path] = []
"""The directories :func:`make_run_directory` made in this process, each before its parent: the run's (or
the sweep's) and the parents it lacked, such as ``outputs/<date>/`` of the first run of the day."""


def make_run_directory(directory: Path) -> None:
    """``mkdir -p directory``, remembering the directories it makes for :func:`discard_unused_run_dir`."""
    missing = [path for path in (directory, *directory.parents) if not path.exists()]
    directory.mkdir(parents=True, exist_ok=True)
    MADE_FOR_THIS_RUN.extend(missing)


def discard_unused_run_dir() -> None:
    """Remove this run's directory if the command was refused before writing anything in it: Hydra
    creates it, with ``.hydra/`` and the log file (and :mod:`src.run_dir` its lock), before the job runs.
    Kept when it holds anything else (an earlier run's files, a checkpoint). In a multirun the refused
    job's directory goes (with the folders a ``/`` in an override's value made of its name, left empty),
    and the sweep's directory too if nothing but Hydra's ``multirun.yaml`` and the lock is left: the
    refusal stops the sweep, so no later job will write there. Then the parents made for it
    (:data:`MADE_FOR_THIS_RUN`) that are left empty, a refused first run of the day's ``outputs/<date>/``
    included."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from src.run_dir import LOCK_FILE

    if not HydraConfig.initialized():
        return
    hydra_config = HydraConfig.get()
    run_dir = Path(hydra_config.runtime.output_dir)
    if not holds_only(run_dir, {".hydra", f"{hydra_config.job.name}.log", LOCK_FILE}):
        return
    logging.shutdown()  # closes the log file
    shutil.rmtree(run_dir, ignore_errors=True)
    sweep_dir = Path(hydra_config.sweep.dir)
    if hydra_config.mode == RunMode.MULTIRUN:
        remove_empty_folders_between(run_dir, sweep_dir)
        if holds_only(sweep_dir, {"multirun.yaml", LOCK_FILE}):
            shutil.rmtree(sweep_dir, ignore_errors=True)
    for directory in MADE_FOR_THIS_RUN:  # innermost first, up to the first that holds anything
        if not directory.exists():
            continue  # the run's or the sweep's directory, removed above
        if not holds_only(directory, set()):
            break
        directory.rmdir()


def holds_only(directory: Path, names: set[str]) -> bool:
    """Whether ``directory`` exists and holds nothing but entries named in ``names``."""
    return directory.is_dir() and {path.name for path in directory.iterdir()} <= names


def remove_empty_folders_between(run_dir: Path, sweep_dir: Path) -> None:
    """Remove the empty folders from ``run_dir``'s parent up to, not including, ``sweep_dir``: a job's
    directory is named by its overrides, and a path in a value that Hydra's ``override_dirname`` doesn't
    leave out (``hydra.job.config.override_dirname.exclude_keys``) makes folders of it: the job
    ``0_a=/tmp/x`` is the folder ``x`` in ``tmp`` in ``0_a=``."""
    # Hydra's output_dir is absolute, the sweep directory as given (outputs/multirun/... by default)
    run_dir, sweep_dir = Path(os.path.abspath(run_dir)), Path(os.path.abspath(sweep_dir))
    if not run_dir.is_relative_to(sweep_dir):
        return
    for directory in run_dir.parents:
        if directory == sweep_dir or not holds_only(directory, set()):
            break
        directory.rmdir()
