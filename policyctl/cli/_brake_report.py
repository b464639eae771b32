"""The brakes' part of ``policyctl diff``: override files added, changed or removed, and the
policy in force now when brakes make it differ from the files' own changes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..review import BrakeChange, BrakeLogEntry, Change, Comparison
from ._escape import code, md, printable
from ._report import commit_json, issue_json

__all__ = [
    "brake_json",
    "brake_lines",
    "brake_markdown",
    "effective_differs",
    "render_brake_log",
]

_SIGN = {"added": "+", "removed": "-", "changed": "~"}


def effective_differs(comparison: Comparison) -> bool:
    """Whether the policy in force now changes otherwise than the files do (brakes at work)."""

    def key(changes: list[Change]) -> list[tuple[str, str]]:
        return sorted((c.path, c.direction) for c in changes)

    return key(comparison.effective) != key(comparison.changes)


def brake_json(change: BrakeChange) -> dict[str, Any]:
    override = change.brake.content
    return {
        "name": change.name,
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
                f"  {b.direction:<9} {_SIGN[b.action]} {printable(b.name)} ({window}until"
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
                f"| {flag} | {_SIGN[b.action]} {code(b.name)} {b.action} ({md(b.why)}) |"
                f" {window}{code(o.until)} | {md(o.reason)} |"
            )
    if effective_differs(comparison):
        out += ["", "In force now (files and active brakes):", ""]
        out += [f"- {c.direction}: {code(c.path)} {c.action}" for c in comparison.effective]
        if not comparison.effective:
            out.append("- no change")
    return out


def render_brake_log(entries: Sequence[BrakeLogEntry], fmt: str) -> str:
    """``policyctl log --brakes`` in ``fmt`` (text or json)."""
    if fmt == "json":
        return json.dumps(
            [
                {
                    **commit_json(e.commit),
                    "action": e.action,
                    "name": e.name,
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
            f" {e.action} {printable(e.name)}"
        )
        if e.brake is not None:
            o = e.brake.content
            window = f"from {o.start} " if o.start else ""
            head += f" ({window}until {o.until}): {printable(o.reason)}"
        elif e.error is not None:
            head += f" (invalid: {printable(e.error.issues[0].message)})"
        lines.append(f"{head}  [{printable(e.commit.subject)}]")
    return "\n".join(lines)
