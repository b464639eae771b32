"""PolicyStore, tier 2: real files, real inotify (and watchdog's polling observer), real threads.

Every write style a policy file meets in practice, each waited for with an Event and a generous
deadline: a test fails when the change is not seen, never because a machine is slow.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from watchdog.observers import Observer

import policyctl
from policyctl import PolicyStore

from ..support.live import DEADLINE, Watching, versioned
from ..support.policy import VALID


def test_in_place_write(policy: Path, open_store: Callable[[Path], Watching]) -> None:
    w = open_store(policy)
    policy.write_text(versioned(8))
    w.wait_version(8)
    with policy.open("r+") as f:  # truncate, then rewrite through the same descriptor
        f.truncate(0)
        f.flush()
        f.write(versioned(9))
    w.wait_version(9)
    assert w.store.status().failures == 0


def test_temp_file_then_rename(policy: Path, open_store: Callable[[Path], Watching]) -> None:
    w = open_store(policy)
    tmp = policy.with_name(".policy.yaml.swp")
    tmp.write_text(versioned(8))
    tmp.replace(policy)
    w.wait_version(8)


def test_vim_style_backup_and_rename(policy: Path, open_store: Callable[[Path], Watching]) -> None:
    w = open_store(policy)
    backup = policy.with_name("policy.yaml~")
    policy.rename(backup)  # vim's 'backupcopy=no': move the original away, write anew
    policy.write_text(versioned(8))
    backup.unlink()
    w.wait_version(8)


def test_delete_then_recreate(policy: Path, open_store: Callable[[Path], Watching]) -> None:
    w = open_store(policy)
    policy.unlink()
    w.wait_for(lambda: bool(w.refused))
    assert isinstance(w.store.status().last_error, policyctl.PolicySourceError)
    assert w.store.current().version == 7
    policy.write_text(versioned(8))
    w.wait_version(8)
    assert w.store.status().last_error is None


def _configmap(directory: Path, version: int, stamp: str) -> None:
    """Lay out or swap a Kubernetes ConfigMap volume as the kubelet does (atomic_writer.go)."""
    data_dir = directory / f"..{stamp}"
    data_dir.mkdir()
    (data_dir / "policy.yaml").write_text(versioned(version))
    tmp_link = directory / "..data_tmp"
    tmp_link.symlink_to(data_dir.name)
    old = (directory / "..data").resolve() if (directory / "..data").exists() else None
    tmp_link.replace(directory / "..data")
    if not (directory / "policy.yaml").is_symlink():
        (directory / "policy.yaml").symlink_to("..data/policy.yaml")
    if old is not None:
        shutil.rmtree(old)


def test_kubernetes_configmap_swap(tmp_path: Path, open_store: Callable[[Path], Watching]) -> None:
    directory = tmp_path / "configmap"
    directory.mkdir()
    _configmap(directory, 7, "2026_11_27_10_00_00.1")
    w = open_store(directory / "policy.yaml")
    _configmap(directory, 8, "2026_11_27_10_05_00.2")
    w.wait_version(8)
    _configmap(directory, 9, "2026_11_27_10_10_00.3")
    w.wait_version(9)
    assert w.store.status().failures == 0


def test_directory_deleted_and_back(policy: Path, open_store: Callable[[Path], Watching]) -> None:
    w = open_store(policy)
    shutil.rmtree(policy.parent)
    w.wait_for(lambda: bool(w.refused))
    policy.parent.mkdir()
    policy.write_text(versioned(8))
    w.wait_version(8)
    policy.write_text(versioned(9))  # and the new directory is watched from now on
    w.wait_version(9)


def test_invalid_change_keeps_last_good_then_recovers(
    policy: Path, open_store: Callable[[Path], Watching]
) -> None:
    w = open_store(policy)
    policy.write_text(versioned(8).replace("risk_mode: NORMAL", "risk_mode: PANIC"))
    w.wait_for(lambda: bool(w.refused))
    assert w.store.current().version == 7
    assert w.refused[0].issues[0].line == 3
    tmp = policy.with_name("policy.tmp")
    tmp.write_text(versioned(9))
    tmp.replace(policy)
    w.wait_version(9)
    assert w.applied == [(7, 9)] and len(w.refused) == 1


def test_unchanged_content_notifies_nobody(
    policy: Path, open_store: Callable[[Path], Watching]
) -> None:
    w = open_store(policy)
    policy.touch()
    policy.write_text(versioned(7))
    tmp = policy.with_name("same.tmp")
    tmp.write_text(versioned(7))
    tmp.replace(policy)
    policy.write_text(versioned(8))  # a real change after the non-changes: the first one we hear of
    w.wait_version(8)
    assert w.applied == [(7, 8)]
    assert w.store.status().reloads == 1


def test_storm_of_writes_with_readers(policy: Path, open_store: Callable[[Path], Watching]) -> None:
    w = open_store(policy)
    stop = threading.Event()
    problems: list[str] = []
    seen = [0, 0, 0]

    def reader(index: int) -> None:
        while not stop.is_set():
            for _ in range(100):
                snap = w.store.current()
                if snap.policy.version != snap.version or snap.policy.max_positions != (
                    snap.version % 50 + 1
                ):
                    problems.append(f"torn snapshot: {snap}")
                seen[index] += 1
            time.sleep(0)  # readers hammer, but let the writer and the watcher have the GIL

    readers = [threading.Thread(target=reader, args=(i,)) for i in range(3)]
    for thread in readers:
        thread.start()
    try:
        for version in range(8, 208):  # 200 writes, alternating in-place and rename
            if version % 2:
                policy.write_text(versioned(version))
            else:
                tmp = policy.with_name(f".tmp{version}")
                tmp.write_text(versioned(version))
                tmp.replace(policy)
        w.wait_version(207)
    finally:
        stop.set()
        for thread in readers:
            thread.join()
    assert problems == []
    assert all(count > 0 for count in seen)
    versions = [new for _, new in w.applied]
    assert versions == sorted(versions)  # never an older write after a newer one


def test_forked_child_keeps_reloading(policy: Path) -> None:
    with PolicyStore(policy, env={}) as store:
        ready_r, ready_w = os.pipe()
        go_r, go_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: wait for the parent's write, then for our store to see it
            code = 1
            try:
                os.write(ready_w, b"1")
                os.read(go_r, 1)
                deadline = time.monotonic() + DEADLINE
                while time.monotonic() < deadline and store.current().version != 8:
                    time.sleep(0.01)
                code = 0 if store.current().version == 8 else 2
            finally:
                os._exit(code)
        os.read(ready_r, 1)
        policy.write_text(versioned(8))
        os.write(go_w, b"1")
        _, status = os.waitpid(pid, 0)
        for fd in (ready_r, ready_w, go_r, go_w):
            os.close(fd)
        assert os.waitstatus_to_exitcode(status) == 0


def test_twenty_stores_leave_no_thread_behind(policy: Path, mode: str) -> None:
    before = set(threading.enumerate())
    for _ in range(20):
        store = PolicyStore(policy, env={}, poll_interval=0.05 if mode == "polling" else None)
        store.close()
    time.sleep(0)  # let finished threads be reaped from enumerate()
    assert set(threading.enumerate()) - before == set()


def test_inotify_limit_falls_back_to_polling(
    policy: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def no_watches(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "inotify watch limit reached")

    monkeypatch.setattr(Observer, "schedule", no_watches)
    with PolicyStore(policy, env={}) as store:
        assert store.status().mode == "polling"
        assert "inotify unavailable" in caplog.text
        w = Watching(store)
        policy.write_text(versioned(8))
        w.wait_version(8)


def test_mount_point_is_warned_about(
    policy: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = os.path.ismount
    monkeypatch.setattr(os.path, "ismount", lambda p: Path(p) == policy or real(p))
    with PolicyStore(policy, env={}):
        assert "is a mount point" in caplog.text


def test_a_linked_policy_file_is_said_plainly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "real.yaml").write_text(VALID)
    (tmp_path / "policy.yaml").symlink_to("real.yaml")
    with (
        caplog.at_level(logging.INFO, logger="policyctl"),
        PolicyStore(tmp_path / "policy.yaml", env={}, watch=False),
    ):
        pass
    assert "is a symbolic link to real.yaml" in caplog.text


@pytest.mark.slow  # decisions written for a second and a half, beside a watched policy
def test_a_decision_log_beside_the_policy_costs_no_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writes to a file the store does not read cause no check of the policy (277 re-reads in
    3 s before), counted by a spy on the store's one read."""
    import policyctl.live._store as store_module  # noqa: PLC0415 (the read to count)

    reads = []
    real = store_module.read_inputs  # type: ignore[attr-defined]

    def counted(*args: Any) -> Any:
        reads.append(1)
        return real(*args)

    monkeypatch.setattr(store_module, "read_inputs", counted)
    policy = tmp_path / "policy.yaml"
    policy.write_text(VALID)
    with PolicyStore(
        policy, env={}, reconcile_interval=3600, decision_log=tmp_path / "decisions.jsonl"
    ) as store:
        time.sleep(0.3)
        before = len(reads)
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            store.decide(symbol="BTCUSDT", strategy="trend_follow", confidence=0.8)
            time.sleep(0.001)
        time.sleep(0.3)
        assert len(reads) - before <= 1, len(reads) - before


