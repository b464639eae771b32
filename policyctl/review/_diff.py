"""Semantic changes between two policies, each marked by what it does to risk.

A reviewer approving a pull request needs to see at a glance which changes *loosen* risk (more
risk: a riskier mode, more risk per trade or positions, a lower confidence bar, more symbols or
strategies), which *tighten* it, and which are *neutral* (rankings, model versions, bookkeeping).
`apply_changes` replays a change list, so a diff is known to be complete (property-tested).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..model import (
    FIELD_NAMES,
    LIST_FIELDS,
    MAP_FIELDS,
    RISK_FIELDS,
    Direction,
    GlobalPolicy,
    RiskMode,
    value_direction,
)

__all__ = [
    "Change",
    "Direction",
    "apply_changes",
    "created_changes",
    "diff_policies",
    "plain_value",
]

Action = Literal["changed", "added", "removed", "reordered"]


@dataclass(frozen=True, slots=True)
class Change:
    """One semantic change.

    Attributes:
        field: The policy field.
        key: The list item or map key concerned, or None for the field as a whole.
        action: ``changed``, ``added``, ``removed`` or ``reordered`` (list order only).
        old: The value before (None when added).
        new: The value after (None when removed).
        direction: ``loosens``, ``tightens`` or ``neutral``.
    """

    field: str
    key: str | None
    action: Action
    old: Any
    new: Any
    direction: Direction

    @property
    def path(self) -> str:
        return f"{self.field}.{self.key}" if self.key is not None else self.field

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape: field, key, path, action, old, new, direction."""
        return {
            "field": self.field,
            "key": self.key,
            "path": self.path,
            "action": self.action,
            "old": plain_value(self.old),
            "new": plain_value(self.new),
            "direction": self.direction,
        }


def plain_value(value: Any) -> Any:
    if isinstance(value, RiskMode):
        return value.value
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    return value


def _list_changes(field: str, old: Sequence[str], new: Sequence[str]) -> list[Change]:
    old_set, new_set = set(old), set(new)
    changes = [Change(field, k, "removed", k, None, "tightens") for k in old if k not in new_set]
    changes += [Change(field, k, "added", None, k, "loosens") for k in new if k not in old_set]
    replayed = [k for k in old if k in new_set] + [k for k in new if k not in old_set]
    if replayed != list(new):
        changes.append(Change(field, None, "reordered", tuple(old), tuple(new), "neutral"))
    return changes


def _map_changes(field: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    changes = [
        Change(field, k, "removed", v, None, "neutral") for k, v in old.items() if k not in new
    ]
    for key, value in new.items():
        if key not in old:
            changes.append(Change(field, key, "added", None, value, "neutral"))
        elif old[key] != value:
            changes.append(Change(field, key, "changed", old[key], value, "neutral"))
    return changes


def diff_policies(old: GlobalPolicy, new: GlobalPolicy) -> list[Change]:
    """Every semantic difference from ``old`` to ``new``, in field order.

    Map key order is not a change (a map is a map); list order is (``reordered``, neutral).
    """
    changes: list[Change] = []
    for name in FIELD_NAMES:
        before, after = getattr(old, name), getattr(new, name)
        if name in LIST_FIELDS:
            changes += _list_changes(name, before, after)
        elif name in MAP_FIELDS:
            changes += _map_changes(name, before, after)
        elif before != after:
            direction = value_direction(name, before, after)
            changes.append(Change(name, None, "changed", before, after, direction))
    return changes


def created_changes(new: GlobalPolicy) -> list[Change]:
    """Every field of a policy that did not exist before (a file added by a pull request).

    Nothing may trade without a policy, so whatever the new one grants loosens risk: its mode,
    limits and threshold, and each allowed symbol or strategy. Rankings, model versions and
    bookkeeping are neutral, as they are in `diff_policies`.
    """
    changes: list[Change] = []
    for name in FIELD_NAMES:
        value = getattr(new, name)
        if name in LIST_FIELDS:
            changes += [Change(name, k, "added", None, k, "loosens") for k in value]
        elif name in MAP_FIELDS:
            changes += [Change(name, k, "added", None, v, "neutral") for k, v in value.items()]
        elif value is not None:
            direction: Direction = "loosens" if name in RISK_FIELDS else "neutral"
            changes.append(Change(name, None, "added", None, value, direction))
    return changes


def apply_changes(data: Mapping[str, Any], changes: Sequence[Change]) -> dict[str, Any]:
    """Replay ``changes`` on a policy's plain data (``model_dump()``); returns new data."""
    out: dict[str, Any] = {
        k: list(v) if isinstance(v, tuple | list) else dict(v) if isinstance(v, Mapping) else v
        for k, v in data.items()
    }
    for change in changes:
        if change.key is None and change.action != "reordered":
            out[change.field] = plain_value(change.new)
        elif change.action == "reordered":
            out[change.field] = list(change.new)
        elif change.field in LIST_FIELDS:
            items = out.setdefault(change.field, [])
            if change.action == "removed":
                items.remove(change.key)
            else:
                items.append(change.key)
        elif change.action == "removed":
            del out[change.field][change.key]
        else:
            out.setdefault(change.field, {})[change.key] = change.new
    return out
