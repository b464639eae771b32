"""Faults that once made a store serve a policy nobody wrote, hang, or drop an error.

Real files, real inotify, real processes; each test reproduces a fault found by fault injection
and checks the class behind it, not only the one input.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import multiprocessing
import os
import random
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import policyctl
from policyctl import PolicySnapshot, PolicyStore
from policyctl.live._schedule import Trigger

from ..support.live import DEADLINE, Watching, versioned
from ..support.policy import VALID


def _complete(version: int) -> str:
    """A version whose prefix without its last line is itself a valid policy (the trap)."""
    return versioned(version).replace('last_updated: "2026-11-27T10:00:00Z"\n', "") + (
        f'last_updated: "2026-11-27T10:{version // 60 % 60:02d}:{version % 60:02d}Z"\n'
    )


def _rewrite_in_place(path: str, versions: int, seed: int) -> None:
    """A writer process: open with truncate, write in chunks with random pauses, close."""
    rng = random.Random(seed)
    for version in range(8, 8 + versions):
        text = _complete(version).encode()
        cut = text.rindex(b"last_updated")  # the prefix before it is a valid policy
        with open(path, "wb") as f:  # noqa: PTH123 (the plain in-place write under test)
            for chunk in (text[:cut], text[cut:]):
                f.write(chunk)
                f.flush()
                pause = rng.choice([0, 0, 0, 0.0005, 0.002, 0.008])
                if pause:
                    threading.Event().wait(pause)


@pytest.mark.slow  # soak: 2,000 rewrites by a writer process
def test_in_place_rewrites_never_serve_a_version_nobody_wrote(tmp_path: Path) -> None:
    """Soak: 2,000 in-place rewrites with pauses between chunks, where each prefix is a valid
    policy; 4 reader threads record every snapshot served: each is one complete version."""
    path = tmp_path / "policy.yaml"
    path.write_text(_complete(7))
    versions = 2000
    allowed = {_complete(v).encode() for v in range(7, 8 + versions)}
    served: dict[str, PolicySnapshot] = {}
    done = threading.Event()

    def read(store: PolicyStore) -> None:
        while not done.is_set():
            snap = store.current()
            served.setdefault(snap.digest, snap)

    with PolicyStore(path, env={}) as store:
        readers = [threading.Thread(target=read, args=(store,)) for _ in range(4)]
        for reader in readers:
            reader.start()
        writer = multiprocessing.get_context("spawn").Process(
            target=_rewrite_in_place, args=(str(path), versions, 11)
        )
        writer.start()
        writer.join(300)
        assert writer.exitcode == 0
        watching = Watching(store)
        store.refresh()
        watching.wait_for(lambda: store.current().version == 7 + versions)
        last = store.current().digest
        deadline = time.monotonic() + DEADLINE
        while last not in served and time.monotonic() < deadline:  # the readers see it too
            time.sleep(0.01)
        done.set()
        for reader in readers:
            reader.join()
    digests = {hashlib.sha256(text).hexdigest() for text in allowed}
    assert last in served  # not vacuous: the readers were reading the store the whole time
    nobody_wrote = [s.version for d, s in served.items() if d not in digests]
    assert not nobody_wrote, f"served versions nobody wrote: {nobody_wrote[:10]}"


def test_a_paused_writer_is_not_served_its_prefix(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(_complete(7))
    with PolicyStore(path, env={}, debounce=0.002) as store:
        watching = Watching(store)
        text = _complete(8).encode()
        cut = text.rindex(b"last_updated")
        with path.open("wb") as f:
            f.write(text[:cut])
            f.flush()
            threading.Event().wait(0.3)  # far longer than the debounce: the old store read here
            assert store.current().version == 7
            f.write(text[cut:])
        watching.wait_version(8)
        assert store.current().policy.last_updated == "2026-11-27T10:00:08Z"
        assert store.status().failures == 0


def test_a_relative_path_is_fixed_when_the_store_opens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    for directory, version in ((here, 7), (elsewhere, 9)):
        (directory / "policy").mkdir(parents=True)
        (directory / "policy" / "policy.yaml").write_text(versioned(version))
    monkeypatch.chdir(here)
    with PolicyStore("policy/policy.yaml", env={}, watch=False) as store:
        monkeypatch.chdir(elsewhere)
        store.refresh()
        assert store.current().version == 7
        assert store.current().source == here / "policy" / "policy.yaml"
        (here / "policy" / "policy.yaml").write_text(versioned(8))
        assert store.refresh() and store.current().version == 8


def test_close_during_the_settle_wait_returns(tmp_path: Path) -> None:
    """close() while a check waits to see whether a refused file settles: it used to loop
    forever on the lock, and status() with it."""
    path = tmp_path / "policy.yaml"
    path.write_text(VALID)
    store = PolicyStore(path, env={}, debounce=0.25)  # grace: 1 s
    waiting = threading.Event()
    settled = store._settled

    def noting(refused: str | None) -> bool:
        waiting.set()
        return settled(refused)

    store._settled = noting  # type: ignore[method-assign]
    path.write_text("version: [")
    assert waiting.wait(DEADLINE)
    closer = threading.Thread(target=store.close)
    closer.start()
    closer.join(DEADLINE)
    assert not closer.is_alive(), "close() hung"
    assert store.status().current_version == 7


def test_status_answers_while_a_check_holds_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(VALID)
    with PolicyStore(path, env={}) as store, store._check_lock:  # a check that never ends
        answered = threading.Event()

        def ask() -> None:
            store.status()
            store.current()
            answered.set()

        threading.Thread(target=ask, daemon=True).start()
        assert answered.wait(DEADLINE), "status() waited on a check"


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _socket(path: Path) -> None:
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    sock.close()


def _device(path: Path) -> None:
    path.symlink_to("/dev/zero")  # endless: reading it would never end either


def _directory(path: Path) -> None:
    path.mkdir()


NON_REGULAR = {"fifo": _fifo, "socket": _socket, "device": _device, "directory": _directory}


@pytest.mark.parametrize("kind", sorted(NON_REGULAR))
def test_anything_but_a_regular_file_is_refused_at_once(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "policy.yaml"
    NON_REGULAR[kind](path)
    with pytest.raises(policyctl.PolicySourceError) as caught:
        PolicyStore(path, env={})
    assert "not a regular file" in str(caught.value) or "directory" in str(caught.value)
    # The command line too, without blocking (exit 2).
    from policyctl.cli import main  # noqa: PLC0415

    assert main(["validate", str(path)]) == 2


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_running_store_refuses_a_file_replaced_by_a_non_regular_one(
    tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(VALID)
    with PolicyStore(path, env={}) as store:
        watching = Watching(store)
        odd = tmp_path / "odd"
        NON_REGULAR[kind](odd)
        odd.replace(path)
        watching.wait_for(lambda: bool(watching.refused))
        assert "not a regular file" in str(watching.refused[0])
        assert store.status().failures_by_kind["source"] == 1
        fixed = tmp_path / "fixed"
        fixed.write_text(versioned(8))
        fixed.replace(path)
        watching.wait_version(8)  # the worker was never stuck


def test_an_unexpected_exception_in_a_check_is_a_recorded_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(VALID)
    with PolicyStore(path, env={}) as store:
        watching = Watching(store)

        def overflow(*args: object, **kwargs: object) -> PolicySnapshot:
            raise OverflowError("int too large to convert to float")

        monkeypatch.setattr("policyctl.live._store.build_snapshot", overflow)
        path.write_text(versioned(8))
        watching.wait_for(lambda: bool(watching.refused))
        status = store.status()
        assert status.failures_by_kind == {"internal": 1}
        assert status.last_error is not None and status.last_error.kind == "internal"
        assert "OverflowError" in str(status.last_error)
        assert store.current().version == 7


@contextlib.contextmanager
def _inotify_instances_exhausted() -> Iterator[None]:
    """Use up this user's inotify instances (fs.inotify.max_user_instances), for real."""
    libc = ctypes.CDLL(None, use_errno=True)
    fds: list[int] = []
    try:
        while len(fds) < 100_000:
            fd = libc.inotify_init1(os.O_CLOEXEC)
            if fd < 0:
                assert ctypes.get_errno() == errno.EMFILE
                break
            fds.append(fd)
        yield
    finally:
        for fd in fds:
            os.close(fd)


