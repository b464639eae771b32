"""Env: the ``QT_*`` variables: the table, strict parsing, provenance and near-miss warnings.

This module only parses: a value that cannot be read for its field raises `PolicyEnvError` here;
ranges and cross-field rules are checked by the model on the merged policy (the one pipeline),
and the loader attributes those errors back to the variable.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ..errors import Issue, PolicyEnvError
from ..model import RiskMode

__all__ = [
    "ENV_LOOSENS_VARIABLE",
    "POLICY_FILE_VARIABLE",
    "TRUST_VARIABLE",
    "VARIABLES",
    "EnvValues",
    "EnvVariable",
    "near_misses",
    "parse_value",
    "read_env",
]

POLICY_FILE_VARIABLE: Final = "QT_POLICY_FILE"
TRUST_VARIABLE: Final = "QT_POLICY_TRUST"
"""The trusted keys' directory: with it, a store serves only signed bundles."""
STALE_SET_VARIABLE: Final = "QT_POLICY_STALE_SET"
"""A brake's ``set`` as JSON (``{"risk_mode": "DEFENSIVE"}``): composed like a brake while the
signed bundle served is past its expiry."""
SIGNED_BRAKES_VARIABLE: Final = "QT_SIGNED_BRAKES_DIR"
"""A directory of signed brakes (``NAME.dsse.json``) a store with trust applies at once."""
ENV_LOOSENS_VARIABLE: Final = "QT_POLICY_ENV_LOOSENS"
"""``allow``: under trust, let this environment loosen the signed policy (a test environment
only; status and metrics show every loosening variable)."""


@dataclass(frozen=True, slots=True)
class EnvVariable:
    """One recognised variable: its name, the field it overrides, and the format it takes."""

    name: str
    field: str
    kind: str  # "mode" | "number" | "integer" | "list" | "map"
    format: str


VARIABLES: Final = (
    EnvVariable("QT_RISK_MODE", "risk_mode", "mode", "AGGRESSIVE/NORMAL/DEFENSIVE, any case"),
    EnvVariable("QT_MAX_RISK_PER_TRADE", "max_risk_per_trade", "number", "number"),
    EnvVariable("QT_MAX_POSITIONS", "max_positions", "integer", "integer"),
    EnvVariable("QT_CONFIDENCE_THRESHOLD", "global_min_confidence", "number", "number"),
    EnvVariable("QT_ALLOWED_SYMBOLS", "allowed_symbols", "list", "comma-separated or JSON array"),
    EnvVariable(
        "QT_ALLOWED_STRATEGIES", "allowed_strategies", "list", "comma-separated or JSON array"
    ),
    EnvVariable("QT_MODEL_VERSIONS", "model_versions", "map", "JSON object, merged over the file"),
)

_KNOWN: Final = frozenset(v.name for v in VARIABLES) | {
    POLICY_FILE_VARIABLE,
    "QT_OVERRIDES_DIR",
    TRUST_VARIABLE,
    ENV_LOOSENS_VARIABLE,
    SIGNED_BRAKES_VARIABLE,
    STALE_SET_VARIABLE,
}
_INTEGER = re.compile(r"^[+-]?[0-9]+$")
# Decimal numbers only: no nan/inf, no hex, no booleans, nothing float() would also accept.
_NUMBER = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")


