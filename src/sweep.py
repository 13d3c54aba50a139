"""The summary of a Hydra multirun (the README's "Sweeps" and "MNIST experiments" sections): a table of
each job's overrides and final metrics, printed and saved in the sweep directory as ``summary.md`` and
``summary.json`` (every job's overrides and all its metrics).

:class:`SweepSummary`, a Hydra callback registered in ``conf/hydra/default.yaml``, rebuilds the table
from the sweep directory itself: each job's ``.hydra/overrides.yaml`` and the ``metrics.json`` its task
wrote (``src.train`` and ``src.evaluate`` write one). It does so after every job, so a sweep stopped by a
failing job still leaves the summary of the jobs before it, and once more at the end, when it prints it.
A job without ``metrics.json`` (it failed, or its task writes none) shows ``-``. A ``metrics.json`` that is
not a JSON object (written atomically, so damaged by something else) is an error naming it, except during
a sweep (:class:`SweepSummary`).

Jobs that differ only in their ``seed=`` override are repeats of one setting: a second table
(:func:`seeds_table`) summarises each setting over its seeds. ``python -m src.sweep DIR`` prints both
tables for any folder of run directories (a sweep's, or single runs gathered in one folder).
"""

import json
import math
import re
import statistics
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from src.cli import report_user_errors
from src.errors import UserError
from src.metrics_file import write_json
from src.run_dir import CHECKPOINTS, LAST_CHECKPOINT, METRICS_FILE, SUMMARY_JSON, SUMMARY_MARKDOWN

COLUMNS = ("test/acc", "test/loss", "val/acc_best", "train/samples_per_sec")
DECIMALS = {"train/samples_per_sec": 0}
JOB_FILE = ".hydra/overrides.yaml"
SWEEP_DIR = (
    "give a sweep directory written by python -m src.train -m ... (or a folder of run directories), "
    f"holding job directories with {JOB_FILE}"
)


@dataclass(frozen=True)
class JobSummary:
    """One job of a sweep: its directory relative to the sweep's, its overrides, its metrics, the epochs it
    trained (from ``checkpoints/last.ckpt``) and its wall time in seconds (from the run's configuration
    written at its start to its ``metrics.json``); ``None`` where unknown."""

    job: str
    overrides: list[str]
    metrics: dict[str, Any]
    epochs: int | None = None
    seconds: float | None = None


def natural_key(text: str) -> list[str | int]:
    """Sort key that orders ``"2"`` before ``"10"``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def collect(sweep_dir: Path, unreadable: list[str] | None = None) -> list[JobSummary]:
    """Every job found under ``sweep_dir`` (a directory with ``.hydra/overrides.yaml``), in job order. An
    unreadable ``metrics.json`` (:func:`read_metrics`) raises its :class:`UserError`, or, given
    ``unreadable``, shows ``-`` like a missing one and its message is added to ``unreadable``."""
    jobs = []
    for overrides_file in sweep_dir.glob(f"**/{JOB_FILE}"):
        job_dir = overrides_file.parent.parent
        metrics_file = job_dir / METRICS_FILE
        metrics, seconds = {}, None
        if metrics_file.is_file():
            try:
                metrics = read_metrics(metrics_file)
                seconds = metrics_file.stat().st_mtime - overrides_file.stat().st_mtime
            except UserError as error:
                if unreadable is None:
                    raise
                unreadable.append(str(error))
        overrides = read_overrides(overrides_file)
        job = job_dir.relative_to(sweep_dir).as_posix()
        jobs.append(JobSummary(job, overrides, metrics, epochs_trained(job_dir), seconds))
    return sorted(jobs, key=lambda job: natural_key(job.job))


def read_metrics(path: Path) -> dict[str, Any]:
    """A job's ``metrics.json``. Its task writes it atomically, so one that is not a JSON object was
    damaged by something else: none of its numbers can be trusted, and the summary must not hide that."""
    try:
        metrics = json.loads(path.read_text())
        reason = "" if isinstance(metrics, dict) else f"found {json.dumps(metrics)}"
    except (OSError, ValueError) as error:  # ValueError: not JSON, or not UTF-8
        reason = str(error)
    if reason:
        raise UserError(
            f"{path}: not a JSON object of metrics as src.train and src.evaluate write one "
            f"({' '.join(reason.split())[:80]}): rerun that job, or delete the file (the job then shows -)"
        )
    return metrics


def read_overrides(path: Path) -> list[str]:
    """A job's overrides, the list of strings Hydra writes to ``.hydra/overrides.yaml``."""
    try:
        overrides = OmegaConf.to_container(OmegaConf.load(path)) or []  # an empty file: none
        reason = "" if isinstance(overrides, list) else f"found {overrides!r}"
    except Exception as error:  # YAML or OmegaConf errors, not UTF-8, not a list: a file damaged since
        reason = f"{type(error).__name__}: {error}"
    if reason:
        raise UserError(
            f"{path}: not the list of overrides Hydra writes ({' '.join(reason.split())[:80]}): delete that "
            "job's folder or rerun the sweep"
        )
    return [str(item) for item in overrides]


