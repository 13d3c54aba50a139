"""Fast checks of src/cli.py's parts, calling each directly: the message a missing ``???`` value becomes,
the characters written as escapes, the signal handlers an interrupted program leaves, when a broken pipe
is a closed output and what a full disk's message advises. The wrapper
around the entry points is tested in tests/test_errors.py, the commands' endings in tests/test_faults.py
and tests/test_interrupt.py."""

import contextlib
import errno
import io
import os
import shlex
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import pytest
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf
from omegaconf.errors import MissingMandatoryValue

import src.cli as cli
from src.cli import (
    as_storage_error,
    as_user_error,
    describe_storage_error,
    end_at_next_signal,
    evaluate_command,
    output_closed,
    printable,
    process_rank,
    raise_terminated,
    reader_gone,
    report,
    report_user_errors,
    resume_command,
    runs_training,
    sigterm_raises_terminated,
)
from src.config import CONF


def missing(key: str) -> MissingMandatoryValue:
    config = OmegaConf.create({"ckpt_path": "???", "data": {"root": "???"}})
    with pytest.raises(MissingMandatoryValue) as error:
        OmegaConf.select(config, key, throw_on_missing=True)
    return error.value


@pytest.mark.parametrize("key", ["ckpt_path", "data.root"])
def test_a_missing_value_is_a_user_error_naming_its_key(key):
    error = RuntimeError("instantiate failed")
    assert as_user_error(error) is None  # a bug
    error.__cause__ = missing(key)
    assert str(as_user_error(error)) == f"{key} is missing: pass {key}=... on the command line"


def test_a_missing_value_without_its_key_is_still_one_line():
    assert str(as_user_error(MissingMandatoryValue("no key"))) == (
        "a value is missing: pass a value=... on the command line"
    )


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain text, tab\there", "plain text, tab\there"),
        ("a\nb", "a\\nb"),
        ("\x1b[31mred", "\\x1b[31mred"),
        ("nul\x00 and bell\x07", "nul\\x00 and bell\\x07"),  # below the tab: escaped too
        ("\r\x0b\x0c\x7f", "\\r\\x0b\\x0c\\x7f"),
        ("ünïcödé ✓", "ünïcödé ✓"),
    ],
)
def test_only_what_a_terminal_would_act_on_is_escaped(text, shown):
    assert printable(text) == shown


@pytest.fixture
def signal_handlers():
    """SIGINT's and SIGTERM's handlers, restored after the test."""
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield saved
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def test_after_an_interrupt_a_further_signal_ends_the_program_at_once(signal_handlers):
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    end_at_next_signal()
    assert signal.getsignal(signal.SIGINT) is signal.SIG_DFL
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def errors_in_another_thread(work) -> list[BaseException]:
    """Run ``work`` in a thread other than the main one; what it raised."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as error:  # returned to the test, which asserts on it
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return errors


def test_outside_the_main_thread_the_handlers_are_left_alone(signal_handlers):
    """Python lets only the main thread set handlers: elsewhere, nothing to do and no error."""
    assert errors_in_another_thread(end_at_next_signal) == []
    assert {signum: signal.getsignal(signum) for signum in signal_handlers} == signal_handlers


@pytest.fixture
def hydra_job(monkeypatch):
    """Pretend to run under ``@hydra.main`` as job ``name`` with the command line's ``overrides``."""

    def run_as(name: str, overrides: list[str]) -> None:
        hydra = OmegaConf.create({"job": {"name": name}, "overrides": {"task": overrides}})
        monkeypatch.setattr(HydraConfig, "initialized", staticmethod(lambda: True))
        monkeypatch.setattr(HydraConfig, "get", staticmethod(lambda: hydra))

    return run_as


