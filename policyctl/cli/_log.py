"""``policyctl log``: the audit trail, each commit that touched the policy (or, with --brakes,
each brake file).
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Sequence
from pathlib import Path

from ..errors import PolicySourceError
from ..pipeline import (
    PolicySnapshot,
    default_policy_path,
)
from ..review import BrakeLogEntry, GitRepo, LogEntry, audit_log, brake_log
from ._arguments import FILE_HELP
from ._changes import describe_change, sorted_changes
from ._escape import out, printable
from ._exit import EXIT_OK, UsageError
from ._help import positive
from ._report import commit_json, issue_json

__all__ = ["add_arguments", "run"]


def run(args: argparse.Namespace) -> int:
    repo = GitRepo()
    revisions, file = _revisions_and_file(repo, args.words)
    path = repo.relative(default_policy_path(file))
    if args.brakes:
        brakes = brake_log(repo, path, args.n, revisions)
        if not brakes and not (repo.root / path).exists():
            raise UsageError(f"{printable(path)}: no such file or revision")
        out(render_brake_log(brakes, args.format))
        return EXIT_OK
    entries = audit_log(repo, path, args.n, revisions)
    if not entries and not (repo.root / path).exists():  # a typo: neither a file nor a revision
        raise UsageError(
            f"{printable(path)}: no such file or revision; policyctl log [REVISIONS] [FILE]"
            " (REVISIONS as git log takes them: tighten-risk, main..tighten-risk)"
        )
    out(render_log(entries, args.format))
    return EXIT_OK


def _revisions_and_file(repo: GitRepo, words: list[str]) -> tuple[str | None, str | None]:
    """``[REVISIONS] [FILE]``: each word is a file when it exists here, a revision or range
    when git knows it, and refused when it is both (say which) or starts with '-'."""
    if len(words) > 2:
        raise UsageError("log takes at most REVISIONS and FILE")
    revisions = file = None
    for word in words:
        if word.startswith("-") or not word.strip():
            raise UsageError(f"{printable(word)!r} is neither a file nor a revision")
        is_file = Path(word).exists() or (repo.root / word).exists()
        # An existing file is a file (old..yaml too); `../policy.yaml` is a path, never a range.
        is_revision = (".." not in word or not is_file) and (
            ".." not in Path(word).parts and _is_revision(repo, word)
        )
        if is_file and is_revision:
            raise UsageError(
                f"{printable(word)!r} is both a file here and a revision; say which:"
                f" ./{printable(word)} for the file, {printable(word)}^{{commit}} for the"
                " revision"
            )
        if is_revision and revisions is None:
            revisions = word
        elif not is_revision and file is None:
            file = word
        else:
            raise UsageError("log takes at most one REVISIONS and one FILE")
    return revisions, file


def _is_revision(repo: GitRepo, word: str) -> bool:
    """A revision, or a range whose ends are revisions (``a..b``, ``a...b``, ``..b``)."""
    ends = [end for end in re.split(r"\.{2,3}", word) if end] if ".." in word else [word]
    try:
        for end in ends:
            repo.resolve(end)
    except PolicySourceError:
        if ".." in word:
            raise UsageError(
                f"{printable(word)!r}: unknown revision in the range (not a branch, tag or"
                " commit here)"
            ) from None
        return False
    return bool(ends)


def _version(snap: PolicySnapshot | None) -> str:
    return str(snap.version) if snap else "-"


def render_log(entries: Sequence[LogEntry], fmt: str) -> str:
    """The report of ``policyctl log`` in ``fmt`` (text or json)."""
    if fmt == "json":
        return json.dumps(
            [
                {
                    **commit_json(e.commit),
                    "merge": e.commit.merge,
                    "version_before": e.before.version if e.before else None,
                    "version_after": e.after.version if e.after else None,
                    "valid": e.after_error is None and e.after is not None,
                    "errors": [issue_json(i, e.after_error.kind) for i in e.after_error.issues]
                    if e.after_error
                    else [],
                    "changes": [c.to_json() for c in sorted_changes(e.changes)],
                }
                for e in entries
            ],
            indent=2,
        )
    lines = []
    for e in entries:
        c = e.commit
        lines.append(
            f"{c.short} {printable(c.date)} {printable(c.author)}: {printable(c.subject)}"
            f"  [version {_version(e.before)} -> {_version(e.after)}]"
        )
        if c.merge:
            lines.append(
                "    merge: the result differs from every parent (changes combined into a state"
                " no single pull request showed); changes against the first parent"
            )
        if e.after is None and e.after_error is None:
            lines.append("    file deleted")
        if e.after_error is not None:
            lines.append(f"    INVALID: {e.after_error.issues[0]}")
        lines.extend(
            f"    {ch.direction:<9} {describe_change(ch)}" for ch in sorted_changes(e.changes)
        )
    return "\n".join(lines) if lines else "no commits touch this file"


def render_brake_log(entries: Sequence[BrakeLogEntry], fmt: str) -> str:
    """``policyctl log --brakes`` in ``fmt`` (text or json)."""
    if fmt == "json":
        return json.dumps(
            [
                {
                    **commit_json(e.commit),
                    "action": e.action,
                    "name": e.name,
                    "kind": e.brake.kind if e.brake else None,
                    "reason": e.brake.reason if e.brake else None,
                    "from": e.brake.content.start if e.brake else None,
                    "until": e.brake.content.until if e.brake else None,
                    "valid": e.error is None and e.brake is not None,
                    "errors": [issue_json(i, e.error.kind) for i in e.error.issues]
                    if e.error
                    else [],
                }
                for e in entries
            ],
            indent=2,
        )
    if not entries:
        return "no commits touch the brakes (override files)"
    lines = []
    for e in entries:
        head = (
            f"{e.commit.short} {e.commit.date[:10]} {printable(e.commit.author)}:"
            f" {e.action} {e.brake.kind if e.brake else 'override'} {printable(e.name)}"
        )
        if e.brake is not None:
            o = e.brake.content
            window = f"from {o.start} " if o.start else ""
            head += f" ({window}until {o.until}): {printable(o.reason)}"
        elif e.error is not None:
            head += f" (invalid: {printable(e.error.issues[0].message)})"
        lines.append(f"{head}  [{printable(e.commit.subject)}]")
    return "\n".join(lines)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """This command's arguments."""
    p.add_argument(
        "words",
        nargs="*",
        metavar="[REVISIONS] [FILE]",
        help="the history of REVISIONS (as git log takes them: tighten-risk,"
        " main..tighten-risk; default HEAD), of FILE. " + FILE_HELP,
    )
    p.add_argument("-n", type=positive, metavar="N", help="at most N commits")
    p.add_argument(
        "--brakes", action="store_true", help="the brakes' history instead: each brake file"
    )
    p.add_argument("--format", choices=("text", "json"), default="text")
