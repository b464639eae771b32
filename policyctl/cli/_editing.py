"""How an edit is reported, the same for ``set``, ``add``, ``remove``, ``unset`` and ``reset``;
and how ``brake`` and ``adjust`` read the FIELD=VALUE pairs of an override file.

Each calls one edit of `policyctl.review` and reports it the same way: the version before and
after, each semantic change with its risk direction, and with ``--dry-run`` the lines it would
write.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..edit import read_set_value
from ..errors import printable
from ..model import parse_path
from ._changes import describe_change
from ._escape import out
from ._exit import EXIT_OK

if TYPE_CHECKING:
    from ..edit import EditResult

__all__ = ["read_override_values", "report_edit"]

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


def read_override_values(words: Iterable[tuple[str, str]]) -> list[tuple[str, Any]]:
    """The FIELD=VALUE pairs of an override file (``brake``, ``adjust``), each VALUE read as
    ``set`` reads one, its hints typed for the command line of ``brake``."""
    return [
        (path, read_set_value("<command line>", parse_path(path).parts, text, "brake"))
        for path, text in words
    ]
