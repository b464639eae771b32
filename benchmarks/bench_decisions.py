"""Decisions: ``store.decide`` with the log on, and ``policyctl replay`` of a million of them.

Run: .venv/bin/python benchmarks/bench_decisions.py    (or `make bench`)

Side by side, in one run:

- decide: one ``store.decide`` (log on) beside one ``snapshot.policy.evaluate_signal``; and
  for orders one ``evaluate_order`` beside one ``evaluate_signal`` (target: at most 1.2x, the
  floor being two more comparisons), and one ``store.decide`` with the order's inputs and the
  log on beside one ``evaluate_order`` (target: at most 2x). Each is the median over 60 rounds
  of a batch's mean, the four taking turns (see `_interleaved`). Target: at most 2x.
- rate: 1,000,000 decisions paced at 200,000 per second on one thread, the pacing done in
  1 ms steps with ``time.sleep`` (a service waits on its feed between signals), through the log's
  rotation (64 MiB files, gzip on its own thread). Target: no drop. Beside it, the same rate
  paced by spinning (the signal thread never lets go of the GIL but at the interpreter's switch
  interval), and the unpaced rate, both for information.
- memory: bytes held by a full queue (tracemalloc), i.e. the bound of the signal path's memory.
- replay: a synthetic log of 1,000,000 decisions (``replay --generate``: four in five are
  orders, with their risk and open positions) replayed under a base and a head (threshold
  raised, max_positions lowered), beside merely parsing each line with the same JSON library.
  Targets: at most 2.0x the parse, under 10 s. Peak RSS growth shows the streaming.
"""

from __future__ import annotations

import json
import resource
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections import deque
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "policy" / "policy.yaml"
RATE = 200_000
DECISIONS = 1_000_000


def _paced(store: Any, symbol: str, strategy: str, spin: bool) -> dict[str, float]:
    log = store._log
    started = time.perf_counter()
    deepest = 0
    for n in range(DECISIONS):
        store.decide(symbol=symbol, strategy=strategy, confidence=0.9, signal=n)
        if n % 200 == 0:  # every 1 ms of schedule
            deepest = max(deepest, len(log.pending))
            behind = started + n / RATE - time.perf_counter()
            if spin:
                while time.perf_counter() < started + n / RATE:
                    pass
            elif behind > 0:
                time.sleep(behind)
    elapsed = time.perf_counter() - started
    store.close()
    status = store.status()
    return {
        "rate": DECISIONS / elapsed,
        "dropped": status.decisions_dropped,
        "written": status.decisions_logged,
        "deepest_queue": deepest,
    }


def _store(directory: Path, name: str) -> Any:
    from policyctl import PolicyStore  # noqa: PLC0415

    return PolicyStore(
        directory / "policy.yaml", env={}, watch=False, decision_log=directory / name / "d.jsonl"
    )


def _interleaved(calls: dict[str, Any], rounds: int = 60, batch: int = 2000) -> dict[str, float]:
    """Median over ``rounds`` of each call's mean time in a batch of ``batch``, the calls taking
    turns round by round (this machine's speed drifts: turns keep the comparison fair); the
    log's writer is given time to drain between batches, as a service's feed would."""
    seen: dict[str, list[float]] = {name: [] for name in calls}
    clock = time.perf_counter_ns
    for _ in range(rounds):
        for name, call in calls.items():
            started = clock()
            for _ in range(batch):
                call()
            seen[name].append((clock() - started) / batch)
            time.sleep(0.01)
    return {name: statistics.median(values) for name, values in seen.items()}


