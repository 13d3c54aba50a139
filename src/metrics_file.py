"""What a run leaves in its directory besides Lightning's own files: ``metrics.json``, written atomically
(as a sweep's ``summary.json``)."""

import json
from pathlib import Path
from typing import Any

from torch import Tensor

from src.checkpoint import replaced_atomically

FINAL_METRICS = [
    "test/acc",
    "test/loss",
    "val/acc_best",
    "val/acc",
    "val/loss",
    "train/loss",
    "train/samples_per_sec",
]
"""The metrics a training run reports in ``metrics.json`` (with ``ckpt_path``) and TensorBoard's HParams."""


def as_number(value: Any) -> float:
    """A metric as a plain float (Lightning keeps them as 0-d tensors)."""
    return float(value.item() if isinstance(value, Tensor) else value)


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` to ``path`` atomically (:func:`src.checkpoint.replaced_atomically`)."""
    with replaced_atomically(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")


def collect_metrics(callback_metrics: dict[str, Any], names: list[str]) -> dict[str, float]:
    """The named metrics that were logged, as plain floats."""
    return {name: as_number(callback_metrics[name]) for name in names if name in callback_metrics}
