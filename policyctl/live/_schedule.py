"""When a store looks at its file: events in, one decision out ("look now: a rename made it
whole" or "look, but make sure it stays put"), with every wait interruptible by `close`.

The rule that keeps half-written files from being served: while a write is open (a modify
event with no close after it) nothing is read, up to a timeout. After a rename the content is
read at once. After anything else (a close, a poll, a lost event, the reconciler) the caller
reads, waits a grace, and reads again, accepting only content that stayed put; with inotify it
also waits until the close of its own read is reported (`reported_through`), so that a writer's
truncate made before that read is known too.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Literal

__all__ = ["MAX_SLEEP", "WRITE_TIMEOUT", "EventKind", "Schedule", "Trigger", "check_timings"]

MAX_SLEEP = 3600.0
"""Longest one wait of the worker: it looks again after it, whatever it waits for."""

EventKind = Literal["renamed", "closed", "writing", "changed", "read"]
"""``renamed``: a rename onto the file or a swap of its directories (atomic: the content is
whole); ``closed``: the file's writer closed it after writing; ``writing``: the file itself was
modified or created and may still be open; ``changed``: anything else that may concern it;
``read``: the file was closed after reading (no change: a barrier in the event stream)."""

Trigger = Literal["atomic", "unconfirmed", "edge"]
"""Why a check runs: after a rename (read once, at once), or on anything else (a close, an
event, a timer, a poll), where the content counts only if it stays put for a short grace: a
writer's next truncate may already be on disk before the event of its last close arrives.
``edge``: a brake starts or lifts now; nothing is read, the policy is composed again."""

WRITE_TIMEOUT = 1.0
"""How long an open write (modified, not yet closed) holds checks back. A writer silent longer
than this is treated as done, under the stay-put rule."""


class Schedule:
    """The store's wake-ups: events, the follow-up look after a burst, the reconciler."""

    def __init__(self, debounce: float, reconcile_interval: float | None, grace: float) -> None:
        self._debounce = debounce
        self._reconcile_interval = reconcile_interval
        self._grace = grace
        self._wake = threading.Condition()
        self._read = threading.Condition()  # reads reported: never wakes the worker
        self._pending = False
        self._finished = False  # a write ended (renamed or closed): no debounce needed
        self._atomic = False  # ...and the last one to end was a rename
        self._writing = False
        self._last_event = 0.0
        self._follow_up_at: float | None = None
        self._edge_at: float | None = None
        self.reads = 0  # closes-after-reading of the file seen so far
        self.closed = False

    def notify(self, kind: EventKind) -> None:
        """An event (called on watchdog's thread)."""
        if kind == "read":  # its own condition: waking the worker would make it check again
            with self._read:
                self.reads += 1
                self._read.notify_all()
            return
        with self._wake:
            self._pending = True
            if kind == "writing":
                self._writing = True
                self._finished = self._atomic = False  # an earlier end is not this write's
            elif kind in ("renamed", "closed"):
                self._writing = False
                self._finished = True
                self._atomic = kind == "renamed"
            self._last_event = time.monotonic()
            self._wake.notify()

    @property
    def writing(self) -> bool:
        """A write to the file is open (seen modified, not yet closed) and not timed out."""
        with self._wake:
            return self._writing and time.monotonic() - self._last_event < WRITE_TIMEOUT

    def wait_for_work(self) -> Trigger | None:
        """Block until there is something to check; None when the store is closing.

        Work is an event (after ``debounce`` seconds of quiet, and once an open write is
        finished or timed out), the follow-up look a short grace after an event burst, the
        reconciler's period (None: none), or a brake's edge (see `wake_at`). The follow-up
        exists because watchdog can hold a rename's event for up to 0.5 s: the write before the
        rename already woke us, and one more look shortly after sees the renamed file.
        """
        with self._wake:
            start = time.monotonic()
            idle_until = [
                t
                for t in (
                    None if self._reconcile_interval is None else start + self._reconcile_interval,
                    self._follow_up_at,
                )
                if t is not None
            ]
            deadline = min(idle_until, default=None)
            while not self._pending and not self.closed:
                now = time.monotonic()
                if self._edge_at is not None and now >= self._edge_at:
                    self._edge_at = None
                    return "edge"
                if deadline is not None and now >= deadline:
                    break
                waits = [t - now for t in (deadline, self._edge_at) if t is not None]
                # Bounded: a brake centuries ahead is longer than a wait can be (OverflowError
                # killed the worker); waking every hour to look again costs nothing.
                self._wake.wait(min(*waits, MAX_SLEEP) if waits else None)
            while self._pending and not self._finished and not self.closed:
                quiet = self._last_event + self._debounce - time.monotonic()
                if quiet <= 0:
                    break
                self._wake.wait(quiet)
            while self._writing and not self.closed:
                left = self._last_event + WRITE_TIMEOUT - time.monotonic()
                if left <= 0:
                    self._writing = False  # a silent writer: the stay-put rule decides now
                    break
                self._wake.wait(left)
            trigger: Trigger = "atomic" if self._atomic else "unconfirmed"
            # No follow-up after a rename that was seen: nothing of this burst is held back. A
            # fleet of processes on one host would all look twice at every git-sync swap.
            follow_up = self._pending and not self._atomic
            self._follow_up_at = time.monotonic() + self._grace if follow_up else None
            self._pending = self._finished = self._atomic = False
            return None if self.closed else trigger

    def wake_at(self, deadline: float | None) -> None:
        """Return ``edge`` from `wait_for_work` at this `time.monotonic` moment (None: never)."""
        with self._wake:
            self._edge_at = deadline
            self._wake.notify()

    def reported_through(self, reads_before: int, timeout: float) -> bool:
        """Wait until a read that closed after ``reads_before`` reads has been reported: inotify
        reports in order, so every event that came before it (a writer's truncate) has been
        reported too, however late watchdog's thread got to it. False on timeout or close."""
        deadline = time.monotonic() + timeout
        with self._read:
            while self.reads <= reads_before and not self.closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._read.wait(left)
            return not self.closed

    def sleep(self, seconds: float) -> bool:
        """Wait ``seconds`` (events do not cut it short); False if the store closed meanwhile."""
        deadline = time.monotonic() + seconds
        with self._wake:
            while not self.closed and (left := deadline - time.monotonic()) > 0:
                self._wake.wait(left)
            return not self.closed

    def close(self) -> None:
        with self._wake:
            self.closed = True
            self._wake.notify_all()
        with self._read:
            self._read.notify_all()


def check_timings(debounce: float, reconcile: float, poll: float | None) -> None:
    """Refuse timings that would busy-loop a thread or mean something other than asked."""
    if not (math.isfinite(debounce) and debounce >= 0):
        raise ValueError(f"debounce must be a number of seconds >= 0, not {debounce!r}")
    if not (math.isfinite(reconcile) and reconcile >= 0.01):
        raise ValueError(f"reconcile_interval must be >= 0.01 seconds, not {reconcile!r}")
    if poll is not None and not (math.isfinite(poll) and poll > 0):
        raise ValueError(f"poll_interval must be a number of seconds > 0, not {poll!r}")
