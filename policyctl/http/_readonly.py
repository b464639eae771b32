"""The old write routes' answer: 405, and the exact ``policyctl propose`` command that makes
the same change through a pull request (the request's values are data: shell-quoted, never
run, and a request body is read only up to a small limit)."""

from __future__ import annotations

import json
import shlex
from typing import Any

from fastapi import Request, Response

from ..model import DEFAULTS, FIELD_NAMES, RiskMode
from ._responses import ReadOnlyOut

__all__ = ["READ_ONLY_HOW", "refuse"]

READ_ONLY_HOW = (
    "The policy is kept in git and changes only by pull request: run"
    " `policyctl propose FIELD=VALUE... -m WHY` (or `policyctl set FIELD VALUE`, commit, and"
    " open a pull request for the risk desk's review)."
)
_MAX_BODY = 64 * 1024


def _command(changes: dict[str, Any], why: str) -> str:
    words = [shlex.quote(f"{path}={json.dumps(value)}") for path, value in changes.items()]
    return f"policyctl propose {' '.join(words)} -m {shlex.quote(why)}"


async def _body(request: Request) -> Any:
    data = b""
    async for chunk in request.stream():
        data += chunk
        if len(data) > _MAX_BODY:
            return None
    try:
        return json.loads(data)
    except ValueError:
        return None


async def _how(request: Request) -> str:
    path = request.url.path
    if path.endswith("/reset"):
        defaults = dict(DEFAULTS)
        return f"Run: {_command(defaults, 'reset to the defaults')}. {READ_ONLY_HOW}"
    if "/risk_mode/" in path:
        mode = path.rsplit("/", 1)[1].upper()
        if mode not in RiskMode.__members__:
            return (
                f"{mode[:40]!r} is not a risk mode (AGGRESSIVE, NORMAL, DEFENSIVE). {READ_ONLY_HOW}"
            )
        now = ""
        if mode == RiskMode.DEFENSIVE:
            now = (
                " To brake at once instead: policyctl brake risk_mode=DEFENSIVE --for 1h"
                " --reason WHY."
            )
        return f"Run: {_command({'risk_mode': mode}, f'risk mode {mode}')}.{now} {READ_ONLY_HOW}"
    body = await _body(request)
    if isinstance(body, dict) and body and all(k in FIELD_NAMES for k in body):
        changes = {k: v for k, v in body.items() if k not in ("version", "last_updated")}
        if changes:
            return f"Run: {_command(changes, 'WHY')}. {READ_ONLY_HOW}"
    return READ_ONLY_HOW


async def refuse(request: Request) -> Response:
    """405 with what to run instead."""
    body = ReadOnlyOut(
        detail="read-only: this API cannot change the policy", how=await _how(request)
    )
    return Response(
        body.model_dump_json(), 405, media_type="application/json", headers={"Allow": "GET, HEAD"}
    )
