"""Errors caused by the user's input, reported as one clear line instead of a traceback."""


class UserError(Exception):
    """A bad config value, file, checkpoint or image: the message names the bad value and what is
    allowed. Entry points print it as one line and exit with a non-zero code."""


class DivergenceError(UserError):
    """Training produced a non-finite loss or weights (typically: the learning rate is too large)."""
