"""Loading our checkpoints safely: ``torch.load(weights_only=True)``, so a file can't run code."""

from pathlib import Path
from typing import Any

import torch


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint at ``path`` as plain containers and tensors, on the CPU."""
    return torch.load(Path(path), map_location="cpu", weights_only=True)


def load_model(checkpoint: dict[str, Any]):
    """The :class:`~src.lit.MLPClassifier` a checkpoint holds, rebuilt from its hyperparameters."""
    from src.lit import MLPClassifier

    model = MLPClassifier(**checkpoint["hyper_parameters"])
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval()
