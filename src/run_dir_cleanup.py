"""A refused command leaves no run directory behind (see :func:`discard_unused_run_dir`)."""

import logging
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
    job's directory goes, and the sweep's directory too if nothing but Hydra's ``multirun.yaml`` and the
    lock is left: the refusal stops the sweep, so no later job will write there. Then the parents made for
    it (:data:`MADE_FOR_THIS_RUN`) that are left empty, a refused first run of the day's
    ``outputs/<date>/`` included."""
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
    if hydra_config.mode == RunMode.MULTIRUN and holds_only(sweep_dir, {"multirun.yaml", LOCK_FILE}):
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
