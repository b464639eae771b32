"""Verdicts on trading signals and orders: `SignalVerdict`, its stable reason codes, and their
sentences.

The rules themselves are `GlobalPolicy.signal_codes` and `GlobalPolicy.order_codes` (they read
the policy); this module holds what a verdict is made of, so that the codes (for machines: logs,
replay, alerts) and the sentences (for people) are listed side by side and cannot drift apart.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, NamedTuple

__all__ = [
    "ALLOWED",
    "MAX_OPEN_POSITIONS",
    "REASON_CODES",
    "Facts",
    "SignalVerdict",
    "as_count",
    "as_number",
    "as_text",
    "refused",
]


@dataclass(frozen=True, slots=True)
class SignalVerdict:
    """Whether a trading signal may proceed under the policy, and every reason it may not.

    A plain frozen dataclass, not a pydantic model: it is built on the signal path, where a
    pydantic model's validation would cost microseconds per signal for nothing.
    """

    allowed: bool
    reasons: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    """Stable machine-readable reasons, one per entry of ``reasons`` (see `REASON_CODES`)."""
    risk_mode: str | None = None
    """The policy's risk mode, recorded by `GlobalPolicy.evaluate_order` (no rule of its own:
    its meaning belongs to the strategies); None from `evaluate_signal`."""


ALLOWED: Final = SignalVerdict(allowed=True)
"""The verdict of every allowed signal: frozen, so one instance serves them all."""

REASON_CODES: Final = MappingProxyType(
    {
        "symbol_not_allowed": "the symbol is not in allowed_symbols",
        "strategy_not_allowed": "the strategy is not in allowed_strategies",
        "confidence_not_finite": "the confidence is not a finite number (NaN, infinite, text)",
        "confidence_out_of_range": "the confidence is outside 0..1",
        "confidence_below_min": "the confidence is below global_min_confidence",
        "open_positions_invalid": (
            "open_positions is not a whole number from 0 to 2**63 - 1 (a count of positions)"
        ),
        "max_positions_reached": (
            "the order would open position open_positions + 1, over max_positions"
        ),
        "risk_per_trade_not_finite": (
            "risk_per_trade is not a finite number (NaN, infinite, text, an integer beyond 64 bits)"
        ),
        "risk_per_trade_out_of_range": "risk_per_trade is outside 0..1 (a fraction of equity)",
        "risk_per_trade_exceeded": "risk_per_trade is above max_risk_per_trade",
    }
)
"""Every code a `SignalVerdict` can carry, and what it means. Codes are stable: a new rule
adds a code, and no code changes its meaning."""


MAX_OPEN_POSITIONS: Final = 2**63 - 1
"""The largest count of open positions an order may give: beyond it, no count of anything."""


class Facts(NamedTuple):
    """What a refusal's sentences may name: the caller's inputs and the policy's limits."""

    symbol: Any
    strategy: Any
    confidence: Any
    min_confidence: float
    risk_per_trade: Any = None
    max_risk_per_trade: float = 0.0
    open_positions: Any = None
    max_positions: int = 0


# A caller's values as the rules read them: plain text and plain numbers, taken from what the
# value *is* (a str's characters, an int's value), never from methods a subclass can override
# (a hash or an equality that lies, a comparison that raises). A value none of these can read
# is refused by the rule that needs it; none of them ever raises.


def as_text(value: object) -> str | None:
    """A symbol or a strategy as plain text: a str, or a str subclass's characters (a
    StrEnum); None for anything else."""
    if type(value) is str:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    return None


def as_number(value: object, *, bounded: bool = False) -> float | int | None:
    """A confidence or a risk as a plain finite number: an int, a float, or anything that
    converts to one (a float or int subclass such as numpy's, a Decimal, a Fraction); None
    for a bool, text, NaN or infinity, and with ``bounded`` an integer beyond 64 bits (which no
    log can write as a number)."""
    try:
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            whole = int.__index__(value)
            return None if bounded and whole.bit_length() > 63 else whole
        if isinstance(value, float):
            number = float.__float__(value)
        elif hasattr(type(value), "__float__"):
            number = float(value)  # type: ignore[arg-type]
        else:
            return None
    except Exception:  # a caller's object that fails to convert: not a number
        return None
    return number if math.isfinite(number) else None


def as_count(value: object) -> int | None:
    """A count of open positions: a whole number from 0 to `MAX_OPEN_POSITIONS` (an int, an
    int subclass, anything with ``__index__`` such as numpy's integers); None otherwise (a
    bool, a float even when whole, text, a negative or huge number)."""
    try:
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            count = int.__index__(value)
        elif hasattr(type(value), "__index__"):
            count = operator.index(value)  # type: ignore[arg-type]
        else:
            return None
    except Exception:
        return None
    return count if 0 <= count <= MAX_OPEN_POSITIONS else None


def _shown(value: Any) -> str:
    """A caller's value in a sentence, whatever it is: short, and never an exception (an
    integer of 5,000 digits has no str(), a float beyond 1e308 no :g)."""
    try:
        if type(value) is float:
            return f"{value:g}"
        if isinstance(value, int) and not isinstance(value, bool):
            bits = int.bit_length(value)
            if bits > 64:
                return f"<an integer of {bits} bits>"
        text = repr(value)
    except Exception:  # a caller's object whose repr fails: still a sentence
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 80 else text[:77] + "..."


_SENTENCES: Final[dict[str, Callable[[Facts], str]]] = {
    "symbol_not_allowed": lambda f: f"symbol {_shown(f.symbol)} is not in allowed_symbols",
    "strategy_not_allowed": lambda f: f"strategy {_shown(f.strategy)} is not in allowed_strategies",
    "confidence_not_finite": lambda f: f"confidence {_shown(f.confidence)} is not a finite number",
    "confidence_out_of_range": lambda f: (
        f"confidence {_shown(f.confidence)} is outside 0..1 (a model's confidence)"
    ),
    "confidence_below_min": lambda f: (
        f"confidence {_shown(f.confidence)} is below global_min_confidence {f.min_confidence:g}"
    ),
    "open_positions_invalid": lambda f: (
        f"open_positions {_shown(f.open_positions)} is not a count of positions (a whole number"
        " from 0)"
    ),
    "max_positions_reached": lambda f: (
        f"{_shown(f.open_positions)} positions are open: another would be over max_positions"
        f" {f.max_positions}"
    ),
    "risk_per_trade_not_finite": lambda f: (
        f"risk_per_trade {_shown(f.risk_per_trade)} is not a finite number"
    ),
    "risk_per_trade_out_of_range": lambda f: (
        f"risk_per_trade {_shown(f.risk_per_trade)} is outside 0..1 (a fraction of equity:"
        " 0.01 is 1%)"
    ),
    "risk_per_trade_exceeded": lambda f: (
        f"risk_per_trade {_shown(f.risk_per_trade)} is above max_risk_per_trade"
        f" {f.max_risk_per_trade:g}"
    ),
}


def refused(codes: tuple[str, ...], facts: Facts, risk_mode: str | None = None) -> SignalVerdict:
    """The verdict for ``codes`` (not empty), with the sentence of each."""
    reasons = tuple(_SENTENCES[c](facts) for c in codes)
    return SignalVerdict(allowed=False, reasons=reasons, codes=codes, risk_mode=risk_mode)