def test_the_resume_command_repeats_every_override_but_the_checkpoint(hydra_job):
    """Keys that sort before and after ``ckpt_path``, added (``+``) or deleted (``~``): all kept."""
    hydra_job("train", ["activation=relu", "+ckpt_path=old.ckpt", "trainer.max_epochs=3", "~logger", "+a=1"])
    assert resume_command(Path("run/last.ckpt")) == (
        "python -m src.train activation=relu trainer.max_epochs=3 '~logger' +a=1 ckpt_path=run/last.ckpt"
    )


def test_a_trial_of_a_search_resumes_as_one_run_and_a_sweep_jobs_path_is_quoted_for_hydra(hydra_job):
    """A tester pasted the resume line of an interrupted sweep job: Hydra refused the path's ``=`` and
    ``,``; and a search's line started a new search. The line is read back as the path it names."""
    job = "outputs/multirun/d/1_optimizer.lr=2,seed=1/interrupted.ckpt"
    hydra_job("train", ["hparams_search=optuna", "optimizer.lr=2", "+hparams_search=x", "seed=1"])
    command = resume_command(Path(job))
    assert command == f"""python -m src.train optimizer.lr=2 seed=1 'ckpt_path="{job}"'"""
    [override] = OverridesParser.create().parse_overrides([shlex.split(command)[-1]])
    assert override.value() == job
    assert evaluate_command(Path(job)) == f"""python -m src.evaluate 'ckpt_path="{job}"'"""


def test_the_evaluate_command_repeats_only_evaluates_own_overrides(hydra_job):
    hydra_job("train", ["activation=relu"])
    assert evaluate_command(Path("best.ckpt")) == "python -m src.evaluate ckpt_path=best.ckpt"
    hydra_job("evaluate", ["ckpt_path=best.ckpt", "data=mnist", "~ckpt_path"])
    assert evaluate_command(Path("best.ckpt")) == "python -m src.evaluate data=mnist ckpt_path=best.ckpt"


def test_the_wrapped_entry_point_keeps_its_name_for_hydra():
    """``@hydra.main`` names the job (``hydra.job.name``: the log file, the ``test it with:`` line) after
    the module of the function it is given, unwrapping ``__wrapped__`` to find it."""

    def main() -> None:
        """The entry point."""

    wrapped = report_user_errors(main)
    assert wrapped.__wrapped__ is main
    assert (wrapped.__module__, wrapped.__name__, wrapped.__doc__) == (__name__, "main", "The entry point.")


def test_within_it_sigterm_raises_and_the_handler_before_is_restored(signal_handlers):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with sigterm_raises_terminated():
        assert signal.getsignal(signal.SIGTERM) is raise_terminated
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN


def test_outside_the_main_thread_sigterm_is_left_alone(signal_handlers):
    seen: list[object] = []

    def run() -> None:
        with sigterm_raises_terminated():
            seen.append(signal.getsignal(signal.SIGTERM))

    assert errors_in_another_thread(run) == []
    assert seen == [signal_handlers[signal.SIGTERM]]


@pytest.mark.parametrize("link", ["__cause__", "__context__"])
def test_a_full_disk_behind_another_error_is_a_storage_error(link):
    full = OSError(errno.ENOSPC, "No space left on device", "run/last.ckpt")
    error = RuntimeError("the save failed")
    setattr(error, link, full)
    assert as_storage_error(error) is full
    setattr(error, link, OSError(errno.ENOENT, "No such file or directory"))
    assert as_storage_error(error) is None


@pytest.fixture
def without_lightning_rank(monkeypatch):
    """As before Lightning is imported: the rank comes from the environment."""
    monkeypatch.delitem(sys.modules, "lightning.fabric.utilities.rank_zero", raising=False)
    for name in cli.RANK_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    ("environment", "rank"),
    [
        ({}, 0),
        ({"RANK": "3"}, 3),
        ({"SLURM_PROCID": " 2 "}, 2),
        ({"RANK": "x"}, 0),
        ({"LOCAL_RANK": "-1"}, 0),
    ],
)
def test_the_rank_before_lightning_is_loaded_comes_from_the_environment(
    without_lightning_rank, environment, rank
):
    for name, value in environment.items():
        without_lightning_rank.setenv(name, value)
    assert process_rank() == rank


