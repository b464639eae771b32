"""Which directories a store watches for one policy file, and which events concern it.

Pure path logic, apart from the watchdog seam, so the Kubernetes ConfigMap layout
(``policy.yaml -> ..data/policy.yaml``, ``..data`` swapped by rename) is decided in one place.
"""

from __future__ import annotations

from pathlib import Path

from ._schedule import EventKind

__all__ = ["WatchTarget"]


class WatchTarget:
    """The policy file as the watcher sees it: its directory, that directory's parent, and the
    directory of the file a symlinked path resolves to."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._resolved = ""

    def directories(self) -> list[Path]:
        """The file's directory, its parent (to see the directory itself come back), and the
        directory of the file the path resolves to, if it is elsewhere."""
        path = self._path.absolute()
        wanted = [path.parent]
        if path.parent.parent != path.parent:
            wanted.append(path.parent.parent)
        try:
            resolved = path.resolve(strict=True)
        except OSError:
            self._resolved = ""
            return wanted
        self._resolved = str(resolved)
        if resolved.parent not in wanted:
            wanted.append(resolved.parent)
        return wanted

    def relevant(self, src: str, dest: str) -> bool:
        """Whether an event (``src`` moved to ``dest``, or ``dest`` empty) may concern the file."""
        # Any change inside the watched directories may be ours (renames, ..data swaps); in the
        # grandparent, only the directory itself (deleted, re-created, renamed) matters.
        directory = self._path.absolute().parent
        for event_path in (src, dest):
            if event_path and (
                event_path in (str(directory), self._resolved)
                or Path(event_path).parent != directory.parent
            ):
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
        if not self.relevant(src, dest):
            return None
        if polling:
            return "changed"
        if event_type == "moved":
            return "changed" if src in ours and dest not in ours else "renamed"
        if is_directory or src not in ours:
            return "changed"
        if event_type == "closed":
            return "closed"
        return "writing" if event_type in ("modified", "created") else "changed"
