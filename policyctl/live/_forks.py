"""Stores in a forked child (gunicorn --preload) start their threads again: a fork copies the
store but not its threads, and a lock a parent's thread held stays held forever in the child."""

from __future__ import annotations

import os
import weakref
from typing import Protocol

__all__ = ["forget", "remember"]


class _Restartable(Protocol):
    def _restart_after_fork(self) -> None: ...


_live: weakref.WeakSet[_Restartable] = weakref.WeakSet()


def remember(store: _Restartable) -> None:
    _live.add(store)


def forget(store: _Restartable) -> None:
    _live.discard(store)


def _after_fork_in_child() -> None:
    for store in list(_live):
        store._restart_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)
