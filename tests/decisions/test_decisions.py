"""store.decide: the verdict from the current policy, and with decision_log one JSON line per
decision, written off the signal path; masked context, JSON-safe values only; drops counted
when the queue is full; rotation with gzip; close() writes everything queued."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import policyctl
from policyctl import PolicyStore
from policyctl.decisions import DecisionLog

from ..support.policy import VALID


def test_decide_logs_each_decision_with_its_policy(tmp_path: Path) -> None:
    policy, decisions = tmp_path / "policy.yaml", tmp_path / "log" / "decisions.jsonl"
    policy.write_text(VALID)
    with PolicyStore(
        policy, env={}, watch=False, decision_log=decisions, decision_mask=("account",)
    ) as store:
        ok = store.decide(symbol="BTCUSDT", strategy="trend_follow", confidence=0.8, account="A-1")
        bad = store.decide(
            symbol="DOGEUSDT", strategy="trend_follow", confidence=float("nan"), order=object()
        )
        assert ok.allowed and not bad.allowed
        digest = store.current().digest
    records = [json.loads(line) for line in decisions.read_text().splitlines()]
    assert [r["allowed"] for r in records] == [True, False]
    first, second = records
    assert first["context"] == {"account": "***"} and first["version"] == 7
    assert first["digest"] == digest and first["codes"] == [] and first["overrides"] == []
    assert second["codes"] == ["symbol_not_allowed", "confidence_not_finite"]
    assert second["confidence"] == "nan" and second["context"] == {"order": "<object>"}
    assert store.status().decisions_logged == 2 and store.status().decisions_dropped == 0


def test_a_full_queue_drops_and_counts_never_blocks(tmp_path: Path) -> None:
    log = DecisionLog(tmp_path / "decisions.jsonl", queue_size=2)
    # A disk that stops taking writes: the log's descriptor becomes a pipe nobody reads (yet).
    reader, writer = os.pipe()
    os.dup2(writer, log._fd)
    os.close(writer)
    big = {"pad": "x" * 70_000}  # one line fills the pipe: the writer blocks on the next
    for _ in range(10):
        log.record(big)
    assert log.dropped >= 6  # the writer holds at most one, the queue two

    def drain() -> None:
        while os.read(reader, 1 << 20):  # until the writer closes its end
            pass

    drained = threading.Thread(target=drain)
    drained.start()
    log.close()
    drained.join(timeout=10)
    assert not drained.is_alive()
    os.close(reader)
    assert log.written + log.dropped == 10


def test_the_log_rotates_and_compresses(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    log = DecisionLog(path, max_bytes=2_000, backups=2)
    for n in range(200):
        log.record({"n": n, "pad": "y" * 50})
    log.close()
    rotated = sorted(p.name for p in tmp_path.iterdir())
    assert "decisions.jsonl.1.gz" in rotated and "decisions.jsonl.2.gz" in rotated
    assert "decisions.jsonl.3.gz" not in rotated  # only `backups` kept
    with gzip.open(tmp_path / "decisions.jsonl.1.gz", "rt") as f:
        lines = [json.loads(line) for line in f]
    assert lines and all(line["pad"] == "y" * 50 for line in lines)
    last = [json.loads(line) for line in path.read_text().splitlines()]
    assert last[-1]["n"] == 199  # close() wrote everything queued


def test_decide_takes_an_order_and_logs_its_inputs(tmp_path: Path) -> None:
    """With risk_per_trade and open_positions, decide is evaluate_order, logged with both;
    one given without the other is refused for the one missing, never an exception; mutable
    inputs are logged as they were when decided."""
    policy, decisions = tmp_path / "policy.yaml", tmp_path / "decisions.jsonl"
    policy.write_text(VALID)
    count = [3]
    with PolicyStore(policy, env={}, watch=False, decision_log=decisions) as store:
        order: dict[str, Any] = {"symbol": "BTCUSDT", "strategy": "trend_follow", "confidence": 0.8}
        ok = store.decide(**order, risk_per_trade=0.005, open_positions=4, order_id="o-1")
        full = store.decide(**order, risk_per_trade=0.005, open_positions=5)
        half = store.decide(**order, open_positions=1)
        odd = store.decide(**order, risk_per_trade=0.005, open_positions=count)  # type: ignore[arg-type]
        count.append(4)  # after the call: the log must not see it
    assert ok.allowed and ok.risk_mode == "NORMAL"
    assert full.codes == ("max_positions_reached",)
    assert half.codes == ("risk_per_trade_not_finite",)
    assert odd.codes == ("open_positions_invalid",)
    records = [json.loads(line) for line in decisions.read_text().splitlines()]
    assert [(r["risk_per_trade"], r["open_positions"]) for r in records] == [
        (0.005, 4),
        (0.005, 5),
        (None, 1),
        (0.005, [3]),
    ]
    assert records[0]["context"] == {"order_id": "o-1"} and records[0]["risk_mode"] == "NORMAL"
    assert [r["codes"] for r in records[1:]] == [list(v.codes) for v in (full, half, odd)]


def test_the_context_is_logged_as_it_was_when_decided(tmp_path: Path) -> None:
    policy, decisions = tmp_path / "policy.yaml", tmp_path / "decisions.jsonl"
    policy.write_text(VALID)
    legs = ["buy"]
    with PolicyStore(policy, env={}, watch=False, decision_log=decisions) as store:
        store.decide(
            symbol="BTCUSDT", strategy="trend_follow", confidence=1, legs=legs, note='a"\n\x1b'
        )
        legs.append("sell")  # after the call: the log must not see it
    (record,) = [json.loads(line) for line in decisions.read_text().splitlines()]
    assert record["context"] == {"legs": ["buy"], "note": 'a"\n\x1b'}
    assert record["confidence"] == 1 and record["time"].endswith("Z")


@pytest.mark.timeout(20)
@pytest.mark.parametrize("kind", ["fifo", "directory", "under-a-file", "device"])
def test_only_a_regular_file_is_a_decision_log(tmp_path: Path, kind: str) -> None:
    policy, log = tmp_path / "policy.yaml", tmp_path / "decisions.jsonl"
    policy.write_text(VALID)
    if kind == "fifo":
        os.mkfifo(log)  # nobody reads it: opening it for writing would block forever
    elif kind == "directory":
        log.mkdir()
    elif kind == "under-a-file":
        log.write_text("")
        log = log / "decisions.jsonl"
    else:
        log = Path("/dev/null")
    with pytest.raises(policyctl.PolicySourceError, match="decision log"):
        PolicyStore(policy, env={}, watch=False, decision_log=log)
    assert threading.active_count() == 1 or all(
        not t.name.startswith("policyctl-") for t in threading.enumerate()
    )


@pytest.mark.slow  # a million-key context, on purpose
def test_decide_never_raises_and_bounds_what_it_logs(tmp_path: Path) -> None:
    policy, log = tmp_path / "policy.yaml", tmp_path / "decisions.jsonl"
    policy.write_text(VALID)
    huge_context = {f"k{n}": n for n in range(1_000_000)}
    with PolicyStore(policy, env={}, watch=False, decision_log=log) as store:
        big = store.decide(symbol="BTCUSDT", strategy="trend_follow", confidence=10**400)
        odd = store.decide(symbol=["BTC"], strategy={"a": 1}, confidence="x")  # type: ignore[arg-type]
        wide = store.decide(
            symbol="BTCUSDT", strategy="trend_follow", confidence=0.8, **huge_context
        )
        deep = store.decide(
            symbol="BTCUSDT", strategy="trend_follow", confidence=0.8, n=10**5000, text="t" * 10**6
        )
    assert big.codes == ("confidence_out_of_range",) and "bits" in big.reasons[0]
    assert odd.codes == ("symbol_not_allowed", "strategy_not_allowed", "confidence_not_finite")
    assert wide.allowed and deep.allowed
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(records) == 4  # nothing lost to a bad value: no batch dropped
    assert records[2]["context"]["_cut"] == 1_000_000 - 64 and len(records[2]["context"]) == 65
    assert records[3]["context"]["n"].startswith("<an integer of")
    assert len(records[3]["context"]["text"]) == 1024
    assert records[1]["symbol"] == ["BTC"]


def test_a_forked_child_logs_its_own_decisions(tmp_path: Path) -> None:
    """gunicorn --preload forks after the store opened its log: the child's decisions are
    written and counted too (0 of 100 were), as whole lines beside the parent's."""
    policy, log = tmp_path / "policy.yaml", tmp_path / "decisions.jsonl"
    policy.write_text(VALID)
    with PolicyStore(policy, env={}, watch=False, decision_log=log) as store:
        store.decide(symbol="BTCUSDT", strategy="trend_follow", confidence=0.8, who="parent")
        pid = os.fork()
        if pid == 0:  # the child: decide, close (which writes), and report by exit status
            code = 1
            try:
                for _ in range(100):
                    store.decide(
                        symbol="BTCUSDT", strategy="trend_follow", confidence=0.8, who="child"
                    )
                store.close()
                code = 0 if store.status().decisions_logged == 100 else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert sum(r["context"]["who"] == "child" for r in records) == 100
    assert sum(r["context"]["who"] == "parent" for r in records) == 1


def test_a_full_disk_leaves_only_whole_lines_and_true_counts(tmp_path: Path) -> None:
    """The file size limit (RLIMIT_FSIZE) stands in for a full disk: writes fail part-way.
    No partial line may stay (it would read as a malformed record once there is room again),
    and written + dropped says what the file holds."""
    log = tmp_path / "decisions.jsonl"
    code = f"""
import resource, signal, json
from pathlib import Path
from typing import Any
from policyctl.decisions import DecisionLog
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))
log = DecisionLog(Path({str(log)!r}), queue_size=100_000)
for n in range(2_000):
    log.record({{"n": n, "pad": "x" * 90}})
log.close()
print(json.dumps([log.written, log.dropped]))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    written, dropped = json.loads(done.stdout.splitlines()[-1])
    lines = log.read_bytes().split(b"\n")
    assert lines[-1] == b""  # the file ends with a whole line
    assert all(json.loads(line) for line in lines[:-1])
    assert len(lines) - 1 == written and written + dropped == 2_000 and dropped > 0