def test_only_process_0_reports(without_lightning_rank, capsys):
    report("shown")
    without_lightning_rank.setenv("RANK", "1")
    report("not shown")
    without_lightning_rank.setenv("RANK", "not a number")
    report("shown as process 0's")
    assert capsys.readouterr().err == "shown\nshown as process 0's\n"


@pytest.fixture
def pipe_without_reader() -> Iterator[TextIO]:
    """A text stream into a pipe whose reader has gone, as stdout is once ``| head -1`` has exited."""
    reader, writer = os.pipe()
    os.close(reader)
    with open(writer, "w") as stream:
        yield stream


def test_only_a_pipe_whose_reader_has_gone_is_gone(pipe_without_reader, tmp_path):
    reader, writer = os.pipe()
    with open(reader) as _still_read, open(writer, "w") as read_pipe, (tmp_path / "file").open("w") as file:
        assert reader_gone(pipe_without_reader)
        # still read; a file; no descriptor (pytest's capture); no stream (a program started with >&-)
        for stream in (read_pipe, file, io.StringIO(), None):
            assert not reader_gone(stream)


def test_a_socket_whose_peer_has_gone_is_gone_and_a_full_pipe_is_not_waited_on():
    """A socket's hang-up is ``POLLHUP`` alone (a pipe's lost reader is ``POLLERR``); a pipe whose reader
    is alive but slow is full: asked without waiting, it is not gone."""
    ours, peer = socket.socketpair()
    peer.close()
    with ours, ours.makefile("w") as stream:
        assert reader_gone(stream)
    reader, writer = os.pipe()
    os.set_blocking(writer, False)
    with open(reader, "rb") as _alive, open(writer, "wb", buffering=0) as full:
        with contextlib.suppress(BlockingIOError):  # os.write raises it once the pipe is full
            while True:
                os.write(writer, b"x" * 65536)
        asked = threading.Thread(target=lambda: answers.append(reader_gone(full)), daemon=True)
        answers: list[bool] = []
        asked.start()
        asked.join(timeout=5)
        assert answers == [False]


def null_device(descriptor: int) -> bool:
    """Whether ``descriptor`` now writes to the null device."""
    return os.path.samestat(os.fstat(descriptor), os.stat(os.devnull))


def test_a_closed_output_points_only_the_streams_whose_reader_went_at_the_null_device(
    monkeypatch, pipe_without_reader
):
    """Python flushes them at exit, which would fail again with an "Exception ignored" traceback; a
    stream whose reader is still there keeps its output."""
    reader, writer = os.pipe()
    with open(reader) as _still_read, open(writer, "w") as read_pipe:
        monkeypatch.setattr(sys, "stdout", pipe_without_reader)
        monkeypatch.setattr(sys, "stderr", read_pipe)
        assert cli.end_on_closed_output() == 141
        assert null_device(pipe_without_reader.fileno()) and not null_device(read_pipe.fileno())


class UnwritableStdout(io.StringIO):
    """A stdout whose flush fails as ``failure`` (``None``: it does not)."""

    def __init__(self, failure: BaseException | None, descriptor: int) -> None:
        super().__init__()
        self.failure, self.descriptor = failure, descriptor

    def flush(self) -> None:
        if self.failure is not None:
            raise self.failure

    def fileno(self) -> int:
        return self.descriptor


