"""``policyctl replay``: what a policy change would have done to logged decisions.

Parses, calls `review.replay` (or `review.generate`), formats: text, json (stable shape,
README "replay --format json"), markdown (for the review's job summary). Every logged value
(symbol, strategy, time, file name) is someone else's text and is escaped where it is shown.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ..decisions import LogFiles, generate, log_files
from ..pipeline import load_policy
from ..review import replay
from ._escape import code, err, md, out, printable
from ._exit import EXIT_INVALID, EXIT_OK, UsageError
from ._help import positive
from ._paths import locate

if TYPE_CHECKING:
    from ..review import Flips, ReplayReport

__all__ = ["add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "logs", nargs="*", metavar="LOG", help="decision logs (.jsonl, .jsonl.gz) or directories"
    )
    p.add_argument(
        "--base",
        metavar="REV|FILE",
        help="the base of records whose own policy (named by digest) is not in git history"
        " (default HEAD); with --pin-base, of every record",
    )
    p.add_argument(
        "--pin-base",
        action="store_true",
        help="replay every record under --base, whatever policy it names (what a change does)",
    )
    p.add_argument("--head", metavar="REV|FILE", help="the policy to judge (default: working tree)")
    p.add_argument("--file", help="the policy file in the repository, for revisions")
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    p.add_argument(
        "--fail-on",
        choices=("loosen", "any"),
        help="exit 1 if a refused decision would be allowed (loosen), or if any verdict flips",
    )
    p.add_argument("--strict", action="store_true", help="exit 1 if any line was skipped")
    p.add_argument("--generate", type=positive, metavar="N", help="write N synthetic decisions")
    p.add_argument("--seed", type=int, default=0, help="with --generate (default 0)")
    p.add_argument("-o", "--output", metavar="PATH", help="with --generate: where (.gz: gzip)")


def run(args: argparse.Namespace) -> int:
    if args.generate is not None:
        return _generate(args)

    if args.pin_base and args.base is None:
        raise UsageError("--pin-base replays every record under --base: name it (--base REV)")
    if not args.logs:
        raise UsageError("replay: name the decision logs (files or directories) to replay")
    try:
        files = log_files(args.logs)
    except FileNotFoundError as e:
        raise UsageError(f"replay: {printable(str(e))}") from None
    logs = LogFiles(files)
    report = replay(logs, base=args.base, pin_base=args.pin_base, head=args.head, file=args.file)
    shown = _as_json(report, len(files))
    if args.format == "json":
        out(json.dumps(shown, indent=2))
    elif args.format == "markdown":
        out(_markdown(shown))
    else:
        out(_text(shown))
    if report.torn or report.skipped:
        err(f"replay: {report.skipped} lines skipped, {report.torn} torn last lines (see above)")
    if report.records == 0:
        err("replay: no decision could be replayed")
        return EXIT_INVALID
    flipped = report.newly_allowed.count + (
        report.newly_refused.count if args.fail_on == "any" else 0
    )
    if args.fail_on and flipped:
        return EXIT_INVALID
    return EXIT_INVALID if args.strict and report.skipped else EXIT_OK


@contextlib.contextmanager
def _output(path: str | None) -> Iterator[BinaryIO]:
    if path is None:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    target = Path(path)
    try:
        with target.open("wb") as raw:
            if target.name.endswith(".gz"):
                with gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as zipped:
                    yield zipped  # type: ignore[misc]
            else:
                yield raw
    except OSError as e:
        raise UsageError(f"--output {printable(path)}: {e.strerror or e}") from None


def _generate(args: argparse.Namespace) -> int:
    if args.logs:
        raise UsageError("--generate writes a log; it reads none (drop the LOG arguments)")
    if args.output is None and sys.stdout.isatty():
        raise UsageError("--generate writes JSON Lines: give -o FILE or redirect stdout")
    snapshot = load_policy(locate(args.file), env={})
    with _output(args.output) as stream:
        generate(snapshot, args.generate, stream, seed=args.seed)
    return EXIT_OK


def _flips(flips: Flips) -> dict[str, Any]:
    return {
        "count": flips.count,
        "by_code": dict(sorted(flips.by_code.items(), key=lambda kv: -kv[1])),
        "by_symbol": dict(sorted(flips.by_symbol.items(), key=lambda kv: -kv[1])),
        "by_strategy": dict(sorted(flips.by_strategy.items(), key=lambda kv: -kv[1])),
        "groups": [
            {
                "code": g.code,
                "symbol": g.symbol,
                "strategy": g.strategy,
                "count": g.count,
                "samples": g.samples,
            }
            for g in flips.top()
        ],
    }


def _as_json(report: ReplayReport, files: int) -> dict[str, Any]:
    return {
        "base": report.base,
        "head": report.head,
        "files": files,
        "records": report.records,
        "skipped": report.skipped,
        "torn": report.torn,
        "problems": [{"file": p.file, "line": p.line, "reason": p.reason} for p in report.problems],
        "by_digest": report.by_digest,
        "fallback": report.fallback,
        "mismatched": report.mismatched,
        "newly_refused": _flips(report.newly_refused),
        "newly_allowed": _flips(report.newly_allowed),
        "reasons_changed": report.reasons_changed,
        "unchanged": report.unchanged,
    }


def _where(samples: list[dict[str, Any]]) -> str:
    return ", ".join(f"{s['file']}:{s['line']}" for s in samples)


def _cells(samples: list[dict[str, Any]]) -> str:
    return ", ".join(code(f"{s['file']}:{s['line']}") for s in samples)


def _text(r: dict[str, Any]) -> str:
    lines = [
        f"replayed {r['records']:,} decisions from {r['files']} file(s);"
        f" skipped {r['skipped']:,}, torn {r['torn']:,}",
        f"base: {printable(r['base'])}",
        f"head: {printable(r['head'])}",
    ]
    if r["by_digest"] or r["fallback"]:
        lines.append(
            f"  {r['by_digest']:,} under the policy they name; {r['fallback']:,} not found in git,"
            " under the base above"
        )
    if r["mismatched"]:
        lines.append(
            f"note: {r['mismatched']:,} logged verdicts differ from their base's replay"
            " (environment overrides on the service, or a policy outside this history)"
        )
    for key, title in (
        ("newly_refused", "would refuse {n:,} decisions allowed before (tightens)"),
        ("newly_allowed", "would allow {n:,} decisions refused before (loosens)"),
    ):
        flips = r[key]
        lines.append(title.format(n=flips["count"]))
        for g in flips["groups"][:20]:
            lines.append(
                f"  {g['count']:>8,}  {printable(g['symbol'])}  {printable(g['strategy'])}"
                f"  {g['code']}   e.g. {printable(_where(g['samples']))}"
            )
        if len(flips["groups"]) > 20:
            lines.append(f"  ... and {len(flips['groups']) - 20} more groups (--format json)")
    lines.append(
        f"reasons changed on {r['reasons_changed']:,} refused decisions;"
        f" {r['unchanged']:,} unchanged"
    )
    if r["problems"]:
        lines.append("lines not replayed:")
        lines += [
            f"  {printable(p['file'])}:{p['line']}: {printable(p['reason'])}" for p in r["problems"]
        ]
        if r["skipped"] + r["torn"] > len(r["problems"]):
            lines.append(f"  ... {r['skipped'] + r['torn'] - len(r['problems'])} more")
    return "\n".join(lines)


def _markdown(r: dict[str, Any]) -> str:
    refused, allowed = r["newly_refused"], r["newly_allowed"]
    lines = [
        "### Replay of logged decisions",
        "",
        f"This change would have **refused {refused['count']:,}** and **allowed"
        f" {allowed['count']:,}** of {r['records']:,} decisions in the sample"
        f" (base {code(r['base'])}, head {code(r['head'])}).",
    ]
    for flips, title in (
        (refused, "Newly refused (tightens)"),
        (allowed, "Newly allowed (loosens)"),
    ):
        if not flips["count"]:
            continue
        lines += ["", f"**{title}**", "", "| decisions | symbol | strategy | reason | samples |"]
        lines.append("| ---: | --- | --- | --- | --- |")
        for g in flips["groups"][:20]:
            lines.append(
                f"| {g['count']:,} | {code(g['symbol'])} | {code(g['strategy'])}"
                f" | {code(g['code'])} | {_cells(g['samples'])} |"
            )
        if len(flips["groups"]) > 20:
            lines.append(
                f"\n{len(flips['groups']) - 20} more groups: `policyctl replay --format json`."
            )
    if r["mismatched"]:
        lines += ["", f"{r['mismatched']:,} logged verdicts differ from their base's replay."]
    if r["skipped"] or r["torn"]:
        lines += ["", f"{r['skipped']:,} lines skipped, {r['torn']:,} torn:", ""]
        lines += [f"- {md(p['file'])}:{p['line']}: {md(p['reason'])}" for p in r["problems"][:10]]
    return "\n".join(lines)
