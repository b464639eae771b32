"""Lanes: a table over every field and direction, brakes by their effect, and a property: lane
says auto exactly when diff (its JSON, as a reviewer's tools read it) finds nothing loosening."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policyctl.cli import main
from policyctl.review import compare, lane

from ..support.git import committed_repo, git
from ..support.policy import VALID
from ..support.readme import documented

UNTIL = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
EDITS = [
    ("risk_mode: NORMAL", "risk_mode: DEFENSIVE", "auto"),
    ("risk_mode: NORMAL", "risk_mode: AGGRESSIVE", "review"),
    ("max_risk_per_trade: 0.01", "max_risk_per_trade: 0.005", "auto"),
    ("max_risk_per_trade: 0.01", "max_risk_per_trade: 0.02", "review"),
    ("max_positions: 5", "max_positions: 4", "auto"),
    ("max_positions: 5", "max_positions: 6", "review"),
    ("global_min_confidence: 0.70", "global_min_confidence: 0.8", "auto"),
    ("global_min_confidence: 0.70", "global_min_confidence: 0.6", "review"),
    ("[BTCUSDT, ETHUSDT]", "[BTCUSDT]", "review"),  # ETHUSDT is ranked: the head is invalid
    ("[trend_follow, mean_reversion]", "[trend_follow]", "auto"),
    ("[trend_follow, mean_reversion]", "[trend_follow, mean_reversion, carry]", "review"),
    ("BTCUSDT: 0.92", "BTCUSDT: 0.5", "auto"),  # rankings are neutral
    ('lstm: "3.10"', 'lstm: "3.11"', "auto"),  # model versions too
    ("version: 7", "version: 8", "auto"),
]


def _lane(
    tmp_path: Path, head_text: str, brakes: dict[str, str] | None = None
) -> tuple[str, tuple[str, ...]]:
    (tmp_path / "base").mkdir(exist_ok=True)
    (tmp_path / "head" / "overrides").mkdir(parents=True, exist_ok=True)
    (tmp_path / "base" / "policy.yaml").write_text(VALID)
    (tmp_path / "head" / "policy.yaml").write_text(head_text)
    for old in (tmp_path / "head" / "overrides").iterdir():
        old.unlink()
    for name, settings_text in (brakes or {}).items():
        (tmp_path / "head" / "overrides" / f"{name}.yaml").write_text(
            f'reason: "r"\nuntil: "{UNTIL}"\nset: {settings_text}\n'
        )
    base, head = tmp_path / "base" / "policy.yaml", tmp_path / "head" / "policy.yaml"
    verdict = lane(compare(str(base), str(head), base_kind="file", head_kind="file"))
    return verdict.lane, verdict.reasons


@pytest.mark.parametrize(("old", "new", "expected"), EDITS, ids=[e[1] for e in EDITS])
def test_every_field_and_direction(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in VALID
    got, reasons = _lane(tmp_path, VALID.replace(old, new))
    if new == "[BTCUSDT]":
        assert got == "invalid" and "ETHUSDT is ranked" in reasons[0]
    else:
        assert got == expected, reasons


def test_brakes_count_by_their_effect(tmp_path: Path) -> None:
    assert _lane(tmp_path, VALID, {"calm": "{risk_mode: DEFENSIVE}"})[0] == "auto"
    assert _lane(tmp_path, VALID, {"noop": "{max_positions: 50}"})[0] == "auto"  # no effect
    # A looser file change hidden under a brake is still a loosening.
    looser = VALID.replace("max_positions: 5", "max_positions: 9")
    got, reasons = _lane(tmp_path, looser, {"cap": "{max_positions: 2}"})
    assert got == "review" and "max_positions changed: loosens" in reasons


def test_lane_json_and_exit_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = committed_repo(tmp_path / "repo", VALID)
    (repo / "policy" / "policy.yaml").write_text(VALID.replace("NORMAL", "AGGRESSIVE"))
    git(repo, "commit", "-qam", "risk on")
    monkeypatch.chdir(repo)
    assert main(["lane", "HEAD^1", "HEAD", "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == documented("lane")
    assert doc == {
        "lane": "review",
        "reasons": ["risk_mode changed: loosens"],
    }
    assert main(["lane", "HEAD^1", "nope"]) == 2


VALUES = {
    "risk_mode": st.sampled_from(["AGGRESSIVE", "NORMAL", "DEFENSIVE"]),
    "max_positions": st.integers(1, 20).map(str),
    "max_risk_per_trade": st.sampled_from(["0.005", "0.01", "0.02", "0.04"]),
    "global_min_confidence": st.sampled_from(["0.5", "0.70", "0.9"]),
    "allowed_strategies": st.sampled_from(
        ["[trend_follow]", "[trend_follow, mean_reversion]", "[mean_reversion, breakout]"]
    ),
}
CURRENT = {
    "risk_mode": "NORMAL",
    "max_positions": "5",
    "max_risk_per_trade": "0.01",
    "global_min_confidence": "0.70",
    "allowed_strategies": "[trend_follow, mean_reversion]",
}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.fixed_dictionaries({}, optional=VALUES))
def test_lane_is_auto_exactly_when_diff_finds_no_loosening(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], edits: dict[str, str]
) -> None:
    head = VALID
    for field, value in edits.items():
        head = head.replace(f"{field}: {CURRENT[field]}", f"{field}: {value}")
    got, _ = _lane(tmp_path, head)
    base, new = tmp_path / "base" / "policy.yaml", tmp_path / "head" / "policy.yaml"
    capsys.readouterr()
    main(["diff", "--base-file", str(base), "--head-file", str(new), "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    if not doc["head"]["valid"]:
        assert got == "invalid"
        return
    loosening = [c for c in doc["changes"] + doc["effective"] if c["direction"] == "loosens"]
    loosening += [b for b in doc["brakes"] if b["direction"] == "loosens"]
    assert (got == "auto") == (not loosening)
