"""Test-set digits for the page to pick, from the data set a checkpoint records it was trained on.

The checkpoint is data from outside: its ``data`` entry may only name one of :mod:`src.data`'s data
modules, is never allowed to download anything, and its test set is used only when its images have as
many pixels as the network has inputs. Where no test set can be read (e.g. MNIST files missing), the
page offers none and says why.
"""

from dataclasses import dataclass
from typing import Any

from src.data import InMemoryDataModule

PER_CLASS = 2  # test images offered per class


@dataclass(frozen=True)
class Samples:
    """Test images (one list of pixel values in [0, 1] each) with their labels, or why there are none."""

    images: list[list[float]]
    labels: list[int]
    note: str


def data_module(data: Any) -> InMemoryDataModule:
    """The data module ``data`` (a checkpoint's ``hyper_parameters["data"]``) describes, its class from
    the allow-list :func:`src.config.data_modules`, without download."""
    from src.config import data_modules

    if not isinstance(data, dict) or not isinstance(data.get("_target_"), str):
        raise ValueError("the checkpoint records no data module")
    known = data_modules()
    if data["_target_"] not in known:
        raise ValueError(f"its data._target_={data['_target_']} is not a data module of src.data")
    _, data_class = known[data["_target_"]]
    arguments = {key: value for key, value in data.items() if key != "_target_"}
    if "download" in arguments:
        arguments["download"] = False
    return data_class(**arguments)


def samples_to_pick(data: Any, in_features: int) -> Samples:
    """The first :data:`PER_CLASS` test images of each class of the data set ``data`` describes."""
    try:
        x, y = data_module(data).load()["test"]
    except Exception as error:  # a missing or unreadable data set only costs the page its samples
        return Samples([], [], f"no test digits to pick: {' '.join(str(error).split())}")
    if x.shape[1] != in_features:
        return Samples([], [], f"no test digits to pick: its test images have {x.shape[1]} pixels")
    chosen = [int(i) for label in y.unique() for i in (y == label).nonzero()[:PER_CLASS, 0]]
    return Samples(x[chosen].tolist(), y[chosen].tolist(), "")
