"""How every entry point ends on bad input or an interrupt: one clear message, a non-zero exit code, no
traceback. Decorate the entry point's main function, under ``@hydra.main`` where there is one::

    @hydra.main(version_base="1.3", config_path="../conf", config_name="train")
    @report_user_errors
    def main(cfg: DictConfig) -> None: ...

- :class:`~src.errors.UserError` (a bad config value, file, checkpoint or image; training that
  diverged): ``error: <message>`` on stderr, exit code 2 (as for a bad command-line argument);
- :class:`~src.errors.TrainingInterrupted`: what was saved and the command that resumes it, exit code
  130 after Ctrl-C (SIGINT), 143 after SIGTERM;
- ``KeyboardInterrupt`` anywhere else: ``interrupted``, exit code 130.

With the environment variable ``HYDRA_FULL_ERROR=1`` the exception is raised instead, with its full
traceback, for debugging. Any other exception is a bug, and Hydra prints its traceback.
"""

import functools
import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

from omegaconf.errors import MissingMandatoryValue

from src.errors import TrainingInterrupted, UserError
from src.run_dir_cleanup import discard_unused_run_dir

EXIT_USER_ERROR = 2
EXIT_SIGINT = 130
P = ParamSpec("P")
R = TypeVar("R")


def report_user_errors(main: Callable[P, R]) -> Callable[P, R]:
    """``main``, ending as the module docstring says on bad input or an interrupt."""

    @functools.wraps(main)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return main(*args, **kwargs)
        except TrainingInterrupted as stop:
            if full_error_requested():
                raise
            report(stop.summary)
            if stop.checkpoint is not None:
                report(f"resume with: {resume_command(stop.checkpoint)}")
            raise SystemExit(stop.exit_code) from None
        except KeyboardInterrupt:
            if full_error_requested():
                raise
            report("interrupted")
            raise SystemExit(EXIT_SIGINT) from None
        except Exception as error:
            user_error = as_user_error(error)
            if user_error is None or full_error_requested():
                raise
            report(f"error: {user_error}")
            discard_unused_run_dir()
            raise SystemExit(EXIT_USER_ERROR) from None

    return wrapper


CONF = Path(__file__).resolve().parents[1] / "conf"


def refuse_unknown_group_options(argv: list[str] | None = None, conf: Path = CONF) -> None:
    """Check ``group=option`` command-line overrides (``activation=relu``, ``-m optimizer=sgd,adam``)
    against the options in ``conf/<group>/`` before Hydra composes anything, so an unknown option ends as
    one ``error:`` line with exit code 2 like any other bad value (Hydra's own report is many lines)."""
    for argument in sys.argv[1:] if argv is None else argv:
        key, equals, value = argument.lstrip("+~").partition("=")
        folder = conf / key
        if not equals or "." in key or "/" in key or "(" in value or not folder.is_dir():
            continue
        options = sorted(path.stem for path in folder.glob("*.yaml"))
        for option in value.strip("[]").split(","):  # also a list: logger=[tensorboard,csv]
            if option.strip() not in (*options, "null"):
                report(
                    f"error: {key}={option.strip()} is not an option of {key}: choose one of {', '.join(options)}"
                )
                raise SystemExit(EXIT_USER_ERROR)


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


def full_error_requested() -> bool:
    """Whether ``HYDRA_FULL_ERROR=1`` asks for tracebacks (Hydra's own switch for the same)."""
    return os.environ.get("HYDRA_FULL_ERROR") == "1"


def report(line: str) -> None:
    """Print ``line`` to stderr, once: in process 0 under data parallelism (every process raises)."""
    if os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")) == "0":
        print(line, file=sys.stderr, flush=True)


def resume_command(checkpoint: Path) -> str:
    """``python -m src.train <this run's overrides> ckpt_path=<checkpoint>``, quoted for a POSIX shell."""
    from hydra.core.hydra_config import HydraConfig

    overrides = list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
    kept = [item for item in overrides if item.split("=", 1)[0].lstrip("+~") != "ckpt_path"]
    return shlex.join(["python", "-m", "src.train", *kept, f"ckpt_path={checkpoint}"])
