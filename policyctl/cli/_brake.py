"""``policyctl brake``: put on, list, lift and prune emergency brakes (override files).

``brake FIELD=VALUE... --for 90m --reason TEXT`` writes a new override file, ``brake list``
shows every brake with its state and time left, ``brake lift NAME`` ends one now, and
``brake prune`` removes expired files. Each change is a file to commit, like any policy change.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..edit import Given, lift_brake, prune_brakes, write_brake, write_new
from ..errors import EditRefused, PolicySourceError, printable
from ..pipeline import (
    SIGNED_BRAKES_VARIABLE,
    TRUST_VARIABLE,
    BrakeFile,
    load_policy,
    parse_brake,
    read_signed_brakes,
    read_source,
)
from ..propose import BrakeRequest, propose
from ..review import GitRepo, plain_value
from ._changes import describe_change
from ._editing import read_override_values
from ._escape import out
from ._exit import EXIT_INVALID, EXIT_OK, UsageError
from ._help import duration, moment, positive, seconds
from ._paths import locate
from ._propose import made

if TYPE_CHECKING:
    from ..edit import BrakeResult
from ._arguments import brakes_option, replica_urls

__all__ = ["add_arguments", "run"]

_ACTIONS = ("list", "lift", "prune")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "words",
        nargs="*",
        metavar="FIELD=VALUE... [FILE] | list [FILE] | lift NAME [FILE] | prune [FILE]",
        help="the fields to brake (risk_mode, max_risk_per_trade, max_positions,"
        " global_min_confidence, allowed_symbols, allowed_strategies, model_versions.NAME),"
        " or an action",
    )
    p.add_argument("--for", dest="duration", type=duration, help="how long: 90m, 1h30m, 2d")
    p.add_argument("--until", type=moment, help="when it lifts: 2026-11-28T20:00:00Z")
    p.add_argument("--from", dest="start", type=moment, help="when it starts (default: now)")
    p.add_argument("--reason", help="why (required): shown to everyone the brake stops")
    p.add_argument("--name", help="the file's name in the brakes' directory")
    p.add_argument("--format", choices=("text", "json"), default="text", help="for list")
    p.add_argument("--dry-run", action="store_true", help="print the change, write nothing")
    p.add_argument(
        "--propose",
        action="store_true",
        help="commit it on a new branch off main and push it (as policyctl propose), instead of"
        " writing it here",
    )
    p.add_argument(
        "--sign-with",
        metavar="PEM",
        help="sign it with this key (a brake-only key, or the bundle key) and write it as"
        " NAME.dsse.json to --signed-dir, for stores with trust to apply at once",
    )
    p.add_argument(
        "--send",
        nargs="+",
        metavar="TARGET",
        help="with --sign-with: send it to these replicas at once (URLs; - reads kubectl JSON"
        " or URLs from stdin); exit 0 only when every one applied it",
    )
    p.add_argument("--replicas-file", metavar="FILE", help="with --send: URLs or kubectl JSON")
    p.add_argument("--port", type=positive, default=8000, help="with --send: for kubectl pods")
    p.add_argument(
        "--timeout", type=seconds, default=10.0, help="with --send: the whole send's deadline"
    )
    p.add_argument(
        "--signed-dir",
        metavar="DIR",
        help="with --sign-with: where to keep it (default: $QT_SIGNED_BRAKES_DIR, else"
        " signed-brakes/); with --send, a copy is kept only when this is given",
    )
    p.add_argument(
        "--from-signed",
        metavar="FILE",
        help="with --propose: put this sent brake (NAME.dsse.json) in git, the same brake under"
        " the same name (verified with $QT_POLICY_TRUST)",
    )
    p.add_argument("--author", help="with --propose: 'Name <email>' of who proposes")
    p.add_argument("--no-push", action="store_true", help="with --propose: do not push")
    brakes_option(p)


def _left(until: datetime, now: datetime) -> str:
    seconds = int((until - now).total_seconds())
    if seconds <= 0:
        return "-"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days}d" * bool(days), f"{hours}h" * bool(hours), f"{minutes}m" * bool(minutes)]
    return "".join(parts) or f"{seconds}s"


def _split(words: list[str], action: str) -> tuple[list[str], str | None]:
    """The action's arguments and the policy FILE, if the last word is one."""
    takes = {"list": 0, "prune": 0, "lift": 1}[action]
    rest = words[1:]
    if len(rest) not in (takes, takes + 1):
        usage = {"list": "brake list [FILE]", "prune": "brake prune [FILE]"}
        raise UsageError(f"usage: policyctl {usage.get(action, 'brake lift NAME [FILE]')}")
    return rest[:takes], (rest[takes] if len(rest) > takes else None)


