"""How ``set``, ``add`` and ``remove`` read a VALUE: written as it would be in the file.

One syntax for every field: YAML flow, read by the policy's own strict reader, so ``[A, B]``,
``{lstm: "3.11"}``, ``"3.10"`` and ``0.8`` mean on the command line what they mean in the file.

Where the file's reading would lose what was typed, the value is refused before anything is
rendered: ``3.10`` for a model version is the number 3.1 in YAML, and writing it back as text
would silently drop a digit. The message shows the text as typed and how to quote it for both
YAML and the shell, for the command in use (``set``, ``propose``, ``brake``).

A value a Python caller or a JSON file gives (`Given`, from ``propose`` and ``--from-json``) is
not text: it is checked as the value it is, with hints that read the same in Python and JSON
(``{"model_versions.lstm": "3.10"}``: a float cannot hold ``3.10`` as written).
"""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import PathPart, PolicySyntaxError, PolicyValidationError, format_path
from ..model import LIST_FIELDS
from ..pipeline import PositionMap, read_value

__all__ = ["Given", "Tool", "read_assigned", "read_item", "read_set_value"]

Tool = Literal["set", "propose", "brake"]


@dataclass(frozen=True, slots=True)
class Given:
    """A value given by a Python caller, as it is (not text to read): ``Given(3.1)``."""

    value: Any


def typed(tool: Tool, path: tuple[PathPart, ...], text: str) -> str:
    """How ``text`` for ``path`` is typed on the command line of ``tool``."""
    if tool == "set":
        return f"policyctl set {format_path(path)} {shlex.quote(text)}"
    return f"policyctl {tool} {shlex.quote(f'{format_path(path)}={text}')}"


def read_assigned(
    source: str, path: tuple[PathPart, ...], value: str | Given, tool: Tool = "set"
) -> Any:
    """The value of one assignment: text read as the file would (`read_set_value`), or a
    Python caller's value checked as it is (`Given`)."""
    if isinstance(value, Given):
        return _given(source, path, value.value)
    return read_set_value(source, path, value, tool)


def _given(source: str, path: tuple[PathPart, ...], value: Any) -> Any:
    try:  # only what a file can hold: no sets, objects or cycles
        json.dumps(value)
    except RecursionError:
        raise PolicyValidationError.single(
            "the value is nested too deep for a policy", source=source, path=path
        ) from None
    except (TypeError, ValueError) as e:
        raise PolicyValidationError.single(
            f"{type(value).__name__} is not a value the policy can hold ({e}); pass str, int,"
            " float, bool, list or dict",
            source=source,
            path=path,
        ) from None
    # The hints below are in the words of both a Python caller and a JSON file (--from-json):
    # {"PATH": VALUE} is written alike in both.
    inner = _first_non_finite(value)
    if inner is not None:
        raise PolicyValidationError.single(
            f"{_at(value, inner)!r} (NaN or an infinity) is not a finite number: a policy holds"
            " finite numbers only",
            source=source,
            path=path + inner,
        )
    for inner in _leaves(value):
        if _at(value, inner) is None:
            raise PolicyValidationError.single(
                "None (JSON null) is no value: give one, or leave the field out",
                source=source,
                path=path + inner,
            )
    where = json.dumps(format_path(path))
    if path[0] in _NUMBERS and len(path) == 1 and isinstance(value, str):
        raise PolicyValidationError.single(
            f"{value!r} is text, but {path[0]} is a number: pass it without quotes, e.g."
            f" {{{where}: {_NUMBERS[path[0]]}}}",
            source=source,
            path=path,
        )
    if path[0] == "opp_rankings" and len(path) == 2 and isinstance(value, str):
        raise PolicyValidationError.single(
            f"{value!r} is text, but a ranking is a number: pass it without quotes, e.g."
            f" {{{where}: 0.5}}",
            source=source,
            path=path,
        )
    for inner in _text_slots(path, value):
        item = _at(value, inner)
        if isinstance(item, int | float) and not isinstance(item, bool):
            if path[0] == "risk_mode":
                raise PolicyValidationError.single(
                    f"{item!r} is a number, but risk_mode is text: one of AGGRESSIVE, NORMAL,"
                    " DEFENSIVE",
                    source=source,
                    path=path,
                )
            lost = (
                " (a float cannot hold 3.10 as written: it is 3.1)"
                if isinstance(item, float) and "model_versions" in (path[0], *inner)
                else ""
            )
            at = json.dumps(format_path(path + inner))
            raise PolicyValidationError.single(
                f"{item!r} is a number, but this is text{lost}; pass it as a string:"
                f' {{{at}: "{item}"}}',
                source=source,
                path=path + inner,
            )
    return value


