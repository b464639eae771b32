"""A fleet on one host: 50 processes, each with a store on a git-sync layout; one swap of the
link to a new commit; how long until every process serves the new digest. And what keeping
the last good policy (``last_good=``) costs per reload.

Run: .venv/bin/python benchmarks/bench_fleet.py    (or `make bench`)

Target: p99 under 100 ms across processes (the slowest is printed too).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from _policies import git, percentiles

ROOT = Path(__file__).resolve().parent.parent
POLICY = (ROOT / "policy" / "policy.yaml").read_text()
PROCESSES = 50
RELOADS = 200

_WORKER = textwrap.dedent(
    """
    import logging, resource, sys, threading, time
    from watchdog.events import FileSystemEventHandler
    from watchdog.observers import Observer

    path, version, root, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    seen, done = [], threading.Event()

    class Raw(FileSystemEventHandler):  # the floor: the swap's own event, nothing else
        def on_moved(self, event):
            if event.dest_path.endswith("/current") and not seen:
                seen.append((time.time(), time.time()))
                done.set()

    def changed(old, new):
        if new.version == version and not seen:
            seen.append((new.loaded_at.timestamp(), time.time()))
            done.set()

    # watchdog's own harmless stop race ("queue_events() called when the thread is inactive"),
    # which policyctl's CLI filters the same way.
    logging.getLogger("watchdog.observers.inotify").disabled = True
    if mode == "floor":
        watcher = Observer()
        watcher.schedule(Raw(), root)
        watcher.start()
    else:
        from policyctl import PolicyStore
        watcher = PolicyStore(path, env={})
        watcher.subscribe(changed)
    time.sleep(0.5)  # the start's own work done: the CPU below is the swap's
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime
    print("ready", flush=True)
    done.wait(30)  # no polling loop: 50 of them would be load of their own
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu_before  # the swap's CPU in this process
    print(f"{seen[0][0]} {seen[0][1]} {cpu}" if seen else "never", flush=True)
    if mode == "floor":
        watcher.stop()
    else:
        watcher.close()
    """
)


def _check_out(repo: Path, root: Path, sha: str) -> None:
    """git-sync's first step: the commit's worktree beside the others (no event reaches a
    store: nothing watches .worktrees)."""
    git(repo, "worktree", "add", "--detach", "-q", str(root / ".worktrees" / sha), sha)


def _swap_to(root: Path, sha: str) -> None:
    """git-sync's second step, the one that publishes: the link swapped by a rename."""
    (root / "current.tmp").symlink_to(f".worktrees/{sha}")
    (root / "current.tmp").replace(root / "current")


def fleet(tmp: Path, mode: str) -> dict[str, float]:
    """Seconds from one git-sync swap until each of the processes has the new policy
    (``store``: snapshot built) or has the swap's bare event (``floor``: a watchdog observer
    alone, nothing else in the process); and the CPU it cost, per core."""
    repo = tmp / mode / "repo"
    (repo / "policy").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "policy" / "policy.yaml").write_text(POLICY)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    root = tmp / mode / "git"
    root.mkdir()
    _check_out(repo, root, git(repo, "rev-parse", "HEAD"))
    _swap_to(root, git(repo, "rev-parse", "HEAD"))
    (repo / "policy" / "policy.yaml").write_text(POLICY.replace("version: 1", "version: 2", 1))
    git(repo, "commit", "-qam", "v2")
    target = root / "current" / "policy" / "policy.yaml"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(target), "2", str(root), mode],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    sha = git(repo, "rev-parse", "HEAD")
    _check_out(repo, root, sha)
    time.sleep(1.0)  # every process idle, every watch in place
    swapped = time.time()  # from the rename that publishes the commit, as git-sync does it
    _swap_to(root, sha)
    delays, cpu = [], []
    for proc in procs:
        out, _ = proc.communicate(timeout=60)
        at, _told, used = (float(x) for x in out.split())
        delays.append(at - swapped)
        cpu.append(used)
    return {**percentiles(delays), "cpu_per_core": sum(cpu) / (os.cpu_count() or 1)}


def persist_cost(tmp: Path) -> dict[str, float]:
    from policyctl import PolicyStore  # noqa: PLC0415

    policy = tmp / "cost" / "policy.yaml"
    policy.parent.mkdir()
    policy.write_text(POLICY)
    timings = {}
    for label, keep in (("without", None), ("with last_good", tmp / "cost" / "last-good")):
        with PolicyStore(policy, env={}, watch=False, last_good=keep) as store:
            started = time.perf_counter()
            for n in range(RELOADS):
                policy.write_text(POLICY.replace("version: 1", f"version: {n + 2}", 1))
                store.refresh()
            timings[label] = (time.perf_counter() - started) / RELOADS
    return timings


def main() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as name:
        rows = {
            "snapshot built": fleet(Path(name), "store"),
            "floor: a bare watchdog observer's event": fleet(Path(name), "floor"),
        }
        cost = persist_cost(Path(name))
    print(f"git-sync swap -> each of {PROCESSES} processes on 2 cores (ms after the swap)")
    for label, row in rows.items():
        print(
            f"  {label:<42} p50 {row['p50'] * 1e3:6.1f}  p99 {row['p99'] * 1e3:6.1f}"
            f"  slowest {row['max'] * 1e3:6.1f}"
            f"  (CPU, all processes: {row['cpu_per_core'] * 1e3:.0f} ms per core)"
        )
    print("  target: p99 < 100 ms")
    extra = cost["with last_good"] - cost["without"]
    print(
        f"reload via refresh(), per reload: {cost['without'] * 1e3:.2f} ms without last_good,"
        f" {cost['with last_good'] * 1e3:.2f} ms with it (+{extra * 1e3:.2f} ms: one fsynced write)"
    )
    return {"fleet_s": rows, "reload_s": cost}


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
