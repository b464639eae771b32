"""``policyctl schema``: print, write or check the committed JSON Schemas."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..model import (
    SCHEMA_PATHS,
    SchemaKind,
    check_schema,
    schema_text,
    write_schema,
)
from ._escape import err, out, printable
from ._exit import EXIT_INVALID, EXIT_OK, UsageError
from ._paths import locate

__all__ = ["add_arguments", "run"]


def run(args: argparse.Namespace) -> int:
    # --write and --check cover both committed schemas unless one is named (--kind or --path).
    kinds: list[SchemaKind] = (
        [args.kind or "policy"]
        if args.kind or args.path or not (args.write or args.check)
        else ["policy", "override"]
    )
    status = EXIT_OK
    for kind in kinds:
        path = Path(args.path) if args.path else locate(str(SCHEMA_PATHS[kind]))
        if args.write:
            if not path.parent.is_dir():
                raise UsageError(
                    f"{printable(str(path.parent))} is not a directory; create it first"
                )
            changed = write_schema(path, kind)
            err(f"{printable(str(path))}: {'written' if changed else 'already up to date'}")
        elif args.check:
            status = max(status, _check_one(path, kind))
        else:
            out(schema_text(kind))
    return status


def _check_one(path: Path, kind: SchemaKind) -> int:
    if not path.exists():
        err(f"{printable(str(path))}: missing; run `policyctl schema --write` and commit it")
        return EXIT_INVALID
    if check_schema(path, kind):
        err(f"{printable(str(path))}: up to date")
        return EXIT_OK
    err(
        f"{printable(str(path))}: out of date with the model;"
        " run `policyctl schema --write` and commit it"
    )
    return EXIT_INVALID


def add_arguments(p: argparse.ArgumentParser) -> None:
    """This command's arguments."""
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="write the schema file")
    mode.add_argument("--check", action="store_true", help="exit 1 if the file is out of date")
    p.add_argument(
        "--kind",
        choices=("policy", "override"),
        help="which schema: the policy's (default) or a brake file's (override); --write and"
        " --check without --kind or --path cover both",
    )
    p.add_argument("--path", help="schema file (default: schemas/ in the repository)")
