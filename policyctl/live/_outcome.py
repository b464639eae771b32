"""What one check of the file decided, as small typed values.

The check runs under the store's lock; its outcome is announced (logged, subscribers called)
after the lock is released, so a slow subscriber cannot block `status()`. Each outcome carries
the subscribers as they were when it was decided.
"""

from __future__ import annotations

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
    "internal_error",
]

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

    ``key`` identifies the refused content (its digest, or the read error); ``data`` is the
    refused bytes, None when the file could not be read.
    """

    error: PolicyError
    key: str
    data: bytes | None


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
