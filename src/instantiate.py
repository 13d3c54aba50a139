"""The objects of the config groups that name their classes by ``_target_``: ``callbacks`` and ``logger``.

The configuration is the user's own instructions, so an entry may name any class. What goes wrong while
building one (a class that cannot be found, an argument it refuses, an object of another kind) is one line
naming the entry, as for every other setting, and the run directory is left unused; Hydra's own report
was several lines and left the directory behind.
"""

from collections.abc import Mapping
from typing import Any, TypeVar

import hydra

from src.checks import refused_arguments
from src.errors import UserError

Built = TypeVar("Built")


def instantiate_entries(
    config: Mapping[str, Any] | None, group: str, kind: type[Built], noun: str, options: str
) -> list[Built]:
    """One ``kind`` per entry of the ``group`` mapping ``config``, in its order; an entry set to null is
    switched off. ``noun`` names what an entry is, ``options`` what to choose instead of a bad one."""
    built = []
    for name, entry in (config or {}).items():
        if entry is None:
            continue
        key = f"{group}.{name}"
        if not isinstance(entry, Mapping) or "_target_" not in entry:
            raise UserError(f"{key}: not a {noun} config (a mapping with _target_); {options}")
        with refused_arguments(key):
            # plain lists and dicts, as the checks saw them: an object may test them as such, or keep them
            # in its checkpoint state, which torch.load(weights_only=True) must read back
            value = hydra.utils.instantiate(entry, _convert_="all")
        if not isinstance(value, kind):
            raise UserError(
                f"{key}._target_={entry['_target_']} is not a {noun} (it builds {type(value).__qualname__}); {options}"
            )
        built.append(value)
    return built