def epochs_trained(job_dir: Path) -> int | None:
    """The epochs a run completed, from its ``checkpoints/last.ckpt`` (saved after every epoch); ``None``
    without one, or where it is not one of our checkpoints (its epoch count shows ``-``)."""
    import torch

    last = job_dir / CHECKPOINTS / LAST_CHECKPOINT
    if not last.is_file():
        return None
    try:
        checkpoint = torch.load(last, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # empty, truncated, random or refused (weights_only): no count to read
        return None
    epoch = checkpoint.get("epoch") if isinstance(checkpoint, dict) else None
    return epoch + 1 if isinstance(epoch, int) and not isinstance(epoch, bool) and epoch >= 0 else None


def job_label(job: str) -> str:
    """The table's name for a job directory: Hydra's job number alone for ``<number>_<overrides>``
    (``conf/hydra/default.yaml``'s names; the overrides have their own column), also for ``<number>_``,
    the name of a job whose every override is left out of it (an evaluate sweep's ``ckpt_path=...``),
    else the directory."""
    number, separator, _ = job.partition("_")
    return number if number.isdigit() and separator and "/" not in job else job


def shown_columns(jobs: list[JobSummary]) -> list[str]:
    """The :data:`COLUMNS` some job has a value for: an evaluate sweep's jobs have no training metrics,
    and a column of ``-`` would say they failed. All of them where no job has any, so that jobs that
    all failed show as rows of ``-``."""
    return [name for name in COLUMNS if any(name in job.metrics for job in jobs)] or list(COLUMNS)


def finite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def cell(metrics: dict[str, Any], name: str) -> str:
    """A metric formatted for the table, ``-`` if the job has none."""
    value = metrics.get(name)
    if not finite_number(value):
        return "-"
    return f"{value:.{DECIMALS.get(name, 4)}f}"


def table(jobs: list[JobSummary]) -> str:
    """A Markdown table, its columns padded to line up: job (:func:`job_label`) | overrides |
    :func:`shown_columns`. Overrides that every job of several shares are listed once, above the table."""
    shared = set.intersection(*(set(job.overrides) for job in jobs)) if len(jobs) > 1 else set()
    columns = shown_columns(jobs)
    header = ["job", "overrides", *columns]
    rows = [
        [
            job_label(job.job),
            " ".join(item for item in job.overrides if item not in shared).replace("|", r"\|") or "(none)",
            *(cell(job.metrics, name) for name in columns),
        ]
        for job in jobs
    ]
    widths = [max(map(len, column)) for column in zip(header, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(text.ljust(width) for text, width in zip(cells, widths, strict=True)) + " |"

    lines = [line(header), line(["-" * width for width in widths]), *map(line, rows)]
    if shared:
        common = " ".join(item for item in jobs[0].overrides if item in shared)
        lines = [f"All jobs: {common}".replace("|", r"\|"), "", *lines]
    return "\n".join(lines) + "\n"


def setting(job: JobSummary, shared: set[str]) -> str:
    """The job's overrides except its seed and those ``shared`` by every job: what tells its setting
    from the others."""
    kept = [item for item in job.overrides if not item.startswith("seed=") and item not in shared]
    return " ".join(kept) or "(every job)"


def spread(values: list[float], decimals: int) -> str:
    """``mean ± standard deviation`` (sample), or the value alone for one run."""
    if len(values) == 1:
        return f"{values[0]:.{decimals}f}"
    return f"{statistics.mean(values):.{decimals}f} ± {statistics.stdev(values):.{decimals}f}"


def seeds_table(jobs: list[JobSummary]) -> str:
    """A Markdown table of each setting (overrides but the seed; those of every job are listed above the
    job table) with ``test/acc`` over its seeds: runs, mean ± std, the smallest, epochs trained and wall
    time per run (mean). Jobs without ``test/acc`` are left out; an empty string if no setting has two
    runs."""
    tested = [job for job in jobs if finite_number(job.metrics.get("test/acc"))]
    shared = set.intersection(*(set(job.overrides) for job in tested)) if tested else set()
    groups: dict[str, list[JobSummary]] = {}
    for job in tested:
        groups.setdefault(setting(job, shared), []).append(job)
    if not any(len(group) > 1 for group in groups.values()):
        return ""
    lines = [
        "| setting | runs | test/acc mean ± std | smallest | epochs | wall time per run |",
        "|---|---|---|---|---|---|",
    ]
    for name, group in groups.items():
        accs = [float(job.metrics["test/acc"]) for job in group]
        epochs = sorted({job.epochs for job in group if job.epochs is not None})
        seconds = [job.seconds for job in group if job.seconds is not None]
        epoch_range = "-".join(map(str, epochs[:: max(1, len(epochs) - 1)])) or "-"
        wall = f"{statistics.mean(seconds) / 60:.1f} min" if seconds else "-"
        cells = [
            name.replace("|", r"\|"),
            str(len(group)),
            spread(accs, 4),
            f"{min(accs):.4f}",
            epoch_range,
            wall,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_summary(sweep_dir: Path, unreadable: list[str] | None = None) -> str:
    """Write ``summary.md`` and ``summary.json`` into ``sweep_dir``; returns the tables. ``unreadable``:
    as for :func:`collect`, which reads every job before anything is written."""
    jobs = collect(sweep_dir, unreadable)
    text = table(jobs)
    if seeds := seeds_table(jobs):
        text += f"\nOver seeds:\n\n{seeds}"
    (sweep_dir / SUMMARY_MARKDOWN).write_text(text)
    summary = {"columns": shown_columns(jobs), "jobs": [asdict(job) for job in jobs]}
    write_json(sweep_dir / SUMMARY_JSON, summary)
    return text


class SweepSummary(Callback):
    """Writes the sweep's summary after each multirun job and prints it when the multirun ends. A job's
    unreadable ``metrics.json`` shows ``-`` and is named on stderr after the summary, instead of raising:
    Hydra turns a callback's exception into a warning, and the summary of every other job would be lost."""

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if config.hydra.mode == RunMode.MULTIRUN:
            write_summary(Path(config.hydra.sweep.dir), unreadable=[])  # said once, at the end

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        unreadable: list[str] = []
        text = write_summary(sweep_dir, unreadable)
        print(f"\nsweep summary ({sweep_dir / SUMMARY_MARKDOWN}):\n{text}", end="", flush=True)
        for message in unreadable:
            print(f"warning: {message}", file=sys.stderr, flush=True)


@report_user_errors
def main(args: list[str]) -> None:
    """``python -m src.sweep DIR``: the tables of a finished sweep, printed and saved in ``DIR``. Refuses a
    ``DIR`` without a job before writing anything: its summary files would only litter a wrong folder."""
    if len(args) != 1:
        raise UserError(f"python -m src.sweep takes one argument, DIR, not {len(args)}: {SWEEP_DIR}")
    sweep_dir = Path(args[0])
    if not sweep_dir.is_dir():
        problem = "is not a directory" if sweep_dir.exists() else "does not exist"
        raise UserError(f"{sweep_dir} {problem}: {SWEEP_DIR}")
    if next(sweep_dir.glob(f"**/{JOB_FILE}"), None) is None:
        raise UserError(f"{sweep_dir} holds no job: {SWEEP_DIR}")
    print(write_summary(sweep_dir), end="")


if __name__ == "__main__":
    main(sys.argv[1:])
