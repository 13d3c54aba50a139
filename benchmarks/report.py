"""The report: throughput per pipeline, the ratios we aim for (met or missed), start-up times, and one line
on the machine and the data."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from benchmarks.workload import IN_FEATURES, Budget

if TYPE_CHECKING:
    from benchmarks.pipelines import Measurement, Startup


@dataclass(frozen=True)
class Target:
    """``numerator / denominator >= minimum``, the denominator being the fastest in each round of the
    ``denominators`` measured; for every setting or only MNIST-shaped ones."""

    numerator: str
    denominators: tuple[str, ...]
    minimum: float
    mnist_only: bool = False

    @property
    def label(self) -> str:
        names = ", ".join(self.denominators)
        denominator = names if len(self.denominators) == 1 else f"fastest of {names}"
        return f"{self.numerator} / {denominator} (>= {self.minimum:g})"

    def measured(self, measurement: Measurement) -> list[str]:
        """The denominators that were measured."""
        return [name for name in self.denominators if name in measurement.rates]

    def applies(self, measurement: Measurement) -> bool:
        mnist_shaped = IN_FEATURES[measurement.setting.data] == 784
        return (
            self.numerator in measurement.rates
            and bool(self.measured(measurement))
            and (not self.mnist_only or mnist_shaped)
        )


TARGETS = (
    Target("plain-manual", ("plain-autograd",), 1.0),
    Target("src.train", ("textbook-lightning",), 3.0),
    # the fastest plain loop with our Function: chunked gathers usually, per-mini-batch gathers for some sizes
    Target("src.train", ("plain-manual-fastest", "plain-manual"), 0.85),
    Target("src.train", ("nielsen-numpy",), 2.0, mnist_only=True),
    # --device cuda: src.train replays each chunk's SGD steps as CUDA graphs (issue 13's targets)
    Target("src.train", ("plain-manual-graph",), 0.8),
    Target("src.train", ("src.train-cpu",), 3.0),
    Target("src.train", ("src.train-eager",), 10.0),
)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], markdown: bool) -> str:
    """The first column left-aligned, the others right-aligned: with spaces, or as a Markdown table."""
    widths = [max(map(len, column)) for column in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = [
            cells[0].ljust(widths[0]),
            *(c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)),
        ]
        return f"| {' | '.join(padded)} |" if markdown else "  ".join(padded)

    lines = [line(header), *map(line, rows)]
    if markdown:
        lines.insert(
            1, "|" + "|".join([":" + "-" * (widths[0] + 1), *("-" * (w + 1) + ":" for w in widths[1:])]) + "|"
        )
    return "\n".join(lines)


def report(
    measurements: Sequence[Measurement], startups: Sequence[Startup], pipelines: Sequence[str], markdown: bool
) -> str:
    """Throughput per pipeline, the targets' ratios (met or missed) and start-up times."""
    rows = [
        [m.setting.label, str(m.batch_size), *(f"{m.median(name):,.0f}" for name in pipelines)]
        for m in measurements
    ]
    parts = [
        "Training throughput, samples/s (median of rounds):",
        _table(["setting", "batch", *pipelines], rows, markdown),
    ]
    targets = [t for t in TARGETS if any(t.applies(m) for m in measurements)]
    if targets:
        ratio_rows = []
        for m in measurements:
            cells = []
            for target in targets:
                if target.applies(m):
                    ratio = m.ratio(target.numerator, target.measured(m))
                    cells.append(f"{ratio:.2f} {'met' if ratio >= target.minimum else 'MISSED'}")
                else:
                    cells.append("-")
            ratio_rows.append([m.setting.label, str(m.batch_size), *cells])
        header = ["setting", "batch", *(t.label for t in targets)]
        parts += [
            "",
            "Ratios (median of per-round ratios) against the targets:",
            _table(header, ratio_rows, markdown),
        ]
    if startups:
        startup_rows = [[s.setting.label, f"{s.first_batch:.2f}", f"{s.total:.2f}"] for s in startups]
        header = ["setting", "launch to first training batch (s)", "whole 1-epoch run, no test (s)"]
        parts += ["", "Start-up of python -m src.train (median):", _table(header, startup_rows, markdown)]
    return "\n".join(parts)


def environment(threads: int, budget: Budget, repeats: int, device: str, data: str) -> str:
    """Two lines: the software, the machine, the device and the measurement's budget; then the data."""
    import platform

    import lightning
    import numpy as np
    import torch

    where = "device cpu"
    if device == "cuda":
        where = f"device cuda ({torch.cuda.get_device_name()}; nielsen-numpy on the CPU)"
    return (
        f"torch {torch.__version__}, lightning {lightning.__version__}, numpy {np.__version__}, "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {threads} thread(s), {where}; "
        f"{repeats} round(s) of {budget.label} per pipeline\n{data}"
    )
