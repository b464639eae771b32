"""``policyctl rollout status``: poll every replica until all serve the expected policy.

On a terminal the table is redrawn in place each round; elsewhere a line is printed each time a
replica's state changes. Exit 0 once every replica is ``current``; 1 at ``--timeout``, naming
each laggard and why.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import posixpath
import sys
import time
from datetime import UTC, datetime

from ..errors import PolicyError, printable
from ..fleet import NO_ANSWER, Expected, ReplicaState, poll_all
from ..model import BRAKES_DIR_NAME, BUNDLE_POLICY_NAME
from ..pipeline import brake_name, default_policy_path, parse_brake
from ..review import GitRepo
from ._arguments import replica_urls
from ._escape import out
from ._exit import EXIT_INVALID, EXIT_OK, UsageError
from ._help import positive, seconds

__all__ = ["REST", "add_arguments", "run"]

REST = "replicas"
"""Replica URLs may also follow the options (``status --expect REV URL URL``)."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("status",), help="status: wait until all serve it")
    p.add_argument("replicas", nargs="*", metavar="URL", help="replica base URLs; - reads stdin")
    p.add_argument("--replicas-file", metavar="FILE", help="URLs, one per line, or kubectl JSON")
    p.add_argument("--port", type=positive, default=8000, help="for pods from kubectl JSON")
    p.add_argument("--expect", metavar="REV", help="the git revision they should serve")
    p.add_argument("--expect-digest", metavar="SHA256", help="or the policy digest itself")
    p.add_argument(
        "--expect-brake",
        metavar="NAME",
        help="a brake that must be in force (one sent with brake --send); alone, or with --expect",
    )
    p.add_argument("--file", help="the policy file in the repository, for --expect")
    p.add_argument("--timeout", type=seconds, default=120.0, help="give up after (seconds)")
    p.add_argument("--interval", type=seconds, default=1.0, help="between rounds (seconds)")
    p.add_argument("--format", choices=("text", "json"), default="text")


def _replicas(args: argparse.Namespace) -> list[str]:
    return replica_urls(args.replicas, args.replicas_file, args.port)


def _expected(args: argparse.Namespace) -> Expected:
    if args.expect_brake is not None and args.expect is None and args.expect_digest is None:
        return Expected("", brake=args.expect_brake)
    expected = _expected_policy(args)
    if args.expect_brake is not None:
        return dataclasses.replace(expected, brake=args.expect_brake)
    return expected


def _expected_policy(args: argparse.Namespace) -> Expected:
    if (args.expect is None) == (args.expect_digest is None):
        raise UsageError(
            "say what they should serve: --expect REV, --expect-digest SHA256 or"
            " --expect-brake NAME"
        )
    if args.expect_digest is not None:
        digest = args.expect_digest.lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise UsageError(f"{printable(args.expect_digest)!r} is not a sha256 digest")
        return Expected(str(digest))
    # A revision: its policy file, the brakes active in it now, and every file of its bundle,
    # so that a replica missing a brake (or serving another bundle) is behind, not current.
    repo = GitRepo()
    path = repo.relative(default_policy_path(args.file))
    data = repo.read(args.expect, path)
    sha = repo.resolve(args.expect)
    directory = posixpath.join(posixpath.dirname(path), BRAKES_DIR_NAME)
    now = datetime.now(UTC)
    active, files = set(), {BUNDLE_POLICY_NAME: hashlib.sha256(data).hexdigest()}
    for where, content in repo.read_directory(sha, directory):
        name = brake_name(where.name)
        if name is None:
            continue
        files[f"{BRAKES_DIR_NAME}/{where.name}"] = hashlib.sha256(content).hexdigest()
        with contextlib.suppress(PolicyError):  # a broken brake file: no store applies it
            if parse_brake(content, where, now).state(now) == "active":
                active.add(name)
    return Expected(files[BUNDLE_POLICY_NAME], frozenset(active), files)


def _what(expect: Expected) -> str:
    """What the replicas should serve, in a few words."""
    parts = [expect.digest[:12]] if expect.digest else []
    if expect.brake is not None:
        parts.append(f"brake {printable(expect.brake)[:64]}")
    return " with ".join(parts)


def _row(r: ReplicaState) -> str:
    age = f"{r.age_seconds:.0f}s" if r.age_seconds is not None else "-"
    digest = (r.digest or "-")[:12]
    version = "-" if r.version is None else str(r.version)
    why = f"  {printable(r.why)}" if r.why else ""
    return f"{printable(r.url):<32} {r.state:<12} {version:>7} {digest:<12} {age:>6}{why}"


def run(args: argparse.Namespace) -> int:
    urls, expect = _replicas(args), _expected(args)
    tty = sys.stdout.isatty() and args.format == "text"
    deadline = time.monotonic() + args.timeout
    seen: dict[str, str] = {}
    states: list[ReplicaState] = []
    drawn = 0
    while True:
        # Each round gives every replica 2 s at most, and never passes --timeout: a total
        # deadline for the whole command, whatever the replicas do.
        fresh = poll_all(urls, expect, deadline=min(deadline, time.monotonic() + 2.0))
        # A round cut short by the total deadline says nothing new of a replica that answered
        # before: its last answer stands.
        known = {s.url: s for s in states}
        states = [known.get(s.url, s) if s.why == NO_ANSWER else s for s in fresh]
        done = all(s.state == "current" for s in states)
        if args.format == "text":
            if tty:
                if drawn:
                    sys.stdout.write(f"\x1b[{drawn}A\x1b[J")  # redraw the table in place
                header = f"{'REPLICA':<32} {'STATE':<12} {'VERSION':>7} {'DIGEST':<12} {'AGE':>6}"
                lines = [header, *(_row(s) for s in states)]
                out("\n".join(lines))
                drawn = len(lines)
            for s in states:
                if not tty and seen.get(s.url) != s.state:
                    out(_row(s))
                seen[s.url] = s.state
            sys.stdout.flush()
        if done or time.monotonic() >= deadline:
            break
        time.sleep(min(args.interval, max(0.0, deadline - time.monotonic())))
    if args.format == "json":
        out(
            json.dumps(
                {
                    "expect": expect.digest or f"brake {expect.brake}",
                    "done": done,
                    "replicas": [
                        {
                            "url": s.url,
                            "state": s.state,
                            "version": s.version,
                            "digest": s.digest,
                            "age_seconds": s.age_seconds,
                            "why": s.why,
                        }
                        for s in states
                    ],
                },
                indent=2,
            )
        )
    elif done:
        out(f"all {len(states)} replicas serve {_what(expect)}")
    else:
        laggards = [s for s in states if s.state != "current"]
        out(
            f"{len(laggards)} of {len(states)} replicas do not serve {_what(expect)} after"
            f" {args.timeout:g}s:"
        )
        for s in laggards:
            out(f"  {printable(s.url)}: {s.state}{': ' + printable(s.why) if s.why else ''}")
    return EXIT_OK if done else EXIT_INVALID
