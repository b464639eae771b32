"""PolicyStore, tier 1: the reload decisions, driven through the seam (refresh() and scripted
watcher events) — fast and deterministic. Real-filesystem behaviour is in test_store_fs.py."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection
from pathlib import Path
from typing import ClassVar

import pytest

import policyctl
from policyctl import PolicySnapshot, PolicyStore
from policyctl.live._schedule import EventKind, Trigger
from policyctl.live._watch import Classifier, DirectoryWatcher

from ..support.policy import VALID, Writer

DEADLINE = 10.0


def _v(version: int, **changes: str) -> str:
    text = VALID.replace("version: 7", f"version: {version}")
    for old, new in changes.items():
        text = text.replace(old, new)
    return text


@pytest.fixture
def path(write: Writer) -> Path:
    return write(_v(7))


def test_first_load_failure_raises(write: Writer, tmp_path: Path) -> None:
    with pytest.raises(policyctl.PolicyValidationError):
        PolicyStore(write(_v(0)), env={}, watch=False)
    with pytest.raises(policyctl.PolicySourceError):
        PolicyStore(tmp_path / "missing.yaml", env={}, watch=False)


def test_valid_change_is_applied_and_subscribers_notified(path: Path) -> None:
    with PolicyStore(path, env={}, watch=False) as store:
        seen: list[tuple[int, int]] = []
        store.subscribe(lambda old, new: seen.append((old.version, new.version)))
        first = store.current()
        path.write_text(_v(8))
        assert store.refresh()
        assert store.current().version == 8 and first.version == 7  # old snapshot unchanged
        assert seen == [(7, 8)]
        status = store.status()
        assert (status.reloads, status.failures, status.last_error) == (1, 0, None)
        assert status.current_version == 8 and status.mode == "off"


def test_unchanged_content_notifies_nobody(path: Path) -> None:
    with PolicyStore(path, env={}, watch=False) as store:
        calls: list[object] = []
        store.subscribe(lambda old, new: calls.append(new))
        path.write_text(_v(7))  # identical bytes
        path.touch()
        assert not store.refresh()
        assert calls == [] and store.status().reloads == 0


def test_invalid_change_keeps_last_good_counts_once_then_recovers(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with PolicyStore(path, env={}, watch=False) as store:
        errors: list[policyctl.PolicyError] = []
        store.subscribe_errors(errors.append)
        path.write_text(_v(8, **{"max_positions: 5": "max_positions: -1"}))
        with caplog.at_level(logging.ERROR, logger="policyctl"):
            assert not store.refresh()
            assert not store.refresh()  # same bad content: not counted or logged again
        assert store.current().version == 7
        status = store.status()
        assert status.failures == 1 and len(errors) == 1
        assert isinstance(status.last_error, policyctl.PolicyValidationError)
        assert status.last_error.issues[0].line == 7 and status.refused_since is not None
        assert caplog.text.count("refused a change") == 1
        path.write_text(_v(9))
        assert store.refresh()
        status = store.status()
        assert (status.current_version, status.last_error, status.refused_since) == (9, None, None)


def test_reverting_a_bad_change_by_hand_clears_the_error(path: Path) -> None:
    with PolicyStore(path, env={}, watch=False) as store:
        path.write_text("version: [\n")
        store.refresh()
        assert isinstance(store.status().last_error, policyctl.PolicySyntaxError)
        path.write_text(_v(7))
        assert not store.refresh()  # same content as served: nothing to apply
        assert store.status().last_error is None


def test_missing_file_is_a_failure_like_any_other(path: Path) -> None:
    with PolicyStore(path, env={}, watch=False) as store:
        path.unlink()
        assert not store.refresh()
        assert isinstance(store.status().last_error, policyctl.PolicySourceError)
        assert store.current().version == 7
        path.write_text(_v(8))
        assert store.refresh() and store.current().version == 8


def test_version_going_down_is_applied_with_a_warning(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with PolicyStore(path, env={}, watch=False) as store:
        path.write_text(_v(3))
        with caplog.at_level(logging.WARNING, logger="policyctl"):
            assert store.refresh()
        assert store.current().version == 3
        assert "version went down from 7 to 3" in caplog.text


def test_a_raising_subscriber_does_not_stop_the_others(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with PolicyStore(path, env={}, watch=False) as store:
        seen: list[int] = []

        def boom(old: PolicySnapshot, new: PolicySnapshot) -> None:
            raise RuntimeError("subscriber bug")

        store.subscribe(boom)
        unsubscribe = store.subscribe(lambda old, new: seen.append(new.version))
        path.write_text(_v(8))
        with caplog.at_level(logging.ERROR, logger="policyctl"):
            store.refresh()
        assert seen == [8] and "subscriber bug" in caplog.text
        unsubscribe()
        path.write_text(_v(9))
        store.refresh()
        assert seen == [8]


def test_env_is_applied_on_every_reload(path: Path) -> None:
    env = {"QT_MAX_POSITIONS": "3"}
    with PolicyStore(path, env=env, watch=False) as store:
        assert store.current().policy.max_positions == 3
        assert store.current().env == {"max_positions": "QT_MAX_POSITIONS"}
        path.write_text(_v(8, **{"max_risk_per_trade: 0.01": "max_risk_per_trade: 0.5"}))
        assert not store.refresh()  # 0.5 * 3 positions > 100%: refused, with the variable named
        error = store.status().last_error
        assert isinstance(error, policyctl.PolicyValidationError)
        assert error.issues[0].source == "QT_MAX_POSITIONS"


def test_path_from_policy_file_variable(path: Path) -> None:
    with PolicyStore(env={"QT_POLICY_FILE": str(path)}, watch=False) as store:
        assert store.current().source == path


class _ScriptedWatcher(DirectoryWatcher):
    """The seam: no watchdog; the test fires events itself."""

    instances: ClassVar[list[_ScriptedWatcher]] = []

    def __init__(
        self,
        notify: Callable[[EventKind], None],
        classify: Classifier,
        poll_interval: float | None,
    ) -> None:
        self.notify = notify
        self.classify = classify
        self.directories: list[list[Path]] = []
        _ScriptedWatcher.instances.append(self)

    @property
    def mode(self) -> str:
        return "scripted"

    def watch(self, directories: list[Path], readers: Collection[Path] = ()) -> None:
        self.directories.append(directories)

    def stop(self) -> None:
        pass


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> type[_ScriptedWatcher]:
    _ScriptedWatcher.instances = []
    monkeypatch.setattr("policyctl.live._store._DirectoryWatcher", _ScriptedWatcher)
    return _ScriptedWatcher


def test_scripted_events_trigger_checks(path: Path, scripted: type[_ScriptedWatcher]) -> None:
    applied = threading.Event()
    with PolicyStore(path, env={}, debounce=0.01) as store:
        store.subscribe(lambda old, new: applied.set())
        watcher = scripted.instances[0]
        assert store.status().mode == "scripted"
        assert watcher.directories[0][0] == path.parent.absolute()
        path.write_text(_v(8))
        for _ in range(20):  # a burst of writes and its close, coalesced into one check
            watcher.notify("writing")
        watcher.notify("closed")
        assert applied.wait(DEADLINE)
        assert store.current().version == 8 and store.status().reloads == 1


def test_relevance_of_events(path: Path, scripted: type[_ScriptedWatcher]) -> None:
    with PolicyStore(path, env={}) as store:
        classify = scripted.instances[0].classify
        directory = str(path.parent.absolute())
        grandparent = str(path.parent.absolute().parent)
        policy = f"{directory}/policy.yaml"

        def kind(event: str, src: str, dest: str = "", *, polling: bool = False) -> str | None:
            return classify(event, src, dest, is_directory=False, polling=polling)

        assert kind("modified", policy) == "writing"
        assert kind("created", policy) == "writing"
        assert kind("closed", policy) == "closed"
        assert kind("moved", f"{directory}/.tmp", policy) == "renamed"
        assert kind("moved", f"{directory}/..data_tmp", f"{directory}/..data") == "renamed"
        assert kind("moved", policy, f"{directory}/elsewhere") == "changed"
        # A file the store does not read, beside the policy (a decision log): no check at all.
        assert kind("modified", f"{directory}/other.log") is None
        assert kind("closed", f"{directory}/other.log") is None
        assert kind("moved", f"{directory}/other.log", policy) == "renamed"  # onto it: ours
        assert kind("modified", policy, polling=True) == "changed"  # polling sees no close
        assert kind("deleted", directory) == "changed"  # the directory deleted or re-created
        assert kind("modified", f"{grandparent}/some-other-dir") is None
        assert store.current().version == 7


def test_refusal_waits_for_the_file_to_settle(path: Path, scripted: type[_ScriptedWatcher]) -> None:
    """A half-written state that is gone a moment later is never counted as a failure."""
    applied = threading.Event()
    with PolicyStore(path, env={}, debounce=0.05) as store:
        store.subscribe(lambda old, new: applied.set())
        watcher = scripted.instances[0]
        path.write_text("")  # the truncate of an in-place write, seen by a check...
        watcher.notify("closed")

        def finish_the_write() -> None:
            path.write_text(_v(8))
            watcher.notify("closed")

        timer = threading.Timer(0.05, finish_the_write)
        timer.start()
        assert applied.wait(DEADLINE)
        timer.join()
        assert store.current().version == 8
        assert store.status().failures == 0


def test_closing_stops_the_worker_thread(path: Path, scripted: type[_ScriptedWatcher]) -> None:
    before = set(threading.enumerate())
    store = PolicyStore(path, env={})
    assert len(set(threading.enumerate()) - before) == 1
    store.close()
    store.close()
    assert set(threading.enumerate()) - before == set()


def test_reconciler_catches_a_change_no_event_reported(
    path: Path, scripted: type[_ScriptedWatcher]
) -> None:
    """The scripted watcher never fires: only the periodic re-check can see the change."""
    applied = threading.Event()
    with PolicyStore(path, env={}, reconcile_interval=0.05) as store:
        store.subscribe(lambda old, new: applied.set())
        path.write_text(_v(8))
        assert applied.wait(DEADLINE)
        assert store.current().version == 8


def test_follow_up_check_sees_a_rename_whose_event_is_late(
    path: Path, scripted: type[_ScriptedWatcher], monkeypatch: pytest.MonkeyPatch
) -> None:
    """watchdog may hold a rename's event for 0.5 s: the event of the write before it (the temp
    file closed) is followed by one more look, which finds the renamed file."""
    applied = threading.Event()
    with PolicyStore(path, env={}, debounce=0.005, reconcile_interval=3600) as store:
        store.subscribe(lambda old, new: applied.set())
        watcher = scripted.instances[0]
        checked = threading.Event()
        check_once = store._check_once

        def counting_check(trigger: Trigger) -> object:
            outcome = check_once(trigger)
            checked.set()
            return outcome

        monkeypatch.setattr(store, "_check_once", counting_check)
        tmp = path.with_name(".policy.yaml.tmp")
        tmp.write_text(_v(8))
        watcher.notify("closed")  # the temp file's close...
        assert checked.wait(DEADLINE)  # ...checked: nothing new yet
        assert store.current().version == 7
        tmp.replace(path)  # ...and its rename, whose event never comes
        assert applied.wait(DEADLINE)
        assert store.current().version == 8
