"""Brakes in a running store, on real files and real clocks: applied at ``from`` and lifted at
``until`` by the store's own timer (no file event), in inotify and polling mode and in a
Kubernetes ConfigMap layout; a bad override file is refused like a bad policy file."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from policyctl import PolicySnapshot, PolicyStore

from ..support.live import DEADLINE, Watching, versioned, write_atomically
from ..support.policy import VALID


def _at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _override(settings: str, start: datetime | None, until: datetime) -> str:
    start_line = f'from: "{_at(start)}"\n' if start else ""
    return f'reason: "test window"\n{start_line}until: "{_at(until)}"\nset: {settings}\n'


class Edges:
    """Every (moment, active brake names, risk mode) a subscriber was told of."""

    def __init__(self, store: PolicyStore) -> None:
        self.seen: list[tuple[datetime, tuple[str, ...], str]] = []
        self._cond = threading.Condition()
        store.subscribe(self._on)

    def _on(self, _old: PolicySnapshot, new: PolicySnapshot) -> None:
        with self._cond:
            names = tuple(b.name for b in new.brakes)
            self.seen.append((datetime.now(UTC), names, new.policy.risk_mode.value))
            self._cond.notify_all()

    def wait(
        self, predicate: Callable[[list[tuple[datetime, tuple[str, ...], str]]], bool]
    ) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: predicate(self.seen), DEADLINE), self.seen


def _window_is_kept(edges: Edges, start: datetime, until: datetime) -> None:
    edges.wait(lambda seen: any(names == ("rate",) for _, names, _ in seen))
    edges.wait(lambda seen: bool(seen) and seen[-1][1] == ())
    on = next(t for t, names, _ in edges.seen if names == ("rate",))
    off = next(t for t, names, _ in edges.seen if t > on and names == ())
    assert start <= on < until <= off
    assert [mode for _, names, mode in edges.seen if names] == ["DEFENSIVE"]


def test_a_brake_starts_and_lifts_by_itself(
    policy: Path, open_store: Callable[[Path], Watching]
) -> None:
    now = datetime.now(UTC)
    start, until = now + timedelta(seconds=0.3), now + timedelta(seconds=0.6)
    write_atomically(
        policy.parent / "overrides" / "rate.yaml", _override("{risk_mode: DEFENSIVE}", start, until)
    )
    w = open_store(policy)
    assert w.store.current().policy.risk_mode == "NORMAL" and not w.store.current().brakes
    edges = Edges(w.store)
    _window_is_kept(edges, start, until)
    status = w.store.status()
    assert status.brakes == () and status.next_change is None and status.failures == 0


def test_a_store_without_watching_still_keeps_the_window(policy: Path) -> None:
    now = datetime.now(UTC)
    start, until = now + timedelta(seconds=0.3), now + timedelta(seconds=0.6)
    write_atomically(
        policy.parent / "overrides" / "rate.yaml", _override("{risk_mode: DEFENSIVE}", start, until)
    )
    with PolicyStore(policy, env={}, watch=False) as store:
        _window_is_kept(Edges(store), start, until)


def test_a_store_opened_inside_the_window_applies_it_at_once(policy: Path) -> None:
    now = datetime.now(UTC)
    write_atomically(
        policy.parent / "overrides" / "rate.yaml",
        _override("{max_positions: 1}", now - timedelta(minutes=1), now + timedelta(hours=1)),
    )
    with PolicyStore(policy, env={}, watch=False) as store:
        assert store.current().policy.max_positions == 1
        assert [b.name for b in store.status().brakes] == ["rate"]


def test_an_override_added_and_removed_while_running(
    policy: Path, open_store: Callable[[Path], Watching]
) -> None:
    w = open_store(policy)  # the overrides directory does not exist yet
    edges = Edges(w.store)
    until = datetime.now(UTC) + timedelta(hours=1)
    brake = policy.parent / "overrides" / "halt.yaml"
    write_atomically(brake, _override("{allowed_symbols: []}", None, until))
    edges.wait(lambda seen: any(names == ("halt",) for _, names, _ in seen))
    assert w.store.current().policy.allowed_symbols == ()
    brake.write_text(_override("{allowed_symbols: [BTCUSDT]}", None, until))  # in place
    edges.wait(lambda _: w.store.current().policy.allowed_symbols == ("BTCUSDT",))
    brake.unlink()
    edges.wait(lambda seen: seen[-1][1] == ())
    assert w.store.current().policy.allowed_symbols == ("BTCUSDT", "ETHUSDT")


def test_a_bad_override_is_refused_and_the_last_good_policy_kept(
    policy: Path, open_store: Callable[[Path], Watching]
) -> None:
    w = open_store(policy)
    brake = policy.parent / "overrides" / "bad.yaml"
    write_atomically(brake, 'reason: "x"\nuntil: "2026-11-28T20:00:00Z"\nset: {version: 9}\n')
    w.wait_for(lambda: bool(w.refused))
    status = w.store.status()
    assert status.last_error is not None and status.last_error.issues[0].source == str(brake)
    assert status.failures == 1 and w.store.current().version == 7
    until = datetime.now(UTC) + timedelta(hours=1)
    write_atomically(brake, _override("{max_positions: 2}", None, until))
    w.wait_for(lambda: w.store.current().policy.max_positions == 2)
    assert w.store.status().last_error is None


def _configmap(directory: Path, files: dict[str, str], stamp: str) -> None:
    """A ConfigMap volume as the kubelet lays it out and swaps it (atomic_writer.go)."""
    directory.mkdir(exist_ok=True)
    data_dir = directory / f"..{stamp}"
    data_dir.mkdir()
    for name, text in files.items():
        (data_dir / name).write_text(text)
    old = (directory / "..data").resolve() if (directory / "..data").exists() else None
    (directory / "..data_tmp").symlink_to(data_dir.name)
    (directory / "..data_tmp").replace(directory / "..data")
    for entry in list(directory.iterdir()):
        if not entry.name.startswith("..") and entry.name not in files:
            entry.unlink()
    for name in files:
        if not (directory / name).is_symlink():
            (directory / name).symlink_to(f"..data/{name}")
    if old is not None:
        shutil.rmtree(old)


def test_overrides_from_a_configmap(tmp_path: Path, open_store: Callable[[Path], Watching]) -> None:
    policy_dir, overrides = tmp_path / "policy", tmp_path / "policy" / "overrides"
    _configmap(policy_dir, {"policy.yaml": versioned(7)}, "2026_11_28_10_00_00.1")
    _configmap(overrides, {}, "2026_11_28_10_00_00.1")
    w = open_store(policy_dir / "policy.yaml")
    edges = Edges(w.store)
    until = datetime.now(UTC) + timedelta(hours=1)
    _configmap(
        overrides,
        {"calm.yaml": _override("{risk_mode: DEFENSIVE}", None, until)},
        "2026_11_28_10_05_00.2",
    )
    edges.wait(lambda seen: any(names == ("calm",) for _, names, _ in seen))
    _configmap(overrides, {}, "2026_11_28_10_10_00.3")
    edges.wait(lambda seen: seen[-1][1] == ())
    assert w.store.status().failures == 0


def test_a_brake_found_by_refresh_runs_on_time_without_watching(policy: Path) -> None:
    with PolicyStore(policy, env={}, watch=False) as store:
        now = datetime.now(UTC)
        start, until = now + timedelta(seconds=0.3), now + timedelta(seconds=0.6)
        text = _override("{risk_mode: DEFENSIVE}", start, until)
        write_atomically(policy.parent / "overrides" / "rate.yaml", text)
        edges = Edges(store)
        assert store.refresh() and not store.current().brakes
        _window_is_kept(edges, start, until)


def test_a_short_window_in_a_configmap(
    tmp_path: Path, open_store: Callable[[Path], Watching]
) -> None:
    policy_dir, overrides = tmp_path / "policy", tmp_path / "policy" / "overrides"
    _configmap(policy_dir, {"policy.yaml": versioned(7)}, "2026_11_28_10_00_00.1")
    now = datetime.now(UTC)
    start, until = now + timedelta(seconds=0.3), now + timedelta(seconds=0.6)
    brake = _override("{risk_mode: DEFENSIVE}", start, until)
    _configmap(overrides, {"rate.yaml": brake}, "2026_11_28_10_00_00.1")
    w = open_store(policy_dir / "policy.yaml")
    _window_is_kept(Edges(w.store), start, until)


@pytest.mark.parametrize("swap", [False, True])
def test_a_symlinked_brakes_directory_is_watched_where_it_points(
    tmp_path: Path, swap: bool
) -> None:
    """A watch on the link sees the link, never the files in it; and a link swapped to another
    directory is followed at once, not at the reconciler half a minute later."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(VALID)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "overrides").symlink_to("a")
    until = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with PolicyStore(policy, env={}, reconcile_interval=3600) as store:
        target = tmp_path / "a"
        if swap:
            (tmp_path / "next").symlink_to("b")
            (tmp_path / "next").replace(tmp_path / "overrides")  # git-sync's way: one rename
            target = tmp_path / "b"
            time.sleep(0.3)
        (target / "calm.yaml").write_text(
            f'reason: calm\nuntil: "{until}"\nset: {{max_positions: 2}}\n'
        )
        deadline = time.monotonic() + 5
        while store.current().policy.max_positions != 2:
            assert time.monotonic() < deadline, "the brake was not seen"
            time.sleep(0.02)


