"""Which way a change moves risk: the order of the risk modes, and the direction of a value's
change for each field. The one definition that the semantic diff, the lanes, the brakes'
effects and the environment's report all use.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final, Literal

from ._fields import LIST_FIELDS
from ._policy import RiskMode

__all__ = ["RISK_FIELDS", "RISK_ORDER", "Direction", "list_direction", "value_direction"]

Direction = Literal["loosens", "tightens", "neutral"]

RISK_ORDER: Final = (RiskMode.AGGRESSIVE, RiskMode.NORMAL, RiskMode.DEFENSIVE)
"""Risk modes from loosest to most defensive: of several brakes, the last one wins; a change
towards the end tightens."""

_RISK: Final = {mode: len(RISK_ORDER) - i for i, mode in enumerate(RISK_ORDER)}  # more: looser
# For the limits: +1 where a higher value means more risk, -1 where it means less.
_NUMERIC_RISK: Final = {"max_risk_per_trade": 1, "max_positions": 1, "global_min_confidence": -1}


RISK_FIELDS: Final = ("risk_mode", *_NUMERIC_RISK)
"""The fields whose value has a direction: the mode and the three limits."""


def _sign(number: float) -> Direction:
    return "loosens" if number > 0 else "tightens" if number < 0 else "neutral"


def value_direction(field: str, before: Any, after: Any) -> Direction:
    """What changing one value of ``field`` from ``before`` to ``after`` does to risk: the
    mode and the three limits have a direction; a list allows more when it gains an item; every
    other field (rankings, model versions, bookkeeping) is neutral."""
    if field == "risk_mode":
        return _sign(_RISK[after] - _RISK[before])
    if field in _NUMERIC_RISK:
        return _sign((after - before) * _NUMERIC_RISK[field])
    if field in LIST_FIELDS:
        return list_direction(before, after)
    return "neutral"


def list_direction(before: Iterable[str], after: Iterable[str]) -> Direction:
    """An allow-list changed: any item gained loosens (even with others lost), only losses
    tighten."""
    old, new = set(before), set(after)
    return "loosens" if new - old else "tightens" if old - new else "neutral"