def test_reads_are_reported_only_where_the_policy_file_is(tmp_path: Path) -> None:
    """The close of a read is the store's barrier in the policy's own directory; in the other
    watched directories (its parent: in a pod, /etc/policyctl beside the trust directory) a
    read or a listing is nothing, and is not even asked of the kernel (a check lists the trust
    directory: reported, every replica sharing that parent was woken by every other's check)."""
    from policyctl.live._watch import DirectoryWatcher  # noqa: PLC0415

    policy_dir, trust = tmp_path / "policy", tmp_path / "trust"
    policy_dir.mkdir()
    trust.mkdir()
    (policy_dir / "policy.yaml").write_text(VALID)
    (trust / "ci.pem").write_text("key")
    (tmp_path / "README").write_text("beside the policy's directory")
    seen: list[tuple[str, str]] = []
    done = threading.Event()

    def classify(event_type: str, src: str, dest: str, **_: bool) -> None:
        seen.append((event_type, src))
        if src.endswith("marker"):
            done.set()

    watcher = DirectoryWatcher(lambda kind: None, classify, None)
    try:
        watcher.watch([policy_dir, tmp_path], readers={policy_dir})
        for _ in range(20):
            (trust / "ci.pem").read_bytes()
            list(trust.iterdir())  # opens and closes the directory, an entry of tmp_path
            (tmp_path / "README").read_bytes()
            (policy_dir / "policy.yaml").read_bytes()
        (tmp_path / "marker").write_text("")  # behind every event before it
        assert done.wait(DEADLINE)
    finally:
        watcher.stop()
    reads = [src for kind, src in seen if kind == "closed_no_write"]
    assert reads and set(reads) == {str(policy_dir / "policy.yaml")}, seen


