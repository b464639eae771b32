"""diff with brakes (real git): override files added, changed or removed are listed with the
direction of their effect, the policy in force now is shown when brakes change it, and a
change that only adds a brake needs no version bump."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from policyctl.cli import main

from ..support.git import committed_repo, git
from ..support.policy import VALID

Capture = pytest.CaptureFixture[str]


def _at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _brake(
    root: Path, name: str, settings: str, until: datetime, start: datetime | None = None
) -> None:
    directory = root / "policy" / "overrides"
    directory.mkdir(exist_ok=True)
    start_line = f'from: "{_at(start)}"\n' if start else ""
    (directory / f"{name}.yaml").write_text(
        f'reason: "{name} reason"\n{start_line}until: "{_at(until)}"\nset: {settings}\n'
    )


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = committed_repo(tmp_path / "repo", VALID)
    monkeypatch.chdir(root)
    yield root


def test_adding_a_brake_tightens_and_needs_no_bump(repo: Path, capsys: Capture) -> None:
    _brake(repo, "calm", "{risk_mode: DEFENSIVE}", datetime.now(UTC) + timedelta(hours=2))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "brake")
    assert main(["diff", "HEAD^1", "HEAD", "--require-bump", "--"]) == 0
    out = capsys.readouterr().out
    assert "no semantic change to the policy file" in out
    assert "tightens  + calm (until" in out and "calm reason" in out
    assert (
        "in force now (files and active brakes):\n  tightens  risk_mode: NORMAL -> DEFENSIVE" in out
    )
    assert main(["diff", "HEAD^1", "HEAD", "--format", "json", "--"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["changes"] == [] and doc["brakes"][0]["direction"] == "tightens"
    assert [c["path"] for c in doc["effective"]] == ["risk_mode"]
    assert main(["diff", "HEAD^1", "HEAD", "--format", "markdown", "--"]) == 0
    assert "#### Brakes" in capsys.readouterr().out


def test_a_brake_that_is_already_as_tight_is_neutral(repo: Path, capsys: Capture) -> None:
    _brake(repo, "loose", "{max_positions: 50}", datetime.now(UTC) + timedelta(hours=2))
    assert main(["diff"]) == 0  # HEAD against the working tree
    assert "neutral   + loose" in capsys.readouterr().out


def test_removing_or_shortening_a_brake_loosens(repo: Path, capsys: Capture) -> None:
    until = datetime.now(UTC) + timedelta(hours=2)
    _brake(repo, "a", "{max_positions: 2}", until)
    _brake(repo, "b", "{global_min_confidence: 0.9}", until)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "brakes")
    (repo / "policy" / "overrides" / "a.yaml").unlink()
    _brake(repo, "b", "{global_min_confidence: 0.9}", until - timedelta(hours=1))
    assert main(["diff", "--format", "json"]) == 0
    brakes = {b["name"]: b for b in json.loads(capsys.readouterr().out)["brakes"]}
    assert (brakes["a"]["action"], brakes["a"]["direction"]) == ("removed", "loosens")
    assert (brakes["b"]["action"], brakes["b"]["direction"]) == ("changed", "loosens")
    assert brakes["b"]["why"] == "ends earlier"


def test_a_scheduled_brake_counts_by_its_effect(repo: Path, capsys: Capture) -> None:
    start = datetime.now(UTC) + timedelta(days=1)
    _brake(repo, "later", "{allowed_symbols: [BTCUSDT]}", start + timedelta(hours=1), start)
    assert main(["diff"]) == 0
    out = capsys.readouterr().out
    assert "tightens  + later (from" in out
    assert "in force now" not in out  # nothing changes before it starts


def test_an_invalid_brake_makes_the_head_invalid(repo: Path, capsys: Capture) -> None:
    (repo / "policy" / "overrides").mkdir()
    (repo / "policy" / "overrides" / "bad.yaml").write_text(
        'reason: "x"\nuntil: "2030-01-01T00:00:00Z"\nset: {version: 3}\n'
    )
    assert main(["diff"]) == 1
    assert "set.version: 'version' cannot be set by an override" in capsys.readouterr().out


def test_log_shows_the_brakes_history_with_reasons(repo: Path, capsys: Capture) -> None:
    until = datetime.now(UTC) + timedelta(hours=2)
    _brake(repo, "calm", "{risk_mode: DEFENSIVE}", until)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "brake for the CPI print")
    _brake(repo, "calm", "{risk_mode: DEFENSIVE}", until + timedelta(hours=1))
    git(repo, "commit", "-qam", "extend")
    git(repo, "rm", "-q", "policy/overrides/calm.yaml")
    git(repo, "commit", "-qm", "lift")
    assert main(["log", "--brakes"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(": ", 1)[1].split(" (")[0] for line in lines] == [
        "removed brake calm",
        "changed brake calm",
        "added brake calm",
    ]
    assert "calm reason  [brake for the CPI print]" in lines[2]
    assert main(["log", "--brakes", "--format", "json", "-n", "1"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert (entry["action"], entry["name"], entry["reason"], entry["valid"]) == (
        "removed",
        "calm",
        "calm reason",
        True,
    )