def run(args: argparse.Namespace) -> int:
    words: list[str] = args.words
    if args.from_signed:
        return _adopt(args)
    usage = (
        "brake takes FIELD=VALUE... (with --for or --until, and --reason), or list, lift NAME,"
        " prune"
    )
    if not words:
        raise UsageError(usage)
    if words[0] in _ACTIONS:
        names, file = _split(words, words[0])
        policy = locate(file)
        if words[0] == "list":
            return _list(policy, args)
        if words[0] == "lift":
            return _lift(policy, names[0], args)
        return _prune(policy, args)
    if "=" not in words[-1]:
        words, file = words[:-1], words[-1]
    else:
        file = None
    if not words:
        raise UsageError(usage)
    bad = [w for w in words if "=" not in w]
    if bad:
        raise UsageError(
            f"{printable(bad[0])!r}: a brake is FIELD=VALUE (e.g. risk_mode=DEFENSIVE)"
        )
    return _write(locate(file), [(w.partition("=")[0], w.partition("=")[2]) for w in words], args)


def _window(args: argparse.Namespace) -> tuple[datetime | None, datetime]:
    if args.reason is None or not args.reason.strip():
        raise UsageError('a brake needs --reason "why" (everyone it stops will read it)')
    if (args.duration is None) == (args.until is None):
        raise UsageError("say how long the brake lasts: --for 90m, or --until TIME (one of them)")
    start: datetime | None = args.start
    if start is not None and start <= datetime.now(UTC):
        start = None  # a start in the past is now: the brake is active once merged
    until = args.until or (start or datetime.now(UTC)) + args.duration
    return start, until.replace(microsecond=0)  # files say whole seconds


def _write(policy: Path, words: list[tuple[str, str]], args: argparse.Namespace) -> int:
    start, until = _window(args)
    read = read_override_values(words)
    if args.propose:
        return _propose(dict(read), start, until, args)
    brake = functools.partial(
        write_brake,
        policy,
        [(path, Given(value)) for path, value in read],
        reason=args.reason,
        until=until,
        start=start,
        name=args.name,
        brakes_dir=Path(args.brakes_dir) if args.brakes_dir else None,
    )
    if args.sign_with:  # checked as a brake file against the policy here, written nowhere
        return _sign(brake(dry_run=True), args)
    result = brake(dry_run=args.dry_run)
    _report(result, "written", args.dry_run)
    return EXIT_OK


def _sign(result: BrakeResult, args: argparse.Namespace) -> int:
    """A signed brake (``result``: checked, written nowhere): sent to replicas, or written as
    NAME.dsse.json, never over an existing one."""
    from ..pipeline import load_signing_key, sign_brake  # noqa: PLC0415 - cryptography

    key, keyid = load_signing_key(Path(args.sign_with))
    name = result.brake.name
    envelope = sign_brake(name, result.data, key)
    sending = bool(args.send or args.replicas_file)
    if sending and not args.signed_dir:
        urls = replica_urls(args.send or [], args.replicas_file, args.port)
        return _send(urls, name, envelope, args)
    directory = Path(args.signed_dir or os.environ.get(SIGNED_BRAKES_VARIABLE) or "signed-brakes")
    target = directory / f"{name}.dsse.json"
    if not args.dry_run:  # kept here too: `brake --propose --from-signed` puts it in git later
        directory.mkdir(parents=True, exist_ok=True)
        try:
            write_new(target, envelope)
        except FileExistsError:
            raise EditRefused.single(
                f"{target.name} exists already; choose another --name", source=str(target)
            ) from None
    if sending:
        urls = replica_urls(args.send or [], args.replicas_file, args.port)
        return _send(urls, name, envelope, args)
    _report(result, "signed", args.dry_run)
    out(
        f"  signed by key {keyid[:16]}…: {printable(str(target))}; send it to every replica's"
        " signed brakes directory, and put it in git afterwards: policyctl brake --propose"
        f" --from-signed {printable(str(target))}"
    )
    return EXIT_OK