def _brake(until_hours: float, settings: str) -> str:
    until = (datetime.now(UTC) + timedelta(hours=until_hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f'reason: r\nuntil: "{until}"\nset: {settings}\n'


def _eventually(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_a_valid_brake_applies_while_the_policy_file_is_refused(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(VALID)
    (tmp_path / "overrides").mkdir()
    with PolicyStore(policy, env={}, reconcile_interval=3600) as store:
        policy.write_text(VALID.replace("max_positions: 5", "max_positions: [oops"))
        _eventually(lambda: store.status().last_error is not None, "the file refused")
        (tmp_path / "overrides" / "calm.yaml").write_text(_brake(1, "{max_positions: 2}"))
        _eventually(lambda: store.current().policy.max_positions == 2, "the brake applied")
        assert store.status().last_error is not None  # the file is still refused, and says so
        assert store.current().version == 7  # over the last good policy


def test_a_valid_policy_applies_while_a_brake_file_is_refused(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(VALID)
    brakes = tmp_path / "overrides"
    brakes.mkdir()
    (brakes / "calm.yaml").write_text(_brake(1, "{max_positions: 3}"))
    with PolicyStore(policy, env={}, reconcile_interval=3600) as store:
        assert store.current().policy.max_positions == 3
        (brakes / "calm.yaml").write_text("reason: [broken\n")  # the brake being edited, broken
        (brakes / "new.yaml").write_text("until: nonsense\n")  # a new one, broken
        _eventually(lambda: store.status().last_error is not None, "the brakes refused")
        tighter = VALID.replace("version: 7", "version: 8").replace("NORMAL", "DEFENSIVE")
        policy.write_text(tighter)
        _eventually(lambda: store.current().version == 8, "the policy applied")
        assert store.current().policy.risk_mode == "DEFENSIVE"
        assert store.current().policy.max_positions == 3  # calm's last good version stays
        assert store.status().last_error is not None
