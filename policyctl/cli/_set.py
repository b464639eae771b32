"""``policyctl set``: edit values in place, comments kept, version raised once per change."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..edit import set_values
from ..errors import printable
from ..model import FIELD_NAMES, MAP_FIELDS, parse_path
from ._editing import report_edit
from ._escape import err
from ._exit import UsageError
from ._paths import locate

__all__ = ["add_arguments", "run"]


def _assignments(words: list[str]) -> tuple[list[tuple[str, str]], str | None]:
    """``PATH VALUE [FILE]``, or ``PATH=VALUE... [FILE]`` (a path never holds '=')."""
    if "=" in words[1:2] or (words[0].endswith("=") and len(words) > 1):
        value = words[2] if words[1:2] == ["="] and len(words) > 2 else words[1]
        raise UsageError(
            f"write {printable(words[0].rstrip('='))}={printable(value)} with no space"
            " around '=', or PATH VALUE"
        )
    if "=" not in words[0]:
        if len(words) not in (2, 3):
            raise UsageError("set takes PATH VALUE [FILE], or PATH=VALUE... [FILE]")
        return [(words[0], words[1])], (words[2] if len(words) == 3 else None)
    file = None if "=" in words[-1] else words[-1]
    if file is not None and parse_path(file).field in FIELD_NAMES and not Path(file).exists():
        raise UsageError(f"{printable(file)} has no value: write {printable(file)}=VALUE")
    pairs = words[:-1] if file is not None else words
    bare = [w for w in pairs if "=" not in w]
    if bare:
        raise UsageError(
            f"{printable(bare[0])} has no value: write {printable(bare[0])}=VALUE (FILE comes last)"
        )
    return [(w.partition("=")[0], w.partition("=")[2]) for w in pairs], file


def run(args: argparse.Namespace) -> int:
    assignments, file = _assignments(args.words)
    path = locate(file)
    result = set_values(path, assignments, dry_run=args.dry_run)
    status = report_edit(result)
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


def add_arguments(p: argparse.ArgumentParser) -> None:
    """This command's arguments."""
    p.add_argument(
        "words",
        nargs="+",
        metavar="PATH VALUE [FILE] | PATH=VALUE... [FILE]",
        help="a field (max_positions), a map entry (model_versions.lstm) or a list item"
        " (allowed_symbols[0]) and its value; several PATH=VALUE make one change",
    )
    p.add_argument("--dry-run", action="store_true", help="print the change, write nothing")
