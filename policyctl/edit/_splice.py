"""Splices: the exact character spans an edit replaces, found in the libyaml node tree, and
the text that goes there (flow values; block collections kept block)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..errors import EditRefused
from ..pipeline import PositionMap, yaml_scalar

__all__ = [
    "Splice",
    "apply_splices",
    "in_style",
    "node_end",
    "render",
    "replace_node",
    "splice_field",
]


# --- rendering values ------------------------------------------------------------------------


def render(field: str, value: Any) -> str:
    """A value in flow style; model versions always quoted (an unquoted 3.10 is a number)."""
    if isinstance(value, Mapping):
        quote = json.dumps if field == "model_versions" else yaml_scalar
        return "{" + ", ".join(f"{yaml_scalar(k)}: {quote(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(yaml_scalar(v) for v in value) + "]"
    if field in {"model_versions", "last_updated"}:
        return json.dumps(value)
    return yaml_scalar(value)


# --- splicing --------------------------------------------------------------------------------

Splice = tuple[int, int, str]  # replace text[start:end] with the string


def node_end(node: Node, source: str) -> int:
    """Where a node's own text ends. A block collection's end mark lies at the next token,
    past blank lines and comments that belong to what follows; use its last child's end."""
    if isinstance(node, MappingNode | SequenceNode) and node.flow_style is False and node.value:
        last = node.value[-1]
        return node_end(last[1] if isinstance(node, MappingNode) else last, source)
    end = int(node.end_mark.index)
    if isinstance(node, ScalarNode) and node.style in ("|", ">"):
        # A block scalar's end mark lies past its line break and any blank lines after it;
        # those belong to what follows (a comment, the next key), so stop at its last text.
        start = int(node.start_mark.index)
        end = start + len(source[start:end].rstrip(" \t\r\n"))
    return end


def replace_node(node: Node, source: str, text: str) -> Splice:
    return (int(node.start_mark.index), node_end(node, source), text)


def _ends_plainly(text: str, root: MappingNode) -> bool:
    """A block top level followed by nothing but comments and blank lines: a new field goes at
    the very end. After a '...' document end, or in a flow top level, it goes inside."""
    if root.flow_style is not False or not root.value:
        return False
    tail = text[node_end(root.value[-1][1], text) :]
    return not _DOCUMENT_END.search(tail)


def _append_at_end(text: str, field: str, rendered: str) -> Splice:
    eol = "\r\n" if "\r\n" in text else "\n"
    prefix = "" if text.endswith("\n") or not text else eol
    return (len(text), len(text), f"{prefix}{field}: {rendered}{eol}")


_DOCUMENT_END = re.compile(r"^\.\.\.(?:[ \t#]|\r?$)", re.M)


def _add_entry(text: str, mapping: MappingNode, key: str, rendered: str) -> Splice:
    """A new last entry, in the mapping's own style: after the last entry's line in a block
    mapping (so before a trailing comment or a '...' document end), inside the braces of a
    flow one; with the file's own line ending."""
    if mapping.flow_style is not False:  # {a: 1} or {}
        if not mapping.value:
            return replace_node(mapping, text, "{" + f"{yaml_scalar(key)}: {rendered}" + "}")
        end = node_end(mapping.value[-1][1], text)
        return (end, end, f", {yaml_scalar(key)}: {rendered}")
    eol = "\r\n" if "\r\n" in text else "\n"
    first_key = mapping.value[0][0]
    indent = " " * int(first_key.start_mark.column)
    line_end = text.find("\n", node_end(mapping.value[-1][1], text))
    at = len(text) if line_end < 0 else line_end + 1
    newline = eol if line_end < 0 else ""
    return (at, at, f"{newline}{indent}{yaml_scalar(key)}: {rendered}{eol}")


def in_style(
    text: str, positions: PositionMap, target: tuple[str | int, ...], field: str, value: Any
) -> str:
    """A whole list or map written in the style the file has for it: a block collection stays
    block (one item per line, at its indentation), anything else is written in flow style."""
    node, _, found = positions.locate(target)
    block = isinstance(node, MappingNode | SequenceNode) and node.flow_style is False
    if not (found and block and value and isinstance(value, list | Mapping)):
        return render(field, value)
    assert node is not None
    start = int(node.start_mark.index)
    indent = " " * (start - (text.rfind("\n", 0, start) + 1))
    eol = "\r\n" if "\r\n" in text else "\n"
    if isinstance(value, Mapping):
        quote = json.dumps if field == "model_versions" else yaml_scalar
        lines = [f"{yaml_scalar(k)}: {quote(v)}" for k, v in value.items()]
    else:
        lines = [f"- {yaml_scalar(v)}" for v in value]
    return (eol + indent).join(lines)


def splice_field(text: str, positions: PositionMap, path: tuple[str, ...], rendered: str) -> Splice:
    node, _, found = positions.locate(path)
    if found and node is not None:
        return replace_node(node, text, rendered)
    parent, _, parent_found = positions.locate(path[:-1])
    if len(path) == 1 and isinstance(parent, MappingNode) and _ends_plainly(text, parent):
        return _append_at_end(text, path[0], rendered)
    if not parent_found or not isinstance(parent, MappingNode):
        where = path[0] if len(path) > 1 else "the top level"
        raise EditRefused.single(f"{where} is not a mapping in the file; set it whole first")
    return _add_entry(text, parent, path[-1], rendered)


def apply_splices(text: str, splices: list[Splice]) -> str:
    for start, end, replacement in sorted(splices, key=lambda s: s[0], reverse=True):
        text = text[:start] + replacement + text[end:]
    return text
