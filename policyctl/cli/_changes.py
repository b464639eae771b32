"""Output formats for semantic changes: ``policyctl diff`` and ``policyctl log``.

Loosening changes come first everywhere: they are what a risk desk reviewer must not miss.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..model import LIST_FIELDS
from ..pipeline import PolicySnapshot
from ..review import Change, Comparison, LogEntry, Side, plain_value
from ._brake_report import brake_json, brake_lines, brake_markdown
from ._escape import code, md, printable
from ._report import commit_json, issue_json

__all__ = ["describe_change", "render_diff", "render_log"]

_ORDER = {"loosens": 0, "tightens": 1, "neutral": 2}


def _value(value: Any) -> str:
    plain = plain_value(value)
    return plain if isinstance(plain, str) else json.dumps(plain)


def describe_change(change: Change) -> str:
    """One change on one line: ``max_positions: 5 -> 4``, ``allowed_symbols: + SOLUSDT``."""
    path = printable(change.path)
    if change.field in LIST_FIELDS and change.action in ("added", "removed"):
        return f"{change.field}: {'+' if change.action == 'added' else '-'} {path.split('.', 1)[1]}"
    if change.action == "added":
        return f"{path}: + {printable(_value(change.new))}"
    if change.action == "removed":
        return f"{path}: - {printable(_value(change.old))}"
    return f"{path}: {printable(_value(change.old))} -> {printable(_value(change.new))}"


def _sorted(changes: Sequence[Change]) -> list[Change]:
    return sorted(changes, key=lambda c: _ORDER[c.direction])


def _summary(changes: Sequence[Change]) -> dict[str, int]:
    return {d: sum(1 for c in changes if c.direction == d) for d in _ORDER}


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
    changes = _sorted(comparison.changes)
    counts = _summary(changes)
    if fmt == "json":
        return json.dumps(
            {
                "base": _side_json(comparison.base),
                "head": _side_json(comparison.head),
                "changes": [c.to_json() for c in changes],
                "summary": counts,
                "version_raised": comparison.version_raised,
                "brakes": [brake_json(b) for b in comparison.brakes],
                "effective": [c.to_json() for c in _sorted(comparison.effective)],
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
            before = "" if c.old is None else code(_value(c.old))
            after = "" if c.new is None else code(_value(c.new))
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
                    "changes": [c.to_json() for c in _sorted(e.changes)],
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
        lines.extend(f"    {ch.direction:<9} {describe_change(ch)}" for ch in _sorted(e.changes))
    return "\n".join(lines) if lines else "no commits touch this file"