_NUMBERS = {"max_positions": 3, "max_risk_per_trade": 0.01, "global_min_confidence": 0.7}
"""The numeric fields, each with an example value for a hint."""


def _text_slots(path: tuple[PathPart, ...], value: Any) -> Iterator[tuple[PathPart, ...]]:
    """Where, inside ``value`` set at ``path``, the policy expects text."""
    field = path[0]
    if len(path) > 1 or field == "risk_mode":  # one list item, one model version, the mode
        if field != "opp_rankings":
            yield ()
    elif field in LIST_FIELDS and isinstance(value, list):
        yield from ((i,) for i in range(len(value)))
    elif field == "model_versions" and isinstance(value, dict):
        yield from ((k,) for k in value)


def _at(value: Any, inner: tuple[PathPart, ...]) -> Any:
    for part in inner:
        value = value[part]
    return value


def _leaves(value: Any, inner: tuple[PathPart, ...] = ()) -> Iterator[tuple[PathPart, ...]]:
    if isinstance(value, dict | list):
        keys = value.keys() if isinstance(value, dict) else range(len(value))
        for key in keys:
            yield from _leaves(value[key], (*inner, key))
    else:
        yield inner


def _first_non_finite(value: Any) -> tuple[PathPart, ...] | None:
    """Where in ``value`` the first NaN or infinity is, or None."""
    for inner in _leaves(value):
        item = _at(value, inner)
        if isinstance(item, float) and not math.isfinite(item):
            return inner
    return None


def _written(text: str, inner: tuple[PathPart, ...]) -> tuple[int, int]:
    """Where the scalar at ``inner`` sits in ``text`` (start, end)."""
    node, _, _ = PositionMap(text).locate(inner)
    return node.start_mark.index, node.end_mark.index  # type: ignore[union-attr]


def read_set_value(source: str, path: tuple[PathPart, ...], text: str, tool: Tool = "set") -> Any:
    """The value ``text`` stands for at ``path`` (a field, a map entry, a list item), typed on
    the command line of ``tool`` (its hints say how to type it there).

    Raises:
        PolicyValidationError: The text is not one YAML value, or would not keep what was typed.
    """
    try:
        value = read_value(text)
    except PolicySyntaxError as e:
        issue = e.issues[0]
        raise PolicyValidationError.single(
            f"{text!r} is not a value as the file would hold it: {issue.message}"
            f" (character {issue.column})",
            source=source,
            path=path,
        ) from None
    inner = _first_non_finite(value)
    if inner is not None:
        start, end = _written(text, inner)
        raise PolicyValidationError.single(
            f"{text[start:end]} is not a finite number", source=source, path=path + inner
        )
    for inner in _text_slots(path, value):
        item = _at(value, inner)
        if isinstance(item, int | float) and not isinstance(item, bool):
            start, end = _written(text, inner)
            written = text[start:end]
            if inner == () and text.strip() == written:
                # The whole VALUE, typed for a text field: the shell already gave us the text
                # (3.20 stays "3.20"). The YAML trap is in files, where no type is known.
                return written
            quoted = f'{text[:start]}"{written}"{text[end:]}'.strip()
            raise PolicyValidationError.single(
                f"{written} would be a number (as in the file), but this is text;"
                f" quote it: {typed(tool, path, quoted)}",
                source=source,
                path=path + inner,
            )
    if len(path) == 1 and path[0] in LIST_FIELDS and isinstance(value, str):
        items = ", ".join(part.strip() for part in value.split(","))
        raise PolicyValidationError.single(
            f"this is a list; write it as in the file: {typed(tool, path, f'[{items}]')}",
            source=source,
            path=path,
        )
    return value


def read_item(source: str, field: str, text: str) -> str:
    """One list item for ``add``/``remove``: text, read like a VALUE (``'"123"'`` for digits)."""
    value = read_set_value(source, (field, 0), text)
    if not isinstance(value, str):
        raise PolicyValidationError.single(
            f"{text!r} is not text; {field} holds names like BTCUSDT", source=source, path=(field,)
        )
    return value
