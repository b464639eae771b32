"""Constructs that libyaml (our reader) and a YAML 1.2 reader (ruamel.yaml, CI's checker) read
differently, found where they stand and refused with their line and column.

Each check runs only when the text holds the character the construct needs, or only on the
rare events that carry it, so an ordinary policy pays nothing for them.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.cyaml import CParser  # type: ignore[attr-defined]

from ..errors import PolicySyntaxError
from ._scalars import located_error

__all__ = ["check_anchor", "check_block_scalar", "check_text"]

_DIRECTIVE = re.compile(r"^%(\S*)[ \t]*(\S*)", re.M)
_ANCHOR_END = frozenset(" \t\r\n,[]{}")
_HEADER = re.compile(r"[|>](?:[1-9][+-]?|[+-][1-9]?)?")


def _at(text: str, index: int, message: str) -> PolicySyntaxError:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return PolicySyntaxError.single(message, line=line, column=column)


def check_text(text: str) -> None:
    """Directives other than ``%YAML 1.2``, and a ``?`` stuck to text inside flow
    collections (a complex key to libyaml, text to YAML 1.2)."""
    if "%" in text:
        for match in _DIRECTIVE.finditer(text):
            name, argument = match.group(1), match.group(2)
            if name == "YAML" and argument != "1.2":
                raise _at(
                    text,
                    match.start(),
                    f"directive %YAML {argument}: readers differ on what it changes (under 1.1,"
                    " CI's reader takes 010 as 8 and yes as true); remove it",
                )
            if name != "YAML":
                raise _at(
                    text,
                    match.start(),
                    f"directive %{name}: the policy is plain data and readers resolve tags"
                    " differently; remove it",
                )
    if "?" in text:
        _check_question_marks(text)


def _check_question_marks(text: str) -> None:
    parser = CParser(text)
    try:
        while parser.check_token():
            token = parser.get_token()
            if type(token) is yaml.KeyToken:
                index = token.start_mark.index
                if text[index] == "?" and text[index + 1 : index + 2] not in (
                    "",
                    " ",
                    "\t",
                    "\r",
                    "\n",
                ):
                    raise _at(
                        text,
                        index,
                        "'?' stuck to text: YAML 1.2 reads it as part of the text, libyaml as a"
                        " complex-key indicator; quote the text, or put a space after '?'",
                    )
    except yaml.YAMLError:
        return  # the real parse reports it, with its own location
    finally:
        parser.dispose()


def check_anchor(text: str, event: Any, name: str) -> None:
    """An anchor (``&name``) or alias (``*name``) whose name libyaml ended early, at a ``:``
    or another character YAML 1.2 allows in names."""
    end = event.start_mark.index + 1 + len(name)
    if end < len(text) and text[end] not in _ANCHOR_END:
        raise located_error(
            f"anchor name {name + text[end]!r}...: libyaml ends it at {text[end]!r}, YAML 1.2"
            " readers do not; use letters, digits, '-' and '_' in anchor names",
            event,
        )


def check_block_scalar(text: str, event: Any) -> None:
    """A block scalar (``|``, ``>``) header glued to a comment, or leading blank lines holding
    more spaces than its first line: YAML 1.2 refuses both, libyaml reads them."""
    index = event.start_mark.index
    header = _HEADER.match(text, index)
    if header is None:
        return
    after = text[header.end() : header.end() + 1]
    if after == "#":
        raise _at(
            text,
            header.end(),
            "a comment right after a block scalar's header needs a space before '#'",
        )
    if any(c.isdigit() for c in header.group()):
        return  # an explicit indentation: no guessing from blank lines
    line_start = text.rfind("\n", 0, index) + 1
    parent = len(text[line_start:index]) - len(text[line_start:index].lstrip(" "))
    position = text.find("\n", index)
    widest = 0
    while position != -1:
        start = position + 1
        position = text.find("\n", start)
        line = text[start : position if position != -1 else len(text)].rstrip("\r")
        if line.strip(" "):
            indent = len(line) - len(line.lstrip(" "))
            if indent > parent and widest > indent:
                raise _at(
                    text,
                    start,
                    f"a blank line before this block's first line holds {widest} spaces, more"
                    f" than that line's {indent}: YAML 1.2 refuses this, libyaml reads it"
                    " differently; remove the spaces from the blank lines",
                )
            return
        widest = max(widest, len(line))
