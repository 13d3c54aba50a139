"""Fixtures shared by the tests."""

import os
import signal
from pathlib import Path

import pytest
from runs import compose_config

from src.train import train

FOREIGN_ENVIRONMENT = ("HYDRA_FULL_ERROR", "RANK", "LOCAL_RANK", "NODE_RANK", "WORLD_SIZE", "JSM_NAMESPACE_RANK")  # fmt: skip
"""Variables that change what the programs print (tracebacks, which process reports), also when a test's
subprocess inherits them; ``SLURM_*`` too (Lightning reads the rank and the cluster from them)."""


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch):
    """Every test sees the environment it needs, not the developer's (``HYDRA_FULL_ERROR=1``, a SLURM
    job) and ends with the signal handlers it found (an interrupt test may change them)."""
    for name in [*FOREIGN_ENVIRONMENT, *(name for name in os.environ if name.startswith("SLURM_"))]:
        monkeypatch.delenv(name, raising=False)
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in handlers.items():
        signal.signal(signum, handler)


@pytest.fixture(scope="session")
def trained_digits_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run directory of the default configuration trained for 12 epochs on the 8x8 digits and
    tested: ``checkpoints/``, ``tensorboard/`` and ``metrics.json``, shared by the whole session (read it,
    don't write to it)."""
    run_dir = tmp_path_factory.mktemp("trained_digits")
    train(compose_config("train", run_dir, "trainer.max_epochs=12"))
    return run_dir
