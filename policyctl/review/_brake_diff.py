"""Brake files between two sides of a diff: added, changed, removed, each with its direction.

Temporary adjustments (``kind: adjustment``) are compared the same way, with time the other way
round: an adjustment that ends later or starts earlier loosens, one removed or shortened
tightens, and `widenings` says how a change adds or extends one (always reviewed).

A brake's direction is its effect, judged against the head's policy before brakes: adding one
tightens (or is neutral, when every value it sets is already as tight, or it expired); removing
one that is still in force or scheduled loosens; a change loosens when the brake ends earlier,
starts later, or sets a looser value than before, and tightens when it does the opposite.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ..model import LIST_FIELDS, Direction, GlobalPolicy, value_direction
from ..pipeline import BrakeFile, compose
from ._diff import diff_policies

__all__ = ["BrakeChange", "brake_changes", "weakenings", "widenings"]


@dataclass(frozen=True, slots=True)
class BrakeChange:
    """One override file that differs between the sides.

    Attributes:
        name: The brake's name (its file name without ``.yaml``).
        action: ``added``, ``changed`` or ``removed``.
        direction: ``tightens``, ``loosens`` or ``neutral``, by its effect.
        brake: The brake as the head has it (as the base had it, when removed).
        why: A short explanation of the direction.
        weakens: How the change lifts or weakens the brake as written, whatever its effect
            today (removed, ends earlier, starts later, a looser or dropped value); empty when
            it does not. A lane sends any of these to review.
        widens: For a temporary adjustment, how the change adds or extends it (added, ends
            later, starts earlier, sets more, a looser value), whatever its effect today; empty
            when it only removes or shortens it. A lane sends any of these to review.
    """

    name: str
    action: str
    direction: Direction
    brake: BrakeFile
    why: str
    weakens: tuple[str, ...] = ()
    widens: tuple[str, ...] = ()


def weakenings(old: BrakeFile, new: BrakeFile | None) -> tuple[str, ...]:
    """How ``new`` lifts or weakens the brake ``old`` as written (None: removed), judged on
    the files alone: an expired brake or one looser than the policy today still counts, since
    what it holds back can change with the next pull request."""
    if new is None:
        return ("removed",)
    out = []
    if new.ends < old.ends:
        out.append("ends earlier")
    if new.starts is not None and (old.starts is None or new.starts > old.starts):
        out.append("starts later")
    before, after = old.content.settings.given(), new.content.settings.given()
    for field, value in before.items():
        if field not in after:
            out.append(f"no longer sets {field}")
        elif field in LIST_FIELDS:
            if set(after[field]) - set(value):
                out.append(f"allows more {field}")
        elif field == "model_versions":
            if any(after[field].get(model) != pin for model, pin in value.items()):
                out.append("unpins or changes a pinned model")
        elif value_direction(field, value, after[field]) == "loosens":
            out.append(f"a looser {field}")
    return tuple(out)


def widenings(old: BrakeFile | None, new: BrakeFile | None) -> tuple[str, ...]:
    """How ``new`` adds or extends a temporary adjustment (``old``: as it was; None: added),
    judged on the files alone; empty for a brake, or an adjustment removed or only shortened."""
    if new is None or new.kind != "adjustment":
        return ()
    if old is None or old.kind != "adjustment":
        return ("added",)
    out = []
    if new.ends > old.ends:
        out.append("ends later")
    if old.starts is not None and (new.starts is None or new.starts < old.starts):
        out.append("starts earlier")
    before, after = old.content.settings.given(), new.content.settings.given()
    for field, value in after.items():
        if field not in before:
            out.append(f"sets {field} too")
        elif field in LIST_FIELDS:
            if set(value) - set(before[field]):
                out.append(f"allows more {field}")
        elif value_direction(field, before[field], value) == "loosens":
            out.append(f"a looser {field}")
    return tuple(out)


def _effect(policy: GlobalPolicy, brake: BrakeFile) -> set[str]:
    """The directions of what ``brake`` alone does to ``policy`` while it is active."""
    braked = compose(policy, [brake]).policy
    return {c.direction for c in diff_policies(policy, braked)}


_OPPOSITE: dict[Direction, Direction] = {
    "loosens": "tightens",
    "tightens": "loosens",
    "neutral": "neutral",
}


def _net(directions: set[str]) -> Direction:
    """One direction for several: any loosening loosens (the side a reviewer must see)."""
    if "loosens" in directions:
        return "loosens"
    return "tightens" if "tightens" in directions else "neutral"


def _live(brake: BrakeFile, now: datetime) -> bool:
    return brake.state(now) != "expired"


def _changed(policy: GlobalPolicy, old: BrakeFile, new: BrakeFile, now: datetime) -> BrakeChange:
    old_value, new_value = compose(policy, [old]).policy, compose(policy, [new]).policy
    value = {c.direction for c in diff_policies(old_value, new_value)}
    earlier_end = new.ends < old.ends and _live(old, now)
    later_end = new.ends > old.ends and _live(new, now)
    old_start, new_start = old.starts or now, new.starts or now
    later_start = max(new_start, now) > max(old_start, now) and _live(old, now)
    earlier_start = max(new_start, now) < max(old_start, now) and _live(new, now)
    if new.kind == "adjustment" and old.kind == "adjustment":
        # An adjustment holds a loosening back in time: longer loosens, shorter tightens.
        if "loosens" in value or later_end or earlier_start:
            return BrakeChange(new.name, "changed", "loosens", new, "a looser value, or longer")
        if "tightens" in value or earlier_end or later_start:
            return BrakeChange(new.name, "changed", "tightens", new, "tighter or shorter")
        return BrakeChange(new.name, "changed", "neutral", new, "no effect on risk")
    if "loosens" in value or earlier_end or later_start:
        reasons = [
            text
            for text, flag in (
                ("a looser value", "loosens" in value),
                ("ends earlier", earlier_end),
                ("starts later", later_start),
            )
            if flag
        ]
        return BrakeChange(new.name, "changed", "loosens", new, ", ".join(reasons))
    if "tightens" in value or later_end or earlier_start:
        return BrakeChange(new.name, "changed", "tightens", new, "tighter or longer")
    return BrakeChange(new.name, "changed", "neutral", new, "no effect on risk")


def brake_changes(
    policy: GlobalPolicy | None,
    base: Sequence[BrakeFile],
    head: Sequence[BrakeFile],
    now: datetime,
) -> list[BrakeChange]:
    """What differs between the override files of two sides, by name; ``policy`` is the head's
    policy before brakes (None when the head is invalid: directions are then ``neutral``)."""
    before = {b.name: b for b in base}
    after = {b.name: b for b in head}
    out: list[BrakeChange] = []
    for name in sorted(before.keys() | after.keys()):
        old, new = before.get(name), after.get(name)
        if old is not None and new is not None and old.digest == new.digest:
            continue
        if policy is None:
            brake = new or old
            assert brake is not None
            action = "added" if old is None else "removed" if new is None else "changed"
            out.append(BrakeChange(name, action, "neutral", brake, "the head is invalid"))
        elif old is None and new is not None and new.kind == "adjustment":
            direction = _net(_effect(policy, new)) if _live(new, now) else "neutral"
            out.append(BrakeChange(name, "added", direction, new, "while active"))
        elif new is None and old is not None and old.kind == "adjustment":
            effect = _net(_effect(policy, old)) if _live(old, now) else "neutral"
            direction = _OPPOSITE[effect]
            out.append(BrakeChange(name, "removed", direction, old, "it reverts at once"))
        elif old is None and new is not None:
            tight = "tightens" in _effect(policy, new) and _live(new, now)
            why = "while active" if tight else "already as tight, or expired"
            out.append(BrakeChange(name, "added", "tightens" if tight else "neutral", new, why))
        elif new is None and old is not None:
            loose = "tightens" in _effect(policy, old) and _live(old, now)
            why = "it was in force or scheduled" if loose else "it had no effect left"
            out.append(BrakeChange(name, "removed", "loosens" if loose else "neutral", old, why))
        elif old is not None and new is not None:
            out.append(_changed(policy, old, new, now))
    return [
        dataclasses.replace(
            c,
            weakens=weakenings(before[c.name], after.get(c.name))
            if c.name in before and before[c.name].kind == "brake"
            else (),
            widens=widenings(before.get(c.name), after.get(c.name)),
        )
        for c in out
    ]
