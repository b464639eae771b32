"""Fixtures for the store's real-filesystem tests: a store on a file, in inotify and polling
mode, watched (tests/support/live.py) for what it applies or refuses."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from policyctl import PolicyStore

from ..support.live import Watching, versioned


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
    path.write_text(versioned(7))
    return path
