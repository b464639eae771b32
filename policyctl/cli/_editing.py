"""How an edit is reported, the same for ``set``, ``add``, ``remove``, ``unset`` and ``reset``.

Each calls one edit of `policyctl.review` and reports it the same way: the version before and
after, each semantic change with its risk direction, and with ``--dry-run`` the lines it would
write.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import printable
from ._changes import describe_change
from ._escape import out
from ._exit import EXIT_OK

if TYPE_CHECKING:
    from ..edit import EditResult

__all__ = ["report_edit"]

_out = out  # every report goes through the escaping net (see _escape)


def report_edit(result: EditResult) -> int:
    if not result.written and not result.dry_run:
        _out(
            f"{printable(str(result.path))}: nothing changed;"
            f" not written (version {result.new.version})"
        )
        return EXIT_OK
    before = f"version {result.old.version}" if result.old else "an invalid file"
    note = " (dry run: nothing written)" if result.dry_run else ""
    _out(f"{printable(str(result.path))}: {before} -> version {result.new.version}{note}")

    for change in result.changes:
        _out(f"  {change.direction:<9} {describe_change(change)}")
    if result.dry_run:
        _out(result.text_diff)
    return EXIT_OK
