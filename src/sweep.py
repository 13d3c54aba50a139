"""The summary of a Hydra multirun: ``python -m src.train -m activation=sigmoid,relu optimizer=sgd,adam``
ends with a table of each job's overrides and final metrics, printed and saved in the sweep directory as
``summary.md`` (the table) and ``summary.json`` (every job's overrides and all its metrics).

:class:`SweepSummary`, a Hydra callback registered in ``conf/hydra/default.yaml``, rebuilds the table
from the sweep directory itself: each job's ``.hydra/overrides.yaml`` and the ``metrics.json`` its task
wrote (``src.train`` and ``src.evaluate`` write one). It does so after every job, so a sweep stopped by a
failing job still leaves the summary of the jobs before it, and once more at the end, when it prints it.
A job without ``metrics.json`` (it failed, or its task writes none) shows ``-``.
"""

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from src.metrics_file import write_json

COLUMNS = ("test/acc", "test/loss", "val/acc_best", "train/samples_per_sec")
DECIMALS = {"train/samples_per_sec": 0}


@dataclass(frozen=True)
class JobSummary:
    """One job of a sweep: its directory relative to the sweep's, its overrides and its metrics."""

    job: str
    overrides: list[str]
    metrics: dict[str, Any]


def natural_key(text: str) -> list[str | int]:
    """Sort key that orders ``"2"`` before ``"10"``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def collect(sweep_dir: Path) -> list[JobSummary]:
    """Every job found under ``sweep_dir`` (a directory with ``.hydra/overrides.yaml``), in job order."""
    jobs = []
    for overrides_file in sweep_dir.glob("**/.hydra/overrides.yaml"):
        job_dir = overrides_file.parent.parent
        metrics_file = job_dir / "metrics.json"
        metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
        overrides = [str(item) for item in OmegaConf.to_container(OmegaConf.load(overrides_file))]
        jobs.append(JobSummary(job_dir.relative_to(sweep_dir).as_posix(), overrides, metrics))
    return sorted(jobs, key=lambda job: natural_key(job.job))


def cell(metrics: dict[str, Any], name: str) -> str:
    """A metric formatted for the table, ``-`` if the job has none."""
    value = metrics.get(name)
    if not isinstance(value, int | float):
        return "-"
    return f"{value:.{DECIMALS.get(name, 4)}f}"


def table(jobs: list[JobSummary]) -> str:
    """A Markdown table, its columns padded to line up: job | overrides | :data:`COLUMNS`. Overrides
    that every job of several shares are listed once, above the table."""
    shared = set.intersection(*(set(job.overrides) for job in jobs)) if len(jobs) > 1 else set()
    header = ["job", "overrides", *COLUMNS]
    rows = [
        [
            job.job,
            " ".join(item for item in job.overrides if item not in shared).replace("|", r"\|") or "(none)",
            *(cell(job.metrics, name) for name in COLUMNS),
        ]
        for job in jobs
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(text.ljust(width) for text, width in zip(cells, widths, strict=True)) + " |"

    lines = [line(header), line(["-" * width for width in widths]), *map(line, rows)]
    if shared:
        common = " ".join(item for item in jobs[0].overrides if item in shared)
        lines = [f"All jobs: {common}".replace("|", r"\|"), "", *lines]
    return "\n".join(lines) + "\n"


def write_summary(sweep_dir: Path) -> str:
    """Write ``summary.md`` and ``summary.json`` into ``sweep_dir``; returns the table."""
    jobs = collect(sweep_dir)
    text = table(jobs)
    (sweep_dir / "summary.md").write_text(text)
    write_json(sweep_dir / "summary.json", {"columns": list(COLUMNS), "jobs": [asdict(job) for job in jobs]})
    return text


class SweepSummary(Callback):
    """Writes the sweep's summary after each multirun job and prints it when the multirun ends."""

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if config.hydra.mode == RunMode.MULTIRUN:
            write_summary(Path(config.hydra.sweep.dir))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        text = write_summary(sweep_dir)
        print(f"\nsweep summary ({sweep_dir / 'summary.md'}):\n{text}", end="")
