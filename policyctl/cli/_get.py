"""``policyctl get PATH``: one value; scalars bare, containers as JSON."""

from __future__ import annotations

import argparse
import difflib
import json
import re
from typing import Any

from ..model import (
    FIELD_NAMES,
    parse_path,
)
from ..pipeline import (
    load_policy,
    yaml_scalar,
)
from ._arguments import FILE_HELP, brakes_option, env_for
from ._escape import out
from ._exit import EXIT_OK, UsageError

__all__ = ["add_arguments", "run"]


_INDEX = re.compile(r"-?[0-9]{1,9}")


def _lookup(data: dict[str, Any], path: str) -> Any:
    # The field name never holds a dot; what follows the first dot is one map key or list index
    # (symbols such as BRK.B and model names may hold dots themselves).
    where = parse_path(path)
    field = where.field
    rest = str(where.index) if where.index is not None else where.key or ""
    bracket = field.partition("[")[0]
    if field not in data and bracket in data:  # allowed_symbols[x]: not an index
        raise UsageError(
            f"unknown path {path!r}: {bracket} has no item {field[len(bracket) :]!r}; an item is"
            f" {bracket}[N], N a whole number of at most 9 digits"
        )
    if field not in data:
        close = difflib.get_close_matches(field, FIELD_NAMES, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"fields: {', '.join(FIELD_NAMES)}"
        raise UsageError(f"unknown path {path!r}; {hint}")
    value = data[field]
    if where.key == "":
        raise UsageError(f"unknown path {path!r}: nothing after the dot; name an entry")
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


def run(args: argparse.Namespace) -> int:
    snap = load_policy(args.file, env=env_for(args), brakes_dir=args.brakes_dir)
    value = _lookup(snap.policy.model_dump(mode="json"), args.path)
    if isinstance(value, dict | list):
        out(json.dumps(value))
    elif isinstance(value, str):
        out(value)
    else:
        out(yaml_scalar(value))
    return EXIT_OK


def add_arguments(p: argparse.ArgumentParser) -> None:
    """This command's arguments."""
    p.add_argument("path", metavar="PATH")
    p.add_argument("file", nargs="?", metavar="FILE", help=FILE_HELP)
    p.add_argument("--no-env", action="store_true", help="ignore QT_* variables: the file alone")
    brakes_option(p)
