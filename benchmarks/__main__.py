"""``python -m benchmarks``: see :mod:`benchmarks` and ``benchmarks/README.md``."""

from benchmarks.cli import main

main()
