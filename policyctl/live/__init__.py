"""The live store: the pipeline on a loop, watching the policy file and swapping snapshots.

May import: ``policyctl.decisions``, ``policyctl.pipeline``, ``policyctl.model``,
``policyctl.errors`` (and watchdog). Never ``review``, ``edit``, ``propose``, ``fleet``, ``cli``
or ``http``. Modules with a leading underscore are private; other rooms use the names below.
Importing this package starts no thread.
"""

from __future__ import annotations

from ._store import DEFAULT_RECONCILE_INTERVAL, PolicyStore, StoreStatus, Subscriber
from ._trust import MAX_SENT, Received
from ._watch import is_mount_point

__all__ = [
    "DEFAULT_RECONCILE_INTERVAL",
    "MAX_SENT",
    "PolicyStore",
    "Received",
    "StoreStatus",
    "Subscriber",
    "is_mount_point",
]
