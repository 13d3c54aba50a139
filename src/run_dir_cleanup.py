"""A refused command leaves no run directory behind (see :func:`discard_unused_run_dir`)."""

import logging
import shutil
from pathlib import Path


def discard_unused_run_dir() -> None:
    """Remove this run's directory if the command was refused before writing anything in it: Hydra
    creates it, with ``.hydra/`` and the log file (and :mod:`src.run_dir` its lock), before the job runs.
    Kept when it holds anything else (an earlier run's files, a checkpoint) and in a multirun."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from src.run_dir import LOCK_FILE

    if not HydraConfig.initialized() or (hydra_config := HydraConfig.get()).mode != RunMode.RUN:
        return
    run_dir = Path(hydra_config.runtime.output_dir)
    log_file = f"{hydra_config.job.name}.log"
    if run_dir.is_dir() and {path.name for path in run_dir.iterdir()} <= {".hydra", log_file, LOCK_FILE}:
        logging.shutdown()  # closes the log file
        shutil.rmtree(run_dir, ignore_errors=True)
