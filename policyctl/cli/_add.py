"""``policyctl add``: one item at the end of a list (allowed_symbols, allowed_strategies)."""

from __future__ import annotations

import argparse

from ..edit import add_item
from ..pipeline import default_policy_path
from ._arguments import FILE_HELP
from ._editing import report_edit

__all__ = ["add_arguments", "run"]


def run(args: argparse.Namespace) -> int:
    path = default_policy_path(args.file)
    return report_edit(add_item(path, args.path, args.item, dry_run=args.dry_run))


def add_arguments(p: argparse.ArgumentParser) -> None:
    """This command's arguments."""
    p.add_argument("path", metavar="FIELD", help="allowed_symbols or allowed_strategies")
    p.add_argument("item", metavar="ITEM")
    p.add_argument("file", nargs="?", metavar="FILE", help=FILE_HELP)
    p.add_argument("--dry-run", action="store_true", help="print the change, write nothing")
