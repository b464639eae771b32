"""The commands behind ``policyctl``: each parses nothing, calls the library, formats output.

`policyctl.cli` builds the parser and maps errors to exit codes; the commands that need git,
watchdog or the web stack import them when they run, so `validate` stays light.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from ..errors import PolicyEnvError, PolicyError, PolicySourceError
from ..model import (
    FIELD_NAMES,
    SCHEMA_PATHS,
    SchemaKind,
    check_schema,
    parse_path,
    schema_text,
    write_schema,
)
from ..pipeline import (
    MAX_BYTES,
    POLICY_FILE_VARIABLE,
    VARIABLES,
    PolicySnapshot,
    brake_name,
    build_snapshot,
    default_policy_path,
    load_policy,
    near_misses,
    parse_brake,
    read_env,
    read_source,
    yaml_scalar,
)
from ._escape import err, out, printable
from ._exit import EXIT_INVALID, EXIT_OK, EXIT_USAGE, UsageError
from ._paths import locate
from ._report import FileResult, render_validation, to_yaml

__all__ = [
    "cmd_diff",
    "cmd_env",
    "cmd_get",
    "cmd_log",
    "cmd_schema",
    "cmd_show",
    "cmd_validate",
    "env_for",
    "now_utc",
]

_out = out  # every report goes through the escaping net (see _escape)


def env_for(args: argparse.Namespace) -> dict[str, str] | None:
    """The environment a command applies: os.environ (None), or none at all with --no-env."""
    return {} if getattr(args, "no_env", False) else None


# --- validate -------------------------------------------------------------------------------


def cmd_validate(args: argparse.Namespace) -> int:
    env = os.environ if args.with_env else {}
    files = args.files or [str(default_policy_path())]
    results = []
    status = EXIT_OK
    for name in files:
        try:
            if name == "-":  # stdin, read as a file would be (the same size limit)
                data = sys.stdin.buffer.read(MAX_BYTES + 1)
                snap = build_snapshot(data, Path("<stdin>"), env=env)
                name = "<stdin>"  # noqa: PLW2901 (the name reported)
            elif Path(name).parent.name == "overrides" and brake_name(Path(name).name):
                results.append(_validate_brake(Path(name)))  # one brake file on its own
                continue
            else:
                snap = load_policy(name, env=env, brakes_dir=args.brakes_dir)
        except PolicyError as e:
            results.append(FileResult(name, error=e))
            status = max(status, EXIT_USAGE if isinstance(e, PolicySourceError) else EXIT_INVALID)
        else:
            results.append(FileResult(name, snap.version, snap.digest, warnings=_warnings(snap)))
    _out(render_validation(results, args.format))
    return status


def _validate_brake(path: Path) -> FileResult:
    now = datetime.now(UTC)
    brake = parse_brake(read_source(path), path, now)
    expired = brake.state(now) == "expired"
    warning = ((str(path), f"expired at {brake.content.until}; remove it: policyctl brake prune"),)
    return FileResult(str(path), warnings=warning if expired else ())


def _warnings(snap: PolicySnapshot) -> tuple[tuple[str, str], ...]:
    """Brakes that do nothing: expired, or values looser than the policy (which may have been
    tightened since the brake was written). Not errors: the policy is still what it says."""
    paths = {b.name: str(b.path) for b in snap.brake_files}
    out = [
        (str(b.path), f"expired at {b.content.until}; remove it: policyctl brake prune")
        for b in snap.brake_files
        if b.state(snap.loaded_at) == "expired"
    ]
    for note in snap.brake_notes:
        name, _, message = note.partition(": ")
        out.append((paths.get(name, str(snap.source)), message))
    return tuple(out)


# --- show / get -----------------------------------------------------------------------------


def _braked_by(snap: PolicySnapshot, field: str) -> str | None:
    """``brake NAME until TIME`` for a field (or any model) a brake set, else None."""
    names = {
        n.strip()
        for key, value in snap.brake_sources.items()
        if key == field or key.startswith(f"{field}.")
        for n in value.split(",")
    }
    if not names:
        return None
    until = {b.name: b.content.until for b in snap.brakes}
    return ", ".join(f"brake {printable(n)} until {until.get(n, '?')}" for n in sorted(names))


def _origins(snap: PolicySnapshot) -> dict[str, str]:
    origins = {}
    for name in FIELD_NAMES:
        at = snap.positions.get((name,), key=True) if snap.positions.contains((name,)) else None
        from_file = f"{printable(str(snap.source))}:{at[0]}" if at else None
        variable = snap.env.get(name)
        brake = _braked_by(snap, name)
        if name == "opp_rankings" and snap.dropped_rankings and from_file:
            dropped = ", ".join(printable(s) for s in snap.dropped_rankings)
            narrowers = ", ".join(x for x in (variable, _braked_by(snap, "allowed_symbols")) if x)
            origins[name] = f"{from_file}, without {dropped} ({narrowers} does not allow them)"
        elif brake:
            origins[name] = f"{brake} (over {variable or from_file})"
        elif variable and from_file and name == "model_versions":
            origins[name] = f"{variable} over {from_file}"
        elif variable:
            origins[name] = variable
        elif from_file:
            origins[name] = from_file
    return origins


def cmd_show(args: argparse.Namespace) -> int:
    snap = load_policy(args.file, env=env_for(args), brakes_dir=args.brakes_dir)
    data = snap.policy.model_dump(mode="json", exclude_none=True)
    if args.format == "json":
        doc: dict[str, Any] = {
            "policy": snap.policy.model_dump(mode="json"),  # every field, null included
            "digest": snap.digest,
            "source": str(snap.source),
            "env": dict(snap.env),
            "overrides": dict(snap.env),  # the first name of "env", kept for existing readers
            "brakes": [
                {"name": b.name, "reason": b.reason, "until": b.content.until} for b in snap.brakes
            ],
        }
        if args.explain:
            doc["origins"] = _origins(snap)
        _out(json.dumps(doc, indent=2))
        return EXIT_OK
    header = f"# {printable(str(snap.source))} (sha256 {snap.digest[:12]})"
    for brake in snap.brakes:
        header += (
            f"\n# brake {printable(brake.name)} until {brake.content.until}:"
            f" {printable(brake.reason)}"
        )
    if snap.env:
        header += "\n# overridden by the environment: " + ", ".join(
            f"{f} <- {v}" for f, v in snap.env.items()
        )
    comments = {k: f"from {v}" for k, v in _origins(snap).items()} if args.explain else None
    _out(header + "\n" + to_yaml(data, comments))
    return EXIT_OK


_INDEX = re.compile(r"-?[0-9]{1,9}")


def _lookup(data: dict[str, Any], path: str) -> Any:
    # The field name never holds a dot; what follows the first dot is one map key or list index
    # (symbols such as BRK.B and model names may hold dots themselves).
    where = parse_path(path)
    field = where.field
    rest = str(where.index) if where.index is not None else where.key or ""
    if field not in data:
        close = difflib.get_close_matches(field, FIELD_NAMES, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"fields: {', '.join(FIELD_NAMES)}"
        raise UsageError(f"unknown path {path!r}; {hint}")
    value = data[field]
    if not rest:
        return value
    if isinstance(value, dict) and rest in value:
        return value[rest]
    if (
        isinstance(value, list)
        and _INDEX.fullmatch(rest)  # ASCII digits only: int() reads other scripts' digits too
        and -len(value) <= int(rest) < len(value)
    ):
        return value[int(rest)]
    raise UsageError(f"unknown path {path!r}: {field} has no {rest!r}")


def cmd_get(args: argparse.Namespace) -> int:
    snap = load_policy(args.file, env=env_for(args), brakes_dir=args.brakes_dir)
    value = _lookup(snap.policy.model_dump(mode="json"), args.path)
    if isinstance(value, dict | list):
        _out(json.dumps(value))
    elif isinstance(value, str):
        _out(value)
    else:
        _out(yaml_scalar(value))
    return EXIT_OK


# --- schema / env ---------------------------------------------------------------------------


def cmd_schema(args: argparse.Namespace) -> int:
    # --write and --check cover both committed schemas unless one is named (--kind or --path).
    kinds: list[SchemaKind] = (
        [args.kind or "policy"]
        if args.kind or args.path or not (args.write or args.check)
        else ["policy", "override"]
    )
    status = EXIT_OK
    for kind in kinds:
        path = Path(args.path) if args.path else locate(str(SCHEMA_PATHS[kind]))
        if args.write:
            if not path.parent.is_dir():
                raise UsageError(
                    f"{printable(str(path.parent))} is not a directory; create it first"
                )
            changed = write_schema(path, kind)
            err(f"{printable(str(path))}: {'written' if changed else 'already up to date'}")
        elif args.check:
            status = max(status, _check_one(path, kind))
        else:
            _out(schema_text(kind))
    return status


def _check_one(path: Path, kind: SchemaKind) -> int:
    if not path.exists():
        err(f"{printable(str(path))}: missing; run `policyctl schema --write` and commit it")
        return EXIT_INVALID
    if check_schema(path, kind):
        err(f"{printable(str(path))}: up to date")
        return EXIT_OK
    err(
        f"{printable(str(path))}: out of date with the model;"
        " run `policyctl schema --write` and commit it"
    )
    return EXIT_INVALID


def cmd_env(args: argparse.Namespace) -> int:
    environ = os.environ
    rows = []
    status = EXIT_OK
    for variable in VARIABLES:
        value = environ.get(variable.name, "")
        problem = None
        if value:
            try:
                read_env({variable.name: value})
            except PolicyEnvError as e:
                problem = e.issues[0].message
                status = EXIT_INVALID
        rows.append(
            {
                "name": variable.name,
                "field": variable.field,
                "format": variable.format,
                "value": value or None,
                "error": problem,
            }
        )
    misses = near_misses(environ)
    policy_file = environ.get(POLICY_FILE_VARIABLE) or None
    if args.format == "json":
        doc = {
            "variables": rows,
            "policy_file": {"name": POLICY_FILE_VARIABLE, "value": policy_file},
            "near_misses": [{"name": n, "did_you_mean": k} for n, k in misses],
        }
        _out(json.dumps(doc, indent=2))
        return status
    width = max(len(v.name) for v in VARIABLES)
    for r in rows:
        state = "(unset)" if r["value"] is None else repr(r["value"])
        if r["error"]:
            state += f"  INVALID: {printable(r['error'])}"
        _out(f"{r['name']:<{width}}  -> {r['field']:<22} {r['format']:<34} {state}")
    _out(
        f"{POLICY_FILE_VARIABLE:<{width}}  -> policy file            "
        f"{default_policy_path()!s:<34} {'(set)' if policy_file else '(default)'}"
    )
    for name, known in misses:
        _out(f"warning: {printable(name)} is not recognised; did you mean {known}?")
    return status


# --- diff / log -------------------------------------------------------------------------------


# These commands import their modules when run: `validate`, run by every pre-commit hook and CI
# job, should not pay for tempfile, fcntl and git plumbing it never uses.


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


def cmd_diff(args: argparse.Namespace) -> int:
    from ..review import compare  # noqa: PLC0415
    from ._changes import render_diff  # noqa: PLC0415

    base, head = _diff_sides(args)
    comparison = compare(base[0], head[0], args.file, base_kind=base[1], head_kind=head[1])
    problem = comparison.bump_problem() if args.require_bump else None
    _out(render_diff(comparison, args.format, bump_problem=problem))
    invalid = comparison.base.error is not None or comparison.head.error is not None
    if problem:
        err(f"policyctl diff --require-bump: {printable(problem)}")
        return EXIT_INVALID
    return EXIT_INVALID if invalid else EXIT_OK


def cmd_log(args: argparse.Namespace) -> int:
    from ..review import GitRepo, audit_log  # noqa: PLC0415
    from ._changes import render_log  # noqa: PLC0415

    repo = GitRepo()
    path = repo.relative(default_policy_path(args.file))
    if args.brakes:
        from ..review import brake_log  # noqa: PLC0415
        from ._brake_report import render_brake_log  # noqa: PLC0415

        _out(render_brake_log(brake_log(repo, path, args.n), args.format))
        return EXIT_OK
    _out(render_log(audit_log(repo, path, args.n), args.format))
    return EXIT_OK


def now_utc() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
