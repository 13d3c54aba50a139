"""The summary of a Hydra multirun (the README's "Sweeps" and "MNIST experiments" sections): a table of
each job's overrides and final metrics, printed and saved in the sweep directory as ``summary.md`` and
``summary.json`` (every job's overrides and all its metrics).

:class:`SweepSummary`, a Hydra callback registered in ``conf/hydra/default.yaml``, rebuilds the table
from the sweep directory itself: each job's ``.hydra/overrides.yaml`` and the ``metrics.json`` its task
wrote (``src.train`` and ``src.evaluate`` write one). It does so after every job, so a sweep stopped by a
failing job still leaves the summary of the jobs before it, and once more at the end, when it prints it.
A job without ``metrics.json`` (it failed, or its task writes none) shows ``-``. A ``metrics.json`` that is
not a flat JSON object (written atomically, so damaged by something else) is an error naming it, except
during a sweep (:class:`SweepSummary`); an ``overrides.yaml`` that is not a list of strings always is. Both
files are data from outside: their shape is checked before the table walks them, so that neither a nested
one nor a YAML alias repeating what it names can make the summary take minutes or gigabytes.

Jobs that differ only in their ``seed=`` override are repeats of one setting: a second table
(:func:`seeds_table`) summarises each setting over its seeds. ``python -m src.sweep DIR`` prints both
tables for any folder of run directories (a sweep's, or single runs gathered in one folder).
"""

import io
import json
import math
import re
import statistics
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml
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
    """A job's ``metrics.json``. Its task writes it atomically, so one that is not a JSON object of metrics
    (:func:`metrics_problem`) was damaged by something else: none of its numbers can be trusted, and the
    summary must not hide that."""
    try:
        metrics = json.loads(path.read_text())
        reason = metrics_problem(metrics)
    except (OSError, ValueError) as error:  # ValueError: not JSON, or not UTF-8
        reason = str(error)
    except RecursionError:  # arrays or objects nested about a thousand deep: more than json reads
        reason = "nested too deeply to read"
    if reason:
        raise UserError(
            f"{path}: not a JSON object of metrics as src.train and src.evaluate write one "
            f"({' '.join(reason.split())[:80]}): rerun that job, or delete the file (the job then shows -)"
        )
    return metrics


def metrics_problem(metrics: Any) -> str:
    """Why the parsed ``metrics.json`` is not what src.train and src.evaluate write, or ``""``: a JSON object
    whose values are numbers (that a float holds) or strings; true, false and null are let through, the
    table shows them as ``-``. A nested value is refused: no task writes one, and copying one nested
    deeply enough into ``summary.json`` raised RecursionError after ``summary.md`` was written. So is an
    integer too large for a float: formatting it raised OverflowError."""
    if not isinstance(metrics, dict):
        return f"found {json.dumps(metrics)}"
    for name, value in metrics.items():
        if isinstance(value, list | dict):
            kind = "an array" if isinstance(value, list) else "an object"
            # the name last: a long one is cut, not what was wrong with it
            return f"found {kind}, not a number or a string, as {json.dumps(name)}"
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > sys.float_info.max:
            return f"found an integer too large for a float as {json.dumps(name)}"
    return ""


def read_overrides(path: Path) -> list[str]:
    """A job's overrides, the list of ``key=value`` strings Hydra writes to ``.hydra/overrides.yaml`` (an
    empty file: none). Anything else was damaged since, and is refused: first its YAML events are checked
    (:func:`yaml_nesting_problem`), then the list OmegaConf reads from it (:func:`overrides_problem`)."""
    overrides: Any = []
    try:
        text = path.read_text(encoding="utf-8")
        if not (reason := yaml_nesting_problem(text)):
            overrides = OmegaConf.to_container(OmegaConf.load(io.StringIO(text))) or []  # an empty file: none
            reason = overrides_problem(overrides)
    except Exception as error:  # YAML or OmegaConf errors, not UTF-8: a file damaged since
        reason = f"{type(error).__name__}: {error}"
    if reason:
        raise UserError(
            f"{path}: not the list of overrides Hydra writes ({' '.join(reason.split())[:80]}): delete that "
            "job's folder or rerun the sweep"
        )
    return overrides


def yaml_nesting_problem(text: str) -> str:
    """Why the YAML ``text`` cannot be a list of strings, seen in its parse events before anything is built
    from them, or ``""``: an alias, or a list or mapping inside another, neither of which Hydra writes.
    OmegaConf builds a node for each use of an alias, so a few hundred bytes of aliases nested a few levels
    deep took minutes and gigabytes to load; an alias of a long string, repeated, grows the summary with
    the square of the file's size; and PyYAML's scanner slows with the square of the nesting depth."""
    depth = 0
    for event in yaml.parse(text):
        if isinstance(event, yaml.AliasEvent):
            return f"found an alias {position(event)}, which Hydra never writes"
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > 1:  # stop at once: reading on would pay for the nesting
                kind = "a list" if isinstance(event, yaml.SequenceStartEvent) else "a mapping"
                return f"found {kind} {position(event)}, where a key=value string belongs"
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return ""


def position(event: yaml.Event) -> str:
    """Where ``event`` starts in its YAML text, counted from 1 as editors do."""
    return f"at line {event.start_mark.line + 1}, column {event.start_mark.column + 1}"


def overrides_problem(overrides: Any) -> str:
    """Why what OmegaConf read from ``overrides.yaml`` is not a list of strings, or ``""``."""
    if not isinstance(overrides, list):
        return f"found {overrides!r}"
    for number, item in enumerate(overrides, 1):
        if not isinstance(item, str):
            return f"found {item!r} as item {number}, not a key=value string"
    return ""


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
