"""The store's subscribers: added and removed under a lock, read as one immutable tuple."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["Subscribers"]

C = TypeVar("C", bound=Callable[..., object])


class Subscribers(Generic[C]):
    """Callbacks, published as a tuple: an outcome carries the tuple as it was when decided."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.all: tuple[C, ...] = ()

    def add(self, callback: C) -> Callable[[], None]:
        """Add ``callback``; return the function that removes it."""
        with self._lock:
            self.all = (*self.all, callback)

        def remove() -> None:
            with self._lock:
                self.all = tuple(c for c in self.all if c is not callback)

        return remove

    def after_fork(self) -> None:
        """A lock held by a thread of the parent stays held forever in the child."""
        self._lock = threading.Lock()
