"""What one check of the file decided, as small typed values.

The check runs under the store's lock; its outcome is announced (logged, subscribers called)
after the lock is released, so a slow subscriber cannot block `status()`. Each outcome carries
the subscribers as they were when it was decided.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import PolicyError, PolicyInternalError
from ..pipeline import PolicySnapshot

__all__ = [
    "Applied",
    "ErrorSubscriber",
    "Moved",
    "Outcome",
    "Refused",
    "Refusing",
    "Subscriber",
    "announce",
    "internal_error",
]

log = logging.getLogger(__name__)

Subscriber = Callable[[PolicySnapshot, PolicySnapshot], object]
ErrorSubscriber = Callable[[PolicyError], object]


@dataclass(frozen=True, slots=True)
class Applied:
    """A new snapshot was published."""

    old: PolicySnapshot
    new: PolicySnapshot
    subscribers: tuple[Subscriber, ...]


@dataclass(frozen=True, slots=True)
class Refusing:
    """The file is refused, unless it turns out to be still changing (see ``_settled``).

    ``key`` identifies the refused content (its key, or the read error); ``data`` is the key
    of the refused content as read again (`Inputs.key`), None when it could not be read.
    """

    error: PolicyError
    key: str
    data: str | None


@dataclass(frozen=True, slots=True)
class Refused:
    """A refusal was recorded: a distinct bad content, counted and reported once."""

    error: PolicyError
    subscribers: tuple[ErrorSubscriber, ...]


Outcome = Applied | Refused | None
"""What a check announces: nothing (no change, or a refusal already reported) is None."""


class Moved:
    """The content moved while the check waited for it to stay put: look again."""


def internal_error(error: Exception, path: Path) -> PolicyInternalError:
    """A failure no rule foresaw, as a refusal: counted, reported, health degraded."""
    return PolicyInternalError.single(
        f"internal error while checking the file: {type(error).__name__}: {error}"
        " (the last good policy stays; see the log for details)",
        source=str(path),
    )


def announce(outcome: Outcome, path: Path, kept_version: int) -> bool:
    """Log an outcome and call its subscribers (never under the store's lock); return whether
    a new snapshot was applied."""
    if outcome is None:
        return False
    if isinstance(outcome, Refused):
        log.error(
            "refused a change to %s; keeping version %s:\n%s", path, kept_version, outcome.error
        )
        _call(outcome.subscribers, outcome.error)
        return False
    old, new = outcome.old, outcome.new
    if new.version < old.version:
        log.warning(
            "%s: version went down from %s to %s (a revert?); applied",
            path,
            old.version,
            new.version,
        )
    elif new.digest != old.digest:
        log.info("%s: applied version %s (sha256 %s)", path, new.version, new.digest[:12])
    before, after = {b.name for b in old.brakes}, {b.name for b in new.brakes}
    for brake in new.brakes:
        if brake.name not in before:
            log.info("brake %s is on until %s: %s", brake.name, brake.content.until, brake.reason)
    for brake in old.brakes:
        if brake.name not in after:
            log.info("brake %s lifted", brake.name)
    _call(outcome.subscribers, old, new)
    return True


def _call(callbacks: tuple[Callable[..., object], ...], *args: object) -> None:
    for callback in callbacks:
        try:
            callback(*args)
        except Exception:
            log.exception("policy subscriber %r raised; the others still run", callback)
