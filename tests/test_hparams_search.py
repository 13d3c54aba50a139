"""``hparams_search=optuna`` (``conf/hparams_search/optuna.yaml``): an Optuna search through Hydra's
Optuna sweeper, which the ``sweep`` extra installs (``pip install -e '.[sweep]'``)."""

import importlib.util
import json
import os
import re

import pytest
from runs import REPO, run_module


def sweeper_installed() -> bool:
    try:
        return importlib.util.find_spec("hydra_plugins.hydra_optuna_sweeper") is not None
    except ModuleNotFoundError:  # not even the hydra_plugins namespace
        return False


pytestmark = pytest.mark.skipif(
    not sweeper_installed(),
    reason="hydra-optuna-sweeper is not installed (pip install -e '.[sweep]')",
)


@pytest.mark.slow
def test_a_tiny_search_maximises_val_acc_best(tmp_path):
    result = run_module(
        "src.train",
        "hparams_search=optuna",
        "hydra.sweeper.n_trials=3",
        "trainer.max_epochs=2",
        f"hydra.sweep.dir={tmp_path}",
        # the test process's path, so the subprocess finds the sweeper where this one did
        env={"PYTHONPATH": os.pathsep.join([str(REPO / "tests"), os.environ.get("PYTHONPATH", "")])},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = json.loads((tmp_path / "summary.json").read_text())["jobs"]
    assert len(jobs) == 3
    for job in jobs:  # each trial drew the three searched settings, inside their ranges
        drawn = dict(item.split("=", 1) for item in job["overrides"])
        assert 0.01 <= float(drawn["optimizer.lr"]) <= 10.0
        assert drawn["model.hidden"] in {"[16,16]", "[32]", "[64]", "[32,32]"}
        assert drawn["data.batch_size"] in {"10", "32", "64"}
        assert "val/acc_best" in job["metrics"]
    best = max(job["metrics"]["val/acc_best"] for job in jobs)
    printed = re.search(r"Best value: ([0-9.]+)", result.stdout)
    assert printed and float(printed.group(1)) == pytest.approx(best, abs=1e-6)
