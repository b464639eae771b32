"""``policyctl unset``: one map entry or one list item removed."""

from __future__ import annotations

import argparse

from ..edit import unset_path
from ..pipeline import default_policy_path
from ._arguments import FILE_HELP
from ._editing import report_edit

__all__ = ["add_arguments", "run"]


def run(args: argparse.Namespace) -> int:
    path = default_policy_path(args.file)
    return report_edit(unset_path(path, args.path, dry_run=args.dry_run))


def add_arguments(p: argparse.ArgumentParser) -> None:
    """This command's arguments."""
    p.add_argument("path", metavar="PATH", help="model_versions.lstm, allowed_symbols[1], ...")
    p.add_argument("file", nargs="?", metavar="FILE", help=FILE_HELP)
    p.add_argument("--dry-run", action="store_true", help="print the change, write nothing")
