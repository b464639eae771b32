"""Splices that add or remove one item of a list or one entry of a map, in the collection's
own style (block stays block, flow stays flow), with every other byte kept."""

from __future__ import annotations

from collections.abc import Callable

from yaml.nodes import MappingNode, Node, SequenceNode

__all__ = ["append_item", "remove_item"]

Splice = tuple[int, int, str]
EndOf = Callable[[Node], int]  # where a node's own text ends (see _edit._end)


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _line_end(text: str, index: int) -> int:
    """Just past the line break of the line holding ``index`` (or the end of the text)."""
    end = text.find("\n", index)
    return len(text) if end < 0 else end + 1


def _spans(node: MappingNode | SequenceNode, end_of: EndOf) -> list[tuple[int, int]]:
    """(start, end) of each item: a map entry from its key to its value's end."""
    if isinstance(node, MappingNode):
        return [(int(k.start_mark.index), end_of(v)) for k, v in node.value]
    return [(int(i.start_mark.index), end_of(i)) for i in node.value]


def remove_item(
    text: str, node: MappingNode | SequenceNode, index: int, key_end: int, end_of: EndOf
) -> Splice:
    """Remove item ``index``. The last one left makes the collection ``[]`` or ``{}``, written
    right after its field's key (which ends at ``key_end``)."""
    spans = _spans(node, end_of)
    empty = "{}" if isinstance(node, MappingNode) else "[]"
    start, end = spans[index]
    if len(spans) == 1:
        if node.flow_style is not False:
            return (int(node.start_mark.index), int(node.end_mark.index), empty)
        line_end = _line_end(text, end)
        eol = "\r\n" if text[line_end - 2 : line_end] == "\r\n" else "\n"
        return (key_end, line_end, f": {empty}{eol}")
    if node.flow_style is not False:
        if index + 1 < len(spans):
            return (start, spans[index + 1][0], "")
        return (spans[index - 1][1], end, "")
    return (_line_start(text, start), _line_end(text, end), "")


def append_item(text: str, node: SequenceNode, rendered: str, end_of: EndOf) -> Splice:
    """A new last item: its own ``- item`` line in a block list, ``, item`` in a flow one."""
    if node.flow_style is not False:
        if not node.value:
            return (int(node.start_mark.index), int(node.end_mark.index), f"[{rendered}]")
        end = end_of(node.value[-1])
        return (end, end, f", {rendered}")
    last: Node = node.value[-1]
    start = int(last.start_mark.index)
    dash = text.rfind("-", _line_start(text, start), start)
    indent = " " * (dash - _line_start(text, start))
    at = _line_end(text, end_of(last))
    eol = "\r\n" if "\r\n" in text else "\n"
    newline = "" if at > 0 and text[at - 1] == "\n" else eol
    return (at, at, f"{newline}{indent}- {rendered}{eol}")
