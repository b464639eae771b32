"""`PolicyStore`: the pipeline on a loop — watch, re-read, swap one reference, notify.

Readers call `current()`, which reads one attribute: no lock, no copy, never a torn or invalid
policy, because a snapshot is immutable and is published by a single reference assignment.

One worker thread does every check. It wakes on a filesystem event (watchdog, behind
`_DirectoryWatcher`), on `refresh()`, or every ``reconcile_interval`` seconds (catching lost
inotify events); `Schedule` decides when, `_settle` whether bytes can be trusted. A check reads
the file and the override files whole at one moment (following symlinks, so the Kubernetes
ConfigMap ``..data`` swap is seen), and builds a snapshot only when their key changed. At a
brake's ``from`` or ``until`` the worker wakes by itself and composes the same bytes again. A
bad file is counted and reported once per distinct content; the last good snapshot stays.
`status()` is published like the snapshot, so it never waits on a check.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from time import time as now
from types import MappingProxyType, TracebackType
from typing import Any, Self

from ..decisions import DecisionLog, freeze_context
from ..errors import PolicyError
from ..model import SignalVerdict
from ..pipeline import (
    PolicySnapshot,
    build_snapshot,
    default_brakes_dir,
    default_policy_path,
)
from ._checks import Checks
from ._forks import forget, remember
from ._identity import source_commit
from ._inputs import Inputs
from ._last_good import save, start
from ._outcome import (
    ErrorSubscriber,
    Outcome,
    Subscriber,
    announce,
    internal_error,
)
from ._schedule import Schedule, check_timings
from ._status import StoreStatus
from ._subscribers import Subscribers
from ._target import WatchTarget, warn_if_mount_point
from ._watch import DirectoryWatcher as _DirectoryWatcher  # replaced by tests' scripted watcher

__all__ = ["PolicyStore", "StoreStatus", "Subscriber"]

_MIN_GRACE = 0.02

log = logging.getLogger(__name__)

DEFAULT_DEBOUNCE = 0.005
"""Quiet time after a write event before reading: coalesces truncate-then-write bursts. A rename
or a close-after-write ends the wait at once (see live/_schedule.py for what is then trusted)."""

DEFAULT_RECONCILE_INTERVAL = 30.0


class PolicyStore(Checks):
    """The live policy: loaded now, then kept current as the file changes.

    Args:
        path: The policy file; default ``$QT_POLICY_FILE`` or ``policy/policy.yaml``.
        env: Environment for ``QT_*`` overrides, re-read on every reload: None reads
            ``os.environ``, ``{}`` ignores it.
        watch: Watch the file; with False the store changes only on `refresh()`.
        poll_interval: Poll every this many seconds instead of using inotify (network
            filesystems, where inotify sees nothing).
        debounce: Seconds of quiet after a write event before the file is read.
        reconcile_interval: Seconds between checks made whatever the events say.
        brakes_dir: The brakes' directory; default ``$QT_OVERRIDES_DIR``, else
            ``overrides/`` next to the file. Watched like the file; a brake is applied at its
            ``from`` and lifted at its ``until`` by a timer, with no file event needed.
        last_good: A file where the inputs of every applied policy are kept (atomically). When
            the policy cannot be used at start, the store starts from what is kept there, if
            it is intact and valid, reports the error (status degraded), and applies the file
            as soon as it is valid.
        decision_log: A JSON Lines file where `decide` logs each decision (``decision_mask``:
            context keys whose values are replaced by ``***``).

    Raises:
        PolicyError: The first load failed (and nothing usable is kept in ``last_good``): a
            service must not start on a policy it cannot read.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        env: Mapping[str, str] | None = None,
        watch: bool = True,
        poll_interval: float | None = None,
        debounce: float = DEFAULT_DEBOUNCE,
        reconcile_interval: float = DEFAULT_RECONCILE_INTERVAL,
        brakes_dir: str | os.PathLike[str] | None = None,
        last_good: str | os.PathLike[str] | None = None,
        decision_log: str | os.PathLike[str] | None = None,
        decision_mask: Iterable[str] = (),
    ) -> None:
        check_timings(debounce, reconcile_interval, poll_interval)
        self._env = env
        environ = os.environ if env is None else env
        # Made absolute once, here: a later os.chdir must not change which file is served.
        self._path = Path(default_policy_path(path, environ)).absolute()
        self._overrides = default_brakes_dir(self._path, brakes_dir, environ).absolute()
        self._keep = None if last_good is None else Path(last_good).absolute()
        first = start(self._path, self._overrides, self._keep, self._build)
        self._log = None  # opened once the store has a policy: a failed start leaves no thread
        if decision_log is not None:
            self._log = DecisionLog(Path(decision_log).absolute(), mask=decision_mask)
        self._inputs: Inputs = first.inputs
        self._current: PolicySnapshot = first.snapshot
        self._commit = source_commit(self._path)
        self._target = WatchTarget(self._path, self._overrides)
        self._watching = watch
        self._poll_interval = poll_interval
        self._debounce = debounce
        self._reconcile_interval = reconcile_interval
        self._subscribers: Subscribers[Subscriber] = Subscribers()
        self._error_subscribers: Subscribers[ErrorSubscriber] = Subscribers()
        self._reloads = 0
        self._failures: dict[str, int] = {first.error.kind: 1} if first.error else {}
        self._last_error: PolicyError | None = first.error
        self._refused_digest: str | None = first.refused
        self._refused_since = datetime.now(UTC) if first.error else None
        self._serving_last_good = first.error is not None
        if self._keep is not None and first.error is None:
            save(self._keep, self._inputs)
        self._watcher: _DirectoryWatcher | None = None
        self._thread: threading.Thread | None = None
        self._init_sync()
        self._publish_status()
        self._arm()
        if watch:
            warn_if_mount_point(self._path)
            self._start()
        remember(self)

    def _init_sync(self) -> None:
        # (Re)created after a fork too: a lock held by a thread of the parent stays held forever.
        self._check_lock = threading.Lock()
        self._subscribers.after_fork()
        self._error_subscribers.after_fork()
        previous: Schedule | None = getattr(self, "_schedule", None)
        reconcile = self._reconcile_interval if self._watching else None
        self._schedule = Schedule(self._debounce, reconcile, self._grace())
        self._schedule.closed = previous is not None and previous.closed

    def _build(self, inputs: Inputs) -> PolicySnapshot:
        return build_snapshot(
            inputs.data, self._path, env=self._env, digest=inputs.digest, brakes=inputs.brakes
        )

    def _arm(self) -> None:
        """Wake the worker a millisecond after the next brake edge (the clock is then past it)."""
        edge = self._current.next_change
        deadline = None
        if edge is not None:
            deadline = time.monotonic() + (edge - datetime.now(UTC)).total_seconds() + 0.001
        self._schedule.wake_at(deadline)
        if deadline is not None and not self._watching and self._thread is None:
            self._start_worker()  # no watching, but brakes still start and lift on time

    # --- reading ------------------------------------------------------------------------------

    def current(self) -> PolicySnapshot:
        """The latest valid snapshot. One attribute read: safe from any thread, never torn."""
        return self._current

    def status(self) -> StoreStatus:
        """Counters and the pending error, if the file on disk is being refused.

        One attribute read, like `current()`: it answers at once whatever the file or the
        worker is doing (a health probe must never wait on a check).
        """
        status = self._status
        mode = self._watcher.mode if self._watcher else "off"
        if self._log is not None:  # counted on the signal path: read now
            status = dataclasses.replace(
                status, decisions_logged=self._log.written, decisions_dropped=self._log.dropped
            )
        return status if status.mode == mode else dataclasses.replace(status, mode=mode)

    def decide(
        self, *, symbol: str, strategy: str, confidence: float, **context: Any
    ) -> SignalVerdict:
        """Evaluate a signal against the current policy and, with ``decision_log``, log the
        decision (off the signal path: see `live/_decisions.py`)."""
        snap = self._current
        verdict = snap.policy.evaluate_signal(
            symbol=symbol, strategy=strategy, confidence=confidence
        )
        log = self._log
        if log is not None:
            # DecisionLog.record inlined: a method call is a fifth of a decision's cost.
            if len(log.pending) < log.limit:
                context = freeze_context(context) if context else context
                log.pending.append((now(), snap, verdict, symbol, strategy, confidence, context))
            else:
                log.drop()
        return verdict

    def _publish_status(self) -> None:
        """Publish the status of the state just changed (under the check lock, or in the
        constructor) with one reference assignment."""
        snap, failures = self._current, self._failures
        self._status = StoreStatus(
            snap.version, snap.digest, self._path, self._reloads, sum(failures.values()),
            MappingProxyType(dict(failures)), self._last_error, snap.loaded_at,
            self._refused_since, self._watcher.mode if self._watcher else "off", snap.brakes,
            snap.next_change, self._commit, self._serving_last_good,
        )  # fmt: skip

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(old, new)`` after each swap (a file change, or a brake starting or
        lifting), on the watcher thread. A callback that raises is logged; the others still run.

        Returns:
            A function that unsubscribes ``callback``.
        """
        return self._subscribers.add(callback)

    def subscribe_errors(self, callback: ErrorSubscriber) -> Callable[[], None]:
        """Call ``callback(error)`` once for each distinct refused content of the file."""
        return self._error_subscribers.add(callback)

    # --- checking -----------------------------------------------------------------------------

    def refresh(self) -> bool:
        """Check the file now; return whether a new snapshot was applied.

        The caller vouches that any write it made is complete (the content is read once, as
        after a rename); a write seen open by the watcher still holds the check back.
        """
        with self._check_lock:
            outcome = self._check("atomic")
        return self._announce(outcome)

    def _announce(self, outcome: Outcome) -> bool:
        """Log and notify outside the lock, so a slow subscriber cannot block a check."""
        return announce(outcome, self._path, self._current.version)

    # --- watching -----------------------------------------------------------------------------

    def _start(self) -> None:
        self._watcher = _DirectoryWatcher(
            self._schedule.notify, self._target.classify, self._poll_interval
        )
        self._watcher.watch(self._target.directories())
        self._publish_status()  # the watcher's mode
        self._start_worker()
        # A write between the first load and the watch being in place would otherwise wait
        # for the reconciler.
        self._schedule.notify("changed")

    def _start_worker(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"policyctl-store:{self._path.name}", daemon=True
        )
        self._thread.start()

    def _grace(self) -> float:
        """A short wait: how long content must stay put when no event says the writer is done,
        how long a refused file must stay put, and the delay of the follow-up look."""
        return max(4 * self._debounce, _MIN_GRACE)

    def _run(self) -> None:
        while (trigger := self._schedule.wait_for_work()) is not None:
            try:
                with self._check_lock:
                    outcome = self._check(trigger)
                if self._watcher is not None:  # before announcing: subscribers may act on it
                    self._watcher.watch(self._target.directories())
                self._announce(outcome)
            except Exception as e:  # the watcher thread must survive anything, and say so
                log.exception("policy store check failed unexpectedly; will retry")
                with self._check_lock:
                    outcome = self._refuse(internal_error(e, self._path), f"internal:{e!r}")
                self._announce(outcome)

    def close(self) -> None:
        """Stop watching and join every thread the store started. Idempotent."""
        self._schedule.close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        if self._watcher is not None:
            self._watcher.stop()
        if self._log is not None:
            self._log.close()  # everything queued is written
        forget(self)

    def _restart_after_fork(self) -> None:
        """In a forked child the threads are gone (gunicorn --preload): start them again."""
        self._init_sync()
        self._thread = None
        self._watcher = None
        if not self._schedule.closed:
            self._arm()
            if self._watching:
                self._start()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<PolicyStore {self._path} version={self._current.version}>"
