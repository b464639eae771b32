"""The editing commands: ``set``, ``add``, ``remove``, ``unset`` and ``reset``.

Each calls one edit of `policyctl.review` and reports it the same way: the version before and
after, each semantic change with its risk direction, and with ``--dry-run`` the lines it would
write.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from ..errors import printable
from ..model import MAP_FIELDS
from ..pipeline import default_policy_path
from ._escape import err, out
from ._exit import EXIT_OK, UsageError

if TYPE_CHECKING:
    from ..edit import EditResult

__all__ = ["cmd_add", "cmd_remove", "cmd_reset", "cmd_set", "cmd_unset"]

_out = out  # every report goes through the escaping net (see _escape)


def _report_edit(result: EditResult) -> int:
    if not result.written and not result.dry_run:
        _out(
            f"{printable(str(result.path))}: nothing changed;"
            f" not written (version {result.new.version})"
        )
        return EXIT_OK
    before = f"version {result.old.version}" if result.old else "an invalid file"
    note = " (dry run: nothing written)" if result.dry_run else ""
    _out(f"{printable(str(result.path))}: {before} -> version {result.new.version}{note}")
    from ._changes import describe_change  # noqa: PLC0415

    for change in result.changes:
        _out(f"  {change.direction:<9} {describe_change(change)}")
    if result.dry_run:
        _out(result.text_diff)
    return EXIT_OK


def _assignments(words: list[str]) -> tuple[list[tuple[str, str]], str | None]:
    """``PATH VALUE [FILE]``, or ``PATH=VALUE... [FILE]`` (a path never holds '=')."""
    if "=" not in words[0]:
        if len(words) not in (2, 3):
            raise UsageError("set takes PATH VALUE [FILE], or PATH=VALUE... [FILE]")
        return [(words[0], words[1])], (words[2] if len(words) == 3 else None)
    file = None if "=" in words[-1] else words[-1]
    pairs = words[:-1] if file is not None else words
    if any("=" not in w for w in pairs):
        raise UsageError("with PATH=VALUE, every assignment needs '=' (and FILE comes last)")
    return [(w.partition("=")[0], w.partition("=")[2]) for w in pairs], file


def cmd_set(args: argparse.Namespace) -> int:
    from ..edit import set_values  # noqa: PLC0415
    from ._paths import locate  # noqa: PLC0415

    assignments, file = _assignments(args.words)
    path = locate(file)
    result = set_values(path, assignments, dry_run=args.dry_run)
    status = _report_edit(result)
    # Setting a whole map replaces it (as the file would read); say so when entries went, since
    # QT_MODEL_VERSIONS merges and a reader may expect the same.
    whole = {p for p, _ in assignments if p in MAP_FIELDS}
    for field in sorted(whole):
        gone = [c.key for c in result.changes if c.field == field and c.action == "removed"]
        if gone:
            err(
                f"note: set {field} replaced the whole map, removing {len(gone)} entr"
                f"{'y' if len(gone) == 1 else 'ies'}; to change one entry:"
                f" policyctl set {field}.KEY VALUE"
            )
    return status


def cmd_add(args: argparse.Namespace) -> int:
    from ..edit import add_item  # noqa: PLC0415

    path = default_policy_path(args.file)
    return _report_edit(add_item(path, args.path, args.item, dry_run=args.dry_run))


def cmd_remove(args: argparse.Namespace) -> int:
    from ..edit import remove_item_value  # noqa: PLC0415

    path = default_policy_path(args.file)
    return _report_edit(remove_item_value(path, args.path, args.item, dry_run=args.dry_run))


def cmd_unset(args: argparse.Namespace) -> int:
    from ..edit import unset_path  # noqa: PLC0415

    path = default_policy_path(args.file)
    return _report_edit(unset_path(path, args.path, dry_run=args.dry_run))


def cmd_reset(args: argparse.Namespace) -> int:
    from ..edit import reset_policy  # noqa: PLC0415

    if not (args.yes or args.dry_run or _confirmed("reset every field to the defaults")):
        raise UsageError(
            "reset replaces every field with the built-in defaults, under which nothing may"
            " trade; confirm with --yes, or see it first with --dry-run"
        )
    path = default_policy_path(args.file)
    return _report_edit(reset_policy(path, dry_run=args.dry_run))


def _confirmed(what: str) -> bool:
    """Ask on a terminal; never where no one can answer (a script, CI)."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return False
    answer = input(f"{what}? Nothing may trade under them. [y/N] ")
    return answer.strip().lower() in ("y", "yes")
