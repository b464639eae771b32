"""``policyctl adjust``: a temporary adjustment, a file that may loosen a limit for a while.

``adjust max_positions=8 --for 3h --reason TEXT --ticket RISK-1234`` writes a new override file
with ``kind: adjustment`` (or proposes it with ``--propose``: always the ``review`` lane). It
reverts by itself at ``until``; ``brake list`` shows it, ``brake lift NAME`` ends it early.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from ..edit import Given, write_brake
from ..errors import printable
from ..model import ADJUSTABLE_FIELDS, MAX_ADJUSTMENT
from ..propose import BrakeRequest, propose
from ._arguments import brakes_option
from ._changes import describe_change
from ._editing import read_override_values
from ._escape import out
from ._exit import EXIT_OK, UsageError
from ._help import duration, moment
from ._paths import locate
from ._propose import made

__all__ = ["add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """This command's arguments."""
    p.add_argument(
        "words",
        nargs="*",
        metavar="FIELD=VALUE... [FILE]",
        help="the limits to adjust: " + ", ".join(ADJUSTABLE_FIELDS),
    )
    p.add_argument("--for", dest="duration", type=duration, help="how long: 90m, 3h (at most 24h)")
    p.add_argument("--until", type=moment, help="when it reverts: 2026-12-04T16:00:00Z")
    p.add_argument("--from", dest="start", type=moment, help="when it starts (default: now)")
    p.add_argument("--reason", help="why (required)")
    p.add_argument("--ticket", help="the ticket or reference that approves it (required)")
    p.add_argument("--name", help="the file's name in the overrides directory")
    p.add_argument("--dry-run", action="store_true", help="print the change, write nothing")
    p.add_argument(
        "--propose",
        action="store_true",
        help="commit it on a new branch off main and push it (always the review lane)",
    )
    p.add_argument("--format", choices=("text", "json"), default="text", help="for --propose")
    p.add_argument("--author", help="with --propose: 'Name <email>' of who proposes")
    p.add_argument("--no-push", action="store_true", help="with --propose: do not push")
    brakes_option(p)


def _window(args: argparse.Namespace) -> tuple[datetime | None, datetime]:
    for option, value in (("--reason", args.reason), ("--ticket", args.ticket)):
        if value is None or not value.strip():
            raise UsageError(
                f"an adjustment needs {option} (the record says why, and who approved it)"
            )
    if (args.duration is None) == (args.until is None):
        raise UsageError("say how long it lasts: --for 3h, or --until TIME (one of them)")
    if args.duration is not None and args.duration > MAX_ADJUSTMENT:
        raise UsageError("an adjustment lasts at most 24h; a longer change is a policy change")
    start: datetime | None = args.start
    if start is not None and start <= datetime.now(UTC):
        start = None  # a start in the past is now
    until = args.until or (start or datetime.now(UTC)) + args.duration
    return start, until.replace(microsecond=0)


def run(args: argparse.Namespace) -> int:
    words: list[str] = args.words
    if words and "=" not in words[-1]:
        words, file = words[:-1], words[-1]
    else:
        file = None
    if not words:
        raise UsageError("adjust takes FIELD=VALUE... (e.g. max_positions=8) with --for or --until")
    bad = [w for w in words if "=" not in w]
    if bad:
        raise UsageError(f"{printable(bad[0])!r}: an adjustment is FIELD=VALUE (max_positions=8)")
    start, until = _window(args)
    read = read_override_values(w.partition("=")[::2] for w in words)
    if args.propose:
        request = BrakeRequest(dict(read), args.reason, until, start, args.name, args.ticket)
        message = f"adjustment: {args.reason} ({args.ticket})"
        return made(
            lambda: propose(request, message=message, author=args.author, push=not args.no_push),
            args.format,
        )
    result = write_brake(
        locate(file),
        [(path, Given(value)) for path, value in read],
        reason=args.reason,
        until=until,
        start=start,
        name=args.name,
        brakes_dir=Path(args.brakes_dir) if args.brakes_dir else None,
        dry_run=args.dry_run,
        ticket=args.ticket,
    )
    note = " (dry run: nothing written)" if args.dry_run else ""
    out(f"{printable(str(result.path))}: adjustment {printable(result.brake.name)} written{note}")
    content = result.brake.content
    out(f"  from {content.start or 'now'} until {content.until}: reverts by itself then")
    for change in result.changes:
        out(f"  {change.direction:<9} {describe_change(change)}")
    if not result.changes:
        out("  no effect on the policy as it is now")
    if not args.dry_run:
        out(
            f"commit it (a pull request: an adjustment is always reviewed): git add"
            f" {printable(str(result.path))} && git commit"
        )
    return EXIT_OK
