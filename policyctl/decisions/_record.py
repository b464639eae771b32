"""The decision record: one JSON object per line, the one definition the log writer, the
generator and the reader share.

A record, in this order (format 1)::

    {"time": "2026-11-28T18:30:00.123456Z",   # UTC, microseconds
     "symbol": "BTCUSDT", "strategy": "trend_follow", "confidence": 0.83,   # the inputs
     "context": {"signal_id": "s-1", "account": "***"},   # the caller's, masked keys as ***
     "allowed": false, "codes": ["confidence_below_min"],  # the verdict (signals.REASON_CODES)
     "format": 1, "version": 8, "digest": "<sha256 of the policy file>",
     "brakes": ["cpi"], "overrides": ["cpi"]}     # active brakes; "overrides": their first name

``symbol`` and ``strategy`` are text and ``confidence`` a number (or the text ``nan``,
``inf``, ``-inf``): a line without them is not a decision. A record without ``format`` is
format 1 (logs written before the key existed); one without ``brakes`` names them under
``overrides``. A new format adds keys and raises `FORMAT`; readers keep reading the old ones.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

__all__ = [
    "FORMAT",
    "INPUTS",
    "KEYS",
    "brakes_of",
    "format_of",
    "policy_part",
    "record_json",
]

FORMAT: Final = 1
"""The record format this version writes."""

KEYS: Final = (
    "time",
    "symbol",
    "strategy",
    "confidence",
    "context",
    "allowed",
    "codes",
    "format",
    "version",
    "digest",
    "brakes",
    "overrides",
)
"""Every key a record written now holds, in order."""

INPUTS: Final = ("symbol", "strategy", "confidence")
"""The keys a line must hold to be replayed."""

_OLD_BRAKES: Final = "overrides"  # the first name of "brakes", still written for old readers
_compact = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def policy_part(version: int, digest: str, brakes: Sequence[str]) -> str:
    """The record's policy keys as JSON text (no braces): the same for every decision a
    snapshot serves, so the writer builds it once per snapshot."""
    names = _compact(list(brakes))
    return (
        f'"format":{FORMAT},"version":{version},"digest":{_compact(digest)},'
        f'"brakes":{names},"{_OLD_BRAKES}":{names}'
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
) -> str:
    """One record as a JSON line (without the newline); ``policy`` is `policy_part`'s text."""
    inputs = _compact(
        {
            "time": time,
            "symbol": symbol,
            "strategy": strategy,
            "confidence": confidence,
            "context": dict(context),
            "allowed": allowed,
            "codes": list(codes),
        }
    )
    return f"{inputs[:-1]},{policy}}}"


def brakes_of(record: Mapping[str, Any]) -> Any:
    """The brake names a record gives (under ``brakes``, or ``overrides`` in older logs);
    unchecked: the caller checks it is a list of text."""
    return record.get("brakes", record.get(_OLD_BRAKES))


def format_of(record: Mapping[str, Any]) -> object:
    """The record's format: ``format``, or 1 for logs written before the key existed."""
    return record.get("format", 1)
