"""Shared by the store's real-filesystem tests: a store on a file, in inotify and polling mode,
with a way to wait (generous deadlines, never bare sleeps) for what it applies or refuses."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import policyctl
from policyctl import PolicySnapshot, PolicyStore

from ..conftest import VALID

DEADLINE = 10.0


def _v(version: int) -> str:
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


@pytest.fixture(params=["inotify", "polling"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def open_store(mode: str) -> Iterator[Callable[[Path], Watching]]:
    stores: list[PolicyStore] = []

    def _open(path: Path) -> Watching:
        poll = 0.05 if mode == "polling" else None
        store = PolicyStore(path, env={}, poll_interval=poll)
        stores.append(store)
        assert store.status().mode == mode
        return Watching(store)

    yield _open
    for store in stores:
        store.close()


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    directory = tmp_path / "config"
    directory.mkdir()
    path = directory / "policy.yaml"
    path.write_text(_v(7))
    return path
