"""Verdicts on trading signals: `SignalVerdict`, its stable reason codes, and their sentences.

The rules themselves are `GlobalPolicy.signal_codes` (they read the policy); this module holds
what a verdict is made of, so that the codes (for machines: logs, replay, alerts) and the
sentences (for people) are listed side by side and cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

__all__ = ["ALLOWED", "REASON_CODES", "SignalVerdict", "refused"]


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


ALLOWED: Final = SignalVerdict(allowed=True)
"""The verdict of every allowed signal: frozen, so one instance serves them all."""

REASON_CODES: Final = MappingProxyType(
    {
        "symbol_not_allowed": "the symbol is not in allowed_symbols",
        "strategy_not_allowed": "the strategy is not in allowed_strategies",
        "confidence_not_finite": "the confidence is not a finite number (NaN, infinite, text)",
        "confidence_out_of_range": "the confidence is outside 0..1",
        "confidence_below_min": "the confidence is below global_min_confidence",
    }
)
"""Every code a `SignalVerdict` can carry, and what it means. Codes are stable: a new rule
adds a code, and no code changes its meaning."""


# code -> the sentence, from (symbol, strategy, confidence, global_min_confidence)
def _shown(value: Any) -> str:
    """A caller's value in a sentence, whatever it is: short, and never an exception (an
    integer of 5,000 digits has no str(), a float beyond 1e308 no :g)."""
    if type(value) is float:
        return f"{value:g}"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"<an integer of {value.bit_length()} bits>"
    try:
        text = repr(value)
    except Exception:  # a caller's object whose repr fails: still a sentence
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 80 else text[:77] + "..."


_SENTENCES: Final[dict[str, Callable[[Any, Any, Any, float], str]]] = {
    "symbol_not_allowed": lambda symbol, s, c, m: (
        f"symbol {_shown(symbol)} is not in allowed_symbols"
    ),
    "strategy_not_allowed": lambda s, strategy, c, m: (
        f"strategy {_shown(strategy)} is not in allowed_strategies"
    ),
    "confidence_not_finite": lambda s, t, confidence, m: (
        f"confidence {_shown(confidence)} is not a finite number"
    ),
    "confidence_out_of_range": lambda s, t, confidence, m: (
        f"confidence {_shown(confidence)} is outside 0..1 (a model's confidence)"
    ),
    "confidence_below_min": lambda s, t, confidence, minimum: (
        f"confidence {_shown(confidence)} is below global_min_confidence {minimum:g}"
    ),
}


def refused(
    codes: tuple[str, ...], symbol: str, strategy: str, confidence: Any, minimum: float
) -> SignalVerdict:
    """The verdict for ``codes`` (not empty), with the sentence of each."""
    reasons = tuple(_SENTENCES[c](symbol, strategy, confidence, minimum) for c in codes)
    return SignalVerdict(allowed=False, reasons=reasons, codes=codes)
