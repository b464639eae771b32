"""The strict YAML reader: the only place that turns policy bytes into plain data.

Values are resolved the way CI's checker reads them: ``check-jsonschema`` loads YAML with
ruamel.yaml's YAML 1.2 resolver (timestamps kept as strings), so ``yes``/``on`` stay strings,
``010`` is 10, ``1e-2`` is 0.01 and ``0b101`` is 5. Parsing uses libyaml (through PyYAML's C
parser) for speed; we stream its events and resolve plain scalars with ruamel's 1.2 rules
(`policyctl.pipeline._scalars`). A reader built on ruamel's pure-Python parser is ~20x slower.

What we refuse, on top of broken YAML: non-UTF-8 bytes, files over `MAX_BYTES`, several documents,
a top level that is not a mapping, duplicate keys at any depth, non-string keys, explicit tags
other than ``!!str``/``!!seq``/``!!map`` (nothing may construct objects), merge keys, nesting
deeper than `MAX_DEPTH`, and aliases of lists or mappings, the only way an alias can amplify a
file ("billion laughs"). An alias of a scalar costs as many bytes as it yields and is allowed.

Positions are not recorded while reading: `PositionMap` keeps the text and composes the node tree
only when an error, ``show --explain`` or an edit asks, so a valid file pays nothing for them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.cyaml import CParser  # type: ignore[attr-defined]
from yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import BaseResolver

from ..errors import PathPart, PolicySyntaxError
from ._disputes import check_anchor, check_block_scalar, check_text
from ._scalars import located_error, resolve_plain
from ._text import decode

__all__ = ["MAX_BYTES", "MAX_DEPTH", "Document", "PositionMap", "parse", "read_value"]

MAX_BYTES = 4 * 1024 * 1024
"""Largest policy file accepted. A 10,000-symbol policy is about 0.4 MiB."""

MAX_DEPTH = 32
"""Deepest nesting accepted; the policy itself is two levels deep."""

_PLAIN = "?plain"  # our resolver's tag for untagged plain scalars, resolved by `resolve_plain`
_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"


class _Loader(CParser, BaseResolver):
    """libyaml's parser and composer, with a resolver that only marks plain scalars.

    PyYAML's own resolvers implement YAML 1.1 (``yes`` is true, ``010`` is 8), which is exactly
    what CI's checker does not do; we resolve plain scalars ourselves (`resolve_plain`).
    """

    def __init__(self, text: str) -> None:
        CParser.__init__(self, text)
        BaseResolver.__init__(self)

    def resolve(self, kind: type[Node], value: str, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            return _PLAIN if implicit[0] else _STR
        return _SEQ if kind is SequenceNode else _MAP


@dataclass(frozen=True, slots=True)
class Document:
    """A parsed policy file: plain data, and where each value sits in the file."""

    data: dict[str, Any]
    positions: PositionMap


class PositionMap:
    """Field path -> (line, column), both 1-based.

    Keeps only the document's text; the first lookup composes its node tree (which a valid file
    read by a service never needs) and later lookups reuse it.
    """

    __slots__ = ("_root", "_text")

    def __init__(self, text: str) -> None:
        self._text = text
        self._root: Node | None = None

    def _tree(self) -> Node | None:
        if self._root is None:
            loader = _Loader(self._text)
            try:
                self._root = loader.get_single_node()
            finally:
                loader.dispose()
        return self._root

    def locate(self, path: tuple[PathPart, ...]) -> tuple[Node | None, Node | None, bool]:
        """The node at ``path``, its key node, and whether the whole path exists (for edits:
        nodes carry exact character spans, ``start_mark.index`` to ``end_mark.index``)."""
        node, key_node = self._tree(), None
        for part in path:
            child: tuple[Node | None, Node | None] | None = None
            if isinstance(node, MappingNode) and isinstance(part, str):
                for k, v in node.value:
                    if isinstance(k, ScalarNode) and _scalar_or_none(k) == part:
                        child = (v, k)
            elif (
                isinstance(node, SequenceNode)
                and isinstance(part, int)
                and 0 <= part < len(node.value)
            ):
                child = (node.value[part], None)
            if child is None:
                return node, key_node, False
            node, key_node = child
        return node, key_node, True

    def get(self, path: tuple[PathPart, ...], *, key: bool = False) -> tuple[int, int] | None:
        """Position of the value at ``path`` (of its key with ``key=True``).

        A path that does not exist (a missing field) gives the position of its deepest ancestor.
        """
        node, key_node, _ = self.locate(path)
        target = key_node if key and key_node is not None else node
        if target is None:
            return None
        mark = target.start_mark
        return mark.line + 1, mark.column + 1

    def contains(self, path: tuple[PathPart, ...]) -> bool:
        """Whether ``path`` names a value present in the file."""
        return self.locate(path)[2]

    def text(self, path: tuple[PathPart, ...]) -> str | None:
        """The source text of the scalar at ``path`` as written, unquoted, e.g. ``3.10``."""
        node, _, found = self.locate(path)
        if found and isinstance(node, ScalarNode):
            return str(node.value)
        return None


def _scalar_or_none(node: ScalarNode) -> Any:
    try:
        return resolve_plain(node.value, node) if node.tag == _PLAIN else node.value
    except PolicySyntaxError:
        return None


def _taglocated_error(tag: str, where: Any) -> PolicySyntaxError:
    shown = tag.replace("tag:yaml.org,2002:", "!!")
    why = " (it would construct a Python object)" if "python" in tag else ""
    if tag == "!":  # non-specific: libyaml keeps `! 10` as text, CI's reader reads 10
        why = " (readers disagree on a bare '!': libyaml reads ! 10 as text, CI's reader as 10)"
    return located_error(
        f"tag {shown} is not allowed{why}: the policy is plain data; remove the tag", where
    )


_EMPTY = "the file is empty; it must be a mapping of policy fields (version, risk_mode, ...)"
_COLLECTION = object()  # what an anchor on a list or mapping stands for: aliasing it is refused


class _Builder:
    """Builds dicts, lists and scalars straight from libyaml's events, checking as it goes.

    Events, not the composed node tree: composing keeps ~3 GC-tracked objects per value alive
    until the end, and the cyclic collector's passes over that growing tree made a 10,000-symbol
    file take twice as long (measured: 41 ms composing vs 16 ms streaming events).
    """

    __slots__ = ("_anchors", "_next", "_text")

    def __init__(self, loader: _Loader, text: str) -> None:
        self._next: Callable[[], Any] = loader.get_event
        self._anchors: dict[str, Any] = {}
        self._text = text

    def document(self, *, any_root: bool = False) -> Any:
        get = self._next
        get()  # StreamStartEvent
        event = get()
        if type(event) is StreamEndEvent:
            raise PolicySyntaxError.single(_EMPTY, line=1, column=1)
        root = get()  # after the DocumentStartEvent
        if any_root:  # one value, as `policyctl set` takes it
            return self._only(self.value(root, ()))
        if type(root) is not MappingStartEvent:
            if type(root) is ScalarEvent and root.tag not in (None, _STR):
                raise _taglocated_error(root.tag, root)
            if type(root) is ScalarEvent and root.implicit[0] and root.value == "":
                raise PolicySyntaxError.single(_EMPTY, line=1, column=1)
            what = "a list" if type(root) is SequenceStartEvent else "a single value"
            raise located_error(
                f"the top level is {what}; it must be a mapping of policy fields"
                " (version: ..., risk_mode: ...)",
                root,
            )
        return self._only(self.mapping(root, ()))

    def _only(self, data: Any) -> Any:
        get = self._next
        get()  # DocumentEndEvent
        event = get()
        if type(event) is not StreamEndEvent:
            raise located_error(
                "not valid YAML: more than one YAML document ('---'); the policy is exactly one"
                " mapping",
                event,
            )
        return data

    def scalar(self, event: Any) -> Any:
        tag = event.tag
        if tag is None:
            if event.implicit[0]:
                value = resolve_plain(event.value, event)
            else:
                value = event.value
                if event.style in ("|", ">"):
                    check_block_scalar(self._text, event)
        elif tag == _STR:
            value = event.value
        else:
            raise _taglocated_error(tag, event)
        if event.anchor is not None:
            check_anchor(self._text, event, event.anchor)
            self._anchors[event.anchor] = value
        return value

    def alias(self, event: Any, path: tuple[PathPart, ...]) -> Any:
        check_anchor(self._text, event, event.anchor)
        value = self._anchors.get(event.anchor, _COLLECTION)
        if event.anchor not in self._anchors:
            raise located_error(
                f"alias *{event.anchor} names no anchor defined before it", event, path
            )
        if value is _COLLECTION:
            raise located_error(
                f"alias *{event.anchor} repeats a list or mapping; aliases of collections are"
                " refused because they can blow up memory; write the value out",
                event,
                path,
            )
        return value

    def value(self, event: Any, path: tuple[PathPart, ...]) -> Any:
        kind = type(event)
        if kind is ScalarEvent:
            return self.scalar(event)
        if kind is AliasEvent:
            return self.alias(event, path)
        if len(path) >= MAX_DEPTH:
            raise located_error(
                f"nesting deeper than {MAX_DEPTH} levels; the policy is flat", event, path
            )
        if kind is MappingStartEvent:
            return self.mapping(event, path)
        return self.sequence(event, path)

    def _open(self, event: Any, tag: str) -> None:
        if event.tag not in (None, tag):
            raise _taglocated_error(event.tag, event)
        if event.anchor is not None:
            check_anchor(self._text, event, event.anchor)
            self._anchors[event.anchor] = _COLLECTION

    def sequence(self, start: Any, path: tuple[PathPart, ...]) -> list[Any]:
        self._open(start, _SEQ)
        get, scalar = self._next, self.scalar
        items: list[Any] = []
        while True:
            event = get()
            kind = type(event)
            if kind is ScalarEvent:
                items.append(scalar(event))
            elif kind is SequenceEndEvent:
                return items
            else:
                items.append(self.value(event, (*path, len(items))))

    def mapping(self, start: Any, path: tuple[PathPart, ...]) -> dict[str, Any]:
        self._open(start, _MAP)
        get, scalar = self._next, self.scalar
        out: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        while True:
            event = get()
            kind = type(event)
            if kind is MappingEndEvent:
                return out
            if kind is ScalarEvent:
                key = scalar(event)
            elif kind is AliasEvent:
                key = self.alias(event, path)
            else:
                raise located_error(
                    "a key must be a plain string, not a list or mapping", event, path
                )
            if type(key) is not str:
                shown = "null" if key is None else str(event.value)
                raise located_error(
                    f'key {shown} is a {_kind(key)}, keys must be strings; quote it: "{shown}"',
                    event,
                    path,
                )
            if key == "<<" and kind is ScalarEvent and event.tag is None and event.implicit[0]:
                raise located_error(
                    "merge keys (<<) are not supported; write the keys out", event, path
                )
            if key in out:
                raise located_error(
                    f"duplicate key {key!r} (first at line {first_line[key]}); keep only one",
                    event,
                    (*path, key),
                )
            first_line[key] = event.start_mark.line + 1
            value_event = get()
            if type(value_event) is ScalarEvent:
                out[key] = scalar(value_event)
            else:
                out[key] = self.value(value_event, (*path, key))


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def parse(data: bytes) -> Document:
    """Read policy bytes strictly.

    Args:
        data: The file's bytes.

    Returns:
        The top-level mapping as plain data, and the position map of its values.

    Raises:
        PolicySyntaxError: The bytes are not one safe YAML mapping within the limits. Its issue
            has no ``source``: the caller knows which file it read and adds it.
    """
    if len(data) > MAX_BYTES:
        raise PolicySyntaxError.single(
            f"file is {len(data):,} bytes, over the {MAX_BYTES:,}-byte limit", line=1, column=1
        )
    text = decode(data)
    return Document(_read(text, any_root=False), PositionMap(text))


def _read(text: str, *, any_root: bool) -> Any:
    loader = _Loader(text)
    try:
        check_text(text)
        return _Builder(loader, text).document(any_root=any_root)
    except yaml.MarkedYAMLError as e:
        raise _yamllocated_error(e) from None
    except yaml.YAMLError as e:  # libyaml errors without a mark (rare: reader errors)
        raise PolicySyntaxError.single(f"not valid YAML: {e}", line=1, column=1) from None
    finally:
        loader.dispose()


def read_value(text: str) -> Any:
    """One value written as in the file (``[A, B]``, ``{lstm: "3.11"}``, ``"3.10"``), read by
    the rules of `parse`. Raises PolicySyntaxError located in ``text``."""
    if len(text) > MAX_BYTES:
        raise PolicySyntaxError.single(f"value is over {MAX_BYTES:,} characters", line=1, column=1)
    if not text.strip():
        return None  # an empty value is YAML's null, as `field:` is in the file
    return _read(text, any_root=True)


def _yamllocated_error(e: yaml.MarkedYAMLError) -> PolicySyntaxError:
    mark = e.problem_mark or e.context_mark
    problem = e.problem or "not valid YAML"
    if "expected a single document" in str(e.context):
        problem = "more than one YAML document ('---'); the policy is exactly one mapping"
    elif "found character '\\t'" in problem or "tab character" in problem:
        problem += "; indent with spaces, not tabs"
    elif e.context:
        problem = f"{e.context}: {problem}"
    return located_error(f"not valid YAML: {problem}", mark)
