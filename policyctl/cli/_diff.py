"""``policyctl diff``: the semantic diff between two revisions or files, each change with its
direction, and the brakes between the two sides.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, Literal

from ..review import BrakeChange, Change, Comparison, Side, compare
from ._changes import describe_change, sorted_changes, summary, value_text
from ._escape import code, err, md, out, printable
from ._exit import EXIT_INVALID, EXIT_OK, UsageError
from ._report import issue_json

_SIGN = {"added": "+", "removed": "-", "changed": "~"}

__all__ = ["EPILOG", "add_arguments", "run"]


EPILOG = (
    "A name that is both an existing path and a git revision is refused (exit 2). As with"
    " git, arguments before `--` are revisions and arguments after it are files:"
    " `policyctl diff HEAD^1 HEAD --`."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("base", nargs="?", metavar="BASE", help="file or git revision (default HEAD)")
    p.add_argument(
        "head", nargs="?", metavar="HEAD", help="file or revision (default: working tree)"
    )
    p.add_argument("--base-file", metavar="PATH", help="read the base from this file")
    p.add_argument("--head-file", metavar="PATH", help="read the head from this file")
    p.add_argument("--file", help="the policy file in the repository, for revisions")
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    p.add_argument("--require-bump", action="store_true", help="exit 1 unless version rose")


Slot = tuple[str | None, Literal["auto", "file", "revision"]]


def _diff_sides(args: argparse.Namespace) -> tuple[Slot, Slot]:
    """BASE and HEAD from the positionals, ``--base-file`` / ``--head-file`` and the files after
    ``--``: explicit options take their slot, the rest fill the free slots in order."""
    after: list[str] | None = args.after_dashdash
    positional_kind: Literal["auto", "revision"] = "auto" if after is None else "revision"
    queue: list[Slot] = [(a, positional_kind) for a in (args.base, args.head) if a is not None]
    queue += [(f, "file") for f in after or []]
    base: Slot | None = (args.base_file, "file") if args.base_file else None
    head: Slot | None = (args.head_file, "file") if args.head_file else None
    if base is None and queue:
        base = queue.pop(0)
    if head is None and queue:
        head = queue.pop(0)
    if queue:
        raise UsageError("diff compares two sides: give at most BASE and HEAD")
    return base or (None, "auto"), head or (None, "auto")


def run(args: argparse.Namespace) -> int:
    base, head = _diff_sides(args)
    comparison = compare(base[0], head[0], args.file, base_kind=base[1], head_kind=head[1])
    problem = comparison.bump_problem() if args.require_bump else None
    out(render_diff(comparison, args.format, bump_problem=problem))
    invalid = comparison.base.error is not None or comparison.head.error is not None
    if problem:
        err(f"policyctl diff --require-bump: {printable(problem)}")
        return EXIT_INVALID
    return EXIT_INVALID if invalid else EXIT_OK


def _side_json(side: Side) -> dict[str, Any]:
    snap = side.snapshot
    errors = [issue_json(i, side.error.kind) for i in side.error.issues] if side.error else []
    return {
        "label": side.label,
        "valid": side.error is None,
        "version": snap.version if snap else None,
        "digest": snap.digest if snap else None,
        "errors": errors,
    }


def _side_text(side: Side) -> str:
    label = printable(side.label)
    return f"{label} (version {side.snapshot.version})" if side.snapshot else label


def render_diff(comparison: Comparison, fmt: str, *, bump_problem: str | None = None) -> str:
    """The report of ``policyctl diff`` in ``fmt`` (text, json or markdown).

    ``bump_problem`` (why ``--require-bump`` fails) heads the markdown report: the job summary
    is where a reviewer looks, not the job's stderr.
    """
    changes = sorted_changes(comparison.changes)
    counts = summary(changes)
    if fmt == "json":
        return json.dumps(
            {
                "base": _side_json(comparison.base),
                "head": _side_json(comparison.head),
                "changes": [c.to_json() for c in changes],
                "summary": counts,
                "version_raised": comparison.version_raised,
                "brakes": [brake_json(b) for b in comparison.brakes],
                "effective": [c.to_json() for c in sorted_changes(comparison.effective)],
            },
            indent=2,
        )
    if fmt == "markdown":
        report = _markdown(comparison, changes, counts)
        if bump_problem:
            report = f"> **✖ \\-\\-require\\-bump fails:** {md(bump_problem)}\n\n{report}"
        return report
    lines = [f"policy diff: {_side_text(comparison.base)} -> {_side_text(comparison.head)}"]
    for side in (comparison.base, comparison.head):
        if side.error:
            lines.append(f"{printable(side.label)} is invalid:")
            lines.extend(f"  {issue}" for issue in side.error.issues)
    lines.extend(f"  {c.direction:<9} {describe_change(c)}" for c in changes)
    if comparison.base.error is None and comparison.head.error is None:
        lines.append(
            f"{len(changes)} change(s): {counts['loosens']} loosen risk,"
            f" {counts['tightens']} tighten, {counts['neutral']} neutral"
            if changes
            else "no semantic change" + (" to the policy file" if comparison.brakes else "")
        )
    lines += brake_lines(comparison, describe_change)
    return "\n".join(lines)


def _markdown(comparison: Comparison, changes: list[Change], counts: dict[str, int]) -> str:
    out = [f"### Policy diff: {code(comparison.base.label)} → {code(comparison.head.label)}", ""]
    for side in (comparison.base, comparison.head):
        if side.error:
            out.append(f"**{md(side.label)} is invalid:**")
            out.extend(f"- {code(str(issue))}" for issue in side.error.issues)
            out.append("")
    loosening = counts["loosens"] + sum(b.direction == "loosens" for b in comparison.brakes)
    if loosening:
        out += [f"> **⚠ {loosening} change(s) LOOSEN risk** — review them first.", ""]
    if changes:
        out += ["| risk | change | before | after |", "| --- | --- | --- | --- |"]
        for c in changes:
            flag = "**LOOSENS**" if c.direction == "loosens" else c.direction
            before = "" if c.old is None else code(value_text(c.old))
            after = "" if c.new is None else code(value_text(c.new))
            out.append(f"| {flag} | {code(c.path)} {c.action} | {before} | {after} |")
        out.append("")
        out.append(
            f"{len(changes)} change(s): {counts['loosens']} loosen risk,"
            f" {counts['tightens']} tighten, {counts['neutral']} neutral."
        )
    elif comparison.base.error is None and comparison.head.error is None:
        out.append(
            "No semantic change to the policy file." if comparison.brakes else "No semantic change."
        )
    out += brake_markdown(comparison)
    return "\n".join(out)


def effective_differs(comparison: Comparison) -> bool:
    """Whether the policy in force now changes otherwise than the files do (brakes at work)."""

    def key(changes: list[Change]) -> list[tuple[str, str]]:
        return sorted((c.path, c.direction) for c in changes)

    return key(comparison.effective) != key(comparison.changes)


def _kind(change: BrakeChange) -> str:
    """``adjustment `` before a temporary adjustment's name (a brake's goes unmarked)."""
    if change.brake.kind != "adjustment":
        return ""
    return f"adjustment [{printable(change.brake.ticket or '')}] "


def brake_json(change: BrakeChange) -> dict[str, Any]:
    override = change.brake.content
    return {
        "name": change.name,
        "kind": change.brake.kind,
        "file": str(change.brake.path),
        "action": change.action,
        "direction": change.direction,
        "why": change.why,
        "reason": override.reason,
        "from": override.start,
        "until": override.until,
    }


def brake_lines(comparison: Comparison, describe: Any) -> list[str]:
    lines = []
    if comparison.brakes:
        lines.append("brakes:")
        for b in comparison.brakes:
            o = b.brake.content
            window = f"from {o.start} " if o.start else ""
            lines.append(
                f"  {b.direction:<9} {_SIGN[b.action]} {_kind(b)}{printable(b.name)} ({window}until"
                f" {o.until}): {printable(o.reason)} [{b.why}]"
            )
    if effective_differs(comparison):
        lines.append("in force now (files and active brakes):")
        lines.extend(f"  {c.direction:<9} {describe(c)}" for c in comparison.effective)
        if not comparison.effective:
            lines.append("  no change")
    return lines


def brake_markdown(comparison: Comparison) -> list[str]:
    out: list[str] = []
    if comparison.brakes:
        out += [
            "",
            "#### Brakes",
            "",
            "| risk | brake | until | reason |",
            "| --- | --- | --- | --- |",
        ]
        for b in comparison.brakes:
            o = b.brake.content
            flag = "**LOOSENS**" if b.direction == "loosens" else b.direction
            window = f"{code(o.start)} → " if o.start else ""
            out.append(
                f"| {flag} | {_SIGN[b.action]} {_kind(b)}{code(b.name)} {b.action} ({md(b.why)}) |"
                f" {window}{code(o.until)} | {md(o.reason)} |"
            )
    if effective_differs(comparison):
        out += ["", "In force now (files and active brakes):", ""]
        out += [f"- {c.direction}: {code(c.path)} {c.action}" for c in comparison.effective]
        if not comparison.effective:
            out.append("- no change")
    return out
