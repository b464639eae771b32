"""One definition of the decision record: the writer, the generator and the reader agree with
`policyctl.decisions` KEYS and FORMAT, and older records (no ``format``, brakes under
``overrides``) still read the same."""

from __future__ import annotations

import io
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from policyctl import PolicyStore, load_policy
from policyctl.cli import main
from policyctl.decisions import (
    FORMAT,
    KEYS,
    ORDER_INPUTS,
    LogFiles,
    brakes_of,
    format_of,
    generate,
)

from ..support.policy import VALID


def _with_brake(tmp_path: Path) -> Path:
    policy = tmp_path / "policy.yaml"
    policy.write_text(VALID)
    (tmp_path / "overrides").mkdir()
    until = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    (tmp_path / "overrides" / "cpi.yaml").write_text(
        f'reason: cpi\nuntil: "{until}"\nset: {{max_positions: 2}}\n'
    )
    return policy


SIGNAL_KEYS = tuple(k for k in KEYS if k not in ORDER_INPUTS)


def test_the_writer_writes_every_key_in_order(tmp_path: Path) -> None:
    policy, log = _with_brake(tmp_path), tmp_path / "decisions.jsonl"
    with PolicyStore(policy, env={}, watch=False, decision_log=log) as store:
        store.decide(symbol="BTCUSDT", strategy="trend_follow", confidence=0.8, signal="s-1")
        store.decide(
            symbol="BTCUSDT",
            strategy="trend_follow",
            confidence=0.8,
            risk_per_trade=0.004,
            open_positions=2,
            order="o-1",
        )
    signal, order = (json.loads(line) for line in log.read_text().splitlines())
    assert tuple(signal) == SIGNAL_KEYS and tuple(order) == KEYS
    assert (order["risk_per_trade"], order["open_positions"]) == (0.004, 2)
    assert order["codes"] == ["max_positions_reached"]  # the brake allows 2: a third is over
    assert signal["risk_mode"] == order["risk_mode"] == "NORMAL"
    assert signal["format"] == FORMAT == 2
    assert brakes_of(signal) == ["cpi"] == signal["overrides"]


def test_the_generator_writes_the_same_record(tmp_path: Path) -> None:
    snapshot = load_policy(_with_brake(tmp_path), env={})
    out = io.BytesIO()
    generate(snapshot, 20, out, seed=1)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(records) == 20 and all(tuple(r) in (KEYS, SIGNAL_KEYS) for r in records)
    assert {tuple(r) for r in records} == {KEYS, SIGNAL_KEYS}  # orders and signals
    assert {tuple(brakes_of(r)) for r in records} == {("cpi",)}


def test_an_older_record_reads_as_format_1_with_its_brakes(tmp_path: Path) -> None:
    old = {"symbol": "BTCUSDT", "strategy": "x", "confidence": 0.5, "overrides": ["cpi"]}
    assert format_of(old) == 1 and brakes_of(old) == ["cpi"]
    log = tmp_path / "old.jsonl"
    log.write_text(json.dumps(old) + "\n")
    files = LogFiles([log])
    assert [record for _, (_, record, *_) in files] == [old] and files.records == 1


def test_a_hostile_line_is_skipped_with_its_reason_a_hostile_value_is_kept(tmp_path: Path) -> None:
    good = {"symbol": "BTCUSDT", "strategy": "x", "confidence": 0.5}
    log = tmp_path / "log.jsonl"
    log.write_text(
        json.dumps(good)
        + "\n"
        + json.dumps({**good, "confidence": 10**400})
        + "\n"
        + "[" * 200_000
        + "]" * 200_000
        + "\n"
        + json.dumps(good)
        + "\n"
    )
    files = LogFiles([log])
    read = list(files)
    assert len(read) == 3 and files.skipped == 1
    assert read[1][1][4] == 10**400  # a decision refused for it: replayed as what was logged
    reasons = [p.reason for p in files.problems]
    assert reasons == ["nested too deep: not a decision"]


def test_replay_takes_only_regular_files_and_directories(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "fifo.jsonl"
    os.mkfifo(fifo)
    for argument in (str(fifo), "/dev/zero"):
        assert main(["replay", argument, "--base", "x", "--head", "y"]) == 2
        assert "not a regular file or a directory" in capsys.readouterr().err


def test_blank_lines_are_skipped_as_blank(tmp_path: Path) -> None:
    """Counted without building a JSON error each (10 MiB of them took 54 s; now what reading
    the lines costs)."""
    log = tmp_path / "log.jsonl"
    log.write_text("\n" * 200_000 + json.dumps({"symbol": "A", "strategy": "b", "confidence": 0.5}))
    files = LogFiles([log])
    assert len(list(files)) == 1 and files.skipped == 200_000
    assert files.problems[0].reason == "a blank line"
