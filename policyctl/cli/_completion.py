"""``policyctl completion``: a shell completion script, generated from the parser itself."""

from __future__ import annotations

import argparse
import sys

from ._exit import EXIT_OK

__all__ = ["add_arguments", "run"]


def run(args: argparse.Namespace) -> int:
    """The completion script, generated from this very parser (shtab), so it never drifts."""
    import shtab  # noqa: PLC0415 (only this command needs it)

    from ._main import parser  # noqa: PLC0415 (the whole parser, every command in it)

    sys.stdout.write(shtab.complete(parser(), shell=args.shell))
    return EXIT_OK


def add_arguments(p: argparse.ArgumentParser) -> None:
    """This command's arguments."""
    p.add_argument("shell", choices=("bash", "zsh"))
