"""``src.sweep``: a Hydra multirun ends with a table of each job's overrides and final metrics."""

import json
import re
from pathlib import Path

import pytest
from hydra.core.utils import JobReturn
from hydra.types import RunMode
from omegaconf import OmegaConf
from runs import run_module

from src.console import SweepEnd
from src.sweep import SweepSummary, collect, job_label, main, table, write_summary


def fake_job(sweep_dir: Path, job: str, overrides: list[str], metrics: dict | None) -> None:
    """A job directory as Hydra and ``src.train`` leave it: ``.hydra/overrides.yaml`` (+ metrics)."""
    hydra_dir = sweep_dir / job / ".hydra"
    hydra_dir.mkdir(parents=True)
    (hydra_dir / "overrides.yaml").write_text("".join(f"- {item}\n" for item in overrides))
    if metrics is not None:
        (sweep_dir / job / "metrics.json").write_text(json.dumps(metrics))


@pytest.mark.slow
def test_multirun_ends_with_a_summary_of_every_job(tmp_path):
    result = run_module(
        "src.train",
        "-m",
        "activation=sigmoid,relu",
        "trainer.max_epochs=1",
        "+trainer.enable_progress_bar=false",
        f"hydra.sweep.dir={tmp_path}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    # each job's directory is named by its number and its overrides (sorted by key, as Hydra does)
    assert [job["job"] for job in summary["jobs"]] == [
        "0_+trainer.enable_progress_bar=False,activation=sigmoid,trainer.max_epochs=1",
        "1_+trainer.enable_progress_bar=False,activation=relu,trainer.max_epochs=1",
    ]
    assert [job["overrides"][0] for job in summary["jobs"]] == ["activation=sigmoid", "activation=relu"]
    for job in summary["jobs"]:
        assert {"test/acc", "test/loss", "val/acc_best", "train/samples_per_sec"} <= job["metrics"].keys()
    markdown = (tmp_path / "summary.md").read_text()
    assert markdown.startswith("All jobs: trainer.max_epochs=1")
    # the table names each job by its number: its overrides have their own column
    rows = [line for line in markdown.splitlines() if line.startswith(("| 0 ", "| 1 "))]
    assert "activation=sigmoid" in rows[0] and "activation=relu" in rows[1]
    accuracy = f"{summary['jobs'][1]['metrics']['test/acc']:.4f}"
    assert accuracy in rows[1]
    assert markdown in result.stdout


def test_table_orders_jobs_and_marks_missing_metrics(tmp_path):
    metrics = {"test/acc": 0.91234, "test/loss": 0.1, "val/acc_best": 0.9, "train/samples_per_sec": 12345.6}
    fake_job(tmp_path, "10", ["lr=3", "seed=1"], metrics)
    fake_job(tmp_path, "2", ["lr=1", "seed=1"], None)  # failed before writing metrics.json
    fake_job(tmp_path, "0", ["lr=0.5|x", "seed=1"], metrics)
    jobs = collect(tmp_path)
    assert [job.job for job in jobs] == ["0", "2", "10"]
    lines = table(jobs).splitlines()
    assert lines[0] == "All jobs: seed=1"
    header, rule, *rows = lines[2:]
    assert len({len(line) for line in lines[2:]}) == 1  # columns line up
    assert header.startswith("| job | overrides") and set(rule) <= {"|", "-", " "}
    assert rows[0].startswith(r"| 0   | lr=0.5\|x ")  # a | in a value can't break the table
    assert [cell.strip() for cell in rows[1].split("|")[3:-1]] == ["-", "-", "-", "-"]
    assert [cell.strip() for cell in rows[2].split("|")[3:-1]] == ["0.9123", "0.1000", "0.9000", "12346"]


def test_job_labels():
    assert job_label("3_activation=relu,optimizer=adam") == "3"
    assert job_label("12") == "12"
    assert job_label("2026-12-04_run") == "2026-12-04_run"  # not a job number
    assert job_label("0_a/b=1") == "0_a/b=1"  # an override value that made a folder: the whole path
    assert job_label("7_") == "7"  # every override left out of the name (an evaluate sweep's ckpt_path)


def test_an_evaluate_sweep_is_shown_by_job_number_with_its_test_metrics_only(tmp_path):
    """``python -m src.evaluate -m ckpt_path=A,B``: Hydra names the jobs ``0_`` and ``1_`` (``ckpt_path`` is
    left out of the names), and they have test metrics only: no column of training metrics that would
    read as if they had failed."""
    for number, name in enumerate(["epoch_003.ckpt", "last.ckpt"]):
        metrics = {"test/acc": 0.5 + number / 10, "test/loss": 0.25, "ckpt_path": f"/runs/{name}"}
        fake_job(tmp_path, f"{number}_", [f"ckpt_path=/runs/{name}"], metrics)
    header, _, *rows = write_summary(tmp_path).splitlines()
    assert [cell.strip() for cell in header.split("|")[1:-1]] == ["job", "overrides", "test/acc", "test/loss"]
    assert [[cell.strip() for cell in row.split("|")[1:-1]] for row in rows] == [
        ["0", "ckpt_path=/runs/epoch_003.ckpt", "0.5000", "0.2500"],
        ["1", "ckpt_path=/runs/last.ckpt", "0.6000", "0.2500"],
    ]
    assert json.loads((tmp_path / "summary.json").read_text())["columns"] == ["test/acc", "test/loss"]
    fake_job(tmp_path, "2_", ["ckpt_path=/runs/gone.ckpt"], None)  # failed: its row shows -
    last = table(collect(tmp_path)).splitlines()[-1]
    assert [cell.strip() for cell in last.split("|")[1:-1]] == ["2", "ckpt_path=/runs/gone.ckpt", "-", "-"]


def test_a_sweep_ends_with_the_tensorboard_command_only_where_a_job_wrote_its_logs(
    tmp_path, capsys, monkeypatch
):
    """An evaluate sweep writes no TensorBoard logs (nor a training sweep with logger=csv): no command that
    would open an empty TensorBoard."""
    sweep_dir = tmp_path / "sweep"
    (tmp_path / "elsewhere").mkdir()
    # outside the working directory, so the command names it in full (pytest's base temporary directory
    # may lie inside the working directory: tests.mutation puts it in its work directory)
    monkeypatch.chdir(tmp_path / "elsewhere")
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep_dir)}}})
    fake_job(sweep_dir, "0_", ["ckpt_path=/runs/last.ckpt"], {"test/acc": 0.5})
    SweepEnd().on_multirun_end(config)
    assert capsys.readouterr().out == ""
    (sweep_dir / "0_" / "tensorboard").mkdir()
    (sweep_dir / "0_" / "tensorboard" / "events.out.tfevents.1.host.1.0").write_bytes(b"")
    SweepEnd().on_multirun_end(config)
    assert capsys.readouterr().out == f"tensorboard --logdir {sweep_dir}\n"


