"""Replay: decision logs read line by line (plain or gzip, bad lines counted with their line
numbers, a torn last line a warning), each decision judged under base and head, per-record
bases found by digest in git, and counts that stay bounded whatever the log holds."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from policyctl import PolicyStore
from policyctl.decisions import LogFiles, log_files
from policyctl.review import replay
from policyctl.review._replay import MAX_KEYS

from ..support.git import commit, committed_repo, git
from ..support.policy import VALID


def _line(symbol: str = "BTCUSDT", confidence: Any = 0.75, **extra: Any) -> str:
    record = {"symbol": symbol, "strategy": "trend_follow", "confidence": confidence, **extra}
    return json.dumps(record) + "\n"


def _files(tmp_path: Path, head_text: str) -> tuple[str, str]:
    base, head = tmp_path / "base.yaml", tmp_path / "head.yaml"
    base.write_text(VALID)
    head.write_text(head_text)
    return str(base), str(head)


def test_bad_lines_are_counted_with_their_line_numbers(tmp_path: Path) -> None:
    log = tmp_path / "decisions.jsonl"
    log.write_bytes(
        (
            _line()
            + "not json\n"
            + "[1, 2]\n"
            + json.dumps({"symbol": "BTCUSDT", "strategy": "trend_follow"})
            + "\n"
            + _line(symbol=7)  # type: ignore[arg-type]
            + _line(confidence="high")
            + _line(confidence=True)
            + _line(confidence="nan")
            + _line(confidence=1)
        ).encode()
        + b'{"symbol": "\xff"}\n'
        + b"x" * (1 << 20)
        + b"\n"
        + _line().encode()
        + b'{"symbol": "BTC'  # torn: the writer was killed mid-line
    )
    logs = LogFiles([log])
    report = replay(logs, base=str(log.parent / "p.yaml"), head=str(log.parent / "p.yaml"))
    # "high" and true are decisions refused for their confidence: replayed, not skipped.
    assert (report.records, report.skipped, report.torn) == (6, 6, 1)
    where = {(p.line, p.reason.split(":")[0].split(" ")[0]) for p in report.problems}
    assert {line for line, _ in where} == {2, 3, 4, 5, 10, 11, 13}
    reasons = {p.line: p.reason for p in report.problems}
    assert reasons[2].startswith("not JSON") and "a list" in reasons[3]
    assert reasons[4] == "no 'confidence'" and reasons[5] == "'symbol' is a number, not text"
    assert "not JSON" in reasons[10] and "longer than" in reasons[11]
    assert "torn last line" in reasons[13]


@pytest.fixture(autouse=True)
def _policy_file(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(VALID)


def test_a_truncated_gzip_keeps_what_came_before_and_the_next_file(tmp_path: Path) -> None:
    whole = gzip.compress("".join(_line(confidence=0.9) for _ in range(5000)).encode())
    (tmp_path / "a.jsonl.gz").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "b.jsonl").write_text(_line() * 3)
    logs = LogFiles(log_files([str(tmp_path)]))
    policy = str(tmp_path / "p.yaml")
    report = replay(logs, base=policy, head=policy)
    assert 0 < report.records - 3 < 5000 and report.skipped == 1
    (problem,) = report.problems
    assert problem.file.endswith("a.jsonl.gz") and problem.line == 0
    assert "ends early" in problem.reason


def test_flips_by_direction_code_symbol_and_strategy(tmp_path: Path) -> None:
    head_text = VALID.replace("global_min_confidence: 0.70", "global_min_confidence: 0.8")
    head_text = head_text.replace("[BTCUSDT, ETHUSDT]", "[BTCUSDT, ETHUSDT, SOLUSDT]")
    base, head = _files(tmp_path, head_text)
    log = tmp_path / "d.jsonl"
    log.write_text(
        _line(confidence=0.75) * 3  # allowed, then below the new minimum
        + _line(confidence=0.9)  # allowed under both
        + _line(symbol="SOLUSDT", confidence=0.9)  # refused, then allowed
        + _line(symbol="DOGEUSDT", confidence=0.9)  # refused under both, same reason
        + _line(symbol="DOGEUSDT", confidence=0.75)  # refused under both, a reason more
    )
    report = replay(LogFiles([log]), base=base, head=head)
    assert report.records == 7 and report.unchanged == 2 and report.reasons_changed == 1
    refused, allowed = report.newly_refused, report.newly_allowed
    assert refused.count == 3 and refused.by_code == {"confidence_below_min": 3}
    (group,) = refused.top()
    assert (group.symbol, group.strategy, group.count) == ("BTCUSDT", "trend_follow", 3)
    assert [s["line"] for s in group.samples] == [1, 2, 3]
    assert allowed.count == 1 and allowed.by_symbol == {"SOLUSDT": 1}
    assert allowed.top()[0].code == "symbol_not_allowed"


def test_counts_stay_bounded_whatever_the_log_holds(tmp_path: Path) -> None:
    """A log with a new symbol on every line: the counts keep MAX_KEYS keys and "(other)"."""
    symbols = [f"S{n}USDT" for n in range(MAX_KEYS + 500)]
    base, head = _files(
        tmp_path, VALID.replace("[BTCUSDT, ETHUSDT]", f"[BTCUSDT, ETHUSDT, {', '.join(symbols)}]")
    )
    log = tmp_path / "d.jsonl"
    log.write_text("".join(_line(symbol=symbol, confidence=0.75) for symbol in symbols))
    report = replay(LogFiles([log]), base=base, head=head)
    flips = report.newly_allowed
    assert report.records == flips.count == MAX_KEYS + 500
    assert len(flips.by_symbol) == MAX_KEYS + 1 and flips.by_symbol["(other)"] == 500
    assert len(flips.groups) == MAX_KEYS + 1
    assert flips.groups[("symbol_not_allowed", "(other)", "(other)")].count == 500


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_each_record_is_replayed_under_the_policy_its_digest_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    v8 = VALID.replace("version: 7", "version: 8").replace("0.70", "0.80")
    v9 = VALID.replace("version: 7", "version: 9").replace("0.70", "0.75")
    repo = committed_repo(tmp_path / "repo", VALID)
    commit(repo, v8, "stricter")
    brake = 'reason: "event"\nuntil: "2026-01-02T00:00:00Z"\nset: {global_min_confidence: 0.9}\n'
    (repo / "policy" / "overrides").mkdir()
    (repo / "policy" / "overrides" / "cpi.yaml").write_text(brake)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "brake for the CPI print")
    (repo / "policy" / "overrides" / "cpi.yaml").unlink()
    commit(repo, v9, "looser, brake lifted")
    monkeypatch.chdir(repo)
    log = tmp_path / "d.jsonl"
    log.write_text(
        _line(confidence=0.72, digest=_digest(VALID), allowed=True)  # v7 allowed; 0.75 refuses
        + _line(confidence=0.77, digest=_digest(v8), allowed=False)  # v8 refused; 0.75 allows
        + _line(confidence=0.85, digest=_digest(v8), overrides=["cpi"], allowed=False)
        + _line(confidence=0.72, digest="0" * 64, allowed=True)  # unknown: HEAD's (v9)
        + _line(confidence=0.85, digest=_digest(v8), overrides=["gone"])  # brake not in git
    )
    report = replay(LogFiles([log]))
    assert report.by_digest == 3 and report.fallback == 2 and report.mismatched == 1
    assert report.newly_refused.count == 1 and report.newly_allowed.count == 2
    assert report.unchanged == 2
    assert report.base.startswith("per record")
    first = git(repo, "rev-list", "--max-parents=0", "HEAD")
    pinned = replay(LogFiles([log]), base=first, pin_base=True)  # every record under v7
    assert pinned.by_digest == pinned.fallback == 0 and pinned.mismatched == 2
    assert pinned.newly_refused.count == 2 and pinned.newly_allowed.count == 0
    assert pinned.base == f"{first}:policy/policy.yaml"


def test_a_real_store_s_log_replays_with_its_own_verdicts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = committed_repo(tmp_path / "repo", VALID)
    monkeypatch.chdir(repo)
    log = tmp_path / "decisions.jsonl"
    with PolicyStore(repo / "policy" / "policy.yaml", env={}, watch=False, decision_log=log) as s:
        for n in range(200):
            symbol = ("BTCUSDT", "ETHUSDT", "DOGEUSDT")[n % 3]
            s.decide(symbol=symbol, strategy="trend_follow", confidence=n / 200, order=n)
        s.decide(symbol="BTCUSDT", strategy="trend_follow", confidence=float("nan"))
    report = replay(LogFiles([log]))
    assert report.records == 201 and report.skipped == 0 and report.by_digest == 201
    assert report.mismatched == 0 and report.unchanged == 201


_WRITER = textwrap.dedent(
    """
    import sys
    from policyctl import PolicyStore
    store = PolicyStore(sys.argv[1], env={}, watch=False, decision_log=sys.argv[2])
    print("ready", flush=True)
    n = 0
    while True:
        store.decide(symbol="BTCUSDT", strategy="trend_follow", confidence=0.9, n=n, pad="x" * 300)
        n += 1
    """
)


@pytest.mark.slow  # soak: 3 logging processes killed mid-write
def test_kill_9_while_logging_never_corrupts_a_written_line(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text(VALID)
    log = tmp_path / "decisions.jsonl"
    for _ in range(3):
        process = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(tmp_path / "policy.yaml"), str(log)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
        time.sleep(0.3)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        process.stdout.close()
        with log.open("ab") as f:  # the next writer appends after a possibly torn line
            if log.stat().st_size and not log.read_bytes().endswith(b"\n"):
                f.write(b"\n")
    logs = LogFiles([log])
    policy = str(tmp_path / "policy.yaml")
    report = replay(logs, base=policy, head=policy)
    assert report.records > 1000
    # A torn line can only be a last line: mid-file it shows as one skipped line per kill.
    assert report.skipped + report.torn <= 3
    assert all("not JSON" in p.reason or "torn" in p.reason for p in report.problems)


def test_decisions_refused_for_their_confidence_are_replayed_as_refused(tmp_path: Path) -> None:
    """A decision refused because its confidence was no number (text, a boolean, null, a list,
    an integer too large) is logged, and replays as what it was: refused under any policy,
    counted, never skipped as "not a decision"."""
    log = tmp_path / "decisions.jsonl"
    with PolicyStore(tmp_path / "p.yaml", env={}, watch=False, decision_log=log) as store:
        for confidence in ("0.8", None, True, [0.8], 10**400, 2**60, "nan"):
            verdict = store.decide(symbol="BTCUSDT", strategy="trend_follow", confidence=confidence)  # type: ignore[arg-type]
            assert not verdict.allowed
    (tmp_path / "head.yaml").write_text(VALID.replace("0.70", "0.10"))  # looser: no flip here
    report = replay(
        LogFiles([log]), base=str(tmp_path / "p.yaml"), head=str(tmp_path / "head.yaml")
    )
    assert (report.records, report.skipped) == (7, 0), report.problems
    assert report.newly_allowed.count == 0 and report.newly_refused.count == 0
    assert report.unchanged + report.reasons_changed == 7
