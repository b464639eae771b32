"""Edits of the files on disk: ``set`` / ``add`` / ``remove`` / ``unset`` / ``reset`` of the
policy and the brakes' writes, changing only the bytes they must, atomically, keeping owner and
mode, and only when the result passes the whole pipeline.

- `_edit`: ``set`` and ``reset``, and the edit every command shares (`edit_file`).
- `_ops`: ``add``, ``remove`` and ``unset``: one list item or one map entry.
- `_splice`, `_collections`: the exact character spans an edit replaces.
- `_values`: how a VALUE on the command line is read (as the file would hold it).
- `_write`: the locked, atomic, owner-keeping write.
- `_brakes`: writing, lifting and pruning brake files.
- `_baseline`: the committed version an edit raises from.

May import: ``policyctl.review``, ``policyctl.pipeline``, ``policyctl.model``,
``policyctl.errors``. Never ``live``, ``propose``, ``fleet``, ``cli`` or ``http``. Modules with
a leading underscore are private; other rooms use the names below.
"""

from __future__ import annotations

from ._brakes import BrakeResult, lift_brake, prune_brakes, stamp, write_brake
from ._edit import EditResult, reset_policy, set_value, set_values
from ._ops import add_item, remove_item_value, unset_path
from ._values import Given, read_set_value
from ._write import write_new

__all__ = [
    "BrakeResult",
    "EditResult",
    "Given",
    "add_item",
    "lift_brake",
    "prune_brakes",
    "read_set_value",
    "remove_item_value",
    "reset_policy",
    "set_value",
    "set_values",
    "stamp",
    "unset_path",
    "write_brake",
    "write_new",
]
