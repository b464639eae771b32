"""Turn pydantic's validation errors into messages for people: what, and what would be valid.

pydantic says "Input should be a valid integer"; a risk desk reviewer needs "true is a boolean,
not a whole number; valid: a whole number >= 1". We have the source text of every value (through
the position map), so a float where a version string belongs can say ``quote it: "3.10"`` with
the digits exactly as written, not as the float 3.1 prints.
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

from pydantic_core import ErrorDetails

from ..model import (
    DESCRIPTIONS,
    FIELD_NAMES,
    NAME_PATTERN,
    SYMBOL_PATTERN,
    TIMESTAMP_PATTERN,
    RiskMode,
)

__all__ = ["describe"]


def _kind(value: object) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _shown(value: object, raw: str | None) -> str:
    if isinstance(value, str):
        return json.dumps(value)  # text is always shown quoted, so '"5" is text' reads right
    if raw:
        return raw  # numbers as written: 3.10, 1e1, .nan
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)


def _suggest(word: str, choices: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" — did you mean {close[0]!r}?" if close else ""


def _pattern_message(value: str, pattern: str) -> str:
    if pattern == SYMBOL_PATTERN:
        hint = ""
        if re.fullmatch(SYMBOL_PATTERN, value.upper()):
            hint = f"; did you mean {value.upper()!r}?"
        return (
            f"{value!r} is not a valid symbol: upper-case letters, digits and . _ / -,"
            f" at most 32 characters{hint}"
        )
    if pattern == NAME_PATTERN:
        return f"{value!r} is not a valid name: letters, digits and _ . -, at most 64 characters"
    if pattern == TIMESTAMP_PATTERN:
        return f'{value!r} is not an RFC 3339 UTC timestamp; write it like "2026-11-27T10:00:00Z"'
    return f"{value!r} does not have the expected form"


def _unquote(value: object) -> str:
    if isinstance(value, str) and re.fullmatch(r"^[-+]?[0-9.]+(?:[eE][-+]?[0-9]+)?$", value):
        return "; remove the quotes"
    return ""


def describe(error: ErrorDetails, raw: str | None) -> str:
    """A message for one pydantic error.

    Args:
        error: One entry of ``ValidationError.errors()``.
        raw: The offending value's text as written in the file or the environment, if known.
    """
    kind = error["type"]
    value: Any = error.get("input")
    loc = error["loc"]
    field = str(loc[0]) if loc else ""
    valid = f"; valid: {DESCRIPTIONS[field]}" if field in DESCRIPTIONS else ""
    shown = _shown(value, raw)

    if kind == "missing":
        return f"required field {field!r} is missing; add it ({DESCRIPTIONS.get(field, '')})"
    if kind == "extra_forbidden":
        return f"unknown key {field!r}{_suggest(field, FIELD_NAMES)}" + (
            "" if _suggest(field, FIELD_NAMES) else f"; known keys: {', '.join(FIELD_NAMES)}"
        )
    if kind in ("int_type", "int_from_float", "int_parsing"):
        if isinstance(value, float) and value.is_integer():
            return f"{shown} is a decimal number, not a whole number; write {int(value)}"
        return f"{shown} is {_kind(value)}, not a whole number{_unquote(value)}{valid}"
    if kind in ("float_type", "float_parsing"):
        return f"{shown} is {_kind(value)}, not a number{_unquote(value)}{valid}"
    if kind == "string_type":
        if value is None:
            return 'the value is empty; write it in quotes, e.g. "1.0"'
        if isinstance(value, int | float):
            return f'{shown} is {_kind(value)}, not text; quote it: "{shown}"'
        return f"{shown} is {_kind(value)}, not text{valid}"
    if kind == "finite_number":
        return f"{shown} is not a finite number{valid}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        if isinstance(value, float) and value.is_integer() and raw is None:
            shown = f"{value:g}"  # 70, not 70.0: the number as the user typed it
        hint = ""
        if field in _FRACTIONS and isinstance(value, int | float) and 1 < value <= 100:
            hint = f"; a fraction: for {value:g}% write {value / 100:g}"
        return f"{shown} is out of range{valid}{hint}"
    if kind == "enum":
        members = tuple(RiskMode.__members__)
        if isinstance(value, str) and value.upper() in members:
            return f"{shown} must be written in upper case: {value.upper()}"
        if not isinstance(value, str):
            return f"{shown} is {_kind(value)}, not a risk mode{valid}"
        return f"{shown} is not a risk mode{_suggest(value.upper(), members)}{valid}"
    if kind == "string_pattern_mismatch" and isinstance(value, str):
        return _pattern_message(value, str(error.get("ctx", {}).get("pattern", "")))
    if kind in ("string_too_short", "string_too_long"):
        return f"{shown} is {'empty' if kind == 'string_too_short' else 'too long'}{valid}"
    if kind in ("tuple_type", "list_type"):
        return f"expected a list, got {_kind(value)}{valid}"
    if kind in ("dict_type", "mapping_type"):
        return f"expected a mapping, got {_kind(value)}{valid}"
    # Our own rules (duplicate_item, aggregate_risk, ...) carry finished messages.
    return str(error["msg"]) if kind in _OWN_RULES else f"{error['msg']}{valid}"


# Fields whose value is a fraction, where 1.2 or 70 is likely a percentage typed as such (not a
# ranking's score: a score is no percentage of anything).
_FRACTIONS = frozenset({"max_risk_per_trade", "global_min_confidence"})

_OWN_RULES = frozenset(
    {
        "duplicate_item",
        "ranked_symbol_not_allowed",
        "aggregate_risk",
        "timestamp",
        "control_character",
        "version",
        "model_name_case",
    }
)