def _send(urls: list[str], name: str, envelope: bytes, args: argparse.Namespace) -> int:
    """Send the signed brake to every replica at once; a line (or JSON) per replica; exit 0
    only when every one has it in force."""
    from ..fleet import send_all  # noqa: PLC0415

    started = time.monotonic()
    sent = send_all(urls, envelope, timeout=args.timeout)
    took = time.monotonic() - started
    ok = all(s.in_force for s in sent)
    if args.format == "json":
        rows = [
            {"url": s.url, "outcome": s.outcome, "why": s.why, "brakes": list(s.brakes)}
            for s in sent
        ]
        out(json.dumps({"brake": name, "seconds": round(took, 3), "replicas": rows}, indent=2))
    else:
        for s in sent:
            out(f"{printable(s.url)}: {s.outcome}" + (f": {printable(s.why)}" if s.why else ""))
        in_force = sum(s.in_force for s in sent)
        out(f"brake {name}: in force on {in_force} of {len(sent)} replicas in {took:.2f} s")
        if not ok:
            out(f"prove it later: policyctl rollout status --expect-brake {name} URL...")
    return EXIT_OK if ok else EXIT_INVALID


def _adopt(args: argparse.Namespace) -> int:
    """A sent brake put in git: the same brake, same name and window, as a proposal (once a
    bundle holds it, the reviewed one holds on every replica)."""
    if not args.propose or args.words:
        raise UsageError(
            "--from-signed FILE goes with --propose alone: it puts a sent brake in git"
        )
    trust = os.environ.get(TRUST_VARIABLE)
    if not trust:
        raise UsageError(f"a sent brake is verified with the trusted keys: set {TRUST_VARIABLE}")
    from ..model import parse_time  # noqa: PLC0415
    from ..pipeline import load_brake_keys, load_trust, verify_brake  # noqa: PLC0415

    where = Path(args.from_signed)
    keys = {**load_trust(Path(trust)), **load_brake_keys(Path(trust))}
    name, data = verify_brake(read_source(where), keys, where)
    parsed = parse_brake(data, Path(f"{name}.yaml"), datetime.now(UTC))
    if parsed.kind != "brake":
        raise UsageError(
            f"{printable(str(where))} holds a temporary adjustment, not a brake: an adjustment"
            " is never sent, it is proposed with policyctl adjust ... --propose"
        )
    brake = parsed.content
    settings = {k: plain_value(v) for k, v in brake.settings.given().items()}
    start = parse_time(brake.start) if brake.start else None
    request = BrakeRequest(settings, brake.reason, parse_time(brake.until), start, name)
    message, push = f"brake: {brake.reason} (sent as {name})", not args.no_push
    return made(
        lambda: propose(request, message=message, author=args.author, push=push), args.format
    )


def _propose(
    settings: dict[str, Any], start: datetime | None, until: datetime, args: argparse.Namespace
) -> int:
    request = BrakeRequest(settings, args.reason, until, start, args.name)
    message, push = f"brake: {args.reason}", not args.no_push
    return made(
        lambda: propose(request, message=message, author=args.author, push=push), args.format
    )


def _report(result: BrakeResult, done: str, dry_run: bool) -> None:
    note = " (dry run: nothing written)" if dry_run else ""
    label = f"{result.brake.kind} {printable(result.brake.name)}"
    out(f"{printable(str(result.path))}: {label} {done}{note}")
    override = result.brake.content
    now = datetime.now(UTC)
    start = override.start or "now"
    if done == "lifted":
        out(f"  lifted at {result.at:%Y-%m-%dT%H:%M:%SZ} (it was to last until {override.until})")
    else:
        out(f"  from {start} until {override.until} (lifts in {_left(result.brake.ends, now)})")
    for change in result.changes:
        out(f"  {change.direction:<9} {describe_change(change)}")
    if not result.changes:
        why = " (every value is already as tight)" if result.brake.kind == "brake" else ""
        out(f"  no effect on the policy as it is now{why}")
    for text in result.after.brake_notes:
        if text.startswith(f"{result.brake.name}: "):
            out(f"  note: {printable(text.split(': ', 1)[1])}")
    if not dry_run and done != "signed":
        out(f"commit it: git add {printable(str(result.path))} && git commit")


def _lift(policy: Path, name: str, args: argparse.Namespace) -> int:
    directory = Path(args.brakes_dir) if args.brakes_dir else None
    result = lift_brake(policy, name, brakes_dir=directory, dry_run=args.dry_run)
    _report(result, "lifted", args.dry_run)
    return EXIT_OK


