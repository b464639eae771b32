"""``policyctl brake``: writing, lifting and pruning override files, through the full pipeline.

A new brake is written as a new file (never over another: two people braking at once never
conflict), only after the policy with it and every other override has been built at the moment
it starts. Lifting an active brake sets its ``until`` to now, so the file, its reason and the
moment it ended stay in the history as a change to commit; a brake that never started is removed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import EditRefused, Issue, PolicyError, PolicyValidationError
from ..model import ADJUSTABLE_FIELDS, ADJUSTMENT_KIND, BRAKE_FIELDS, parse_path
from ..pipeline import (
    BRAKE_NAME,
    MAX_BRAKES,
    BrakeFile,
    OverrideKind,
    PolicySnapshot,
    PositionMap,
    brake_name,
    build_snapshot,
    default_brakes_dir,
    parse_brake,
    read_brakes,
    read_source,
    yaml_scalar,
)
from ..review import Change, diff_policies
from ._values import Given, read_assigned
from ._write import source_errors, write_atomically, write_new

__all__ = ["BrakeResult", "lift_brake", "prune_brakes", "stamp", "write_brake"]


@dataclass(frozen=True, slots=True)
class BrakeResult:
    """What a brake command did.

    Attributes:
        path: The override file written, changed or removed.
        brake: The override as it now reads (as it was, when removed).
        before: The effective policy at ``at`` without this change.
        after: The effective policy at ``at`` with it.
        at: The moment compared: when the brake starts (now, if it is active).
        changes: Semantic changes from ``before`` to ``after``.
        written: Whether the file system was changed (False for a dry run).
        pruned: Expired brake files removed to make room (see `MAX_BRAKES`).
        data: The brake file's bytes, when it was written (or would be, in a dry run).
    """

    path: Path
    brake: BrakeFile
    before: PolicySnapshot
    after: PolicySnapshot
    at: datetime
    changes: list[Change]
    written: bool
    pruned: tuple[Path, ...] = ()
    data: bytes = b""


def stamp(moment: datetime) -> str:
    """A moment as the override files write it: RFC 3339, UTC, whole seconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _settings(
    source: str, assignments: Sequence[tuple[str, str | Given]], kind: OverrideKind
) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for field_path, text in assignments:
        where = parse_path(field_path)
        field, key = where.field, where.key
        entry = key is not None and field == "model_versions"  # model_versions.NAME pins one
        dotted = key is not None or where.index is not None
        if kind == "adjustment" and (field not in ADJUSTABLE_FIELDS or dotted):
            raise EditRefused.single(
                f"an adjustment cannot set {field_path!r}: it sets " + ", ".join(ADJUSTABLE_FIELDS),
                source=source,
            )
        if field not in BRAKE_FIELDS or (dotted and not entry) or key == "":
            raise EditRefused.single(
                f"a brake cannot set {field_path!r}: it sets "
                + ", ".join(BRAKE_FIELDS)
                + " (model_versions.NAME pins one model)",
                source=source,
            )
        value = read_assigned(source, (field, key) if key else (field,), text)
        if key:
            settings.setdefault("model_versions", {})[key] = value
        elif field in settings:
            raise EditRefused.single(f"{field} is set twice in one {kind}", source=source)
        else:
            settings[field] = value
    if not settings:
        example = "max_positions=8" if kind == "adjustment" else "risk_mode=DEFENSIVE"
        raise EditRefused.single(f"a {kind} sets at least one field, e.g. {example}")
    return settings


