"""Fast checks of a sweep's summary (src/sweep.py) and of what a run writes besides Lightning's files
(src/metrics_file.py) that call their functions directly, on job folders, ``metrics.json`` files and
checkpoints written in ``tmp_path``: each file read or refused with its one-line message, the epochs read
from a checkpoint, the two tables cell by cell, the files written, the callback's output and the command
run in-process. tests/test_sweep.py and tests/test_results_table.py test the same through whole sweeps."""

import fractions
import io
import json
import os
import runpy
import sys
import warnings
from pathlib import Path

import pytest
import torch
from hydra.types import RunMode
from omegaconf import OmegaConf

from src.errors import UserError
from src.metrics_file import FINAL_METRICS, as_number, collect_metrics, write_json
from src.sweep import (
    JobSummary,
    SweepSummary,
    cell,
    collect,
    epochs_trained,
    main,
    natural_key,
    read_metrics,
    read_overrides,
    seeds_table,
    table,
    write_summary,
)

SWEEP_DIR = (
    "give a sweep directory written by python -m src.train -m ... (or a folder of run directories), "
    "holding job directories with .hydra/overrides.yaml"
)


def job_dir(
    sweep_dir: Path, name: str, overrides: str, metrics: str | None = None, seconds: float = 0.0
) -> Path:
    """A job folder as Hydra and ``src.train`` leave it: ``.hydra/overrides.yaml`` holding ``overrides``
    and, unless ``None``, ``metrics.json`` holding ``metrics``, written ``seconds`` after the overrides."""
    directory = sweep_dir / name
    (directory / ".hydra").mkdir(parents=True)
    overrides_file = directory / ".hydra" / "overrides.yaml"
    overrides_file.write_text(overrides)
    os.utime(overrides_file, (1_000_000.0, 1_000_000.0))
    if metrics is not None:
        (directory / "metrics.json").write_text(metrics)
        os.utime(directory / "metrics.json", (1_000_000.0 + seconds, 1_000_000.0 + seconds))
    return directory


def metrics_refusal(path: Path, reason: str) -> str:
    return (
        f"{path}: not a JSON object of metrics as src.train and src.evaluate write one ({reason}): rerun "
        "that job, or delete the file (the job then shows -)"
    )


def overrides_refusal(path: Path, reason: str) -> str:
    return (
        f"{path}: not the list of overrides Hydra writes ({reason}): delete that job's folder or rerun the "
        "sweep"
    )


# src/metrics_file.py


def test_a_metric_is_a_plain_float_whether_a_tensor_or_a_number():
    for value, number in ((torch.tensor(0.25), 0.25), (torch.tensor(7), 7.0), (3, 3.0), (0.5, 0.5)):
        converted = as_number(value)
        assert type(converted) is float and converted == number


def test_only_the_named_metrics_that_were_logged_are_collected_in_their_order():
    logged = {"train/loss": torch.tensor(1.5), "epoch": 3, "val/acc": torch.tensor(0.75), "test/acc": 1}
    collected = collect_metrics(logged, FINAL_METRICS)
    assert list(collected.items()) == [("test/acc", 1.0), ("val/acc", 0.75), ("train/loss", 1.5)]
    assert all(type(value) is float for value in collected.values())
    assert collect_metrics(logged, ["test/loss"]) == {}


