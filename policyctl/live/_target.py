"""Which directories a store watches for one policy file, and which events concern it.

Pure path logic, apart from the watchdog seam, so the Kubernetes ConfigMap layout
(``policy.yaml -> ..data/policy.yaml``, ``..data`` swapped by rename) is decided in one place.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from ..pipeline import brake_name
from ._schedule import EventKind

__all__ = ["WatchTarget", "is_mount_point", "warn_if_mount_point"]

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


class WatchTarget:
    """The policy file as the watcher sees it: its directory, that directory's parent, and the
    directory of the file a symlinked path resolves to; and the overrides directory (with its
    parent, to see it created or swapped)."""

    def __init__(self, path: Path, overrides: Path | None = None) -> None:
        self._path = path
        self._resolved = ""
        self._overrides = str(overrides.absolute()) if overrides is not None else None
        self._links: set[str] = set()  # symlinked directories on the path (git-sync's link)
        self._link_parents: set[str] = set()

    def directories(self) -> list[Path]:
        """The file's directory, its parent (to see the directory itself come back), the
        directory of the file the path resolves to, if it is elsewhere, and the overrides
        directory and its parent."""
        return self._with_overrides(self._policy_directories())

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

    def _with_overrides(self, wanted: list[Path]) -> list[Path]:
        if self._overrides is not None:
            overrides = Path(self._overrides)
            wanted += [d for d in (overrides, overrides.parent) if d not in wanted]
        return wanted

    def _in_overrides(self, *paths: str) -> bool:
        return self._overrides is not None and any(
            p and str(Path(p).parent) == self._overrides for p in paths
        )

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
            if event_path in (str(directory), self._resolved) or Path(parent) != directory.parent:
                return True
        return False

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
