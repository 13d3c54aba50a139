"""How every entry point ends on bad input, a signal, a full disk or a closed output: one clear message
(none for a closed output), a non-zero exit code, no traceback (README, "Errors, interrupts and safety").
Decorate the entry point's main function, under ``@hydra.main`` where there is one, with
:func:`report_user_errors`. The endings:

- :class:`~src.errors.UserError` (also as the cause of another exception): ``error: <message>``, exit
  code 2 (as for a bad command-line argument);
- :class:`~src.errors.Interrupted` (see :mod:`src.callbacks`): what was saved and the command that goes on
  from it; ``KeyboardInterrupt`` or SIGTERM anywhere else: ``interrupted``; exit code 130 after Ctrl-C,
  143 after SIGTERM;
- ``OSError`` ENOSPC, EDQUOT, EROFS or EACCES while writing: ``error: <what> writing <file>``, and for a
  training how to resume it, exit code 1;
- ``BrokenPipeError`` (also behind another exception) once the reader of stdout or stderr has gone
  (``| head``): nothing printed, exit code 141 (128 + SIGPIPE), as a Unix tool killed by SIGPIPE.

An unused run directory is discarded after a user error or a closed output (:func:`discard_unused_run_dir`:
a training's checkpoints stay).

``HYDRA_FULL_ERROR=1`` raises the exception instead, with its traceback. Any other exception is a bug,
and Hydra prints its traceback.
"""

import contextlib
import errno
import functools
import os
import select
import shlex
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import ParamSpec, TextIO, TypeVar

from omegaconf import DictConfig
from omegaconf.errors import MissingMandatoryValue

from src.errors import Interrupted, Terminated, TrainingInterrupted, UserError
from src.run_dir_cleanup import discard_unused_run_dir

EXIT_FAILURE = 1
EXIT_USER_ERROR = 2
EXIT_OUTPUT_CLOSED = 128 + signal.SIGPIPE
"""What a shell shows for a program that SIGPIPE ended: the reader of its output went away."""
STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES}
"""``OSError`` numbers that mean the disk, not the program, failed a write."""
P = ParamSpec("P")
R = TypeVar("R")


def report_user_errors(main: Callable[P, R]) -> Callable[P, R]:
    """``main``, ending as the module docstring says on bad input, a signal, a full disk or a closed
    output."""

    @functools.wraps(main)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            with sigterm_raises_terminated():
                result = main(*args, **kwargs)
                if sys.stdout is not None:  # None where the program started with stdout closed
                    # here, not at exit: a write that fails (| head, a full disk) ends as said above, not
                    # with Python's "Exception ignored" traceback and exit code 120
                    sys.stdout.flush()
                return result
        # SystemExit too: rich's console ends so on a broken pipe (a Lightning progress bar's)
        except (Exception, KeyboardInterrupt, Terminated, SystemExit) as error:
            training = runs_training([*args, *kwargs.values()])
            exit_code = None if full_error_requested() else report_end(error, training)
            if exit_code is None:
                raise
            drop_unwritable_stdout()
            raise SystemExit(exit_code) from None

    return wrapper


def report_end(error: BaseException, training: bool) -> int | None:
    """Report how the program ends on ``error`` (in a training run, if ``training``) and return its exit
    code, or ``None``: to raise as it is (a bug, or an exit that has its code)."""
    if isinstance(error, Interrupted | KeyboardInterrupt | Terminated):
        end_at_next_signal()
        if isinstance(error, Interrupted):
            report(error.summary)
            command = next_command(error)
            if command is not None:
                report(command)
            return error.exit_code
        terminated = isinstance(error, Terminated)
        report("interrupted by SIGTERM" if terminated else "interrupted")
        return 128 + (signal.SIGTERM if terminated else signal.SIGINT)
    if output_closed(error):
        return end_on_closed_output()
    if isinstance(error, SystemExit):
        return None
    user_error = as_user_error(error)
    if user_error is not None:
        report(f"error: {user_error}")
        discard_unused_run_dir()
        return EXIT_USER_ERROR
    storage_error = as_storage_error(error)
    if storage_error is None:
        return None
    report(f"error: {describe_storage_error(storage_error, training)}")
    return EXIT_FAILURE


def runs_training(arguments: Iterable[object]) -> bool:
    """Whether the entry point's ``arguments`` hold a training's config (``task_name: train``, as
    :class:`~src.run_dir.RunDirectoryLock` tells): the one command whose run can be resumed."""
    return any(
        isinstance(argument, DictConfig) and argument.get("task_name") == "train" for argument in arguments
    )