def test_single_job_and_no_jobs(tmp_path):
    assert "| job |" in write_summary(tmp_path)
    assert json.loads((tmp_path / "summary.json").read_text())["jobs"] == []
    fake_job(tmp_path, "0", [], {"test/acc": 1.0})
    assert "| 0   | (none)" in table(collect(tmp_path))


def test_each_multirun_job_refreshes_the_summary_and_single_runs_leave_none(tmp_path):
    """So a sweep that a failing job stops still leaves the summary of the jobs before it."""
    fake_job(tmp_path, "0", ["lr=1"], {"test/acc": 0.5})
    for mode in (RunMode.RUN, RunMode.MULTIRUN):
        config = OmegaConf.create({"hydra": {"mode": mode, "sweep": {"dir": str(tmp_path)}}})
        SweepSummary().on_job_end(config, JobReturn())
        assert (tmp_path / "summary.md").exists() == (mode == RunMode.MULTIRUN)
    assert "| 0   | lr=1" in (tmp_path / "summary.md").read_text()


SWEEP_DIR = (
    "give a sweep directory written by python -m src.train -m ... (or a folder of run directories), "
    "holding job directories with .hydra/overrides.yaml"
)


def refusal(args: list[str], capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The lines ``python -m src.sweep ARGS`` prints to stderr, having exited with code 2 and printed
    nothing else."""
    with pytest.raises(SystemExit) as ended:
        main(args)
    captured = capsys.readouterr()
    assert (ended.value.code, captured.out) == (2, "")
    return captured.err.splitlines()


def test_the_command_refuses_a_folder_without_jobs_and_writes_nothing(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "wrong" / "run").mkdir(parents=True)
    (tmp_path / "wrong" / "run" / "metrics.json").write_text("{}")  # no .hydra/overrides.yaml: no job
    (tmp_path / "file").write_text("")
    before = sorted(tmp_path.rglob("*"))
    for name, problem in (
        ("nowhere", "does not exist"),
        ("file", "is not a directory"),
        ("empty", "holds no job"),
        ("wrong", "holds no job"),
    ):
        assert refusal([str(tmp_path / name)], capsys) == [f"error: {tmp_path / name} {problem}: {SWEEP_DIR}"]
    assert refusal([], capsys) == [f"error: python -m src.sweep takes one argument, DIR, not 0: {SWEEP_DIR}"]
    assert sorted(tmp_path.rglob("*")) == before


def test_a_corrupt_metrics_json_is_an_error_naming_it_and_nothing_is_written(tmp_path, capsys):
    fake_job(tmp_path, "0", ["lr=1"], {"test/acc": 0.5})
    fake_job(tmp_path, "1", ["lr=2"], None)  # missing: fine, shows -
    fake_job(tmp_path, "2", ["lr=3"], None)
    for corrupt, found in (
        ("{bad", "Expecting property name"),
        ("[1]", "found [1]"),
        ("", "Expecting value"),
    ):
        (tmp_path / "2" / "metrics.json").write_text(corrupt)
        [line] = refusal([str(tmp_path)], capsys)
        assert line.startswith(f"error: {tmp_path / '2' / 'metrics.json'}: not a JSON object of metrics")
        assert found in line and line.endswith("rerun that job, or delete the file (the job then shows -)")
    assert not (tmp_path / "summary.md").exists() and not (tmp_path / "summary.json").exists()
    (tmp_path / "2" / "metrics.json").unlink()
    main([str(tmp_path)])
    assert "| 1   | lr=2      | -  " in capsys.readouterr().out


def test_a_damaged_overrides_file_is_an_error_naming_it_and_nothing_is_written(tmp_path, capsys):
    fake_job(tmp_path, "0", ["lr=1"], {"test/acc": 0.5})
    overrides = tmp_path / "0" / ".hydra" / "overrides.yaml"
    for damaged, found in (
        (b"[unclosed", "ParserError"),
        (b"5", "Invalid loaded object type"),
        (b"\xff\xfe", "utf-8"),
    ):
        overrides.write_bytes(damaged)
        [line] = refusal([str(tmp_path)], capsys)
        assert (
            line.startswith(f"error: {overrides}: not the list of overrides Hydra writes (") and found in line
        )
    assert not (tmp_path / "summary.md").exists() and not (tmp_path / "summary.json").exists()


def test_a_damaged_checkpoint_or_a_metric_that_is_no_number_shows_dash(tmp_path, capsys):
    """The epochs column reads each job's last.ckpt; NaN and true in metrics.json are no accuracy to
    average (NaN stopped the seeds table with a traceback)."""
    for job, seed, acc in (("0", 1, float("nan")), ("1", 1, True), ("2", 2, 0.5), ("3", 2, 0.7)):
        fake_job(tmp_path, job, ["lr=1", f"seed={seed}"], {"test/acc": acc})
    (tmp_path / "2" / "checkpoints").mkdir()
    for damaged in (b"", b"not a checkpoint", b"PK\x03\x04"):
        (tmp_path / "2" / "checkpoints" / "last.ckpt").write_bytes(damaged)
        assert [job.epochs for job in collect(tmp_path)] == [None] * 4
        main([str(tmp_path)])
        out = capsys.readouterr().out
        assert "| 0   | seed=1    | -  " in out and "| 1   | seed=1    | -  " in out
        assert "| (every job) | 2 | 0.6000 ± 0.1414 | 0.5000 | - |" in out  # jobs 2 and 3


def test_during_a_sweep_a_corrupt_metrics_json_shows_dash_and_is_named_at_the_end(tmp_path, capsys):
    """A sweep goes on and keeps its summary: the damaged job's numbers are left out, and said so once."""
    fake_job(tmp_path, "0", ["lr=1"], {"test/acc": 0.5})
    fake_job(tmp_path, "1", ["lr=2"], None)
    (tmp_path / "1" / "metrics.json").write_text("{bad")
    config = OmegaConf.create({"hydra": {"mode": RunMode.MULTIRUN, "sweep": {"dir": str(tmp_path)}}})
    SweepSummary().on_job_end(config, JobReturn())
    assert capsys.readouterr() == ("", "")
    rows = (tmp_path / "summary.md").read_text().splitlines()[2:]
    assert [cell.strip() for cell in rows[1].split("|")[1:4]] == ["1", "lr=2", "-"]
    SweepSummary().on_multirun_end(config)
    out, err = capsys.readouterr()
    assert "| 0   | lr=1      | 0.5000 " in out
    [line] = err.splitlines()
    assert line.startswith(f"warning: {tmp_path / '1' / 'metrics.json'}: not a JSON object of metrics")


@pytest.mark.slow
def test_the_command_line_says_one_error_line_and_exits_2(tmp_path):
    """``python -m src.sweep`` itself, on a folder without jobs and on a job's corrupt metrics.json."""
    result = run_module("src.sweep", str(tmp_path))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines() == [f"error: {tmp_path} holds no job: {SWEEP_DIR}"]
    fake_job(tmp_path, "0", ["lr=1"], None)
    (tmp_path / "0" / "metrics.json").write_text("{bad")
    result = run_module("src.sweep", str(tmp_path))
    assert (result.returncode, result.stdout, len(result.stderr.splitlines())) == (2, "", 1)
    assert result.stderr.startswith(f"error: {tmp_path / '0' / 'metrics.json'}: not a JSON object of metrics")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["0"]


def logged(log_file: Path) -> list[str]:
    """The lines of a run's ``train.log`` without their time: ``[origin][LEVEL] - message``."""
    return [re.sub(r"^\[[^]]*\]", "", line) for line in log_file.read_text().splitlines()]


@pytest.mark.slow
def test_a_sweep_prints_one_line_per_job_then_its_summary(tmp_path):
    result = run_module(
        "src.train", "-m", "activation=sigmoid,relu", "trainer.max_epochs=1", f"hydra.sweep.dir={tmp_path}"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[:5] == [
        "Launching 2 jobs locally",
        "\t#0 : activation=sigmoid trainer.max_epochs=1",
        lines[2],
        "\t#1 : activation=relu trainer.max_epochs=1",
        lines[4],
    ]
    for line, job in ((lines[2], "0_activation=sigmoid"), (lines[4], "1_activation=relu")):
        assert re.fullmatch(
            rf"  val/acc_best 0\.\d{{4}}  test/acc 0\.\d{{4}}  test/loss 0\.\d{{4}}  "
            rf"{tmp_path}/{job},trainer\.max_epochs=1",
            line,
        )
    summary = (tmp_path / "summary.md").read_text()
    assert (
        "\n".join(lines[5:])
        == f"\nsweep summary ({tmp_path}/summary.md):\n{summary}tensorboard --logdir {tmp_path}"
    )
    # each job's log holds what a single run's does (its console holds none of it): it was empty
    rank_zero = "[lightning.pytorch.utilities.rank_zero][INFO] - "
    for activation, job in (("sigmoid", "0_activation=sigmoid"), ("relu", "1_activation=relu")):
        checkpoint = tmp_path / f"{job},trainer.max_epochs=1" / "checkpoints" / "epoch_000.ckpt"
        assert logged(checkpoint.parents[1] / "train.log") == [
            f"{rank_zero}GPU available: False, used: False",
            f"{rank_zero}TPU available: False, using: 0 TPU cores",
            f"[src.console][INFO] - model: 64-16-16-10 {activation} neurons, mse cost, manual backprop: 1,482 "
            "parameters (5.9 kB)",
            f"{rank_zero}`Trainer.fit` stopped: `max_epochs=1` reached.",
            f"{rank_zero}Restoring states from the checkpoint path at {checkpoint}",
            f"{rank_zero}Loaded model weights from the checkpoint at {checkpoint}",
        ]
