"""``policyctl audit``: the evidence of a period, fit to attach to an annual review (markdown),
to open in a spreadsheet (CSV) or to read by a program (JSON, its shape in the README).

Every value that came from someone (a reason, a login, a description, a commit message) is
escaped for the format it is written in: markdown's punctuation, a spreadsheet's formulas, a
terminal's control characters.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import os
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..pipeline import TRUST_VARIABLE, default_policy_path
from ..review import (
    Audit,
    GitRepo,
    LimitChange,
    OverrideRecord,
    ReviewRecord,
    audit,
    audit_totals,
)
from ._arguments import FILE_HELP
from ._escape import code, csv_cell, md, out, printable
from ._exit import EXIT_OK, UsageError
from ._help import since

if TYPE_CHECKING:
    from ..pipeline import Statement

__all__ = ["add_arguments", "run"]

BOT_VARIABLE = "POLICY_BOT_LOGIN"
_SHORT_TEXT = 300  # a markdown cell's justification; JSON and CSV keep it whole


def add_arguments(p: argparse.ArgumentParser) -> None:
    """This command's arguments."""
    p.add_argument("file", nargs="?", metavar="FILE", help=FILE_HELP)
    p.add_argument("--since", type=since, help="from (inclusive): 2026, 2026-07, a UTC time")
    p.add_argument("--until", type=since, help="to (exclusive): 2027, 2026-10-01, a UTC time")
    p.add_argument("--rev", default="HEAD", help="the history read (default HEAD; e.g. main)")
    p.add_argument(
        "--statements",
        metavar="DIR_OR_REV",
        help="the signed statements kept of each bundle: a directory of *.dsse.json, or a"
        " revision whose statements/ holds them (origin/policy-evidence)",
    )
    p.add_argument(
        "--trust", metavar="KEYDIR", help=f"the keys statements verify with (${TRUST_VARIABLE})"
    )
    p.add_argument("--bot", help=f"the auto lane bot's login (${BOT_VARIABLE})")
    p.add_argument(
        "--risk-desk",
        metavar="LOGIN,...",
        help="who may approve a loosening: a loosening approved by none of them is flagged",
    )
    p.add_argument(
        "--only",
        choices=("loosens", "tightens", "neutral"),
        help="only the limit changes in this direction",
    )
    p.add_argument("--format", choices=("markdown", "json", "csv"), default="markdown")


def run(args: argparse.Namespace) -> int:
    if args.since and args.until and args.until <= args.since:
        raise UsageError("--until is not after --since: the period is empty")
    if args.rev.startswith(("-", "^")) or ".." in args.rev:
        raise UsageError(
            f"{printable(args.rev)!r}: --rev is one revision (main, HEAD, a tag), the history"
            " up to it is audited; a period is --since and --until"
        )
    # The file's own repository (this directory's, when the file's is not there).
    where = Path(args.file).absolute().parent
    repo = GitRepo(where if where.is_dir() else None)
    if not repo.has_commits():
        raise UsageError("no commits yet: there is no history to audit")
    if repo.run("rev-parse", "--is-shallow-repository").strip() == "true":
        raise UsageError(
            "this is a shallow clone: it holds part of the history only, and an audit of part"
            " of it would look complete; git fetch --unshallow (in GitHub Actions:"
            " actions/checkout with fetch-depth: 0)"
        )
    path = repo.relative(default_policy_path(args.file))
    revision = repo.resolve(args.rev)
    if not repo.run("log", "-1", "--format=%H", "--end-of-options", revision, "--", path).strip():
        raise UsageError(f"{printable(path)} is in no commit of {printable(args.rev)}")
    statements: dict[str, Statement] = {}
    refused: list[str] = []
    if args.statements:
        trust = args.trust or os.environ.get(TRUST_VARIABLE)
        if not trust:
            raise UsageError(
                "statements are read only once verified: give --trust KEYDIR (or"
                f" ${TRUST_VARIABLE})"
            )
        from ..pipeline import load_trust  # noqa: PLC0415 - cryptography, only when asked
        from ..review import read_statements  # noqa: PLC0415

        statements, refused = read_statements(repo, args.statements, load_trust(Path(trust)))
    desk = tuple(d.strip() for d in (args.risk_desk or "").split(",") if d.strip())
    report = audit(
        repo,
        path,
        since=args.since,
        until=args.until,
        revisions=revision,
        statements=statements,
        refused=refused,
        bot=args.bot or os.environ.get(BOT_VARIABLE) or None,
        risk_desk=desk,
    )
    if args.only:
        changes = tuple(c for c in report.changes if c.direction == args.only)
        report = dataclasses.replace(
            report, changes=changes, totals=audit_totals(changes, report.overrides)
        )
    render = {"json": _json, "csv": _csv, "markdown": _markdown}[args.format]
    out(render(report, path))
    return EXIT_OK