@dataclass(frozen=True, slots=True)
class EnvValues:
    """What the environment changes: parsed values by field, and the variable behind each."""

    values: Mapping[str, Any] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict)
    raw: Mapping[str, str] = field(default_factory=dict)

    def merge(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The file's data with the environment's values: maps key by key, all else replaced."""
        merged = dict(data)
        for name, value in self.values.items():
            base = merged.get(name)
            merged[name] = (
                {**base, **value} if isinstance(value, dict) and isinstance(base, dict) else value
            )
        return merged


class _Bad(ValueError):
    """A value that cannot be parsed for its field; the message says why."""


_MAX_DIGITS = 18  # no field takes a whole number this long; int() of 5,000 digits raises


def _bounded_int(text: str) -> int:
    digits = text.lstrip("+-")
    if len(digits) > _MAX_DIGITS:
        raise _Bad(f"a whole number of {len(digits):,} digits; no field takes one this large")
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Bad("too large: not a finite number")
    return value


def _no_constant(name: str) -> Any:
    raise _Bad(f"{name} is not a number a policy can hold; use a finite number")


def _json(text: str, shape: str) -> Any:
    """JSON with every number finite and bounded, and nesting that cannot exhaust the stack."""
    try:
        return json.loads(
            text, parse_int=_bounded_int, parse_float=_finite_float, parse_constant=_no_constant
        )
    except json.JSONDecodeError as e:
        raise _Bad(f"not a valid JSON {shape} ({e.msg} at character {e.pos})") from None
    except RecursionError:
        raise _Bad(f"not a valid JSON {shape}: nested too deeply") from None


def _parse_list(text: str) -> list[str]:
    if text.lstrip().startswith("["):
        items = _json(text, "array")
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise _Bad("the JSON array must hold strings only")
        return items
    items = [item.strip() for item in text.split(",")]
    if "" in items:
        raise _Bad("an empty item; separate names with single commas: A,B")
    return items


def _parse_map(text: str) -> dict[str, str]:
    if not text.lstrip().startswith("{"):
        raise _Bad('expected a JSON object of model name -> version, like {"lstm": "3.10"}')
    value: dict[str, Any] = parse_value("object", text)
    for key, version in value.items():
        if not isinstance(version, str):
            if version is None:
                raise _Bad(f'the version of {key!r} is null; give it as a JSON string, e.g. "3.10"')
            raise _Bad(
                f'the version of {key!r} must be a JSON string; quote it: "{json.dumps(version)}"'
            )
    return value


def _parse(variable: EnvVariable, text: str) -> Any:
    if variable.kind == "map":
        return _parse_map(text)
    return parse_value(variable.kind, text)


def parse_value(kind: str, text: str) -> Any:
    """Parse a value given as text (an environment variable, a ``policyctl set`` argument).

    Args:
        kind: ``mode``, ``number``, ``integer``, ``list`` (comma-separated or JSON array),
            ``object`` (any JSON object) or ``text`` (taken as is).
        text: The value.

    Raises:
        ValueError: The text cannot be read as ``kind``; the message says why.
    """
    stripped = text.strip()
    if kind == "text":
        return text
    if kind == "mode":
        # Case-insensitive in ASCII only: str.upper() maps a long s (U+017F) to S, and so on.
        upper = stripped.upper() if stripped.isascii() else stripped
        if upper not in RiskMode.__members__:
            raise _Bad("expected one of " + ", ".join(RiskMode.__members__))
        return upper
    if kind == "integer":
        if not _INTEGER.fullmatch(stripped):
            raise _Bad("expected a whole number like 5")
        return _bounded_int(stripped)
    if kind == "number":
        if not _NUMBER.fullmatch(stripped):
            raise _Bad("expected a finite decimal number like 0.01")
        return _finite_float(stripped)
    if kind == "list":
        return _parse_list(text)
    value = _json(text, "object")
    if not isinstance(value, dict):
        raise _Bad('expected a JSON object like {"BTCUSDT": 0.9}')
    return value


def read_env(environ: Mapping[str, str]) -> EnvValues:
    """Read the recognised ``QT_*`` variables from ``environ``.

    Args:
        environ: The environment (``os.environ`` or a plain mapping). Empty values count as unset.

    Returns:
        The parsed values and their provenance.

    Raises:
        PolicyEnvError: A variable's value cannot be parsed for its field; every such variable is
            named, with its value and the reason.
    """
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    raw: dict[str, str] = {}
    issues = []
    for variable in VARIABLES:
        text = environ.get(variable.name, "")
        if text.strip() == "":  # empty, or only blanks: unset (a stray space is not a value)
            continue
        try:
            value = _parse(variable, text)
        except _Bad as e:
            issues.append(
                Issue((variable.field,), None, None, f"{_shown(text)}: {e}", source=variable.name)
            )
            continue
        if variable.kind == "map" and not value:
            continue  # merging {} changes nothing: not an override
        values[variable.field] = value
        sources[variable.field] = variable.name
        raw[variable.field] = text
    if issues:
        raise PolicyEnvError(issues)
    return EnvValues(values, sources, raw)


def _shown(text: str) -> str:
    """A value as quoted in a message: whole when short, its start and length when not."""
    return repr(text) if len(text) <= 80 else f"{text[:60]!r}... ({len(text):,} characters)"


def near_misses(environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """``QT_*`` names that look like a typo of a recognised one, with the name they resemble.

    Other ``QT_*`` variables are left alone: Qt uses the prefix too (``QT_QPA_PLATFORM``).
    """
    found = []
    for name in environ:
        if name.startswith("QT_") and name not in _KNOWN:
            close = difflib.get_close_matches(name, _KNOWN, n=1, cutoff=0.85)
            if close:
                found.append((name, close[0]))
    return sorted(found)
