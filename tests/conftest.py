"""Fixtures shared by the tests."""

from pathlib import Path

import pytest
from runs import compose_config

from src.train import train


@pytest.fixture(scope="session")
def trained_digits_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run directory of the default configuration trained for 12 epochs on the 8x8 digits and
    tested: ``checkpoints/``, ``tensorboard/`` and ``metrics.json``, shared by the whole session (read it,
    don't write to it)."""
    run_dir = tmp_path_factory.mktemp("trained_digits")
    train(compose_config("train", run_dir, "trainer.max_epochs=12"))
    return run_dir