def test_a_store_past_the_inotify_limit_polls_instead(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(VALID)
    with _inotify_instances_exhausted(), PolicyStore(path, env={}) as store:
        assert store.status().mode == "polling"
        watching = Watching(store)
        path.write_text(versioned(8))
        watching.wait_version(8)


def test_an_idle_store_is_not_woken_by_its_own_reads(tmp_path: Path) -> None:
    """The store asks inotify for closes without writing (a barrier), and its own reads cause
    them: they must never wake it for another check, or it would read in a loop."""
    path = tmp_path / "policy.yaml"
    path.write_text(VALID)
    with PolicyStore(path, env={}, reconcile_interval=3600) as store:
        checks = 0
        check_once = store._check_once

        def counting(trigger: Trigger) -> object:
            nonlocal checks
            checks += 1
            return check_once(trigger)

        store._check_once = counting  # type: ignore[assignment,method-assign]
        for _ in range(3):
            store.refresh()  # reads the file: three closes-without-writing reported
        threading.Event().wait(1.0)
        assert checks <= 5, checks  # the three refreshes, and at most a follow-up or two


@pytest.mark.slow  # waits for a brake to start and lift in real time
def test_a_brake_centuries_ahead_leaves_the_timer_alive(tmp_path: Path) -> None:
    """Waiting until the year 2400 is longer than a wait can be: the worker must survive it and
    still start and lift a near brake added later."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(VALID)
    brakes = tmp_path / "overrides"
    brakes.mkdir()
    brakes.joinpath("far.yaml").write_text(
        'reason: far\nfrom: "2400-01-01T00:00:00Z"\nuntil: "2400-01-02T00:00:00Z"\n'
        "set: {max_positions: 3}\n"
    )
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    with PolicyStore(policy, env={}, watch=False) as store:
        time.sleep(0.3)  # the worker is asleep until 2400 (or dead)
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
        until = start + timedelta(seconds=2)
        brakes.joinpath("near.yaml").write_text(
            f'reason: near\nfrom: "{start:{stamp}}"\nuntil: "{until:{stamp}}"\n'
            "set: {max_positions: 2}\n"
        )
        store.refresh()
        deadline = time.monotonic() + 20
        while store.current().policy.max_positions != 2:
            assert time.monotonic() < deadline, "the near brake never started"
            time.sleep(0.05)
        while store.current().policy.max_positions != 5:
            assert time.monotonic() < deadline, "the near brake never lifted"
            time.sleep(0.05)
