"""How one semantic change is told: its words, its order among others, the counts by direction.

Shared by the commands that report changes: ``diff``, ``log``, ``set`` and the other edits,
``brake`` and ``propose``.

Loosening changes come first everywhere: they are what a risk desk reviewer must not miss.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..model import LIST_FIELDS
from ..review import Change, plain_value
from ._escape import printable

__all__ = ["describe_change", "sorted_changes", "summary", "value_text"]

_ORDER = {"loosens": 0, "tightens": 1, "neutral": 2}


def value_text(value: Any) -> str:
    plain = plain_value(value)
    return plain if isinstance(plain, str) else json.dumps(plain)


def describe_change(change: Change) -> str:
    """One change on one line: ``max_positions: 5 -> 4``, ``allowed_symbols: + SOLUSDT``."""
    path = printable(change.path)
    if change.field in LIST_FIELDS and change.action in ("added", "removed"):
        sign = "+" if change.action == "added" else "-"
        return f"{change.field}: {sign} {printable(str(change.key))}"
    if change.action == "added":
        return f"{path}: + {printable(value_text(change.new))}"
    if change.action == "removed":
        return f"{path}: - {printable(value_text(change.old))}"
    return f"{path}: {printable(value_text(change.old))} -> {printable(value_text(change.new))}"


def sorted_changes(changes: Sequence[Change]) -> list[Change]:
    return sorted(changes, key=lambda c: _ORDER[c.direction])


def summary(changes: Sequence[Change]) -> dict[str, int]:
    return {d: sum(1 for c in changes if c.direction == d) for d in _ORDER}
