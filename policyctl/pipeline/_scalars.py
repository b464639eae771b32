"""Plain scalars read as ruamel.yaml's YAML 1.2 resolver reads them (what CI's checker uses).

``yes``/``on`` stay strings, ``010`` is 10, ``0o17`` 15, ``0b101`` 5, ``1_000`` 1000, ``1e-2``
0.01; dates and times (``2026-11-27``, ``1:30``) stay strings, as check-jsonschema keeps them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from ..errors import UNSAFE_CHARACTERS, PathPart, PolicySyntaxError

__all__ = ["located_error", "resolve_plain", "yaml_scalar"]

_SAFE_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")
_UNSAFE = re.compile(f"[{UNSAFE_CHARACTERS}]")
_RESERVED = frozenset({"true", "True", "TRUE", "false", "False", "FALSE", "null", "Null", "NULL"})

# ruamel.yaml's YAML 1.2 implicit resolvers (ruamel/yaml/resolver.py), in the order it tries them.
_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
_INT = re.compile(
    r"""^(?:[-+]?0b[0-1_]+
    |[-+]?0o?[0-7_]+
    |[-+]?[0-9_]+
    |[-+]?0x[0-9a-fA-F_]+)$""",
    re.X,
)
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_NULL = frozenset({"", "~", "null", "Null", "NULL"})
_NUMERIC_START = frozenset("-+0123456789.")


def located_error(message: str, where: Any, path: tuple[PathPart, ...] = ()) -> PolicySyntaxError:
    """A located syntax error; ``where`` is an event or node (its start) or a mark."""
    mark = getattr(where, "start_mark", where)
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    return PolicySyntaxError.single(message, line=line, column=column, path=path)


_MAX_NUMBER_LENGTH = 40
"""Longest number literal read: no field takes more digits, and int() of thousands of them
costs time, or raises, and printing the result raises too."""


def _number(text: str, convert: Callable[[str], Any], where: Any) -> Any:
    if len(text) > _MAX_NUMBER_LENGTH:
        raise located_error(
            f"a number {len(text):,} characters long; no field takes one this large", where
        )
    try:
        return convert(text)
    except ValueError:
        raise located_error(
            f"{text!r} looks like a number but is not one; quote it if it is text", where
        ) from None


def _to_int(text: str) -> int:
    s = text.replace("_", "")
    sign = -1 if s[:1] == "-" else 1
    s = s.lstrip("+-")
    for prefix, base in (("0b", 2), ("0x", 16), ("0o", 8)):
        if s.startswith(prefix):
            return sign * int(s[2:], base)
    return sign * int(s)


def _to_float(text: str) -> float:
    s = text.replace("_", "").lower()
    sign = -1.0 if s[:1] == "-" else 1.0
    s = s.lstrip("+-")
    return sign * float("inf") if s == ".inf" else float("nan") if s == ".nan" else sign * float(s)


def resolve_plain(text: str, where: Any) -> Any:
    """Resolve an untagged plain scalar as ruamel.yaml's YAML 1.2 resolver does."""
    first = text[:1]
    if first in _NUMERIC_START and first:
        if _FLOAT.fullmatch(text):
            return _number(text, _to_float, where)
        if _INT.fullmatch(text):
            return _number(text, _to_int, where)
        return text  # timestamps (2026-11-27) and times (1:30) stay strings, as in CI
    if text in _BOOL:
        return _BOOL[text]
    if text in _NULL:
        return None
    if text == "=":  # ruamel resolves a bare '=' to the 'value' tag, which nothing constructs
        raise located_error("a bare '=' is not a value; quote it: \"=\"", where)
    return text


def yaml_scalar(value: object) -> str:
    """One value in YAML that the strict reader reads back as exactly that value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)
    if _SAFE_PLAIN.fullmatch(text) and text not in _RESERVED:
        return text
    # A JSON string is a valid YAML double-quoted scalar, but for one thing: JSON writes a
    # character beyond U+FFFF (an emoji) as a surrogate pair of escapes, which YAML refuses.
    # So non-ASCII text is written as itself, except the characters no value may show raw.
    quoted = json.dumps(text, ensure_ascii=False)
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", quoted)
