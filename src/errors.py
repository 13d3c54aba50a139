"""What the command line reports as a message instead of a traceback (see :mod:`src.cli`): errors caused
by the user's input, and training stopped by a signal."""

import signal
from pathlib import Path


class UserError(Exception):
    """A bad config value, file, checkpoint or image: the message names the bad value and what is
    allowed. Entry points print it as one line and exit with a non-zero code."""


class DivergenceError(UserError):
    """Training produced a non-finite loss or weights (typically: the learning rate is too large)."""


class TrainingInterrupted(Exception):
    """Training stopped by ``signum`` (SIGINT: Ctrl-C, or SIGTERM) after ``step`` SGD steps; ``checkpoint``
    is the one to resume from (``None``: there is none). The command line prints the command that
    resumes it and exits with ``128 + signum``, the shell's convention."""

    def __init__(self, signum: int, step: int, epoch: int, checkpoint: Path | None) -> None:
        self.signum = signum
        self.step = step
        self.epoch = epoch
        self.checkpoint = checkpoint
        super().__init__(self.summary)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    @property
    def summary(self) -> str:
        name = signal.Signals(self.signum).name
        if self.checkpoint is None:
            return f"training interrupted by {name} at SGD step {self.step}: no checkpoint to resume from"
        return (
            f"training interrupted by {name} at SGD step {self.step} (epoch {self.epoch}); "
            f"checkpoint: {self.checkpoint}"
        )
