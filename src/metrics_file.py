"""What a run leaves in its directory besides Lightning's own files: ``metrics.json``, written atomically
(:func:`replaced_atomically`, also used for a sweep's ``summary.json`` and :mod:`src.callbacks`' copies)."""

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from torch import Tensor

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


@contextmanager
def replaced_atomically(path: Path) -> Iterator[Path]:
    """A temporary path next to ``path`` to write to, renamed over ``path`` when the block ends (removed if
    it fails), so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` to ``path`` atomically (:func:`replaced_atomically`)."""
    with replaced_atomically(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")


def collect_metrics(callback_metrics: dict[str, Any], names: list[str]) -> dict[str, float]:
    """The named metrics that were logged, as plain floats."""
    return {name: as_number(callback_metrics[name]) for name in names if name in callback_metrics}
