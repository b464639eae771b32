"""Lanes: which proposals may merge without the risk desk.

``auto`` when every change to the policy (its own, each brake's, and the policy in force now)
is neutral or tightens; ``review`` when anything loosens; ``invalid`` when the head is not a
valid policy. A brake added or extended counts by its effect (see `brake_changes`); a brake
removed, shortened or weakened is ``review`` whatever its effect today (a brake that holds
nothing back now may be what holds back the next change). A temporary adjustment is the other
way round: adding or extending one is always ``review``; removing or shortening one is ``auto``
(unless the policy in force would loosen: an adjustment that tightened, removed).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from ..model import BRAKES_DIR_NAME
from ..pipeline import DEFAULT_POLICY_FILE, brake_name
from ._brake_diff import BrakeChange
from ._compare import Comparison
from ._diff import Change

__all__ = ["Lane", "LaneVerdict", "lane", "lane_of"]

Lane = Literal["auto", "review", "invalid"]


@dataclass(frozen=True, slots=True)
class LaneVerdict:
    """A lane and why: each loosening (or the head's errors), one sentence each."""

    lane: Lane
    reasons: tuple[str, ...]


def _loosening(changes: Iterable[Change], brakes: Iterable[BrakeChange]) -> list[str]:
    changes = list(changes)
    out = [f"{c.path} {c.action}: loosens" for c in changes if c.direction == "loosens"]
    # A model added (untested, perhaps) or dropped is for a person to see; a new version of a
    # model the policy runs is the model lifecycle's everyday change.
    out += [
        f"{c.path} {c.action}: a model {'added' if c.action == 'added' else 'dropped'} is reviewed"
        for c in changes
        if c.field == "model_versions" and c.action in ("added", "removed")
    ]
    for b in brakes:
        if b.widens:  # added or extended: always reviewed, whatever it sets today
            out.append(
                f"adjustment {b.name} {b.action}: {', '.join(b.widens)}"
                " (a temporary adjustment is reviewed)"
            )
        elif b.brake.kind == "adjustment" and b.direction == "loosens":
            out.append(f"adjustment {b.name} {b.action}: loosens ({b.why})")
        elif b.direction == "loosens":
            out.append(f"brake {b.name} {b.action}: loosens ({b.why})")
        elif b.weakens:  # whatever its effect today: what it holds back can change tomorrow
            out.append(f"brake {b.name} {b.action}: {', '.join(b.weakens)} (lifted by review only)")
        elif b.action != "removed" and b.brake.content.settings.model_versions:
            # A pin can add a model the policy lacks or move one forward: neither tightens.
            out.append(f"brake {b.name} {b.action}: pins model_versions (a pin is reviewed)")
    return out


def lane_of(changes: Iterable[Change], brakes: Iterable[BrakeChange]) -> LaneVerdict:
    """The lane of a set of changes to a valid policy, and why."""
    reasons = tuple(_loosening(changes, brakes))
    return LaneVerdict("review" if reasons else "auto", reasons)


def _other_paths(comparison: Comparison, paths: Iterable[str]) -> list[str]:
    """The changed paths that are neither the policy file nor a brake file beside it: the auto
    lane takes nothing else (a decision sample, a new file, the checker)."""
    file = comparison.file or DEFAULT_POLICY_FILE
    brakes = posixpath.join(posixpath.dirname(file), BRAKES_DIR_NAME)
    return [
        f"{path} changed: the auto lane takes only {file} and the brake files in {brakes}/"
        for path in paths
        if path != file
        and not (posixpath.dirname(path) == brakes and brake_name(posixpath.basename(path)))
    ]


def lane(comparison: Comparison, paths: Iterable[str] = ()) -> LaneVerdict:
    """The lane of a diff's head against its base; ``paths``: every path the change touches
    (from git), of which any but the policy file and its brake files is ``review``."""
    if comparison.head.error is not None:
        return LaneVerdict("invalid", tuple(str(i) for i in comparison.head.error.issues))
    if comparison.head.snapshot is None:
        return LaneVerdict("invalid", ("the head has no policy file",))
    reasons = _loosening(comparison.changes, comparison.brakes)
    reasons += [
        f"in force now: {r}"
        for r in _loosening(comparison.effective, ())
        if r.split(" ")[0] not in {c.path for c in comparison.changes if c.direction == "loosens"}
    ]
    if comparison.base.error is not None:  # a broken base: nothing to measure the head by
        reasons.append("the base is invalid, so the head cannot be measured against it")
    reasons += _other_paths(comparison, paths)
    return LaneVerdict("review" if reasons else "auto", tuple(dict.fromkeys(reasons)))