@pytest.mark.slow  # ten stores, each until it converges
def test_a_link_re_targeted_into_a_watched_directory_misses_no_write(tmp_path: Path) -> None:
    """The policy's link re-targeted to a file in its directory's parent (watched already, now
    where its reads are reported): the watch there is replaced with one that reports reads,
    the new one first, so a write landing at once is never missed (an outsider's finding: 5 in
    30 stayed on the old version until the reconciler)."""
    for attempt, pause in enumerate([0, 0.001, 0.003, 0.01] * 3):
        root = tmp_path / str(attempt)
        (root / "policy").mkdir(parents=True)
        (root / "elsewhere").mkdir()
        (root / "elsewhere" / "real.yaml").write_text(versioned(1))
        link = root / "policy" / "policy.yaml"
        link.symlink_to(root / "elsewhere" / "real.yaml")
        with PolicyStore(link, env={}, reconcile_interval=3600) as store:
            w = Watching(store)
            time.sleep(0.2)  # the store's first look done: the re-target is the next event
            (root / "p2.yaml").write_text(versioned(2))
            (root / "policy" / ".new").symlink_to(root / "p2.yaml")
            (root / "policy" / ".new").replace(link)
            time.sleep(pause)
            with (root / "p2.yaml").open("w") as f:
                f.write(versioned(7))
            w.wait_version(7)


def test_a_write_in_a_re_created_directory_is_not_applied_half_done(tmp_path: Path) -> None:
    """The policy's directory deleted and made again, the file written in place in two parts
    with a pause between (the first part alone a valid policy): the store saw the directory
    come back before it watched it, so it cannot know a writer is at work; it waits as long as
    a silent writer is given (WRITE_TIMEOUT) before it trusts what it read (an outsider's
    finding: the first part was served for 50 ms, 8 times in 8)."""
    directory = tmp_path / "config"
    directory.mkdir()
    path = directory / "policy.yaml"
    path.write_text(versioned(7))
    lines = VALID.replace("version: 7", "version: 8").splitlines(keepends=True)
    whole = "".join(x for x in lines if not x.startswith("max_positions:")) + "max_positions: 10\n"
    cut = len(whole) - len("0\n")  # ends "max_positions: 1": valid alone
    (tmp_path / "half.yaml").write_text(whole[:cut])
    assert policyctl.load_policy(tmp_path / "half.yaml", env={}).policy.max_positions == 1
    with PolicyStore(path, env={}, reconcile_interval=3600) as store:
        w = Watching(store)
        shutil.rmtree(directory)
        w.wait_for(lambda: bool(w.refused))  # the file gone: said, the last good kept
        directory.mkdir()
        with path.open("w") as f:
            f.write(whole[:cut])  # valid alone: max_positions 1
            f.flush()
            time.sleep(0.05)
            f.write(whole[cut:])
        w.wait_version(8)
        assert store.current().policy.max_positions == 10
        assert [new for _, new in w.applied] == [8], w.applied
