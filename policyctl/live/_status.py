"""`StoreStatus`: what a store reports about its health, read consistently in one lock."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..errors import PolicyError
from ..pipeline import BrakeFile

__all__ = ["StoreStatus"]


@dataclass(frozen=True, slots=True)
class StoreStatus:
    """A consistent view of the store's health.

    Attributes:
        current_version: ``version`` of the snapshot being served.
        digest: sha256 of the file content being served.
        source: The policy file.
        reloads: Snapshots applied after the first load.
        failures: Distinct refused contents (invalid, unreadable or missing file).
        failures_by_kind: ``failures`` split by the error's kind: ``source`` (unreadable or
            missing), ``syntax``, ``validation``, ``env``.
        last_error: Why the file on disk is refused now; None when it is being served.
        last_success: When the served snapshot was loaded.
        refused_since: When the refused content was first seen; None when healthy.
        mode: ``"inotify"``, ``"polling"`` or ``"off"`` (``watch=False``).
        brakes: The override files active in the served snapshot (name, reason, until).
        next_change: When the next brake starts or lifts; None when none will.
        commit: The git commit the served file came from, where the layout says (git-sync's
            worktree, or a checkout's HEAD); None otherwise.
        serving_last_good: Started from the ``last_good`` file, the policy file being unusable;
            False once the file itself is applied.
        decisions_logged: Decisions written to the ``decision_log`` so far.
        decisions_dropped: Decisions not logged because the log's queue was full (or a write
            failed): counted, never silent.
    """

    current_version: int
    digest: str
    source: Path
    reloads: int
    failures: int
    failures_by_kind: Mapping[str, int]
    last_error: PolicyError | None
    last_success: datetime
    refused_since: datetime | None
    mode: str
    brakes: tuple[BrakeFile, ...] = ()
    next_change: datetime | None = None
    commit: str | None = None
    serving_last_good: bool = False
    decisions_logged: int = 0
    decisions_dropped: int = 0
