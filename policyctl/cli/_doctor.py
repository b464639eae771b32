"""``policyctl doctor``: what will go wrong for a service reading this policy file, here."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..errors import printable
from ..fleet import examine
from ..pipeline import default_brakes_dir
from ._arguments import FILE_HELP, brakes_option
from ._escape import out
from ._exit import EXIT_INVALID, EXIT_OK

__all__ = ["add_arguments", "run"]


def run(args: argparse.Namespace) -> int:
    """What will go wrong for a service reading FILE here: one line per finding, and its fix."""

    path = Path(args.file)
    brakes_dir = default_brakes_dir(path, args.brakes_dir, os.environ)
    findings = examine(path, brakes_dir)
    for f in findings:
        fix = f"; fix: {printable(f.fix)}" if f.fix else ""
        out(f"{f.level}: {printable(f.what)}{fix}")
    problems = sum(f.level == "problem" for f in findings)
    out(f"{problems} problem(s)" if problems else f"no problem found for {printable(str(path))}")
    return EXIT_INVALID if problems else EXIT_OK


def add_arguments(p: argparse.ArgumentParser) -> None:
    """This command's arguments."""
    p.add_argument("file", nargs="?", metavar="FILE", help=FILE_HELP)
    brakes_option(p)
