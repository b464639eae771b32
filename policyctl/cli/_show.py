"""``policyctl show``: the effective policy, and with --explain where each value came from."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..model import (
    FIELD_NAMES,
)
from ..pipeline import (
    PolicySnapshot,
    load_policy,
)
from ._arguments import FILE_HELP, brakes_option, env_for
from ._escape import out, printable
from ._exit import EXIT_OK
from ._report import to_yaml

__all__ = ["add_arguments", "run"]


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
    files = {b.name: b for b in snap.brakes}
    return ", ".join(
        f"{files[n].kind} {printable(n)} until {files[n].content.until}"
        + (f" ({printable(t)})" if (t := files[n].ticket) else "")
        if n in files
        else f"brake {printable(n)}"
        for n in sorted(names)
    )


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
            direction = snap.env_directions.get(name, "neutral")
            origins[name] = f"{variable} ({direction} against {from_file or 'the file'})"
        elif from_file:
            origins[name] = from_file
    return origins


def run(args: argparse.Namespace) -> int:
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
                {"name": b.name, "reason": b.reason, "until": b.content.until}
                for b in snap.brakes
                if b.kind == "brake"
            ],
            "adjustments": [
                {"name": b.name, "reason": b.reason, "ticket": b.ticket, "until": b.content.until}
                for b in snap.brakes
                if b.kind == "adjustment"
            ],
        }
        if args.explain:
            doc["origins"] = _origins(snap)
        out(json.dumps(doc, indent=2))
        return EXIT_OK
    header = f"# {printable(str(snap.source))} (sha256 {snap.digest[:12]})"
    for brake in snap.brakes:
        ticket = f" [{printable(brake.ticket)}]" if brake.ticket else ""
        header += (
            f"\n# {brake.kind} {printable(brake.name)} until {brake.content.until}:"
            f" {printable(brake.reason)}{ticket}"
        )
    if snap.env:
        header += "\n# overridden by the environment: " + ", ".join(
            f"{f} <- {v}" for f, v in snap.env.items()
        )
    comments = {k: f"from {v}" for k, v in _origins(snap).items()} if args.explain else None
    out(header + "\n" + to_yaml(data, comments))
    return EXIT_OK


def add_arguments(p: argparse.ArgumentParser) -> None:
    """This command's arguments."""
    p.add_argument("file", nargs="?", metavar="FILE", help=FILE_HELP)
    p.add_argument("--format", choices=("yaml", "json"), default="yaml")
    p.add_argument("--explain", action="store_true", help="say where each value came from")
    brakes_option(p)
    p.add_argument("--no-env", action="store_true", help="ignore QT_* variables: the file alone")
