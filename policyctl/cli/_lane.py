"""``policyctl lane``: which lane a change takes: auto, review or invalid."""

from __future__ import annotations

import argparse
import json

from ..errors import printable
from ..review import GitRepo, compare, lane
from ._escape import out
from ._exit import EXIT_INVALID, EXIT_OK

__all__ = ["add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("base", metavar="BASE", help="the base revision (e.g. origin/main)")
    p.add_argument("head", nargs="?", metavar="HEAD", help="revision (default: working tree)")
    p.add_argument("--file", help="the policy file in the repository")
    p.add_argument("--format", choices=("text", "json"), default="text")


def run(args: argparse.Namespace) -> int:
    comparison = compare(
        args.base, args.head, args.file, base_kind="revision", head_kind="revision"
    )
    paths = GitRepo().changed_paths(args.base, args.head)
    verdict = lane(comparison, paths)
    if args.format == "json":
        out(json.dumps({"lane": verdict.lane, "reasons": list(verdict.reasons)}, indent=2))
    else:
        out(verdict.lane)
        for reason in verdict.reasons:
            out(f"  {printable(reason)}")
    return EXIT_OK if verdict.lane == "auto" else EXIT_INVALID
