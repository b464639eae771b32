"""The seam around watchdog: a few directories watched, one callback per relevant event.

Everything watchdog-specific lives here, so the store's decisions can be tested with scripted
events (tests replace `DirectoryWatcher`) and the rest of the package never imports watchdog.

`WatchTarget` decides which directories a store watches for one policy file, and which events
concern it: pure path logic, so the Kubernetes ConfigMap layout (``policy.yaml ->
..data/policy.yaml``, ``..data`` swapped by rename) and git-sync's link are decided in one place.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import threading
from collections.abc import Callable, Collection
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

from ..pipeline import brake_name
from ._schedule import EventKind

__all__ = [
    "DEFAULT_POLL_INTERVAL",
    "Classifier",
    "DirectoryWatcher",
    "WatchTarget",
    "is_mount_point",
    "note_if_linked",
    "warn_if_mount_point",
]


class Classifier(Protocol):
    """What an event means for the watched file (`WatchTarget.classify`)."""

    def __call__(
        self, event_type: str, src: str, dest: str, *, is_directory: bool, polling: bool
    ) -> EventKind | None: ...


log = logging.getLogger(__name__)

DEFAULT_POLL_INTERVAL = 1.0

# The events asked of the kernel. Not "opened": every read causes one, for nothing. A close
# without writing is asked for only where the policy file is: the close of the store's own
# read, arriving in order behind every event before it, tells it that a writer's truncate made
# before that read has been reported (see Schedule.reported_through); it never triggers a
# check, so reads cannot loop. Elsewhere it would report every read and every listing of
# everything there (in a pod's /etc/policyctl: the trust directory, listed at each check).
_CHANGES: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileClosedEvent,
    DirCreatedEvent,
    DirDeletedEvent,
    DirModifiedEvent,
    DirMovedEvent,
]
_CHANGES_AND_READS: list[type[FileSystemEvent]] = [*_CHANGES, FileClosedNoWriteEvent]
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
        self._watches: dict[tuple[str, int, bool], Any] = {}
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

    def watch(self, directories: list[Path], readers: Collection[Path] = ()) -> None:
        """Watch exactly ``directories`` (those that exist), re-adding any that were replaced;
        in ``readers`` (the policy file's), reads are reported too (see `_CHANGES_AND_READS`)."""
        with self._lock:
            dead, self._dead = self._dead, set()
        for key in [k for k in self._watches if k[0] in dead]:
            with contextlib.suppress(KeyError, OSError):
                self._observer.unschedule(self._watches.pop(key))
        wanted: dict[tuple[str, int, bool], Path] = {}
        inodes: set[int] = set()
        for directory in sorted(directories, key=lambda d: d not in readers):
            try:
                inode = directory.stat().st_ino
            except OSError:
                continue  # deleted for now: the watch on its parent sees it come back
            if inode not in inodes:  # one directory reached by two paths: one watch, not two
                inodes.add(inode)
                wanted[(str(directory), inode, directory in readers)] = directory
        # The new watches first, then the old ones go: a directory that only starts or stops
        # reporting reads (the policy's link re-targeted there) is never unwatched in between,
        # when a write there would be missed until the reconciler.
        for key, directory in wanted.items():
            if key in self._watches:
                continue
            try:
                reads = _CHANGES_AND_READS if key[2] else _CHANGES
                self._watches[key] = self._observer.schedule(
                    self._handler, str(directory), event_filter=reads
                )
            except OSError as e:
                if e.errno in (errno.ENOSPC, errno.EMFILE) and self.mode == "inotify":
                    self._fall_back_to_polling(e)
                    self.watch(directories, readers)
                    return
                log.debug("cannot watch %s: %s", directory, e)
        for key in [k for k in self._watches if k not in wanted]:
            with contextlib.suppress(KeyError, OSError):  # its watch may have ended with it
                self._observer.unschedule(self._watches.pop(key))

    def covers(self, path: Path) -> bool:
        """Whether the directory ``path`` resolves into is watched now, reads and all (a
        directory just swapped in is not, until the next `watch`): only then can its events act
        as a barrier."""
        try:
            inode = path.resolve().parent.stat().st_ino
        except (OSError, RuntimeError):
            return False
        return any(key[1] == inode and key[2] for key in list(self._watches))

    def stop(self) -> None:
        self._watches.clear()
        self._observer.stop()
        if self._observer.is_alive() and self._observer is not threading.current_thread():
            self._observer.join()


log = logging.getLogger(__name__)


_MOUNTINFO = Path("/proc/self/mountinfo")


def _unescape(field: str) -> str:
    """A mountinfo path: space, tab, newline and backslash are written as octal escapes."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def is_mount_point(path: Path) -> bool:
    """Whether ``path`` is a mount point of its own: another device than its directory, or
    (a bind mount from the same filesystem, which a Kubernetes subPath often is) listed as a
    mount point in /proc/self/mountinfo."""
    if os.path.ismount(path):
        return True
    try:
        lines = _MOUNTINFO.read_text(encoding="utf-8", errors="surrogateescape").splitlines()
    except OSError:
        return False  # not Linux, or no /proc: the device test above is all there is
    try:
        target = str(path.resolve())  # the kernel lists canonical paths
    except (OSError, RuntimeError):
        return False
    return any(
        len(fields) > 4 and _unescape(fields[4]) == target
        for fields in (line.split(" ") for line in lines)
    )


def warn_if_mount_point(path: Path) -> None:
    """A file that is itself a mount point never sees updates (a Kubernetes subPath mount)."""
    if is_mount_point(path):
        log.warning(
            "%s is a mount point (a Kubernetes subPath mount?): such mounts never see"
            " updates; mount the ConfigMap's directory instead",
            path,
        )


def note_if_linked(path: Path) -> None:
    """Say plainly that the policy file is a symbolic link (outside a ConfigMap volume, whose
    ``policy.yaml -> ..data/policy.yaml`` is its layout): the store serves the target, while a
    review of git's objects refuses such a link."""
    if path.is_symlink() and not (path.parent / "..data").is_symlink():
        log.info(
            "%s is a symbolic link to %s: the content served is the target's", path, path.readlink()
        )


class WatchTarget:
    """The policy file as the watcher sees it: its directory, that directory's parent, and the
    directory of the file a symlinked path resolves to; and the overrides directory (with its
    parent, to see it created or swapped)."""

    def __init__(self, path: Path, overrides: Path | None = None) -> None:
        self._path = path
        self._resolved = ""
        self._brakes_dir = str(overrides.absolute()) if overrides is not None else None
        self._brakes_resolved: str | None = None  # where a symlinked brakes' directory points
        self._links: set[str] = set()  # symlinked directories on the path (git-sync's link)
        self._link_parents: set[str] = set()

    def watched(self) -> tuple[list[Path], set[Path]]:
        """What `DirectoryWatcher.watch` takes: the `directories`, and among them those where
        the file's own reads are reported (its directory, and its target's: the barrier of
        `stays_put`), found in the same look."""
        directories = self.directories()
        path = self._path.absolute()
        return directories, {
            path.parent,
            *([Path(self._resolved).parent] if self._resolved else []),
        }

    def directories(self) -> list[Path]:
        """The file's directory, its parent (to see the directory itself come back), the
        directory of the file the path resolves to, if it is elsewhere, and the overrides
        directory and its parent."""
        return self._with_brakes_dir(self._policy_directories())

    def _policy_directories(self) -> list[Path]:
        path = self._path.absolute()
        wanted = [path.parent]
        if path.parent.parent != path.parent:
            wanted.append(path.parent.parent)
        # A symlinked directory on the way (git-sync's <root>/current -> .worktrees/<sha>) is
        # swapped by a rename in ITS parent: watch that parent too, or the swap goes unseen.
        links = [a for a in path.parents if a.is_symlink()]
        self._links = {str(a) for a in links}
        self._link_parents = {str(a.parent) for a in links}
        wanted += [a.parent for a in links if a.parent not in wanted]
        try:
            resolved = path.resolve(strict=True)
        except OSError:
            self._resolved = ""
            return wanted
        self._resolved = str(resolved)
        if resolved.parent not in wanted:
            wanted.append(resolved.parent)
        return wanted

    def _with_brakes_dir(self, wanted: list[Path]) -> list[Path]:
        if self._brakes_dir is not None:
            overrides = Path(self._brakes_dir)
            # A symlinked brakes' directory is watched where it points: a watch on the link
            # sees the link, never the files (watchdog does not follow it), and where it points
            # changes when the link is swapped (then a check re-watches the new place).
            resolved = overrides.resolve() if overrides.is_symlink() else None
            self._brakes_resolved = str(resolved) if resolved is not None else None
            places = (resolved or overrides, overrides.parent)
            wanted += [d for d in places if d not in wanted]
        return wanted

    def _in_overrides(self, *paths: str) -> bool:
        places = {self._brakes_dir, self._brakes_resolved} - {None}
        return any(p and str(Path(p).parent) in places for p in paths)

    def relevant(self, src: str, dest: str) -> bool:
        """Whether an event (``src`` moved to ``dest``, or ``dest`` empty) may concern the file."""
        # Any change inside the watched directories may be ours (renames, ..data swaps); in the
        # grandparent, only the directory itself (deleted, re-created, renamed) matters.
        directory = self._path.absolute().parent
        for event_path in (src, dest):
            if not event_path:
                continue
            parent = str(Path(event_path).parent)
            if parent in self._link_parents and parent != str(directory):
                # Where a symlinked directory is swapped (git-sync's root), only the link
                # itself matters: not the temporary link made just before the swap.
                if event_path in self._links:
                    return True
                continue
            if parent == str(directory) and not self._beside_ours(event_path):
                continue  # a file the store does not read (a decision log kept beside it)
            if event_path in (str(directory), self._resolved) or Path(parent) != directory.parent:
                return True
        return False

    def _beside_ours(self, event_path: str) -> bool:
        """Whether an entry of the policy's directory may be ours: the file (or what it links
        to), the brakes' directory, or a hidden entry (a ConfigMap's ``..data`` and its
        timestamped directories). Anything else there is someone else's file."""
        ours = (str(self._path.absolute()), self._resolved, self._brakes_dir)
        return event_path in ours or Path(event_path).name.startswith(".")

    def classify(
        self, event_type: str, src: str, dest: str, *, is_directory: bool, polling: bool
    ) -> EventKind | None:
        """What an event says about the file: None if it does not concern it.

        Only events on the file itself say a write is open (``modified``, ``created``) or done
        (``closed`` after writing); a rename onto it, or any swap in its directories (the
        ConfigMap's ``..data``), is an atomic replacement. Polling sees snapshots of the directory,
        never a close, so everything it reports is just ``changed``.
        """
        ours = (str(self._path.absolute()), self._resolved)
        if event_type == "closed_no_write":  # somebody's read: a barrier, never a change
            return "read" if src in ours and not polling else None
        brake = self._in_overrides(src, dest)
        if not (brake or self.relevant(src, dest)):
            return None
        if polling:
            return "changed"
        if event_type == "moved":
            return "changed" if src in ours and dest not in ours else "renamed"
        if brake and not is_directory and brake_name(Path(src).name):
            # An override file written in place holds checks back until it is closed, as the
            # policy file does (a ConfigMap's ..data swap is a move, above).
            if event_type == "closed":
                return "closed"
            return "writing" if event_type in ("modified", "created") else "changed"
        if is_directory or src not in ours:
            return "changed"
        if event_type == "closed":
            return "closed"
        return "writing" if event_type in ("modified", "created") else "changed"
