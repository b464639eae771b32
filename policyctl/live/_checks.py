"""The store's checks: read the inputs, decide, publish or refuse (a part of `PolicyStore`).

A mixin, so that the decisions about content live apart from the threads and the public API.
Every method here runs with the store's check lock held, and leaves announcing (logging,
calling subscribers) to the caller, outside the lock.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from pathlib import Path

from ..errors import PolicyError
from ..pipeline import PolicySnapshot
from ._identity import source_commit
from ._inputs import Inputs, read_inputs
from ._last_good import save
from ._outcome import (
    Applied,
    ErrorSubscriber,
    Moved,
    Outcome,
    Refused,
    Refusing,
    Subscriber,
    internal_error,
)
from ._schedule import Schedule, Trigger
from ._settle import settled, stays_put
from ._status import StoreStatus
from ._subscribers import Subscribers
from ._watch import DirectoryWatcher

__all__ = ["Checks"]

log = logging.getLogger(__name__)

_MAX_ROUNDS = 20  # looks per check before leaving a changing file to the next event


class Checks:
    """What a check does with the inputs on disk. The store provides the state below."""

    _path: Path
    _overrides: Path
    _inputs: Inputs
    _current: PolicySnapshot
    _schedule: Schedule
    _check_lock: threading.Lock
    _watcher: DirectoryWatcher | None
    _keep: Path | None
    _commit: str | None
    _serving_last_good: bool
    _reloads: int
    _failures: dict[str, int]
    _last_error: PolicyError | None
    _refused_digest: str | None
    _refused_since: datetime | None
    _subscribers: Subscribers[Subscriber]
    _error_subscribers: Subscribers[ErrorSubscriber]
    _status: StoreStatus

    def _build(self, inputs: Inputs) -> PolicySnapshot:
        raise NotImplementedError

    def _arm(self) -> None:
        raise NotImplementedError

    def _publish_status(self) -> None:
        raise NotImplementedError

    def _grace(self) -> float:
        raise NotImplementedError

    def _check(self, trigger: Trigger) -> Outcome:
        """Read and decide; the caller holds ``_check_lock`` and announces the outcome.

        Bounded: content that keeps changing is left for the next event or the reconciler, and
        a closing store stops at once, so neither a writer nor `close()` can keep it looping.
        """
        if trigger == "edge":
            return self._recompose() if self._edge_passed() else None
        for _ in range(_MAX_ROUNDS):
            if self._schedule.closed:
                return None
            outcome = self._check_once(trigger)
            if isinstance(outcome, Moved):
                continue
            if not isinstance(outcome, Refusing):
                return outcome
            if self._settled(outcome.data):
                return self._refuse(outcome.error, outcome.key)
        return None

    def _check_once(self, trigger: Trigger) -> Applied | Refusing | Moved | None:
        if self._schedule.writing:
            return None  # a write is open: its close (or its timeout) brings us back
        try:
            inputs = read_inputs(self._path, self._overrides)
        except PolicyError as e:
            return Refusing(e, f"unreadable:{e}", None)
        if inputs.key == self._inputs.key:
            self._clear_refusal()  # e.g. a bad change reverted by hand
            return self._recompose() if self._edge_passed() else None
        if trigger == "unconfirmed" and not self._stays_put(inputs.key):
            return Moved()
        if inputs.key == self._refused_digest:
            return None  # already counted and reported
        return self._apply(inputs)

    def _apply(self, inputs: Inputs) -> Applied | Refusing:
        try:
            snap = self._build(inputs)
        except PolicyError as e:
            return Refusing(e, inputs.key, inputs.key)
        except Exception as e:  # a bug or a fault no rule foresaw: still a refusal, recorded
            log.debug("checking %s failed unexpectedly", self._path, exc_info=True)
            return Refusing(internal_error(e, self._path), inputs.key, inputs.key)
        self._commit = source_commit(self._path)  # before publishing: status then agrees
        old, self._current = self._current, snap  # the one publication step
        if self._keep is not None and inputs.key != self._inputs.key:
            save(self._keep, inputs)
        self._inputs, self._serving_last_good = inputs, False
        self._reloads += 1
        self._clear_refusal()
        self._arm()
        return Applied(old, snap, self._subscribers.all)

    def _edge_passed(self) -> bool:
        return (edge := self._current.next_change) is not None and datetime.now(UTC) >= edge

    def _recompose(self) -> Applied | None:
        """A brake starts or lifts: the same files, composed again at the new moment."""
        outcome = self._apply(self._inputs)
        if isinstance(outcome, Refusing):  # the environment changed meanwhile: keep serving
            self._refuse(outcome.error, outcome.key)
            self._arm()
            return None
        return outcome

    def _read_key(self) -> str:
        return read_inputs(self._path, self._overrides).key

    def _stays_put(self, key: str) -> bool:
        w = self._watcher
        barrier = w is not None and w.mode == "inotify" and w.covers(self._path)
        return stays_put(self._schedule, self._read_key, key, self._grace(), barrier=barrier)

    def _refuse(self, error: PolicyError, key: str) -> Refused | None:
        if key == self._refused_digest:
            return None
        self._refused_digest = key
        self._refused_since = datetime.now(UTC)
        self._last_error = error
        self._failures[error.kind] = self._failures.get(error.kind, 0) + 1
        self._publish_status()
        return Refused(error, self._error_subscribers.all)

    def _clear_refusal(self) -> None:
        changed = self._refused_digest is not None or self._last_error is not None
        self._refused_digest = None
        self._refused_since = None
        self._last_error = None
        if changed or self._status.reloads != self._reloads:
            self._publish_status()

    def _settled(self, refused: str | None) -> bool:
        return settled(self._schedule, self._read_key, refused, self._grace())
