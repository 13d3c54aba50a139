"""How every entry point ends on bad input, a signal or a full disk: one clear message, a non-zero exit
code, no traceback (README, "Errors, interrupts and safety"). Decorate the entry point's main function,
under ``@hydra.main`` where there is one, with :func:`report_user_errors`. The endings:

- :class:`~src.errors.UserError` (also as the cause of another exception): ``error: <message>``, exit
  code 2 (as for a bad command-line argument);
- :class:`~src.errors.Interrupted` (see :mod:`src.callbacks`): what was saved and the command that goes on
  from it; ``KeyboardInterrupt`` or SIGTERM anywhere else: ``interrupted``; exit code 130 after Ctrl-C,
  143 after SIGTERM;
- ``OSError`` ENOSPC, EDQUOT, EROFS or EACCES while writing: ``error: <what> writing <file>``, exit code 1.

``HYDRA_FULL_ERROR=1`` raises the exception instead, with its traceback. Any other exception is a bug,
and Hydra prints its traceback.
"""

import errno
import functools
import os
import shlex
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import ParamSpec, TypeVar

from omegaconf.errors import MissingMandatoryValue

from src.errors import Interrupted, Terminated, TrainingInterrupted, UserError
from src.run_dir_cleanup import discard_unused_run_dir

EXIT_FAILURE = 1
EXIT_USER_ERROR = 2
STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES}
"""``OSError`` numbers that mean the disk, not the program, failed a write."""
P = ParamSpec("P")
R = TypeVar("R")


def report_user_errors(main: Callable[P, R]) -> Callable[P, R]:
    """``main``, ending as the module docstring says on bad input, a signal or a full disk."""

    @functools.wraps(main)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            with sigterm_raises_terminated():
                return main(*args, **kwargs)
        except (Exception, KeyboardInterrupt, Terminated) as error:
            exit_code = None if full_error_requested() else report_end(error)
            if exit_code is None:
                raise
            raise SystemExit(exit_code) from None

    return wrapper


def report_end(error: BaseException) -> int | None:
    """Report how the program ends on ``error`` and return its exit code, or ``None``: a bug, to raise."""
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
    user_error = as_user_error(error)
    if user_error is not None:
        report(f"error: {user_error}")
        discard_unused_run_dir()
        return EXIT_USER_ERROR
    storage_error = as_storage_error(error)
    if storage_error is None:
        return None
    report(f"error: {describe_storage_error(storage_error)}")
    return EXIT_FAILURE


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


def as_storage_error(error: BaseException) -> OSError | None:
    """The ``OSError`` behind ``error`` (itself, a cause or the exception it interrupted) that says the disk
    is full, over quota, read-only or no longer writable, or ``None``."""
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, OSError) and cause.errno in STORAGE_ERRNOS:
            return cause
        cause = cause.__cause__ or cause.__context__
    return None


def describe_storage_error(error: OSError) -> str:
    """``No space left on device (ENOSPC) writing <file>: ...``, on one line."""
    where = f" writing {error.filename}" if error.filename else ""
    return (
        f"{os.strerror(error.errno)} ({errno.errorcode[error.errno]}){where}: the run stopped; the files "
        "it saved before are intact (checkpoints and metrics.json are written whole or not at all): make "
        "room or choose a writable hydra.run.dir, then resume training from checkpoints/last.ckpt"
    )


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
