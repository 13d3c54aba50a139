"""``src.sweep``'s table over seeds: jobs differing only in ``seed=`` are one setting, reported as the mean
± standard deviation of ``test/acc``, the smallest, the epochs trained and the wall time per run."""

import json
import os
from pathlib import Path

import pytest
import torch
from runs import run_module

from src.sweep import collect, seeds_table


def job(
    sweep_dir: Path, name: str, overrides: list[str], acc: float | None, epochs: int, seconds: float
) -> None:
    """A run directory as ``src.train`` leaves it, its metrics.json written ``seconds`` after its start."""
    hydra_dir = sweep_dir / name / ".hydra"
    hydra_dir.mkdir(parents=True)
    overrides_file = hydra_dir / "overrides.yaml"
    overrides_file.write_text("".join(f"- {item}\n" for item in overrides))
    (sweep_dir / name / "checkpoints").mkdir()
    torch.save({"epoch": epochs - 1}, sweep_dir / name / "checkpoints" / "last.ckpt")
    if acc is not None:
        metrics = sweep_dir / name / "metrics.json"
        metrics.write_text(json.dumps({"test/acc": acc}))
        os.utime(overrides_file, (1000.0, 1000.0))
        os.utime(metrics, (1000.0 + seconds, 1000.0 + seconds))


def test_seeds_of_one_setting_are_summarised_together(tmp_path):
    job(tmp_path, "0", ["experiment=a", "seed=1", "data.root=D"], 0.95, 30, 60)
    job(tmp_path, "1", ["experiment=a", "seed=2", "data.root=D"], 0.96, 32, 120)
    job(tmp_path, "2", ["experiment=a", "seed=3", "data.root=D"], 0.94, 34, 180)
    job(tmp_path, "3", ["experiment=b", "seed=1", "data.root=D"], 0.5, 5, 30)
    job(tmp_path, "4", ["experiment=b", "seed=2"], None, 5, 30)  # failed: no metrics, left out
    lines = seeds_table(collect(tmp_path)).splitlines()
    assert lines[2] == "| experiment=a | 3 | 0.9500 ± 0.0100 | 0.9400 | 30-34 | 2.0 min |"
    assert lines[3] == "| experiment=b | 1 | 0.5000 | 0.5000 | 5 | 0.5 min |"
    assert len(lines) == 4


def test_no_table_without_repeated_settings(tmp_path):
    job(tmp_path, "0", ["experiment=a", "seed=1"], 0.95, 30, 60)
    job(tmp_path, "1", ["experiment=b", "seed=1"], 0.9, 30, 60)
    assert seeds_table(collect(tmp_path)) == ""


@pytest.mark.slow
def test_the_command_prints_both_tables_for_a_folder_of_runs(tmp_path):
    job(tmp_path, "run1", ["experiment=a", "seed=1"], 0.95, 30, 60)
    job(tmp_path, "run2", ["experiment=a", "seed=2"], 0.97, 30, 60)
    result = run_module("src.sweep", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "| run2 | seed=2" in result.stdout
    assert "| (every job) | 2 | 0.9600 ± 0.0141 | 0.9500 | 30 | 1.0 min |" in result.stdout
    assert (tmp_path / "summary.md").read_text() == result.stdout
    assert run_module("src.sweep", str(tmp_path / "nowhere")).returncode != 0
