"""Hot-reload figures: read cost, reload latency, reconciler cost.

Run: .venv/bin/python benchmarks/bench_store.py    (or `make bench`)

Prints, in one run:
- store.current() and store.current().policy.max_positions, ns per call, beside a plain
  attribute read and the same field read on a snapshot held in a plain object
  (targets: at most 2x and 1.5x);
- reload latency from the end of a write to current() returning the new version, p50/p99 over
  100 trials, for rename and ConfigMap swaps, with inotify and with polling, beside the raw
  watchdog event latency for the same write (the floor); targets with inotify: p50 < 10 ms,
  p99 < 50 ms; polling: p50 under the interval + 10 ms;
- the reconciler's CPU cost per minute with an idle file.
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import tempfile
import threading
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from policyctl import PolicyStore, load_policy
from policyctl.live import DEFAULT_RECONCILE_INTERVAL

ROOT = Path(__file__).resolve().parent.parent
POLICY = (ROOT / "policy" / "policy.yaml").read_text()
TRIALS = 100
POLL_INTERVAL = 0.1


def _text(version: int) -> str:
    return POLICY.replace("version: 1", f"version: {version}", 1)


def _ns(stmt: str, env: dict[str, Any], number: int = 2_000_000) -> float:
    return min(timeit.repeat(stmt, globals=env, number=number, repeat=5)) / number * 1e9


def read_rows(path: Path) -> list[tuple[str, float, float, float]]:
    class Holder:
        pass

    holder = Holder()
    holder.snap = load_policy(path, env={})  # type: ignore[attr-defined]
    with PolicyStore(path, env={}) as store:
        env = {"store": store, "holder": holder}
        current = _ns("store.current()", env)
        attribute = _ns("holder.snap", env)
        field = _ns("store.current().policy.max_positions", env)
        held_field = _ns("holder.snap.policy.max_positions", env)
    return [
        ("store.current() vs holder.snap", current, attribute, 2.0),
        ("...policy.max_positions vs held snapshot", field, held_field, 1.5),
    ]


def _in_place(path: Path, version: int) -> None:
    path.write_text(_text(version))


def _rename(path: Path, version: int) -> None:
    tmp = path.with_name(".policy.yaml.tmp")
    tmp.write_text(_text(version))
    tmp.replace(path)


def _configmap_setup(directory: Path) -> Path:
    data = directory / "..v0"
    data.mkdir()
    (data / "policy.yaml").write_text(_text(1))
    (directory / "..data").symlink_to(data.name)
    (directory / "policy.yaml").symlink_to("..data/policy.yaml")
    return directory / "policy.yaml"


def _configmap_swap(path: Path, version: int) -> None:
    directory = path.parent
    data = directory / f"..v{version}"
    data.mkdir()
    (data / "policy.yaml").write_text(_text(version))
    old = (directory / "..data").resolve()
    tmp = directory / "..data_tmp"
    tmp.symlink_to(data.name)
    tmp.replace(directory / "..data")
    shutil.rmtree(old)


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def store_latency(
    path: Path, write: Callable[[Path, int], None], poll: float | None
) -> list[float]:
    arrived = threading.Event()
    with PolicyStore(path, env={}, poll_interval=poll) as store:
        store.subscribe(lambda old, new: arrived.set())
        time.sleep(0.1)  # let the check the store makes as it starts go by
        samples = []
        start_version = store.current().version
        for i in range(1, TRIALS + 1):
            arrived.clear()
            write(path, start_version + i)
            done = time.perf_counter()
            arrived.wait(5)
            # current() is published before subscribers run: spin until it shows the version.
            while store.current().version != start_version + i:
                time.sleep(0.0001)
            samples.append(time.perf_counter() - done)
            time.sleep(random.uniform(0.03, 0.13))  # apart, and out of phase with polls
    return samples


def raw_event_latency(path: Path, write: Callable[[Path, int], None]) -> list[float]:
    arrived = threading.Event()

    # The event that completes the write: the rename onto policy.yaml or ..data, or the close
    # of policy.yaml after an in-place write.
    targets = {str(path), str(path.parent / "..data")}

    class Handler(FileSystemEventHandler):
        def on_any_event(self, event: FileSystemEvent) -> None:
            if (event.event_type == "moved" and os.fsdecode(event.dest_path) in targets) or (
                event.event_type == "closed" and os.fsdecode(event.src_path) == str(path)
            ):
                arrived.set()

    observer = Observer()
    observer.schedule(Handler(), str(path.parent))
    observer.start()
    samples = []
    try:
        for i in range(1, TRIALS + 1):
            arrived.clear()
            write(path, 10_000 + i)
            done = time.perf_counter()
            arrived.wait(5)
            samples.append(time.perf_counter() - done)
            time.sleep(random.uniform(0.03, 0.13))  # apart, and out of phase with polls
    finally:
        observer.stop()
        observer.join()
    return samples


def _layout(directory: Path, style: str) -> Path:
    """A fresh directory holding version 1 as ``style`` expects it."""
    directory.mkdir()
    if style == "configmap":
        return _configmap_setup(directory)
    path = directory / "policy.yaml"
    path.write_text(_text(1))
    return path


def latency_rows(tmp: Path) -> list[tuple[str, float, float]]:
    rows = []
    for style, writer in (
        ("in-place", _in_place),
        ("rename", _rename),
        ("configmap", _configmap_swap),
    ):
        for mode, poll in (("inotify", None), ("polling", POLL_INTERVAL)):
            path = _layout(tmp / f"{style}-{mode}", style)
            rows.append((f"{style}, {mode}", *_percentiles(store_latency(path, writer, poll))))
        path = _layout(tmp / f"{style}-raw", style)
        rows.append(
            (f"{style}, raw watchdog event (floor)", *_percentiles(raw_event_latency(path, writer)))
        )
    return rows


def reconciler_cpu(path: Path) -> tuple[float, float]:
    """CPU seconds per minute spent by an idle store: at a 0.05 s interval, and scaled to the
    default interval (one check reads and hashes the file)."""
    interval = 0.05
    with PolicyStore(path, env={}, reconcile_interval=interval):
        time.sleep(0.5)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        time.sleep(5)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    per_minute_fast = cpu / wall * 60
    per_check = per_minute_fast / (60 / interval)
    return per_minute_fast, per_check * (60 / DEFAULT_RECONCILE_INTERVAL)


def main() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        policy = tmp / "read" / "policy.yaml"
        policy.parent.mkdir()
        policy.write_text(POLICY)
        reads = read_rows(policy)
        print("read path, ns per call (best of 5)")
        for label, ours, floor, target in reads:
            print(
                f"  {label:<42} {ours:6.1f} ns vs {floor:6.1f} ns = {ours / floor:4.2f}x"
                f" (target <= {target}x)"
            )
        rows = latency_rows(tmp)
        print(
            f"\nreload latency, end of write -> current() shows it, {TRIALS} trials"
            f" (polling interval {POLL_INTERVAL * 1e3:.0f} ms)"
        )
        for label, p50, p99 in rows:
            print(f"  {label:<36} p50 {p50 * 1e3:7.2f} ms   p99 {p99 * 1e3:7.2f} ms")
        fast, default = reconciler_cpu(policy)
        print(
            f"\nreconciler, idle file: {fast * 1e3:.1f} ms CPU/min at a 50 ms interval;"
            f" {default * 1e3:.3f} ms CPU/min at the default interval"
        )
    return {
        "read_ns": {label: {"ours": o, "floor": f} for label, o, f, _ in reads},
        "reload_latency_s": {label: {"p50": a, "p99": b} for label, a, b in rows},
        "reconciler_cpu_s_per_min": {"50ms": fast, "default": default},
    }


if __name__ == "__main__":
    main()
