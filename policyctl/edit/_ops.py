"""``policyctl add``, ``remove`` and ``unset``: one item of a list, one entry of a map.

Each edit goes through the same pipeline as ``set`` (version raised once, ``last_updated``
stamped, the result validated before it is written), keeps the collection's block or flow
style, and is checked against what was meant: the edited file must hold exactly the list or map
asked for, or nothing is written.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from yaml.nodes import MappingNode, SequenceNode

from ..errors import EditRefused
from ..model import LIST_FIELDS, MAP_FIELDS, parse_path
from ..pipeline import PositionMap, build_snapshot, read_source, yaml_scalar
from ..review import plain_value
from ._collections import append_item, remove_item
from ._edit import EditResult, edit_file
from ._splice import Splice, node_end
from ._values import read_item

__all__ = ["add_item", "remove_item_value", "unset_path"]


def _collection(
    path: Path, positions: PositionMap, field: str
) -> tuple[MappingNode | SequenceNode, int]:
    node, key, found = positions.locate((field,))
    if not found or not isinstance(node, MappingNode | SequenceNode) or key is None:
        raise EditRefused.single(f"{field} is not in the file as a list or map", source=str(path))
    return node, int(key.end_mark.index)


def _current(path: Path, field: str) -> Any:
    snap = build_snapshot(read_source(path), path, env={})
    return plain_value(getattr(snap.policy, field))


def add_item(
    path: Path, field: str, item: str, *, now: datetime | None = None, dry_run: bool = False
) -> EditResult:
    """Add ``item`` at the end of the list ``field`` (allowed_symbols, allowed_strategies)."""
    if field not in LIST_FIELDS:
        raise EditRefused.single(f"add works on {' and '.join(LIST_FIELDS)}, not {field!r}")
    item = read_item(str(path), field, item)
    items = list(_current(path, field))
    if item in items:
        raise EditRefused.single(f"{item!r} is already in {field}", source=str(path))

    def splices(text: str, positions: PositionMap) -> list[Splice]:
        node, _ = _collection(path, positions, field)
        if not isinstance(node, SequenceNode):
            raise EditRefused.single(f"{field} is not a list in the file", source=str(path))
        return [append_item(text, node, yaml_scalar(item), lambda n: node_end(n, text))]

    return edit_file(path, splices, now, dry_run=dry_run, expect=(field, [*items, item]))


def remove_item_value(
    path: Path, field: str, item: str, *, now: datetime | None = None, dry_run: bool = False
) -> EditResult:
    """Remove ``item`` from the list ``field``."""
    if field not in LIST_FIELDS:
        raise EditRefused.single(f"remove works on {' and '.join(LIST_FIELDS)}, not {field!r}")
    item = read_item(str(path), field, item)
    items = list(_current(path, field))
    if item not in items:
        raise EditRefused.single(f"{item!r} is not in {field}", source=str(path))
    return _remove(path, field, items.index(item), now, dry_run)


def unset_path(
    path: Path, field_path: str, *, now: datetime | None = None, dry_run: bool = False
) -> EditResult:
    """Remove a map entry (``model_versions.lstm``) or a list item (``allowed_symbols[1]``)."""
    where = parse_path(field_path)
    field, key, index = where.field, where.key, where.index
    if field not in (*LIST_FIELDS, *MAP_FIELDS) or not (key or index is not None):
        raise EditRefused.single(
            f"{field_path!r}: unset removes a map entry (model_versions.lstm) or a list item"
            " (allowed_symbols[1])"
        )
    current = _current(path, field)
    if index is not None:
        if field not in LIST_FIELDS or not -len(current) <= index < len(current):
            raise EditRefused.single(f"{field_path!r} names no item", source=str(path))
        return _remove(path, field, index % len(current), now, dry_run)
    if field not in MAP_FIELDS or key not in current:
        raise EditRefused.single(f"{field_path!r} names no entry", source=str(path))
    return _remove(path, field, list(current).index(key), now, dry_run)


def _remove(path: Path, field: str, index: int, now: datetime | None, dry_run: bool) -> EditResult:
    current = _current(path, field)
    if isinstance(current, dict):
        expected: Any = {k: v for i, (k, v) in enumerate(current.items()) if i != index}
    else:
        expected = [v for i, v in enumerate(current) if i != index]

    def splices(text: str, positions: PositionMap) -> list[Splice]:
        node, key_end = _collection(path, positions, field)
        return [remove_item(text, node, index, key_end, lambda n: node_end(n, text))]

    return edit_file(path, splices, now, dry_run=dry_run, expect=(field, expected))
