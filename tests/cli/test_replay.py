"""`policyctl replay`: exit codes for gates, the documented JSON shape, escaped output in every
format, and --generate's synthetic log."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from policyctl.cli import main

from ..support.git import committed_repo
from ..support.policy import VALID
from ..support.readme import documented

Capture = pytest.CaptureFixture[str]
TIGHTER = VALID.replace("global_min_confidence: 0.70", "global_min_confidence: 0.8")


def _line(symbol: str = "BTCUSDT", confidence: Any = 0.75, strategy: str = "trend_follow") -> str:
    return json.dumps({"symbol": symbol, "strategy": strategy, "confidence": confidence}) + "\n"


@pytest.fixture
def sides(tmp_path: Path) -> tuple[str, str]:
    (tmp_path / "base.yaml").write_text(VALID)
    (tmp_path / "head.yaml").write_text(TIGHTER)
    return str(tmp_path / "base.yaml"), str(tmp_path / "head.yaml")


def test_exit_codes_for_gates(tmp_path: Path, sides: tuple[str, str], capsys: Capture) -> None:
    base, head = sides
    log = tmp_path / "d.jsonl"
    log.write_text(_line() + "oops\n")
    assert main(["replay", str(log), "--base", base, "--head", head]) == 0
    assert "would refuse 1 decisions" in capsys.readouterr().out
    assert main(["replay", str(log), "--base", base, "--head", head, "--strict"]) == 1
    assert main(["replay", str(log), "--base", base, "--head", head, "--fail-on", "any"]) == 1
    assert main(["replay", str(log), "--base", base, "--head", head, "--fail-on", "loosen"]) == 0
    # The other way round the change loosens.
    assert main(["replay", str(log), "--base", head, "--head", base, "--fail-on", "loosen"]) == 1
    (tmp_path / "junk.jsonl").write_text("not a log\n")
    assert main(["replay", str(tmp_path / "junk.jsonl"), "--base", base, "--head", head]) == 1
    err = capsys.readouterr().err
    assert "no decision could be replayed" in err
    assert main(["replay", str(tmp_path / "missing.jsonl"), "--base", base]) == 2
    assert main(["replay", "--base", base]) == 2
    assert main(["replay", str(log), "--pin-base"]) == 2  # pinned to what?
    assert main(["replay", str(log), "--base", base, "--pin-base", "--head", head]) == 0


def test_an_unknown_revision_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    repo = committed_repo(tmp_path / "repo", VALID)
    monkeypatch.chdir(repo)
    (repo / "d.jsonl").write_text(_line())
    assert main(["replay", "d.jsonl", "--base", "no-such-rev"]) == 2
    assert "no-such-rev" in capsys.readouterr().err
    assert main(["replay", "d.jsonl"]) == 0  # per record; HEAD for records naming no policy


def test_json_shape(tmp_path: Path, sides: tuple[str, str], capsys: Capture) -> None:
    base, head = sides
    log = tmp_path / "d.jsonl.gz"
    log.write_bytes(gzip.compress((_line() * 2 + "{}\n").encode()))
    assert main(["replay", str(log), "--base", base, "--head", head, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == documented("replay")
    assert set(doc["newly_refused"]) == set(doc["newly_allowed"]) == documented("replay flips")
    (group,) = doc["newly_refused"]["groups"]
    assert set(group) == documented("replay group")
    assert group["count"] == 2 and group["code"] == "confidence_below_min"
    assert set(group["samples"][0]) == {"file", "line", "time", "confidence"}
    (problem,) = doc["problems"]
    assert set(problem) == documented("replay problem") and problem["line"] == 3


HOSTILE = "\x1b[2J`|<b>x</b>\u202e"


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_logged_text_is_escaped_in_every_format(
    tmp_path: Path, sides: tuple[str, str], capsys: Capture, fmt: str
) -> None:
    base, _ = sides
    log = tmp_path / f"{HOSTILE.replace('/', '')}.jsonl"
    log.write_text(_line(symbol="BTCUSDT", strategy=HOSTILE) + _line(symbol=HOSTILE) + "x\x1b\n")
    loose = tmp_path / "loose.yaml"
    loose.write_text(VALID.replace("[trend_follow, mean_reversion]", "[trend_follow, other]"))
    main(["replay", str(log), "--base", base, "--head", str(loose), "--format", fmt])
    captured = capsys.readouterr()
    for stream in (captured.out, captured.err):
        assert "\x1b" not in stream and "\u202e" not in stream
    if fmt == "markdown":
        assert "<b>" not in captured.out and "`|" not in captured.out


def test_generate_writes_a_log_that_replays_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    repo = committed_repo(tmp_path / "repo", VALID)
    monkeypatch.chdir(repo)
    assert main(["replay", "--generate", "500", "-o", "s.jsonl.gz", "--seed", "3"]) == 0
    assert main(["replay", "--generate", "500", "-o", "t.jsonl.gz", "--seed", "3"]) == 0
    records, again = (
        [json.loads(line) for line in gzip.decompress((repo / name).read_bytes()).splitlines()]
        for name in ("s.jsonl.gz", "t.jsonl.gz")
    )
    assert len(records) == 500
    for record in (*records, *again):
        del record["time"]  # the week before now
    assert records == again  # one seed, one log
    assert {"symbol", "strategy", "confidence", "allowed", "codes", "digest"} <= set(records[0])
    assert 0 < sum(not r["allowed"] for r in records) < 250  # mostly allowed, some refused
    assert main(["replay", "s.jsonl.gz", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["records"] == doc["by_digest"] == doc["unchanged"] == 500
    assert doc["mismatched"] == 0
    assert main(["replay", "--generate", "5", "s.jsonl.gz"]) == 2