def _at(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    text = moment.isoformat(timespec="microseconds" if moment.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def _review_json(review: ReviewRecord) -> dict[str, Any]:
    if not review.known:
        return {"known": False, "why": review.why}
    return {
        "known": True,
        "pull_request": review.pull_request,
        "author": review.author,
        "approvers": [{"login": a.login, "at": a.at} for a in review.approvers],
        "lane": review.lane,
        "signed_at": _at(review.signed_at),
    }


def _change_json(c: LimitChange) -> dict[str, Any]:
    return {
        "commit": c.commit,
        "merged_at": _at(c.merged_at),
        "in_force_at": _at(c.in_force_at),
        "field": c.field,
        "path": c.path,
        "action": c.action,
        "before": c.before,
        "after": c.after,
        "direction": c.direction,
        "author": c.author,
        "lane": c.lane,
        "lane_from": c.lane_from,
        "justification": c.justification,
        "justification_from": c.justification_from,
        "review": _review_json(c.review),
        "flags": list(c.flags),
    }


def _override_json(o: OverrideRecord) -> dict[str, Any]:
    return {
        "kind": o.kind,
        "name": o.name,
        "reason": o.reason,
        "ticket": o.ticket,
        "set": dict(o.sets),
        "from": _at(o.starts),
        "until": _at(o.until),
        "first_until": _at(o.first_until),
        "put_on_by": o.put_on_by,
        "put_on_commit": o.put_on_commit,
        "put_on_at": _at(o.put_on_at),
        "ended": o.ended,
        "ended_at": _at(o.ended_at),
        "lifted_by": o.lifted_by,
        "extended": o.extended,
        "on_time": o.on_time,
        "review": _review_json(o.review),
        "flags": list(o.flags),
    }


def _json(report: Audit, path: str) -> str:
    doc = {
        "policy": path,
        "since": _at(report.since),
        "until": _at(report.until),
        "generated_at": _at(report.generated_at),
        "statements": {"verified": report.statements, "refused": list(report.refused)},
        "risk_desk": list(report.risk_desk),
        "changes": [_change_json(c) for c in report.changes],
        "overrides": [_override_json(o) for o in report.overrides],
        "totals": dict(report.totals),
        "notes": list(report.notes),
    }
    # One line: a year's history is tens of thousands of rows, and json's C encoder (several
    # times faster) runs only without indentation (`| jq .` for a person).
    return json.dumps(doc, separators=(",", ":"))


_CSV_COLUMNS = (
    "record", "commit", "merged_at", "in_force_at", "field", "before", "after", "direction",
    "name", "reason", "ticket", "from", "until", "ended", "ended_at", "author", "lifted_by",
    "approvers", "lane", "justification", "flags",
)  # fmt: skip


def _approvers(review: ReviewRecord) -> str:
    if not review.known:
        return f"unknown: {review.why}"
    return ", ".join(f"{a.login} ({a.at or 'time unknown'})" for a in review.approvers) or "none"


def _csv_rows(report: Audit) -> Iterable[Mapping[str, Any]]:
    for c in report.changes:
        yield {
            "record": "change", "commit": c.commit, "merged_at": _at(c.merged_at),
            "in_force_at": _at(c.in_force_at) or "unknown", "field": c.path,
            "before": _value(c.before), "after": _value(c.after), "direction": c.direction,
            "author": c.author, "approvers": _approvers(c.review),
            "lane": f"{c.lane} ({c.lane_from})", "justification": c.justification,
            "flags": "; ".join(c.flags),
        }  # fmt: skip
    for o in report.overrides:
        yield {
            "record": o.kind, "commit": o.put_on_commit, "merged_at": _at(o.put_on_at),
            "name": o.name, "reason": o.reason, "ticket": o.ticket or "",
            "after": ", ".join(f"{k}={_value(v)}" for k, v in o.sets.items()),
            "from": _at(o.starts), "until": _at(o.until), "ended": o.ended,
            "ended_at": _at(o.ended_at) or "", "author": o.put_on_by,
            "lifted_by": o.lifted_by or "", "approvers": _approvers(o.review),
            "flags": "; ".join(o.flags),
        }  # fmt: skip


def _csv(report: Audit, path: str) -> str:
    del path
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(_CSV_COLUMNS)
    for row in _csv_rows(report):
        writer.writerow([csv_cell(str(row.get(name) or "")) for name in _CSV_COLUMNS])
    for note in report.notes:
        writer.writerow([csv_cell(x) for x in ("note", *[""] * 18, note, "")])
    return buffer.getvalue()


def _cell(text: str, limit: int | None = None) -> str:
    """Someone's text in a table cell: one line, bounded, every markdown mark escaped."""
    flat = " ".join(text.split())
    if limit is not None and len(flat) > limit:
        flat = flat[:limit] + "…"
    return md(flat) if flat else "-"


def _markdown(report: Audit, path: str) -> str:
    period = f"{_at(report.since) or 'the beginning'} to {_at(report.until) or 'now'}"
    lines = [
        f"# Policy audit: {period}",
        "",
        f"{code(path)}, generated {_at(report.generated_at)}. Signed statements verified:"
        f" {report.statements}; refused: {len(report.refused)}. Risk desk:"
        f" {', '.join(code(d) for d in report.risk_desk) or 'not named (--risk-desk)'}.",
        "",
        "## Totals",
        "",
        "| | |",
        "|---|---|",
    ]
    t = report.totals
    lines += [
        f"| limit changes | {t['changes']} |",
        "| by direction | "
        + (", ".join(f"{k} {v}" for k, v in t["by_direction"].items()) or "-")
        + " |",
        "| by lane | " + (", ".join(f"{k} {v}" for k, v in t["by_lane"].items()) or "-") + " |",
        f"| brakes | {t['brakes']} |",
        f"| temporary adjustments | {t['adjustments']} (reverted on time"
        f" {t['adjustments_reverted_on_time']}, in force {t['adjustments_in_force']}, extended"
        f" {t['adjustments_extended']}) |",
        f"| flagged | {t['flagged']} |",
        "",
        "## Limit changes",
        "",
    ]
    if report.changes:
        lines += [
            "| Merged | Commit | Change | Direction | Author | Approvers | Lane | In force"
            " | Justification | Flags |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for c in report.changes:
            change = f"{c.path}: {_value(c.before)} → {_value(c.after)}"
            lines.append(
                f"| {_at(c.merged_at)} | {code(c.commit[:12])} | {_cell(change)} |"
                f" {c.direction} | {_cell(c.author)} | {_cell(_approvers(c.review))} |"
                f" {c.lane} ({c.lane_from}) | {_at(c.in_force_at) or 'unknown'} |"
                f" {_cell(c.justification, _SHORT_TEXT)} | {_cell('; '.join(c.flags))} |"
            )
    else:
        lines.append("None in the period.")
    lines += ["", "## Brakes and temporary adjustments", ""]
    if report.overrides:
        lines += [
            "| Kind | Name | Sets | From | Until | Ended | Put on by | Lifted by | Approvers"
            " | Reason | Ticket | Flags |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for o in report.overrides:
            sets = ", ".join(f"{k}={_value(v)}" for k, v in o.sets.items())
            ended = o.ended + (f" {_at(o.ended_at)}" if o.ended_at else "")
            if o.extended:
                ended += f" (extended {o.extended}x)"
            lines.append(
                f"| {o.kind} | {code(o.name)} | {_cell(sets)} | {_at(o.starts)} |"
                f" {_at(o.until)} | {_cell(ended)} | {_cell(o.put_on_by)} |"
                f" {_cell(o.lifted_by or '-')} | {_cell(_approvers(o.review))} |"
                f" {_cell(o.reason, _SHORT_TEXT)} | {_cell(o.ticket or '-')} |"
                f" {_cell('; '.join(o.flags))} |"
            )
    else:
        lines.append("None in the period.")
    if report.notes:
        lines += ["", "## Notes", ""]
        lines += [f"- {_cell(note, _SHORT_TEXT)}" for note in report.notes]
    if report.refused:
        lines += ["", "## Statements refused", ""]
        lines += [f"- {_cell(why, _SHORT_TEXT)}" for why in report.refused]
    return "\n".join(lines)
