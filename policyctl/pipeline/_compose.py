"""Adjustments and brakes on a policy. Adjustments first: each replaces the values it sets
(one adjustment per field at a time). Then brakes: the most restrictive value wins, so brakes
never loosen anything, and the result does not depend on the order of the brakes.

Per field: the most defensive risk mode; the lowest risk per trade and position count; the
highest confidence threshold; the intersection of the symbol and strategy lists, in the policy's
order (the rankings of dropped symbols go with them); pinned model versions replace the policy's
(two active pins of one model to different versions are an error: there is no "tighter"
version). A value looser than the policy's has no effect and is reported as a note, since the
policy may have been tightened after the brake was written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from ..errors import PolicyValidationError
from ..model import LIST_FIELDS, RISK_ORDER, GlobalPolicy, RiskMode
from ._brakes import BrakeFile

__all__ = ["Composition", "compose"]


@dataclass(frozen=True, slots=True)
class Composition:
    """A policy with its active brakes applied.

    Attributes:
        policy: The effective policy.
        sources: Field (or ``model_versions.NAME``) -> the brakes, comma-separated, that set
            its effective value; a field no brake changed is absent.
        dropped_rankings: Ranked symbols left out because a brake no longer allows them.
        notes: Brake values that have no effect, each a sentence.
    """

    policy: GlobalPolicy
    sources: Mapping[str, str]
    dropped_rankings: tuple[str, ...]
    notes: tuple[str, ...]


class _Fold:
    """Collects, field by field, the effective value and who set it."""

    def __init__(self, base: GlobalPolicy) -> None:
        self.base = base
        self.values: dict[str, Any] = base.model_dump()
        self.values["allowed_symbols"] = list(base.allowed_symbols)
        self.values["allowed_strategies"] = list(base.allowed_strategies)
        self.sources: dict[str, list[str]] = {}
        self.notes: list[str] = []

    def claim(self, field: str, name: str) -> None:
        self.sources.setdefault(field, []).append(name)

    def scalar(self, field: str, brakes: list[tuple[str, Any]], tighter: Any) -> None:
        """``tighter(a, b)``: whether a is stricter than b."""
        base = getattr(self.base, field)
        best = base
        for name, value in brakes:
            if tighter(base, value):
                self.notes.append(
                    f"{name}: {field} {_shown(value)} is looser than the policy's"
                    f" {_shown(base)}; it has no effect"
                )
            elif tighter(value, best):
                best = value
        self.values[field] = best.value if isinstance(best, RiskMode) else best
        for name, value in brakes:
            if value == best and best != base:
                self.claim(field, name)

    def listed(self, field: str, brakes: list[tuple[str, tuple[str, ...]]]) -> None:
        base = tuple(getattr(self.base, field))
        for name, allowed in brakes:
            extra = [item for item in allowed if item not in base]
            if extra:
                self.notes.append(
                    f"{name}: {field} names {', '.join(extra)}, which the policy does not"
                    " allow; a brake cannot add to it"
                )
            if any(item not in allowed for item in base):
                self.claim(field, name)
        self.values[field] = [i for i in base if all(i in allowed for _, allowed in brakes)]


def _shown(value: Any) -> str:
    return value.value if isinstance(value, RiskMode) else f"{value:g}"


def _pins(fold: _Fold, active: Sequence[BrakeFile]) -> None:
    pinned: dict[str, tuple[str, str]] = {}
    for brake in active:
        for model, version in (brake.content.settings.model_versions or {}).items():
            if model in pinned and pinned[model][1] != version:
                other, theirs = pinned[model]
                raise PolicyValidationError.single(
                    f"{brake.name} pins {model} to {version!r} while {other} pins it to"
                    f" {theirs!r}; two active brakes cannot pin one model to two versions:"
                    " lift one of them",
                    source=str(brake.path),
                    path=("set", "model_versions", model),
                )
            pinned[model] = (brake.name, version)
    for model, (name, version) in sorted(pinned.items()):
        if fold.base.model_versions.get(model) != version:
            fold.values["model_versions"][model] = version
            fold.claim(f"model_versions.{model}", name)
            for brake in active:
                pins = brake.content.settings.model_versions or {}
                if brake.name != name and pins.get(model) == version:
                    fold.claim(f"model_versions.{model}", brake.name)


def _adjust(
    base: GlobalPolicy, adjustments: Sequence[BrakeFile]
) -> tuple[GlobalPolicy, dict[str, list[str]], list[str]]:
    """The active adjustments' values in place of ``base``'s; who set which field; the ranked
    symbols an adjustment no longer allows (their rankings go with them, as with a brake).

    Raises:
        PolicyValidationError: Two set one field, or the result is not a valid policy.
    """
    values: dict[str, Any] = base.model_dump()
    sources: dict[str, list[str]] = {}
    for adjustment in adjustments:
        for field, value in adjustment.content.settings.given().items():
            if field in sources:
                raise PolicyValidationError.single(
                    f"{adjustment.name} and {sources[field][0]} both adjust {field} at once;"
                    " one adjustment per field at a time: end one before the other starts",
                    source=str(adjustment.path),
                    path=("set", field),
                )
            values[field] = value.value if isinstance(value, RiskMode) else value
            sources[field] = [adjustment.name]
    allowed = set(values["allowed_symbols"])
    dropped = [s for s in base.opp_rankings if s not in allowed]
    if dropped:
        values["opp_rankings"] = {s: v for s, v in base.opp_rankings.items() if s in allowed}
        sources["opp_rankings"] = list(sources["allowed_symbols"])
    try:
        return GlobalPolicy.model_validate(values), sources, dropped
    except ValidationError as e:
        names = ", ".join(a.name for a in adjustments)
        raise PolicyValidationError.single(
            f"the adjustments in force ({names}) give an invalid policy:"
            f" {e.errors(include_url=False)[0]['msg']}",
            source=str(adjustments[-1].path),  # of several, the one written last by name
        ) from None


def compose(base: GlobalPolicy, active: Sequence[BrakeFile]) -> Composition:
    """Apply the active adjustments, then the active brakes, to ``base`` (the file merged with
    the environment): an adjustment replaces values, and a brake still tightens after it.

    Raises:
        PolicyValidationError: Two active brakes pin one model to different versions, two
            active adjustments set one field, or an adjustment gives an invalid policy.
    """
    if not active:
        return Composition(base, MappingProxyType({}), (), ())
    adjustments = [f for f in active if f.kind == "adjustment"]
    adjusted: dict[str, list[str]] = {}
    dropped_by_adjustments: list[str] = []
    if adjustments:
        base, adjusted, dropped_by_adjustments = _adjust(base, adjustments)
        active = [f for f in active if f.kind == "brake"]
    fold = _Fold(base)
    given = [(b.name, b.content.settings) for b in active]
    rank = RISK_ORDER.index
    fold.scalar(
        "risk_mode",
        [(n, s.risk_mode) for n, s in given if s.risk_mode is not None],
        lambda a, b: rank(a) > rank(b),
    )
    for field, stricter in (
        ("max_risk_per_trade", lambda a, b: a < b),
        ("max_positions", lambda a, b: a < b),
        ("global_min_confidence", lambda a, b: a > b),
    ):
        brakes = [(n, getattr(s, field)) for n, s in given if getattr(s, field) is not None]
        fold.scalar(field, brakes, stricter)
    for field in LIST_FIELDS:
        fold.listed(
            field, [(n, getattr(s, field)) for n, s in given if getattr(s, field) is not None]
        )
    _pins(fold, active)
    allowed = set(fold.values["allowed_symbols"])
    dropped = [s for s in base.opp_rankings if s not in allowed]
    if dropped:
        fold.values["opp_rankings"] = {s: v for s, v in base.opp_rankings.items() if s in allowed}
        fold.sources["opp_rankings"] = list(fold.sources.get("allowed_symbols", []))
    try:
        policy = GlobalPolicy.model_validate(fold.values)
    except ValidationError as e:  # tightening cannot break a rule; if it ever does, say so
        raise PolicyValidationError.single(
            f"the active brakes ({', '.join(b.name for b in active)}) give an invalid policy:"
            f" {e.errors(include_url=False)[0]['msg']}",
            source=str(active[0].path),
        ) from None
    for field, names in adjusted.items():  # a field a brake tightened further is the brake's
        fold.sources.setdefault(field, names)
    sources = {field: ", ".join(sorted(set(names))) for field, names in fold.sources.items()}
    return Composition(
        policy,
        MappingProxyType(sources),
        (*dropped_by_adjustments, *dropped),
        tuple(sorted(fold.notes)),
    )