def _text(
    name: str,
    reason: str,
    start: datetime | None,
    until: datetime,
    settings: Mapping[str, Any],
    ticket: str | None,
) -> str:
    if ticket is None:
        lines = [
            "# A brake written by policyctl brake: it can only tighten the policy, and lifts by",
            f"# itself at `until`. Lift it early with: policyctl brake lift {name}",
            f"reason: {yaml_scalar(reason)}",
        ]
    else:
        lines = [
            "# A temporary adjustment written by policyctl adjust: it replaces these values",
            "# (brakes still apply after it) and reverts by itself at `until`. End it early",
            f"# with: policyctl brake lift {name}",
            f"kind: {ADJUSTMENT_KIND}",
            f"reason: {yaml_scalar(reason)}",
            f"ticket: {yaml_scalar(ticket)}",
        ]
    if start is not None:
        lines.append(f'from: "{stamp(start)}"')
    lines += [f'until: "{stamp(until)}"', "set:"]
    for field, value in settings.items():
        if isinstance(value, Mapping):
            shown = (
                "{"
                + ", ".join(f"{yaml_scalar(k)}: {yaml_scalar(v)}" for k, v in value.items())
                + "}"
            )
        elif isinstance(value, list | tuple):
            shown = "[" + ", ".join(yaml_scalar(v) for v in value) + "]"
        else:
            shown = yaml_scalar(value)
        lines.append(f"  {field}: {shown}")
    return "\n".join(lines) + "\n"


def _effective(
    policy: Path, brakes: list[tuple[Path, bytes]], at: datetime, env: Mapping[str, str]
) -> PolicySnapshot:
    return build_snapshot(read_source(policy), policy, env=env, brakes=brakes, now=at)


def write_brake(
    policy: Path,
    assignments: Sequence[tuple[str, str | Given]],
    *,
    reason: str,
    until: datetime,
    start: datetime | None = None,
    name: str | None = None,
    brakes_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
    now: datetime | None = None,
    dry_run: bool = False,
    ticket: str | None = None,
) -> BrakeResult:
    """Write a new override file setting ``assignments`` (``[("risk_mode", "DEFENSIVE")]``):
    a brake; with a ``ticket``, a temporary adjustment (``kind: adjustment``), which may loosen.

    Raises:
        PolicyError: The brake or the policy with it is invalid; nothing is written.
        EditRefused: A field a brake cannot set, or a name already taken.
    """
    environ = {} if env is None else env
    moment = now or datetime.now(UTC)
    directory = default_brakes_dir(policy, brakes_dir, environ)
    kind: OverrideKind = "brake" if ticket is None else "adjustment"
    if kind == "adjustment" and start is None:  # its window is in the file: from now
        start = moment.replace(microsecond=0)
    settings = _settings(str(directory), assignments, kind)
    name = name or f"{(start or moment):%Y%m%d-%H%M}-{next(iter(settings))}".lower()
    if not BRAKE_NAME.fullmatch(name):
        raise EditRefused.single(
            f"{name!r} is not a brake name: lower-case letters, digits and . _ -, at most 64"
            " characters, starting with a letter or digit",
            source=str(directory),
        )
    path = directory / f"{name}.yaml"
    data = _text(name, reason, start, until, settings, ticket).encode()
    try:
        brake = parse_brake(data, path, moment)
    except PolicyError as e:  # the file does not exist: its lines and columns would mislead
        raise type(e)(
            Issue(i.path, None, None, i.message, f"{path} (not written)") for i in e.issues
        ) from None
    if start is None and until <= moment:
        raise PolicyValidationError.single(
            f"until {stamp(until)} has already passed", source=str(path), path=("until",)
        )
    with source_errors(path):
        existing = read_brakes(directory)
    if any(p.name == path.name for p, _ in existing) or path.exists():
        raise EditRefused.single(
            f"{'a brake' if kind == 'brake' else 'an override'} named {name!r} exists already;"
            " choose another with --name",
            source=str(path),
        )
    existing, pruned = _room(existing, moment, path)
    at = max(start or moment, moment)
    before = _effective(policy, existing, at, environ)
    after = _effective(policy, [*existing, (path, data)], at, environ)
    _effective(policy, [*existing, (path, data)], moment, environ)  # valid now, too
    if not dry_run:
        with source_errors(path):
            for old in pruned:
                old.unlink(missing_ok=True)
            _create(path, data)
    changes = diff_policies(before.policy, after.policy)
    return BrakeResult(path, brake, before, after, at, changes, not dry_run, pruned, data)


Brakes = list[tuple[Path, bytes]]


