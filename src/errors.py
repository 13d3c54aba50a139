"""What the command line reports as a message instead of a traceback (see :mod:`src.cli`): errors caused
by the user's input, and runs stopped by a signal."""

import signal
from pathlib import Path


class UserError(Exception):
    """A bad config value, file, checkpoint or image: the message names the bad value and what is
    allowed. Entry points print it as one line and exit with a non-zero code."""


class DivergenceError(UserError):
    """Training produced a non-finite loss or weights (typically: the learning rate is too large)."""


class Interrupted(Exception):
    """A run stopped by signal ``signum`` (SIGINT: Ctrl-C, or SIGTERM); ``checkpoint`` is the one to go on
    from (``None``: there is none). The command line prints ``summary`` and what to run next, and exits
    with ``128 + signum``, the shell's convention."""

    def __init__(self, signum: int, summary: str, checkpoint: Path | None) -> None:
        self.signum = signum
        self.summary = summary
        self.checkpoint = checkpoint
        super().__init__(summary)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class TrainingInterrupted(Interrupted):
    """Training stopped by ``signum`` after ``step`` SGD steps in epoch ``epoch``; ``checkpoint`` resumes it
    (``summary`` tells the step, and with a checkpoint the epoch and the checkpoint)."""

    def __init__(self, signum: int, step: int, epoch: int, checkpoint: Path | None) -> None:
        stopped = f"training interrupted by {signal.Signals(signum).name} at SGD step {step}"
        if checkpoint is None:
            summary = f"{stopped}: no checkpoint to resume from"
        else:
            summary = f"{stopped} (epoch {epoch}); checkpoint: {checkpoint}"
        super().__init__(signum, summary, checkpoint)


class TestingInterrupted(Interrupted):
    """Testing ``checkpoint`` (``None``: the model in memory) stopped by ``signum``: no metrics written."""

    __test__ = False  # not a pytest test class despite its name

    def __init__(self, signum: int, checkpoint: Path | None) -> None:
        summary = f"testing interrupted by {signal.Signals(signum).name}: no test metrics, no metrics.json"
        super().__init__(signum, summary, checkpoint)


class Terminated(BaseException):
    """SIGTERM outside a training or testing loop (while the program starts, loads data, writes files):
    raised at once, as Python raises ``KeyboardInterrupt`` for Ctrl-C, and reported the same way. A
    ``BaseException`` for the same reason: ``except Exception`` must not swallow it."""
