"""For the store's real-filesystem tests: policy texts whose versions can be told apart, and a
way to wait (generous deadlines, never bare sleeps) for what a store applies or refuses."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import policyctl
from policyctl import PolicySnapshot, PolicyStore

from .policy import VALID

DEADLINE = 10.0


def write_atomically(path: Path, text: str) -> None:
    """Write ``path`` as a deployment does: a temporary file beside it, renamed over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def versioned(version: int) -> str:
    """The valid policy at ``version``."""
    # max_positions follows the version so a reader can check a snapshot is internally whole.
    return VALID.replace("version: 7", f"version: {version}").replace(
        "max_positions: 5", f"max_positions: {version % 50 + 1}"
    )


class Watching:
    """A store on a file, with a way to wait for a given version or error."""

    def __init__(self, store: PolicyStore) -> None:
        self.store = store
        self._changed = threading.Condition()
        self.applied: list[tuple[int, int]] = []
        self.refused: list[policyctl.PolicyError] = []
        store.subscribe(self._on_applied)
        store.subscribe_errors(self._on_refused)

    def _on_applied(self, old: PolicySnapshot, new: PolicySnapshot) -> None:
        with self._changed:
            self.applied.append((old.version, new.version))
            self._changed.notify_all()

    def _on_refused(self, error: policyctl.PolicyError) -> None:
        with self._changed:
            self.refused.append(error)
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[], bool]) -> None:
        with self._changed:
            assert self._changed.wait_for(predicate, DEADLINE), (self.applied, self.refused)

    def wait_version(self, version: int) -> None:
        """Until the store serves ``version`` and subscribers have been told of it."""
        self.wait_for(
            lambda: (
                self.store.current().version == version
                and any(new == version for _, new in self.applied)
            )
        )
