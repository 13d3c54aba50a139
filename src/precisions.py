"""``trainer.precision``'s names, as Lightning gives them: the choices, the default and the older aliases.
:mod:`src.checks` checks a configuration's precision by them, :mod:`src.resume_checks` and
:mod:`src.checkpoint` a checkpoint's, and :mod:`src.cuda_graph` picks from them the precisions whose SGD
step it can capture."""

PRECISIONS = ("32-true", "64-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true")
"""``trainer.precision``'s choices, as Lightning names them (``Trainer.precision``), its default first."""

DEFAULT_PRECISION = PRECISIONS[0]
"""Lightning's default ``trainer.precision`` (``32-true``): what a trainer without one trains at, and
what float32 weights that recorded none were trained at. Lightning writes it only inside its connector's
``__init__``, as a literal, so it is named here (``tests/test_lightning_compat.py`` checks it)."""

LIGHTNING_PRECISION_ALIASES = {"32": "32-true", "64": "64-true", "16": "16-mixed", "bf16": "bf16-mixed"}
"""The historical precision names Lightning still accepts, as ``Trainer.precision`` reports them."""

ACCEPTED_PRECISIONS = (*PRECISIONS, *LIGHTNING_PRECISION_ALIASES)
"""What ``trainer.precision`` may be: a name or an alias."""
