"""The seam around watchdog: a few directories watched, one callback per relevant event.

Everything watchdog-specific lives here, so the store's decisions can be tested with scripted
events (tests replace `DirectoryWatcher`) and the rest of the package never imports watchdog.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirModifiedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileClosedNoWriteEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from ._schedule import EventKind

__all__ = ["DEFAULT_POLL_INTERVAL", "Classifier", "DirectoryWatcher"]


class Classifier(Protocol):
    """What an event means for the watched file (`WatchTarget.classify`)."""

    def __call__(
        self, event_type: str, src: str, dest: str, *, is_directory: bool, polling: bool
    ) -> EventKind | None: ...


log = logging.getLogger(__name__)

DEFAULT_POLL_INTERVAL = 1.0

# The events asked of the kernel. Not "opened": every read causes one, for nothing. A close
# without writing is asked for: the close of the store's own read, arriving in order behind
# every event before it, tells it that a writer's truncate made before that read has been
# reported (see Schedule.reported_through); it never triggers a check, so reads cannot loop.
_EVENT_FILTER: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileClosedEvent,
    FileClosedNoWriteEvent,
    DirCreatedEvent,
    DirDeletedEvent,
    DirModifiedEvent,
    DirMovedEvent,
]
_IGNORED_EVENTS = frozenset({"opened"})


class DirectoryWatcher:
    """The seam around watchdog: watches a few directories, calls ``notify(kind)`` for each
    event `classify` says concerns the file."""

    def __init__(
        self,
        notify: Callable[[EventKind], None],
        classify: Classifier,
        poll_interval: float | None,
    ) -> None:
        watcher = self

        class _Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                if event.event_type in _IGNORED_EVENTS:
                    return
                src = os.fsdecode(event.src_path)
                dest = os.fsdecode(event.dest_path) if event.dest_path else ""
                if event.is_directory and event.event_type in ("deleted", "moved"):
                    watcher.forget(src)  # its watch died with it, even if the inode comes back
                kind = classify(
                    event.event_type,
                    src,
                    dest,
                    is_directory=event.is_directory,
                    polling=watcher.mode == "polling",
                )
                if kind is not None:
                    notify(kind)

        self._handler = _Handler()
        self._poll_interval = poll_interval
        self._watches: dict[tuple[str, int], Any] = {}
        self._dead: set[str] = set()  # watched directories seen deleted, guarded by _lock
        self._lock = threading.Lock()
        self._observer = self._new_observer(polling=poll_interval is not None)

    @property
    def mode(self) -> str:
        return "polling" if isinstance(self._observer, PollingObserver) else "inotify"

    def _new_observer(self, *, polling: bool) -> Any:
        if not polling:
            try:
                return self._started(Observer())
            except OSError as e:  # EMFILE/ENOSPC: the inotify limits, met at creation too
                self._log_fallback(e)
        return self._started(PollingObserver(timeout=self._poll_interval or DEFAULT_POLL_INTERVAL))

    @staticmethod
    def _started(observer: Any) -> Any:
        observer.daemon = True
        observer.start()
        return observer

    def _fall_back_to_polling(self, error: OSError) -> None:
        self._log_fallback(error)
        self.stop()
        self._observer = self._new_observer(polling=True)

    def _log_fallback(self, error: OSError) -> None:
        log.warning(
            "inotify unavailable (%s); polling every %ss instead. Raise fs.inotify.max_user_watches"
            " or max_user_instances to watch without polling",
            error,
            self._poll_interval or DEFAULT_POLL_INTERVAL,
        )

    def forget(self, directory: str) -> None:
        """Mark a directory's watch dead (called on watchdog's thread; acted on in `watch`)."""
        with self._lock:
            self._dead.add(directory)

    def watch(self, directories: list[Path]) -> None:
        """Watch exactly ``directories`` (those that exist), re-adding any that were replaced."""
        with self._lock:
            dead, self._dead = self._dead, set()
        for key in [k for k in self._watches if k[0] in dead]:
            with contextlib.suppress(KeyError, OSError):
                self._observer.unschedule(self._watches.pop(key))
        wanted: dict[tuple[str, int], Path] = {}
        inodes: set[int] = set()
        for directory in directories:
            try:
                inode = directory.stat().st_ino
            except OSError:
                continue  # deleted for now: the watch on its parent sees it come back
            if inode not in inodes:  # one directory reached by two paths: one watch, not two
                inodes.add(inode)
                wanted[(str(directory), inode)] = directory
        for key in [k for k in self._watches if k not in wanted]:
            with contextlib.suppress(KeyError, OSError):  # its watch may have ended with it
                self._observer.unschedule(self._watches.pop(key))
        for key, directory in wanted.items():
            if key in self._watches:
                continue
            try:
                self._watches[key] = self._observer.schedule(
                    self._handler, str(directory), event_filter=_EVENT_FILTER
                )
            except OSError as e:
                if e.errno in (errno.ENOSPC, errno.EMFILE) and self.mode == "inotify":
                    self._fall_back_to_polling(e)
                    self.watch(directories)
                    return
                log.debug("cannot watch %s: %s", directory, e)

    def covers(self, path: Path) -> bool:
        """Whether the directory ``path`` resolves into is watched now (a directory just
        swapped in is not, until the next `watch`): only then can its events act as a barrier."""
        try:
            inode = path.resolve().parent.stat().st_ino
        except (OSError, RuntimeError):
            return False
        return any(key[1] == inode for key in list(self._watches))

    def stop(self) -> None:
        self._watches.clear()
        self._observer.stop()
        if self._observer.is_alive() and self._observer is not threading.current_thread():
            self._observer.join()
