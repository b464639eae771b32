"""Whether content on disk has settled: the two waits a check makes before it trusts bytes."""

from __future__ import annotations

from collections.abc import Callable

from ..errors import PolicyError
from ._schedule import Schedule

__all__ = ["settled", "stays_put"]

_BARRIER_TIMEOUT = 0.5


def stays_put(
    schedule: Schedule, read: Callable[[], str], key: str, grace: float, *, barrier: bool
) -> bool:
    """With no event saying the writer is done: the same content (``read()`` gives its key)
    after ``grace``, and (with ``barrier``, i.e. inotify) no write reported up to the close of
    the policy file by that second read."""
    if not schedule.sleep(grace):
        return False
    reads_before = schedule.reads
    try:
        again = read()
    except PolicyError:
        return False
    if barrier:
        # A directory not watched yet (just swapped in) reports nothing: after the timeout the
        # stay-put rule alone decides, as with polling.
        schedule.reported_through(reads_before, _BARRIER_TIMEOUT)
    return again == key and not schedule.writing


def settled(schedule: Schedule, read: Callable[[], str], refused: str | None, grace: float) -> bool:
    """Whether the file still holds the refused bytes after ``grace``: an in-place write can
    be read between its truncate and its write, and that half-written state must not be
    counted and reported as a refused change. Valid content is applied without this wait."""
    if not schedule.sleep(grace):
        return False
    try:
        return read() == refused
    except PolicyError:
        return refused is None
