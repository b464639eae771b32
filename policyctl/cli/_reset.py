"""``policyctl reset``: every field back to the built-in defaults, as a new version."""

from __future__ import annotations

import argparse
import sys

from ..edit import reset_policy
from ..pipeline import default_policy_path
from ._arguments import FILE_HELP
from ._editing import report_edit
from ._escape import err
from ._exit import EXIT_INVALID, UsageError

__all__ = ["add_arguments", "run"]


def run(args: argparse.Namespace) -> int:
    if not (args.yes or args.dry_run):
        answer = _confirmed("reset every field to the defaults")
        if answer is None:  # no one to ask (a script, CI): the flag is the answer
            raise UsageError(
                "reset replaces every field with the built-in defaults, under which nothing may"
                " trade; confirm with --yes, or see it first with --dry-run"
            )
        if not answer:  # asked, and declined (or Ctrl-D): nothing changed, and said so
            err("not reset: the file is unchanged")
            return EXIT_INVALID
    path = default_policy_path(args.file)
    return report_edit(reset_policy(path, dry_run=args.dry_run))


def _confirmed(what: str) -> bool | None:
    """Ask on a terminal; None where no one can answer (a script, CI)."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return None
    try:
        answer = input(f"{what}? Nothing may trade under them. [y/N] ")
    except EOFError:  # Ctrl-D: no answer is no
        return False
    return answer.strip().lower() in ("y", "yes")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """This command's arguments."""
    p.add_argument("file", nargs="?", metavar="FILE", help=FILE_HELP)
    p.add_argument("--yes", action="store_true", help="confirm: nothing may trade afterwards")
    p.add_argument("--dry-run", action="store_true", help="print the change, write nothing")
