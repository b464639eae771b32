"""Brakes (and temporary adjustments) on time: 20 stores in 20 processes, the same override
files, each store's own timer.

Run: .venv/bin/python benchmarks/bench_brakes.py    (or `make bench`)

Five brakes, one after another (each active for 0.5 s, 1 s apart), are written before the
stores open, so no file event plays any part: each store applies a brake at its ``from`` and
lifts it at its ``until`` by itself. Every process records, from its subscriber (called right
after the new snapshot is published, so ``current()`` already shows it), when each edge was
seen; beside it, a plain thread in the same process sleeping until the same moment gives the
floor (how late any timer in a busy process wakes). Target: p99 under 50 ms at both edges.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _policies import percentiles

ROOT = Path(__file__).resolve().parent.parent
POLICY = (ROOT / "policy" / "policy.yaml").read_text()
PROCESSES = 20
ROUNDS = 5
ACTIVE = 0.5
SPACING = 1.0

_WORKER = textwrap.dedent(
    """
    import json, sys, threading, time
    from policyctl import PolicyStore

    path, edges = sys.argv[1], json.loads(sys.argv[2])
    seen, floor = [], []

    def sleeper():
        for edge in edges:
            time.sleep(max(0.0, edge - time.time()))
            floor.append(time.time() - edge)

    with PolicyStore(path, env={}) as store:
        def changed(old, new):
            assert store.current() is new
            seen.append((time.time(), [b.name for b in new.brakes]))
        store.subscribe(changed)
        threading.Thread(target=sleeper, daemon=True).start()
        print("ready", flush=True)
        time.sleep(max(0.0, edges[-1] - time.time()) + 0.5)
    print(json.dumps({"seen": seen, "floor": floor}), flush=True)
    """
)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_KINDS = {
    "brake": (
        'reason: "benchmark"\nfrom: "{opens}"\nuntil: "{lifts}"\nset: {{risk_mode: DEFENSIVE}}\n'
    ),
    "adjustment": (
        'kind: adjustment\nreason: "benchmark"\nticket: "B-1"\nfrom: "{opens}"\n'
        'until: "{lifts}"\nset: {{max_positions: 8}}\n'
    ),
}


def run(tmp: Path, kind: str = "brake") -> dict[str, Any]:
    policy = tmp / "policy" / "policy.yaml"
    (policy.parent / "overrides").mkdir(parents=True)
    policy.write_text(POLICY)
    first = datetime.now(UTC) + timedelta(seconds=4)  # time for 20 interpreters to start
    windows: list[tuple[str, float, float]] = []
    for k in range(ROUNDS):
        opens = first + timedelta(seconds=k * SPACING)
        lifts = opens + timedelta(seconds=ACTIVE)
        windows.append((f"r{k}", opens.timestamp(), lifts.timestamp()))
        (policy.parent / "overrides" / f"r{k}.yaml").write_text(
            _KINDS[kind].format(opens=_stamp(opens), lifts=_stamp(lifts))
        )
    edges = sorted(t for _, begin, end in windows for t in (begin, end))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(policy), json.dumps(edges)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    assert time.time() < edges[0], "the processes started too late; raise the head start"
    on, off, floor = [], [], []
    for proc in procs:
        out, _ = proc.communicate(timeout=60)
        report = json.loads(out.strip().splitlines()[-1])
        floor += report["floor"]
        for name, begin, end in windows:
            on.append(next(t for t, names in report["seen"] if name in names) - begin)
            off.append(
                next(t for t, names in report["seen"] if t > begin and name not in names) - end
            )
    return {
        "from -> current()": percentiles(on),
        "until -> current()": percentiles(off),
        "plain thread sleeping to the same moment (floor)": percentiles(floor),
    }


def main() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as name:
        rows = run(Path(name))
    with tempfile.TemporaryDirectory() as name:  # the same timers, for temporary adjustments
        adjusted = run(Path(name), "adjustment")
    rows["adjustment from -> current()"] = adjusted["from -> current()"]
    rows["adjustment until -> current() (the revert)"] = adjusted["until -> current()"]
    print(f"brake edges, {PROCESSES} processes x {ROUNDS} brakes, seconds late (ms)")
    for label, row in rows.items():
        print(
            f"  {label:<50} p50 {row['p50'] * 1e3:6.2f}  p99 {row['p99'] * 1e3:6.2f}"
            f"  max {row['max'] * 1e3:6.2f}  (n={row['n']})"
        )
    print("  target: p99 < 50 ms at both edges")
    return rows


if __name__ == "__main__":
    main()