@contextmanager
def sigterm_raises_terminated() -> Iterator[None]:
    """Within it, SIGTERM raises :class:`Terminated` (as Ctrl-C raises ``KeyboardInterrupt``) instead of
    killing the process without a word; the training and testing loops replace this with a graceful stop
    (:class:`src.callbacks.StopOnSignal`). Only in the main thread, where Python allows signal handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated


def end_at_next_signal() -> None:
    """The program is ending after an interrupt: a further Ctrl-C or SIGTERM (e.g. pressed again while
    Python waits for the TensorBoard writer or the other processes) ends it at once, by the operating
    system's default action, instead of raising ``KeyboardInterrupt`` into the shutdown, with a traceback."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def next_command(stop: Interrupted) -> str | None:
    """The line that says how to go on from ``stop``'s checkpoint: resume training, or test it again."""
    if stop.checkpoint is None:
        return None
    if isinstance(stop, TrainingInterrupted):
        return f"resume with: {resume_command(stop.checkpoint)}"
    return f"test it with: {evaluate_command(stop.checkpoint)}"


def as_user_error(error: BaseException) -> UserError | None:
    """The :class:`UserError` behind ``error`` (itself, or a cause: Hydra wraps what a constructor raised
    during ``instantiate``), a missing ``???`` config value as one, or ``None``: a bug."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, UserError):
            return cause
        if isinstance(cause, MissingMandatoryValue):
            key = cause.full_key or "a value"
            return UserError(f"{key} is missing: pass {key}=... on the command line")
        cause = cause.__cause__
    return None


def behind(error: BaseException) -> Iterator[BaseException]:
    """``error``, then each exception behind it: its cause, else the exception it interrupted (Lightning's
    callbacks and teardown run on after an exception, and what fails there interrupts it)."""
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:  # a cycle ends it
        seen.add(id(cause))
        yield cause
        cause = cause.__cause__ or cause.__context__


def as_storage_error(error: BaseException) -> OSError | None:
    """The ``OSError`` behind ``error`` (itself, a cause or the exception it interrupted) that says the disk
    is full, over quota, read-only or no longer writable, or ``None``."""
    return next(
        (cause for cause in behind(error) if isinstance(cause, OSError) and cause.errno in STORAGE_ERRNOS),
        None,
    )


def output_closed(error: BaseException) -> bool:
    """Whether ``error`` ends the program because the reader of its output went away (``| head -1``): a
    ``BrokenPipeError`` behind it (itself, a cause or the exception it interrupted), and stdout or stderr
    a pipe whose reader has gone, or a ``SystemExit`` (rich's console exits so on a broken pipe, once it
    has sent stdout to the null device). A broken pipe of anything else (a logger's connection to its
    server) is no closed output: its traceback stays."""
    if not any(isinstance(cause, BrokenPipeError) for cause in behind(error)):
        return False
    return isinstance(error, SystemExit) or reader_gone(sys.stdout) or reader_gone(sys.stderr)


def reader_gone(stream: TextIO | None) -> bool:
    """Whether ``stream`` writes to a pipe (or socket) whose reader has gone: ``poll`` flags an error (or
    a hang-up) on its descriptor, never on a file, a terminal or the null device."""
    try:
        descriptor = stream.fileno()
    except (AttributeError, OSError, ValueError):  # no stream, one without a descriptor (pytest's), closed
        return False
    poller = select.poll()
    poller.register(descriptor, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def end_on_closed_output() -> int:
    """End quietly after the reader of the output went away, as a Unix tool killed by SIGPIPE: nothing to
    print (stderr may be the same pipe); each stream whose reader has gone is pointed at the null device,
    since Python flushes it at exit and that would fail again, with a traceback; the run directory goes
    if nothing of value was written there (:func:`discard_unused_run_dir`: a training's checkpoints
    stay, as after a signal). Returns the exit code, 141."""
    for stream in (sys.stdout, sys.stderr):
        if reader_gone(stream):
            to_null_device(stream)
    discard_unused_run_dir()
    return EXIT_OUTPUT_CLOSED


def drop_unwritable_stdout() -> None:
    """Point stdout at the null device if what it still holds can't be written (a full disk, a reader
    gone): Python flushes it at exit, and that would fail again, with an "Exception ignored" traceback
    after the one line and exit code 120."""
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except (OSError, ValueError):  # ValueError: closed
        to_null_device(sys.stdout)


def to_null_device(stream: TextIO) -> None:
    """Send what is written to ``stream`` from now on, and what it still holds, to the null device."""
    with contextlib.suppress(AttributeError, OSError, ValueError):  # no descriptor to point elsewhere
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, stream.fileno())
        finally:
            os.close(devnull)


def describe_storage_error(error: OSError, training: bool) -> str:
    """``No space left on device (ENOSPC) writing <file>: ...``, on one line; for a training, that the
    checkpoints it saved are intact and how to resume it, else how to run the command again."""
    where = f" writing {error.filename}" if error.filename else ""
    stopped = f"{os.strerror(error.errno)} ({errno.errorcode[error.errno]}){where}: the run stopped"
    if training:
        return (
            f"{stopped}; the files it saved before are intact (checkpoints and metrics.json are written "
            "whole or not at all): make room or choose a writable hydra.run.dir, then resume training from "
            "checkpoints/last.ckpt"
        )
    return f"{stopped}; make room or {writable_place()}, then run the command again"


def writable_place() -> str:
    """How to write elsewhere: Hydra's commands write into their run directory, the others to stdout or
    the files named on the command line."""
    from hydra.core.hydra_config import HydraConfig

    return "choose a writable hydra.run.dir" if HydraConfig.initialized() else "write somewhere else"


def full_error_requested() -> bool:
    """Whether ``HYDRA_FULL_ERROR=1`` asks for tracebacks (Hydra's own switch for the same)."""
    return os.environ.get("HYDRA_FULL_ERROR") == "1"


def report(line: str) -> None:
    """Print ``line`` to stderr, once: in process 0 under data parallelism (every process raises)."""
    if process_rank() == 0:
        print(printable(line), file=sys.stderr, flush=True)


def printable(text: str) -> str:
    """``text`` with each character a terminal would act on (a newline, an escape sequence's ESC) written
    as Python writes it in a string (``\\n``, ``\\x1b``): a file name or value from outside stays on its
    one line and can't restyle the terminal."""
    return "".join(char if char.isprintable() or char == "\t" else repr(char)[1:-1] for char in text)


RANK_VARIABLES = ("RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK")
"""Where Lightning looks for the process's rank before a strategy sets it, in its order
(``lightning.fabric.utilities.rank_zero._get_rank``): torchrun, Lightning's own launcher, SLURM, LSF."""


def process_rank() -> int:
    """This process's global rank under data parallelism (0 alone): Lightning's ``rank_zero_only.rank``
    once Lightning is loaded (a strategy sets it to the global rank), before that the environment
    variables Lightning reads (importing Lightning only to ask would slow every early error down)."""
    rank_zero = sys.modules.get("lightning.fabric.utilities.rank_zero")
    if rank_zero is not None:
        return rank_zero.rank_zero_only.rank
    value = next((os.environ[name] for name in RANK_VARIABLES if name in os.environ), "0")
    return int(value) if value.strip().isdigit() else 0


def task_overrides(job: str | None = None) -> list[str]:
    """This Hydra command's overrides but ``ckpt_path`` (none if it is not the job ``job``, when given)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized() or job not in (None, HydraConfig.get().job.name):
        return []
    return [
        item for item in HydraConfig.get().overrides.task if item.split("=", 1)[0].lstrip("+~") != "ckpt_path"
    ]


def evaluate_command(checkpoint: Path) -> str:
    """``python -m src.evaluate ckpt_path=<checkpoint>``, with this command's overrides (``data=...``,
    ``trainer.precision=...``) when it is ``src.evaluate`` itself (``src.train``'s are no evaluate
    settings: the checkpoint records its data)."""
    from src.command_line import override_of

    return shlex.join(
        [
            "python",
            "-m",
            "src.evaluate",
            *task_overrides("evaluate"),
            override_of("ckpt_path", str(checkpoint)),
        ]
    )


def resume_command(checkpoint: Path) -> str:
    """``python -m src.train <this run's overrides> ckpt_path=<checkpoint>``, quoted for Hydra
    (:func:`~src.command_line.override_of`) and for a POSIX shell. A search's trial resumes as the one run
    it is: its overrides hold the values the search chose, and ``hparams_search=...`` would start a new
    search of 20 trials, each resuming from the checkpoint (a tester)."""
    from src.command_line import override_of

    overrides = [item for item in task_overrides() if item.lstrip("+~").partition("=")[0] != "hparams_search"]
    return shlex.join(["python", "-m", "src.train", *overrides, override_of("ckpt_path", str(checkpoint))])