def test_json_is_written_sorted_indented_by_two_with_a_final_newline_replacing_the_file(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text("an earlier file, longer than the new one: nothing of it may be left\n")
    write_json(path, {"val/acc": 0.5, "ckpt_path": "/runs/last.ckpt", "test": {"b": [1], "a": None}})
    assert path.read_text() == (
        "{\n"
        '  "ckpt_path": "/runs/last.ckpt",\n'
        '  "test": {\n'
        '    "a": null,\n'
        '    "b": [\n'
        "      1\n"
        "    ]\n"
        "  },\n"
        '  "val/acc": 0.5\n'
        "}\n"
    )
    assert [item.name for item in tmp_path.iterdir()] == ["metrics.json"]  # no temporary file left


# reading a job


def test_job_names_sort_by_the_value_of_their_numbers():
    assert natural_key("job10_seed=2") == ["job", 10, "_seed=", 2, ""]
    names = ["10_a", "9_b", "1_c", "run2", "run10", "run1"]
    assert sorted(names, key=natural_key) == ["1_c", "9_b", "10_a", "run1", "run2", "run10"]


LARGEST = int(sys.float_info.max)
"""The largest integer a float holds: exactly ``sys.float_info.max``."""


def test_a_metrics_json_object_is_read_as_written(tmp_path):
    path = tmp_path / "metrics.json"
    for text, metrics in (
        ("{}", {}),
        ('{"test/acc": 0.5, "ckpt_path": "x"}', {"test/acc": 0.5, "ckpt_path": "x"}),
        # no number, shown as -; the largest float
        (
            '{"test/acc": true, "a": null, "b": 1e308, "c": -7}',
            {"test/acc": True, "a": None, "b": 1e308, "c": -7},
        ),
        # the largest integer a float holds (exactly sys.float_info.max), and its negative
        (
            f'{{"a": {int(sys.float_info.max)}, "b": -{int(sys.float_info.max)}}}',
            {"a": LARGEST, "b": -LARGEST},
        ),
    ):
        path.write_text(text)
        assert read_metrics(path) == metrics


def test_each_unreadable_metrics_json_is_one_line_naming_it_and_why(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a relative path: the operating system's message names it as given
    folder = Path("folder") / "metrics.json"
    folder.mkdir(parents=True)
    path = Path("metrics.json")
    numbers = json.dumps(list(range(40)))
    for content, reason in (
        (None, "[Errno 21] Is a directory: 'folder/metrics.json'"),  # an OSError
        (b"\xff{}", "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"),
        (b"null", "found null"),
        (b'"a  b\\n c"', 'found "a b\\n c"'),  # runs of spaces said as one
        # cut at 80 characters
        (
            numbers.encode(),
            "found [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,",
        ),
        # more than json reads: a RecursionError, which was a traceback
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply to read"),
        # a nested value: no task writes one (one nested deeply enough stopped the summary half-written)
        (b'{"test/acc": 0.5, "x": [[1]]}', 'found an array, not a number or a string, as "x"'),
        (b'{"x": {}}', 'found an object, not a number or a string, as "x"'),
        # formatting it raised OverflowError
        (b'{"test/acc": 1' + b"0" * 400 + b"}", 'found an integer too large for a float as "test/acc"'),
    ):
        target = folder if content is None else path
        if content is not None:
            path.write_bytes(content)
        with pytest.raises(UserError) as error:
            read_metrics(target)
        assert str(error.value) == metrics_refusal(target, reason)


def test_overrides_are_read_as_strings_and_an_empty_file_has_none(tmp_path):
    path = tmp_path / "overrides.yaml"
    for text, overrides in (("- lr=0.5\n- seed=2\n", ["lr=0.5", "seed=2"]), ("", [])):
        path.write_text(text)
        assert read_overrides(path) == overrides


def test_each_damaged_overrides_file_is_one_line_naming_it_and_why(tmp_path):
    path = tmp_path / "overrides.yaml"
    long_mapping = "".join(f"key{number}: {number}\n" for number in range(12))
    for text, reason in (
        ("5\n", "OSError: Invalid loaded object type: int"),
        ("'a  b': 1\n", "found {'a b': 1}"),  # runs of spaces said as one
        (
            long_mapping,  # cut at 80 characters
            "found {'key0': 0, 'key1': 1, 'key2': 2, 'key3': 3, 'key4': 4, 'key5': 5, 'key6':",
        ),
    ):
        path.write_text(text)
        with pytest.raises(UserError) as error:
            read_overrides(path)
        assert str(error.value) == overrides_refusal(path, reason)


def alias_bomb(levels: int) -> str:
    """A list of ``levels`` lists of nine, each list's items the one before it (YAML aliases): a few hundred
    bytes that stand for ``9 ** levels`` strings."""
    lines = ["- &a0 [x=1, x=1, x=1, x=1, x=1, x=1, x=1, x=1, x=1]"]
    lines += [f"- &a{level} [{', '.join([f'*a{level - 1}'] * 9)}]" for level in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_overrides_that_are_not_all_strings_are_refused_before_omegaconf_builds_them(tmp_path, monkeypatch):
    """Hydra writes a list of ``key=value`` strings, without aliases. OmegaConf builds a node for each use
    of an alias: six levels of :func:`alias_bomb` took minutes and gigabytes, nine crashed the process.
    Nesting and aliases are refused from YAML's events alone, so OmegaConf is not asked to load them."""
    loaded = []
    load = OmegaConf.load
    monkeypatch.setattr(OmegaConf, "load", lambda file: loaded.append(file) or load(file))
    path = tmp_path / "overrides.yaml"
    deep = "- " + "[" * 100_000 + "]" * 100_000  # PyYAML took minutes to scan it all
    long_alias = "- &s x=" + "a" * 1000 + "\n" + "- *s\n" * 1000  # the table would hold a megabyte
    for text, reason in (
        (alias_bomb(4), "found a list at line 1, column 3, where a key=value string belongs"),
        (alias_bomb(30), "found a list at line 1, column 3, where a key=value string belongs"),
        ("- lr=1\n- [a, b]\n", "found a list at line 2, column 3, where a key=value string belongs"),
        ("- lr=1\n- a: 1\n", "found a mapping at line 2, column 3, where a key=value string belongs"),
        (deep, "found a list at line 1, column 3, where a key=value string belongs"),
        (long_alias, "found an alias at line 2, column 3, which Hydra never writes"),
        ("- &s lr=1\n- *s\n", "found an alias at line 2, column 3, which Hydra never writes"),
        ("- lr=1\n-  [a]\n", "found a list at line 2, column 4, where a key=value string belongs"),
        # a second document: its list is at the top, the one inside it nested
        ("- lr=1\n---\n- [a]\n", "found a list at line 3, column 3, where a key=value string belongs"),
    ):
        path.write_text(text)
        with pytest.raises(UserError) as error:
            read_overrides(path)
        assert str(error.value) == overrides_refusal(path, reason)
    assert loaded == []
    path.write_text("- lr=1\n")
    assert read_overrides(path) == ["lr=1"] and len(loaded) == 1  # what Hydra writes, OmegaConf reads


def test_an_override_that_is_no_string_is_refused(tmp_path):
    """Each item Hydra writes is a ``key=value`` string: a number, null or true in its place is not one."""
    path = tmp_path / "overrides.yaml"
    for text, reason in (
        ("- 7\n", "found 7 as item 1, not a key=value string"),
        ("- lr=1\n- null\n", "found None as item 2, not a key=value string"),
        ("- lr=1\n- seed=2\n- true\n", "found True as item 3, not a key=value string"),
    ):
        path.write_text(text)
        with pytest.raises(UserError) as error:
            read_overrides(path)
        assert str(error.value) == overrides_refusal(path, reason)


def test_the_command_refuses_an_alias_bomb_in_one_line_writing_nothing(tmp_path, capsys):
    job_dir(tmp_path, "0", "- lr=1\n", '{"test/acc": 0.5}')
    bomb = job_dir(tmp_path, "1", alias_bomb(4)) / ".hydra" / "overrides.yaml"
    with pytest.raises(SystemExit) as ended:
        main([str(tmp_path)])
    captured = capsys.readouterr()
    assert (ended.value.code, captured.out) == (2, "")
    reason = "found a list at line 1, column 3, where a key=value string belongs"
    assert captured.err.splitlines() == [f"error: {overrides_refusal(bomb, reason)}"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["0", "1"]


def test_the_command_refuses_a_nested_metric_in_one_line_writing_nothing(tmp_path, capsys):
    """A value nested 600 deep: copying it into summary.json raised RecursionError, after summary.md was
    written."""
    nested = '{"test/acc": 0.5, "x": ' + "[" * 600 + "]" * 600 + "}"
    metrics = job_dir(tmp_path, "0", "- lr=1\n", nested) / "metrics.json"
    with pytest.raises(SystemExit) as ended:
        main([str(tmp_path)])
    captured = capsys.readouterr()
    assert (ended.value.code, captured.out) == (2, "")
    reason = 'found an array, not a number or a string, as "x"'
    assert captured.err.splitlines() == [f"error: {metrics_refusal(metrics, reason)}"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["0"]


def save_last(directory: Path, checkpoint, **options) -> None:
    (directory / "checkpoints").mkdir(exist_ok=True)
    torch.save(checkpoint, directory / "checkpoints" / "last.ckpt", **options)


def test_the_epochs_trained_are_the_last_checkpoints_epoch_plus_one(tmp_path):
    assert epochs_trained(tmp_path) is None  # no checkpoint
    for epoch, epochs in ((0, 1), (4, 5), (-1, None), (-2, None), (True, None), (2.0, None), ("3", None)):
        save_last(tmp_path, {"epoch": epoch, "state_dict": {}})
        assert epochs_trained(tmp_path) == epochs, epoch
    save_last(tmp_path, {"state_dict": {}})
    assert epochs_trained(tmp_path) is None


def test_a_last_checkpoint_that_is_not_one_of_ours_has_no_epoch_count(tmp_path):
    """Read without running code (``weights_only``), and from torch's zip format, which every checkpoint
    Lightning saves is in."""
    for checkpoint, options in (
        ([{"epoch": 3}], {}),  # not a dict
        ({"epoch": 3, "note": fractions.Fraction(1, 2)}, {}),  # a class weights_only refuses
        ({"epoch": 3}, {"_use_new_zipfile_serialization": False}),  # torch's legacy format
    ):
        save_last(tmp_path, checkpoint, **options)
        assert epochs_trained(tmp_path) is None, checkpoint
    save_last(tmp_path, {"epoch": 3})
    assert epochs_trained(tmp_path) == 4  # the same file written in the zip format


def test_collect_reads_every_job_below_the_folder_in_job_order(tmp_path):
    job_dir(tmp_path, "10", "- lr=1\n", '{"test/acc": 0.5}', seconds=90.0)
    save_last(job_dir(tmp_path, "2", "- lr=2\n"), {"epoch": 6})  # no metrics.json: failed
    job_dir(tmp_path, "deeper/1", "", "{}", seconds=30.5)
    assert collect(tmp_path) == [
        JobSummary("2", ["lr=2"], {}, 7, None),
        JobSummary("10", ["lr=1"], {"test/acc": 0.5}, None, 90.0),
        JobSummary("deeper/1", [], {}, None, 30.5),
    ]


def test_a_jobs_wall_time_is_the_difference_of_its_files_times_whatever_they_are(tmp_path):
    """Times near 1970 too (a folder unpacked or copied with its files' times set so): the difference, not
    a remainder that equals it only while a job takes less time than has passed since 1970."""
    directory = job_dir(tmp_path, "0", "- lr=1\n", "{}")
    os.utime(directory / ".hydra" / "overrides.yaml", (100.0, 100.0))
    os.utime(directory / "metrics.json", (400.0, 400.0))
    assert [job.seconds for job in collect(tmp_path)] == [300.0]


def test_collect_raises_on_an_unreadable_metrics_json_or_lists_it_and_shows_the_job_without(tmp_path):
    job_dir(tmp_path, "0", "- lr=1\n", "[1]")
    job_dir(tmp_path, "1", "- lr=2\n", '{"test/acc": 0.5}')
    with pytest.raises(UserError) as error:
        collect(tmp_path)
    message = metrics_refusal(tmp_path / "0" / "metrics.json", "found [1]")
    assert str(error.value) == message
    unreadable = ["an earlier message"]
    jobs = collect(tmp_path, unreadable)
    assert unreadable == ["an earlier message", message]
    assert [(job.job, job.metrics, job.seconds) for job in jobs] == [
        ("0", {}, None),
        ("1", {"test/acc": 0.5}, 0.0),
    ]


# the tables


def test_a_cell_shows_a_finite_number_only():
    metrics = {
        "a": 0.12345,
        "b": 2,
        "c": float("nan"),
        "d": float("inf"),
        "e": -float("inf"),
        "f": True,
        "g": "0.5",
        "h": None,
        "train/samples_per_sec": 12345.5,
        "i": -0.5,
    }
    shown = {name: cell(metrics, name) for name in [*metrics, "missing"]}
    assert shown == {
        "a": "0.1235",
        "b": "2.0000",
        "c": "-",
        "d": "-",
        "e": "-",
        "f": "-",
        "g": "-",
        "h": "-",
        "train/samples_per_sec": "12346",
        "i": "-0.5000",
        "missing": "-",
    }


def test_the_job_table_cell_by_cell():
    """Two jobs: the override they share is listed once above the table."""
    jobs = [
        JobSummary("0_lr=1,seed=1", ["lr=1", "seed=1"], {"test/acc": 0.5, "val/acc_best": 0.25}),
        JobSummary("1_lr=10,seed=1", ["lr=10", "seed=1"], {"test/acc": 0.125}),
    ]
    assert table(jobs) == (
        "All jobs: seed=1\n"
        "\n"
        "| job | overrides | test/acc | val/acc_best |\n"
        "| --- | --------- | -------- | ------------ |\n"
        "| 0   | lr=1      | 0.5000   | 0.2500       |\n"
        "| 1   | lr=10     | 0.1250   | -            |\n"
    )


def test_one_jobs_overrides_stay_in_its_row():
    assert table([JobSummary("run", ["lr=1", "seed=1"], {})]) == (
        "| job | overrides   | test/acc | test/loss | val/acc_best | train/samples_per_sec |\n"
        "| --- | ----------- | -------- | --------- | ------------ | --------------------- |\n"
        "| run | lr=1 seed=1 | -        | -         | -            | -                     |\n"
    )


def test_shared_overrides_are_listed_in_the_first_jobs_order_and_a_bar_is_escaped():
    jobs = [
        JobSummary("0", ["b=1", "x=a|b", "a=2", "c=3"], {}),
        JobSummary("1", ["a=2", "b=1", "x=a|b", "c=4"], {}),
    ]
    first_lines = table(jobs).splitlines()[:3]
    assert first_lines == ["All jobs: b=1 x=a\\|b a=2", "", first_lines[2]]


def acc_job(name: str, overrides: list[str], acc, epochs: int | None = None, seconds: float | None = None):
    return JobSummary(name, overrides, {"test/acc": acc}, epochs, seconds)


def test_the_seeds_table_cell_by_cell():
    jobs = [
        acc_job("0", ["data.root=D", "lr=1", "seed=1"], 0.5, epochs=3, seconds=540.0),
        acc_job("1", ["data.root=D", "lr=1", "seed=2"], 0.75, epochs=5, seconds=660.0),
        acc_job("2", ["data.root=D", "lr=1|2", "seed=1"], 0.25, epochs=4, seconds=30.0),
        acc_job("3", ["data.root=D", "lr=3", "seed=1"], 0.5, epochs=2, seconds=None),
        acc_job("4", ["data.root=D", "lr=3", "seed=2"], 0.5, epochs=2, seconds=None),
        acc_job("5", ["data.root=D", "lr=4", "seed=1"], 1.0),
        acc_job("6", ["data.root=D", "lr=4", "seed=2"], 0.0, epochs=1, seconds=6.0),
        acc_job("7", ["data.root=D", "lr=4", "seed=3"], 0.5, epochs=9, seconds=12.0),
        acc_job("8", ["data.root=D", "lr=4", "seed=4"], 0.5, epochs=3, seconds=18.0),
        acc_job("9", ["data.root=D", "lr=1", "seed=3"], float("nan"), epochs=50, seconds=600.0),
        acc_job("10", ["lr=1", "seed=4"], None, epochs=50, seconds=600.0),  # no test/acc: left out
    ]
    assert seeds_table(jobs).splitlines() == [
        "| setting | runs | test/acc mean ± std | smallest | epochs | wall time per run |",
        "|---|---|---|---|---|---|",
        "| lr=1 | 2 | 0.6250 ± 0.1768 | 0.5000 | 3-5 | 10.0 min |",
        "| lr=1\\|2 | 1 | 0.2500 | 0.2500 | 4 | 0.5 min |",
        "| lr=3 | 2 | 0.5000 ± 0.0000 | 0.5000 | 2 | - |",
        "| lr=4 | 4 | 0.5000 ± 0.4082 | 0.0000 | 1-9 | 0.2 min |",
    ]


def test_seeds_of_runs_without_any_other_override_are_one_setting():
    jobs = [acc_job("0", ["seed=1"], 0.5), acc_job("1", ["seed=2"], 1.0), acc_job("2", [], 0.0)]
    assert seeds_table(jobs).splitlines()[2:] == ["| (every job) | 3 | 0.5000 ± 0.5000 | 0.0000 | - | - |"]


def test_no_seeds_table_without_two_runs_of_one_setting():
    assert seeds_table([acc_job("0", ["lr=1", "seed=1"], 0.5), acc_job("1", ["lr=2", "seed=1"], 0.5)]) == ""
    assert seeds_table([acc_job("0", ["seed=1"], 0.5), acc_job("1", ["seed=2"], None)]) == ""
    assert seeds_table([]) == ""


# the files written, the callback and the command


def test_the_summary_files_hold_the_tables_and_every_jobs_record(tmp_path):
    save_last(job_dir(tmp_path, "0", "- lr=1\n- seed=1\n", '{"test/acc": 0.5, "x": 1}', 60.0), {"epoch": 1})
    job_dir(tmp_path, "1", "- lr=1\n- seed=2\n", '{"test/acc": 1.0}', 180.0)
    text = write_summary(tmp_path)
    assert text == (
        "All jobs: lr=1\n"
        "\n"
        "| job | overrides | test/acc |\n"
        "| --- | --------- | -------- |\n"
        "| 0   | seed=1    | 0.5000   |\n"
        "| 1   | seed=2    | 1.0000   |\n"
        "\n"
        "Over seeds:\n"
        "\n"
        "| setting | runs | test/acc mean ± std | smallest | epochs | wall time per run |\n"
        "|---|---|---|---|---|---|\n"
        "| (every job) | 2 | 0.7500 ± 0.3536 | 0.5000 | 2 | 2.0 min |\n"
    )
    assert (tmp_path / "summary.md").read_text() == text
    assert json.loads((tmp_path / "summary.json").read_text()) == {
        "columns": ["test/acc"],
        "jobs": [
            {
                "job": "0",
                "overrides": ["lr=1", "seed=1"],
                "metrics": {"test/acc": 0.5, "x": 1},
                "epochs": 2,
                "seconds": 60.0,
            },
            {
                "job": "1",
                "overrides": ["lr=1", "seed=2"],
                "metrics": {"test/acc": 1.0},
                "epochs": None,
                "seconds": 180.0,
            },
        ],
    }


def test_jobs_that_all_failed_show_every_column_as_dash(tmp_path):
    job_dir(tmp_path, "0", "- lr=1\n")
    assert write_summary(tmp_path) == (
        "| job | overrides | test/acc | test/loss | val/acc_best | train/samples_per_sec |\n"
        "| --- | --------- | -------- | --------- | ------------ | --------------------- |\n"
        "| 0   | lr=1      | -        | -         | -            | -                     |\n"
    )
    columns = json.loads((tmp_path / "summary.json").read_text())["columns"]
    assert columns == ["test/acc", "test/loss", "val/acc_best", "train/samples_per_sec"]


def test_the_multirun_end_prints_the_summary_then_each_unreadable_file_on_stderr(tmp_path, capsys):
    job_dir(tmp_path, "0", "- lr=1\n", "[1]")
    job_dir(tmp_path, "1", "- lr=2\n", '{"test/acc": 0.5}')
    job_dir(tmp_path, "2", "- lr=3\n", "null")
    config = OmegaConf.create({"hydra": {"mode": RunMode.MULTIRUN, "sweep": {"dir": str(tmp_path)}}})
    SweepSummary().on_multirun_end(config)
    out, err = capsys.readouterr()
    assert out == f"\nsweep summary ({tmp_path / 'summary.md'}):\n{(tmp_path / 'summary.md').read_text()}"
    assert "| 1   | lr=2      | 0.5000   |" in out
    assert sorted(err.splitlines()) == [  # in the order the files were found
        f"warning: {metrics_refusal(tmp_path / '0' / 'metrics.json', 'found [1]')}",
        f"warning: {metrics_refusal(tmp_path / '2' / 'metrics.json', 'found null')}",
    ]


def test_the_summary_is_written_out_before_the_warnings_that_follow_it(tmp_path, monkeypatch):
    """Each stream is flushed as it is printed: where both go to one pipe or file (buffered), the
    warnings still follow the summary, and nothing waits in a buffer."""
    job_dir(tmp_path, "0", "- lr=1\n", "[1]")
    config = OmegaConf.create({"hydra": {"mode": RunMode.MULTIRUN, "sweep": {"dir": str(tmp_path)}}})
    shared = io.BytesIO()
    streams = {name: io.TextIOWrapper(shared, encoding="utf-8") for name in ("stdout", "stderr")}
    for name, stream in streams.items():
        monkeypatch.setattr(sys, name, stream)
    SweepSummary().on_multirun_end(config)
    written = shared.getvalue().decode()
    for stream in streams.values():
        stream.detach()  # leaves the shared buffer open
    summary = (tmp_path / "summary.md").read_text()
    warning = metrics_refusal(tmp_path / "0" / "metrics.json", "found [1]")
    assert written == f"\nsweep summary ({tmp_path / 'summary.md'}):\n{summary}warning: {warning}\n"


def test_the_command_refuses_two_folders(tmp_path, capsys):
    job_dir(tmp_path, "0", "- lr=1\n")
    with pytest.raises(SystemExit) as ended:
        main([str(tmp_path), str(tmp_path)])
    captured = capsys.readouterr()
    assert (ended.value.code, captured.out) == (2, "")
    assert captured.err.splitlines() == [
        f"error: python -m src.sweep takes one argument, DIR, not 2: {SWEEP_DIR}"
    ]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["0"]


def test_the_command_run_as_a_module_prints_the_tables(tmp_path, monkeypatch, capsys):
    """``python -m src.sweep DIR`` run in this process (runpy), on a folder of single runs."""
    job_dir(tmp_path, "run1", "- seed=1\n", '{"test/acc": 0.25}')
    job_dir(tmp_path, "run2", "- seed=2\n", '{"test/acc": 0.75}')
    monkeypatch.setattr(sys, "argv", ["sweep.py", str(tmp_path)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # runpy: src.sweep is imported already
        runpy.run_module("src.sweep", run_name="__main__")
    out = capsys.readouterr().out
    assert out == (tmp_path / "summary.md").read_text()
    assert "| (every job) | 2 | 0.5000 ± 0.3536 | 0.2500 | - | 0.0 min |" in out.splitlines()
