"""``policyctl env``: the recognised QT_* variables, their values here and what they change."""

from __future__ import annotations

import argparse
import json
import os

from ..errors import PolicyEnvError
from ..pipeline import (
    POLICY_FILE_VARIABLE,
    VARIABLES,
    default_policy_path,
    near_misses,
    read_env,
)
from ._escape import out, printable
from ._exit import EXIT_INVALID, EXIT_OK

__all__ = ["add_arguments", "run"]


def run(args: argparse.Namespace) -> int:
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
        out(json.dumps(doc, indent=2))
        return status
    width = max(len(v.name) for v in VARIABLES)
    for r in rows:
        state = "(unset)" if r["value"] is None else repr(r["value"])
        if r["error"]:
            state += f"  INVALID: {printable(r['error'])}"
        out(f"{r['name']:<{width}}  -> {r['field']:<22} {r['format']:<34} {state}")
    out(
        f"{POLICY_FILE_VARIABLE:<{width}}  -> policy file            "
        f"{default_policy_path()!s:<34} {'(set)' if policy_file else '(default)'}"
    )
    for name, known in misses:
        out(f"warning: {printable(name)} is not recognised; did you mean {known}?")
    return status


def add_arguments(p: argparse.ArgumentParser) -> None:
    """This command's arguments."""
    p.add_argument("--format", choices=("text", "json"), default="text")
