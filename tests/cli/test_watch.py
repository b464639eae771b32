"""watch as people use it: waits for a file like tail -F, says each refusal once and when it
is gone, and refuses timings that would spin a CPU."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from policyctl import PolicyStore
from policyctl.cli import main

from ..support.policy import VALID

Capture = pytest.CaptureFixture[str]


class Watch:
    def __init__(self, path: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("QT_")}
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "policyctl"), "watch", str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for text in self.proc.stdout or ():
            self.lines.put(text)

    def next_line(self) -> str:
        return self.lines.get(timeout=10)

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=10)
        return err


@pytest.fixture
def watch(tmp_path: Path) -> Iterator[tuple[Watch, Path]]:
    path = tmp_path / "policy.yaml"
    running = Watch(path)
    yield running, path
    if running.proc.poll() is None:
        running.stop()


def test_watch_waits_for_a_file_that_is_missing_at_start(watch: tuple[Watch, Path]) -> None:
    running, path = watch
    assert "waiting for a valid policy" in running.next_line()
    path.write_text(VALID)
    assert "watching" in running.next_line()


def test_each_refusal_is_said_once_and_its_revert_too(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(VALID)
    running = Watch(path)
    assert "watching" in running.next_line()
    path.write_text(VALID.replace("NORMAL", "PANIC"))
    assert "refused:" in running.next_line()
    path.write_text(VALID)
    assert "back to version 7: the refused change is gone" in running.next_line()
    err = running.stop()
    assert "refused a change" not in err  # not repeated on stderr


@pytest.mark.parametrize("poll", ["-1", "0", "nan", "soon"])
def test_watch_refuses_a_poll_interval_that_would_spin(poll: str, capsys: Capture) -> None:
    assert main(["watch", "--poll", poll]) == 2
    assert "is not a number of seconds above 0" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("debounce", -5.0),
        ("debounce", float("nan")),
        ("reconcile_interval", 0.0),
        ("poll_interval", 0.0),
    ],
)
def test_the_store_refuses_timings_that_would_spin(
    tmp_path: Path, option: str, value: float
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(VALID)
    with pytest.raises(ValueError, match=option):
        PolicyStore(path, env={}, **{option: value})  # type: ignore[arg-type]


@pytest.mark.slow  # a brake's window in real time, through a watch process
def test_watch_says_when_a_brake_starts_and_lifts(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(VALID)
    now = datetime.now(UTC)
    start, until = (now + timedelta(seconds=s) for s in (1.0, 1.5))
    (tmp_path / "overrides").mkdir()
    (tmp_path / "overrides" / "rate.yaml").write_text(
        f'reason: "rate decision"\nfrom: "{start:%Y-%m-%dT%H:%M:%S.%fZ}"\n'
        f'until: "{until:%Y-%m-%dT%H:%M:%S.%fZ}"\nset: {{risk_mode: DEFENSIVE}}\n'
    )
    running = Watch(path)
    assert "watching" in running.next_line()
    assert "brake rate on until" in running.next_line()
    assert "effective policy changed: risk_mode" in running.next_line()
    assert "brake rate lifted" in running.next_line()
    assert "effective policy changed: risk_mode" in running.next_line()
    running.stop()


def test_watch_names_the_brake_files_a_prune_removes(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(VALID)
    (tmp_path / "overrides").mkdir()
    (tmp_path / "overrides" / "old.yaml").write_text(
        'reason: old\nfrom: "2020-01-01T00:00:00Z"\nuntil: "2020-01-02T00:00:00Z"\n'
        "set: {max_positions: 2}\n"
    )
    running = Watch(path)
    assert "watching" in running.next_line()
    assert main(["brake", "prune", str(path)]) == 0
    line = running.next_line()
    running.stop()
    assert "brake files removed old: no field changed" in line, line
