"""Sending a signed brake to every replica at once (``POST /api/policy/brakes``): the kill
switch's wire. Each replica verifies it with its own trusted keys and applies it on arrival;
what each answers (applied, a replay, refused and why, or no answer) is reported, and a total
deadline bounds the whole send whatever the replicas do."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ..errors import printable
from ._rollout import NO_ANSWER, exchange, fan_out

__all__ = ["Sent", "send_all"]

Outcome = Literal["applied", "scheduled", "replay", "refused", "unreachable"]


@dataclass(frozen=True, slots=True)
class Sent:
    """What one replica did with the signed brake."""

    url: str
    outcome: Outcome
    why: str = ""
    brakes: tuple[str, ...] = ()  # the brakes in force there now, as it said

    @property
    def in_force(self) -> bool:
        """Accepted: in force now, or (scheduled) kept to start at its ``from``."""
        return self.outcome in ("applied", "scheduled", "replay")


def _send(url: str, envelope: bytes, timeout: float) -> Sent:
    if not url.startswith(("http://", "https://")):  # never file: or any other scheme
        return Sent(url, "unreachable", "not an http(s) URL")
    try:
        _, data = exchange(url, timeout, path="/api/policy/brakes", body=envelope)
    except Exception as e:
        return Sent(url, "unreachable", printable(f"{type(e).__name__}: {e}")[:200])
    outcome, message = data.get("outcome"), printable(str(data.get("message", "")))[:300]
    listed = data.get("brakes")
    brakes = tuple(
        printable(b)[:64]
        for b in (listed if isinstance(listed, list) else [])
        if isinstance(b, str)
    )
    name = data.get("name")
    if outcome in ("applied", "replay") and name not in brakes:  # its word alone is not proof
        return Sent(url, "refused", f"said {outcome}, but does not list it in force", brakes)
    if outcome in ("applied", "scheduled", "replay"):
        return Sent(url, outcome, message, brakes)
    if isinstance(outcome, str):
        return Sent(url, "refused", f"{printable(outcome)[:32]}: {message}", brakes)
    return Sent(url, "unreachable", "the answer is not a policyctl replica's")


def send_all(
    urls: Sequence[str], envelope: bytes, timeout: float = 5.0, deadline: float | None = None
) -> list[Sent]:
    """Send ``envelope`` to every replica at once, all done by ``deadline``
    (``time.monotonic()``; default ``timeout`` from now)."""
    deadline = time.monotonic() + timeout if deadline is None else deadline
    return fan_out(
        urls,
        lambda url, left: _send(url, envelope, left),
        lambda url: Sent(url, "unreachable", NO_ANSWER),
        timeout,
        deadline,
    )
