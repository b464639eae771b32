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

from ._doctor import Finding, examine
from ._rollout import NO_ANSWER, Expected, ReplicaState, poll_all, replicas_from_text
from ._send import Sent, send_all

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
