"""The fleet: what the replicas serve, and what will go wrong for a service here.

- `_rollout`: every replica's ``/api/policy/status``, polled until all serve the expected
  policy (``policyctl rollout status``); the bounded, concurrent exchange with replicas.
- `_send`: a signed brake sent to every replica at once (``policyctl brake --send``).
- `_doctor`: the checks a store depends on, run by hand (``policyctl doctor``).

Which commit a served file came from is the store's own report (``live``'s `_identity`), since
every store states it; the fleet reads it from their status.

May import: ``policyctl.live``, ``policyctl.pipeline``, ``policyctl.model``,
``policyctl.errors``. Never ``review``, ``edit``, ``propose``, ``cli`` or ``http``. Modules with
a leading underscore are private; other rooms use the names below.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._rollout import NO_ANSWER, Expected, ReplicaState, poll_all, replicas_from_text
from ._send import Sent, send_all

if TYPE_CHECKING:
    from ._doctor import Finding, examine

__all__ = [
    "NO_ANSWER",
    "Expected",
    "Finding",
    "ReplicaState",
    "Sent",
    "examine",
    "poll_all",
    "replicas_from_text",
    "send_all",
]


# Loaded when first asked for: doctor runs the store's own start (watchdog and all), which
# `rollout status` and a kill switch's `brake --send` never need.
_LAZY = frozenset({"Finding", "examine"})


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module 'policyctl.fleet' has no attribute {name!r}")
    value = getattr(importlib.import_module("._doctor", __name__), name)
    globals()[name] = value  # later lookups are plain attribute reads
    return value
