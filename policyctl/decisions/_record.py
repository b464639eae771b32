"""The decision record: one JSON object per line, the one definition the log writer, the
generator and the reader share.

A record, in this order (format 2)::

    {"time": "2026-11-28T18:30:00.123456Z",   # UTC, microseconds
     "symbol": "BTCUSDT", "strategy": "trend_follow", "confidence": 0.83,   # the inputs
     "risk_per_trade": 0.004, "open_positions": 2,   # an order's inputs (orders only)
     "context": {"signal_id": "s-1", "account": "***"},   # the caller's, masked keys as ***
     "allowed": false, "codes": ["confidence_below_min"],  # the verdict (signals.REASON_CODES)
     "format": 2, "version": 8, "digest": "<sha256 of the policy file>",
     "risk_mode": "NORMAL",                       # recorded: it has no rule of its own
     "brakes": ["cpi"], "overrides": ["cpi"]}     # active brakes; "overrides": their first name

``symbol`` and ``strategy`` are text and ``confidence`` a number (or the text ``nan``,
``inf``, ``-inf``): a line without them is not a decision. A record with either of
`ORDER_INPUTS` is an order's (``store.decide`` with them: `GlobalPolicy.evaluate_order`),
replayed as one; without them, a signal's. A record without ``format`` is format 1 (logs
written before the key existed); format 1 has no order inputs and no ``risk_mode``; one
without ``brakes`` names them under ``overrides``. A new format adds keys and raises
`FORMAT`; readers keep reading the old ones.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

__all__ = [
    "FORMAT",
    "INPUTS",
    "KEYS",
    "ORDER_INPUTS",
    "brakes_of",
    "format_of",
    "policy_part",
    "record_json",
]

FORMAT: Final = 2
"""The record format this version writes (2: order inputs and ``risk_mode``)."""

KEYS: Final = (
    "time",
    "symbol",
    "strategy",
    "confidence",
    "risk_per_trade",
    "open_positions",
    "context",
    "allowed",
    "codes",
    "format",
    "version",
    "digest",
    "risk_mode",
    "brakes",
    "overrides",
)
"""Every key a record written now may hold, in order (`ORDER_INPUTS` an order's only)."""

INPUTS: Final = ("symbol", "strategy", "confidence")
"""The keys a line must hold to be replayed."""

ORDER_INPUTS: Final = ("risk_per_trade", "open_positions")
"""An order's inputs beside `INPUTS`: a record holding them is replayed as an order."""

_OLD_BRAKES: Final = "overrides"  # the first name of "brakes", still written for old readers
_compact = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def policy_part(version: int, digest: str, risk_mode: str, brakes: Sequence[str]) -> str:
    """The record's policy keys as JSON text (no braces): the same for every decision a
    snapshot serves, so the writer builds it once per snapshot."""
    names = _compact(list(brakes))
    return (
        f'"format":{FORMAT},"version":{version},"digest":{_compact(digest)},'
        f'"risk_mode":{_compact(str(risk_mode))},"brakes":{names},"{_OLD_BRAKES}":{names}'
    )


def record_json(
    *,
    time: str,
    symbol: str,
    strategy: str,
    confidence: float,
    context: Mapping[str, Any],
    allowed: bool,
    codes: Sequence[str],
    policy: str,
    order: tuple[float, int] | None = None,
) -> str:
    """One record as a JSON line (without the newline); ``policy`` is `policy_part`'s text;
    ``order`` an order's (risk_per_trade, open_positions)."""
    inputs = _compact(
        {
            "time": time,
            "symbol": symbol,
            "strategy": strategy,
            "confidence": confidence,
            **({k: _finite(v) for k, v in zip(ORDER_INPUTS, order, strict=True)} if order else {}),
            "context": dict(context),
            "allowed": allowed,
            "codes": list(codes),
        }
    )
    return f"{inputs[:-1]},{policy}}}"


def _finite(value: Any) -> Any:
    """A non-finite number as the text the log writes for it (``nan``, ``inf``, ``-inf``)."""
    return str(value) if type(value) is float and not math.isfinite(value) else value


def brakes_of(record: Mapping[str, Any]) -> Any:
    """The brake names a record gives (under ``brakes``, or ``overrides`` in older logs);
    unchecked: the caller checks it is a list of text."""
    return record.get("brakes", record.get(_OLD_BRAKES))


def format_of(record: Mapping[str, Any]) -> object:
    """The record's format: ``format``, or 1 for logs written before the key existed."""
    return record.get("format", 1)