def _prune(policy: Path, args: argparse.Namespace) -> int:
    directory = Path(args.brakes_dir) if args.brakes_dir else None
    removed = prune_brakes(policy, brakes_dir=directory, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for brake in removed:
        out(f"{verb} {printable(str(brake.path))} (expired at {brake.content.until})")
    if not removed:
        out("no expired brakes")
    return EXIT_OK


def _row(brake: BrakeFile, now: datetime) -> dict[str, Any]:
    return {
        "name": brake.name,
        "kind": brake.kind,
        "ticket": brake.ticket,
        "file": str(brake.path),
        "state": brake.state(now),
        "from": brake.content.start,
        "until": brake.content.until,
        "seconds_left": max(0, int((brake.ends - now).total_seconds())),
        "reason": brake.reason,
        "set": {k: plain_value(v) for k, v in brake.content.settings.given().items()},
    }


def _signed(policy: Path, args: argparse.Namespace, now: datetime) -> list[BrakeFile]:
    """The signed brakes of the signed brakes' directory, verified with the trusted keys
    (``$QT_POLICY_TRUST``): they are in force in every store with trust, git or not."""
    named = args.signed_dir or os.environ.get(SIGNED_BRAKES_VARIABLE)
    if not named or not Path(named).is_dir():
        return []
    trust = os.environ.get(TRUST_VARIABLE)
    if not trust:
        raise UsageError(
            f"signed brakes in {printable(named)} are verified with the trusted keys: set"
            f" {TRUST_VARIABLE}"
        )
    from ..pipeline import load_brake_keys, load_trust, verify_brake  # noqa: PLC0415

    keys = {**load_trust(Path(trust)), **load_brake_keys(Path(trust))}
    found = []
    for path, envelope in read_signed_brakes(Path(named)):
        name, data = verify_brake(envelope, keys, path)
        found.append(parse_brake(data, path.with_name(f"{name}.yaml"), now))
    return found


def _as_committed(files: list[BrakeFile]) -> list[bool | None]:
    """Whether each file's bytes are HEAD's at its path, compared as `bundle build` compares
    them (a new, edited or ignored file is not in git); None outside git or before a commit."""
    try:
        repo = GitRepo(files[0].path.parent) if files else None
        if repo is None or not repo.has_commits():
            return [None] * len(files)
        head = repo.resolve("HEAD")
        committed = repo.read_many([f"{head}:{repo.relative(f.path)}" for f in files])
    except PolicySourceError:
        return [None] * len(files)
    found: list[bool | None] = []
    for brake, content in zip(files, committed, strict=True):
        try:
            found.append(content is not None and read_source(brake.path) == content)
        except PolicySourceError:
            found.append(False)
    return found


def _list(policy: Path, args: argparse.Namespace) -> int:
    snap = load_policy(policy, env={}, brakes_dir=args.brakes_dir)
    now = snap.loaded_at
    committed = _as_committed(list(snap.brake_files))
    in_git = {b.name for b, held in zip(snap.brake_files, committed, strict=True) if held}
    signed = _signed(policy, args, now)
    rows = [
        {**_row(b, now), "signed": False, "in_git": held}
        for b, held in zip(snap.brake_files, committed, strict=True)
    ]
    rows += [{**_row(b, now), "signed": True, "in_git": b.name in in_git} for b in signed]
    if args.format == "json":
        out(json.dumps({"now": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "brakes": rows}, indent=2))
        return EXIT_OK
    if not rows:
        out("no brakes or adjustments")
        return EXIT_OK
    width = max(4, *(len(printable(r["name"])) for r in rows))
    out(
        f"{'NAME':<{width}} {'KIND':<10} {'STATE':<10} {'FROM':<21} {'UNTIL':<21} {'LEFT':<9}"
        " REASON [SETS]"
    )
    for row, brake in zip(rows, [*snap.brake_files, *signed], strict=True):
        left = _left(brake.ends, now) if row["state"] != "expired" else "-"
        sets = ", ".join(
            f"{k}={json.dumps(v, separators=(',', ':'))}" for k, v in row["set"].items()
        )
        where = " (not in git)" if row["in_git"] is False else ""
        if row["signed"]:
            where = " (signed" + ("" if row["in_git"] else ", not in git: propose it") + ")"
        ticket = f" ({printable(row['ticket'])})" if row["ticket"] else ""
        out(
            f"{printable(row['name']):<{width}} {row['kind']:<10} {row['state']:<10}"
            f" {row['from'] or '-':<21} {row['until']:<21} {left:<9}"
            f" {printable(row['reason'])}{ticket} [{printable(sets)}]{where}"
        )
    return EXIT_OK