@pytest.mark.parametrize(
    "failure", [OSError(errno.ENOSPC, "No space left on device"), ValueError("I/O operation on closed file")]
)
def test_a_stdout_that_cannot_be_flushed_is_pointed_at_the_null_device(monkeypatch, tmp_path, failure):
    """A full disk, or a stream already closed: Python's own flush at exit would fail again."""
    for fails, pointed in ((failure, True), (None, False)):
        with (tmp_path / "out").open("w") as file:
            monkeypatch.setattr(sys, "stdout", UnwritableStdout(fails, file.fileno()))
            cli.drop_unwritable_stdout()
            assert null_device(file.fileno()) is pointed
    monkeypatch.setattr(sys, "stdout", None)  # a program started with stdout closed (>&-)
    cli.drop_unwritable_stdout()


def test_what_main_printed_is_flushed_before_the_wrapper_returns(monkeypatch, tmp_path, capsys):
    """Here, not at exit: a full disk is then the one line and exit code 1, not Python's "Exception
    ignored" traceback and exit code 120."""
    with (tmp_path / "out").open("w") as file:
        monkeypatch.setattr(sys, "stdout", UnwritableStdout(OSError(errno.ENOSPC, "full"), file.fileno()))
        with pytest.raises(SystemExit) as stop:
            report_user_errors(lambda: None)()
        assert stop.value.code == 1
        assert capsys.readouterr().err.startswith("error: No space left on device (ENOSPC): the run stopped")
    monkeypatch.setattr(sys, "stdout", None)
    assert report_user_errors(lambda: 7)() == 7


def broken_pipe_behind(error: BaseException, link: str) -> BaseException:
    setattr(error, link, BrokenPipeError(errno.EPIPE, "Broken pipe"))
    return error


@pytest.mark.parametrize("link", ["__cause__", "__context__"])
def test_a_broken_pipe_is_a_closed_output_once_the_reader_of_stdout_or_stderr_is_gone(
    monkeypatch, pipe_without_reader, link
):
    """Also behind another exception (Lightning's teardown fails after it); rich's console exits with
    ``SystemExit(1)`` over it once it has sent stdout to the null device itself."""
    with monkeypatch.context() as streams:
        streams.setattr(sys, "stdout", io.StringIO())
        streams.setattr(sys, "stderr", io.StringIO())
        assert not output_closed(BrokenPipeError(errno.EPIPE, "Broken pipe"))  # a logger's connection
        assert output_closed(broken_pipe_behind(SystemExit(1), link))
        assert not output_closed(SystemExit(1))
        for stream in ("stdout", "stderr"):
            streams.setattr(sys, stream, pipe_without_reader)
            assert output_closed(BrokenPipeError(errno.EPIPE, "Broken pipe"))
            assert output_closed(broken_pipe_behind(RuntimeError("teardown failed"), link))
            assert not output_closed(RuntimeError("a bug"))
            streams.setattr(sys, stream, io.StringIO())


def test_only_a_training_is_told_to_resume_after_a_full_disk(hydra_job):
    full = OSError(errno.ENOSPC, "No space left on device", "run/metrics.json")
    stopped = "No space left on device (ENOSPC) writing run/metrics.json: the run stopped; "
    assert describe_storage_error(full, training=True) == (
        f"{stopped}the files it saved before are intact (checkpoints and metrics.json are written whole or "
        "not at all): make room or choose a writable hydra.run.dir, then resume training from "
        "checkpoints/last.ckpt"
    )
    # python -m src.essay > /dev/full: no run directory to choose
    assert describe_storage_error(full, training=False) == (
        f"{stopped}make room or write somewhere else, then run the command again"
    )
    hydra_job("evaluate", [])
    assert describe_storage_error(full, training=False) == (
        f"{stopped}make room or choose a writable hydra.run.dir, then run the command again"
    )


def test_a_training_is_the_entry_point_given_a_training_config():
    assert runs_training(["x", OmegaConf.create({"task_name": "train"})])
    # as read from conf/train.yaml: an equal string, not this file's "train" object
    assert runs_training([OmegaConf.load(CONF / "train.yaml")])
    for arguments in ([OmegaConf.create({"task_name": "evaluate"})], [OmegaConf.create({})], [["train"]], []):
        assert not runs_training(arguments)