def bench_decide(directory: Path) -> dict[str, Any]:
    store = _store(directory, "latency")
    policy = store.current().policy
    symbol, strategy = policy.allowed_symbols[0], policy.allowed_strategies[0]
    times = _interleaved(
        {
            "evaluate_signal": lambda: policy.evaluate_signal(
                symbol=symbol, strategy=strategy, confidence=0.9
            ),
            "decide (log on)": lambda: store.decide(
                symbol=symbol, strategy=strategy, confidence=0.9
            ),
            "evaluate_order": lambda: policy.evaluate_order(
                symbol=symbol,
                strategy=strategy,
                confidence=0.9,
                risk_per_trade=0.005,
                open_positions=2,
            ),
            "decide an order (log on)": lambda: store.decide(
                symbol=symbol,
                strategy=strategy,
                confidence=0.9,
                risk_per_trade=0.005,
                open_positions=2,
            ),
        }
    )
    store.close()
    evaluate, decide = times["evaluate_signal"], times["decide (log on)"]
    evaluate_order, decide_order = times["evaluate_order"], times["decide an order (log on)"]
    results: dict[str, Any] = {
        "mean_ns": times,
        "ratio": decide / evaluate,
        "order_ratio": evaluate_order / evaluate,
        "decide_order_ratio": decide_order / evaluate_order,
    }
    print(f"  decide {decide:.0f} ns beside evaluate_signal {evaluate:.0f} ns:"
          f" {decide / evaluate:.2f}x (<= 2x)")  # fmt: skip
    print(f"  evaluate_order {evaluate_order:.0f} ns beside evaluate_signal {evaluate:.0f} ns:"
          f" {evaluate_order / evaluate:.2f}x (<= 1.2x)")  # fmt: skip
    print(f"  decide an order {decide_order:.0f} ns beside evaluate_order {evaluate_order:.0f}"
          f" ns: {decide_order / evaluate_order:.2f}x (<= 2x)")  # fmt: skip
    for label, spin in (("sleep-paced", False), ("spin-paced", True)):
        figures = _paced(_store(directory, label), symbol, strategy, spin)
        results[label] = figures
        print(
            f"  {label} at {RATE:,}/s: {figures['rate']:,.0f}/s achieved, dropped"
            f" {figures['dropped']:,} of {DECISIONS:,}, deepest queue {figures['deepest_queue']:,}"
        )
        shutil.rmtree(directory / label)
    store = _store(directory, "unpaced")
    started = time.perf_counter()
    for n in range(DECISIONS):
        store.decide(symbol=symbol, strategy=strategy, confidence=0.9, signal=n)
    elapsed = time.perf_counter() - started
    store.close()
    results["unpaced"] = {"rate": DECISIONS / elapsed, "dropped": store.status().decisions_dropped}
    print(f"  unpaced: {DECISIONS / elapsed:,.0f}/s offered, {results['unpaced']['dropped']:,}"
          " dropped (the writer's share of one GIL is the limit)")  # fmt: skip
    shutil.rmtree(directory / "unpaced")
    results["queue_bytes"] = _queue_bytes(store.current(), symbol, strategy)
    print(f"  a full queue (10,000 decisions with a 1-key context): "
          f"{results['queue_bytes'] / 2**20:.1f} MiB")  # fmt: skip
    return results


def _queue_bytes(snap: Any, symbol: str, strategy: str) -> int:
    """What 10,000 queued decisions hold, as decide queues them."""
    verdict = snap.policy.evaluate_signal(symbol=symbol, strategy=strategy, confidence=0.9)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    queue: deque[object] = deque()
    for n in range(10_000):
        decision = (time.time(), snap, verdict, symbol, strategy, 0.9 + n * 1e-9, {"signal": n})
        queue.append((*decision, None))  # no order's inputs
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return held


def _parse_only(path: Path) -> float:
    started = time.perf_counter()
    loads = json.loads
    with path.open("rb") as f:
        for line in f:
            loads(line)
    return time.perf_counter() - started


def bench_replay(directory: Path) -> dict[str, Any]:
    from policyctl.decisions import LogFiles, generate  # noqa: PLC0415
    from policyctl.pipeline import load_policy  # noqa: PLC0415
    from policyctl.review import replay  # noqa: PLC0415

    log = directory / "decisions.jsonl"
    started = time.perf_counter()
    with log.open("wb") as out:
        generate(load_policy(directory / "policy.yaml", env={}), DECISIONS, out, seed=1)
    print(f"  generated {DECISIONS:,} decisions ({log.stat().st_size / 2**20:.0f} MiB)"
          f" in {time.perf_counter() - started:.1f} s")  # fmt: skip
    head = directory / "head.yaml"
    head.write_text(
        (directory / "policy.yaml")
        .read_text()
        .replace("global_min_confidence: 0.70", "global_min_confidence: 0.8")
        .replace("max_positions: 5", "max_positions: 4")
    )
    parse = min(_parse_only(log) for _ in range(2))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for _ in range(2):
        started = time.perf_counter()
        report = replay(LogFiles([log]), base=str(directory / "policy.yaml"), head=str(head))
        times.append(time.perf_counter() - started)
    grew = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss) / 1024
    took = min(times)
    print(f"  replay {took:.2f} s beside parse only {parse:.2f} s: {took / parse:.2f}x"
          f" (<= 2.0x, < 10 s); {report.newly_refused.count:,} newly refused;"
          f" peak RSS grew {grew:.1f} MiB")  # fmt: skip
    return {
        "replay_s": took,
        "parse_s": parse,
        "ratio": took / parse,
        "records": report.records,
        "newly_refused": report.newly_refused.count,
        "rss_growth_mib": grew,
    }


def main() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        shutil.copy(POLICY, directory / "policy.yaml")
        return {"decide": bench_decide(directory), "replay": bench_replay(directory)}


if __name__ == "__main__":
    figures = main()
    ok = (
        figures["decide"]["ratio"] <= 2
        and figures["decide"]["order_ratio"] <= 1.2
        and figures["decide"]["decide_order_ratio"] <= 2
        and figures["decide"]["sleep-paced"]["dropped"] == 0
        and figures["replay"]["ratio"] <= 2
        and figures["replay"]["replay_s"] < 10
    )
    sys.exit(0 if ok else 1)