def _room(existing: Brakes, moment: datetime, path: Path) -> tuple[Brakes, tuple[Path, ...]]:
    """Room for one more brake file within `MAX_BRAKES`: expired files are pruned to make it
    (the limit is checked here, where a file is written, so no read ever finds one too many).

    Raises:
        EditRefused: As many brakes as allowed are in force or scheduled.
    """
    if len(existing) < MAX_BRAKES:
        return existing, ()
    expired = {p for p, b in existing if parse_brake(b, p, moment).state(moment) == "expired"}
    if len(existing) - len(expired) >= MAX_BRAKES:
        raise EditRefused.single(
            f"{MAX_BRAKES} brakes are in force or scheduled, the most there may be; lift one"
            " (policyctl brake lift NAME) or fold them into the policy",
            source=str(path.parent),
        )
    return [(p, b) for p, b in existing if p not in expired], tuple(sorted(expired))


def _create(path: Path, data: bytes) -> None:
    """Write a new file atomically, never over an existing one (``link`` fails if it exists)."""
    if brake_name(path.name) is None:
        raise EditRefused.single(f"{path.name!r} is not an override file name", source=str(path))
    path.parent.mkdir(exist_ok=True)  # the overrides directory, next to the policy
    try:
        write_new(path, data)
    except FileExistsError:
        raise EditRefused.single(
            f"{path.name} appeared meanwhile; choose another --name", source=str(path)
        ) from None


def _find(
    policy: Path, name: str, brakes_dir: Path | None, env: Mapping[str, str]
) -> tuple[Path, list[tuple[Path, bytes]], BrakeFile, datetime]:
    directory = default_brakes_dir(policy, brakes_dir, env)
    with source_errors(directory):
        existing = read_brakes(directory)
    now = datetime.now(UTC)
    for path, data in existing:
        brake = parse_brake(data, path, now)
        if brake.name == name:
            return path, existing, brake, now
    names = ", ".join(parse_brake(d, p, now).name for p, d in existing) or "none"
    raise EditRefused.single(f"no brake named {name!r} (brakes: {names})", source=str(directory))


def lift_brake(
    policy: Path,
    name: str,
    *,
    brakes_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
    dry_run: bool = False,
) -> BrakeResult:
    """End the brake ``name`` now: an active one's ``until`` becomes now, a scheduled one is
    removed. Raises EditRefused for an unknown or already expired brake."""
    environ = {} if env is None else env
    path, existing, brake, now = _find(policy, name, brakes_dir, environ)
    state = brake.state(now)
    if state == "expired":
        raise EditRefused.single(
            f"brake {name!r} already lifted at {brake.content.until}; policyctl brake prune"
            " removes expired files",
            source=str(path),
        )
    others = [(p, d) for p, d in existing if p != path]
    # One that has not started, or started this very second (an until of now would not be after
    # its from), is removed rather than given an until.
    if state == "scheduled" or (
        brake.starts is not None and brake.starts >= now.replace(microsecond=0)
    ):
        state = "scheduled"
        after_inputs = others
    else:
        text = read_source(path).decode()
        node, _, _ = PositionMap(text).locate(("until",))
        start, end = node.start_mark.index, node.end_mark.index  # type: ignore[union-attr]
        lifted = f'{text[:start]}"{stamp(now)}"{text[end:]}'.encode()
        after_inputs = [*others, (path, lifted)]
    before = _effective(policy, existing, now, environ)
    after = _effective(policy, after_inputs, now, environ)
    if not dry_run:
        with source_errors(path):
            if state == "scheduled":
                path.unlink()
            else:
                write_atomically(path, after_inputs[-1][1])
    return BrakeResult(
        path, brake, before, after, now, diff_policies(before.policy, after.policy), not dry_run
    )


def prune_brakes(
    policy: Path,
    *,
    brakes_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
    dry_run: bool = False,
) -> list[BrakeFile]:
    """Remove the files of expired brakes; return them."""
    environ = {} if env is None else env
    directory = default_brakes_dir(policy, brakes_dir, environ)
    now = datetime.now(UTC)
    with source_errors(directory):
        files = [parse_brake(d, p, now) for p, d in read_brakes(directory)]
        expired = [b for b in files if b.state(now) == "expired"]
        if not dry_run:
            for brake in expired:
                brake.path.unlink()
    return expired
