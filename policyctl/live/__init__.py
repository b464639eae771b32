"""The live store: the pipeline on a loop, watching the policy file and swapping snapshots.

May import: ``policyctl.pipeline``, ``policyctl.model``, ``policyctl.errors`` (and watchdog).
Never ``review``, ``cli`` or ``http``. Modules with a leading underscore are private; other
rooms use the names below. Importing this package starts no thread.
"""

from __future__ import annotations

from ._doctor import Finding, examine
from ._rollout import ReplicaState, poll_all, replicas_from_text
from ._store import DEFAULT_RECONCILE_INTERVAL, PolicyStore, StoreStatus, Subscriber

__all__ = [
    "DEFAULT_RECONCILE_INTERVAL",
    "Finding",
    "PolicyStore",
    "ReplicaState",
    "StoreStatus",
    "Subscriber",
    "examine",
    "poll_all",
    "replicas_from_text",
]
