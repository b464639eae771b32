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
    ('lstm: "3.10"', 'lstm: "3.11"', "auto"),  # a new version of a model it runs
    ('lstm: "3.10"', 'lstm: "3.10", brandnew: "1"', "review"),  # a model added
    ('xgboost: "v12", ', "", "review"),  # a model dropped
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


def _brake_file(until: datetime, settings_text: str, start: datetime | None = None) -> str:
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    begins = f'from: "{start.strftime(stamp)}"\n' if start else ""
    return f'reason: "r"\n{begins}until: "{until.strftime(stamp)}"\nset: {settings_text}\n'


NOW = datetime.now(UTC).replace(microsecond=0)
DAY = timedelta(days=1)
# (the base's brake, the head's brake or None, the lane): the base's brake holds nothing back
# today (the policy is already as tight, or it expired) in every weakening case but the first.
BRAKE_EDITS = {
    "removed, in force": (_brake_file(NOW + DAY, "{max_positions: 2}"), None, "review"),
    "removed, no effect today": (_brake_file(NOW + DAY, "{max_positions: 9}"), None, "review"),
    "removed, expired": (
        _brake_file(NOW - DAY, "{max_positions: 2}", NOW - 2 * DAY),
        None,
        "review",
    ),
    "shortened, no effect today": (
        _brake_file(NOW + 2 * DAY, "{max_positions: 9}"),
        _brake_file(NOW + DAY, "{max_positions: 9}"),
        "review",
    ),
    "weakened, no effect today": (
        _brake_file(NOW + DAY, "{max_positions: 8}"),
        _brake_file(NOW + DAY, "{max_positions: 9}"),
        "review",
    ),
    "drops a field, no effect today": (
        _brake_file(NOW + DAY, "{max_positions: 9, risk_mode: NORMAL}"),
        _brake_file(NOW + DAY, "{max_positions: 9}"),
        "review",
    ),
    "unpins a model": (
        _brake_file(NOW + DAY, '{model_versions: {lstm: "3.10"}}'),
        _brake_file(NOW + DAY, '{model_versions: {lstm: "3.11"}}'),
        "review",
    ),
    "starts later": (
        _brake_file(NOW + DAY, "{max_positions: 2}", NOW + DAY / 2),
        _brake_file(NOW + DAY, "{max_positions: 2}", NOW + DAY * 3 / 4),
        "review",
    ),
    "extended and tightened": (
        _brake_file(NOW + DAY, "{max_positions: 3}"),
        _brake_file(NOW + 2 * DAY, "{max_positions: 2, risk_mode: DEFENSIVE}"),
        "auto",
    ),
}


@pytest.mark.parametrize("case", sorted(BRAKE_EDITS))
def test_a_brake_is_lifted_or_weakened_only_by_review(tmp_path: Path, case: str) -> None:
    """Whatever its effect today: a brake that holds nothing back now may be what holds back
    the next change (a pull request queued behind this one)."""
    old, new, expected = BRAKE_EDITS[case]
    sides = {}
    for side, text in (("base", old), ("head", new)):
        (tmp_path / side / "overrides").mkdir(parents=True)
        (tmp_path / side / "policy.yaml").write_text(VALID)
        if text is not None:
            (tmp_path / side / "overrides" / "b.yaml").write_text(text)
        sides[side] = str(tmp_path / side / "policy.yaml")
    verdict = lane(compare(sides["base"], sides["head"], base_kind="file", head_kind="file"))
    assert verdict.lane == expected, verdict.reasons
    if expected == "review":
        assert any(r.startswith("brake b ") for r in verdict.reasons), verdict.reasons


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("policy/policy.yaml", "auto"),
        ("policy/overrides/calm.yaml", "auto"),
        ("policy/replay/sample.jsonl", "review"),  # the sample the review replays
        ("policy/overrides/.hidden.yaml", "review"),  # not a brake file
        ("policy/overrides/deeper/x.yaml", "invalid"),  # a directory among the brakes
        ("README.md", "review"),
        ("policyctl/review/_lane.py", "review"),  # the checker itself
    ],
)
def test_the_auto_lane_takes_only_the_policy_and_brake_files(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    path: str,
    expected: str,
) -> None:
    repo = committed_repo(tmp_path / "repo", VALID)
    monkeypatch.chdir(repo)
    git(repo, "checkout", "-q", "-b", "pr")
    tighter = VALID.replace("version: 7", "version: 8").replace("NORMAL", "DEFENSIVE")
    (repo / "policy" / "policy.yaml").write_text(tighter)
    target = repo / path
    target.parent.mkdir(parents=True, exist_ok=True)
    if path == "policy/overrides/calm.yaml":
        target.write_text(f'reason: "r"\nuntil: "{UNTIL}"\nset: {{max_positions: 2}}\n')
    elif path != "policy/policy.yaml":
        target.write_text("anything\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "tighten, and one more file")
    capsys.readouterr()
    status = main(["lane", "main", "pr"])
    text = capsys.readouterr().out
    assert text.splitlines()[0] == expected, text
    assert status == (0 if expected == "auto" else 1)
    if expected == "review":
        assert f"{path} changed: the auto lane takes only" in text
    if expected == "invalid":
        assert "policy/overrides/deeper is a directory" in text


def test_an_untracked_file_in_the_working_tree_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = committed_repo(tmp_path / "repo", VALID)
    monkeypatch.chdir(repo)
    tighter = VALID.replace("version: 7", "version: 8").replace("NORMAL", "DEFENSIVE")
    (repo / "policy" / "policy.yaml").write_text(tighter)
    assert main(["lane", "main"]) == 0
    (repo / "policy" / "replay").mkdir()
    (repo / "policy" / "replay" / "sample.jsonl").write_text("{}\n")
    capsys.readouterr()
    assert main(["lane", "main"]) == 1
    assert "policy/replay/sample.jsonl changed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "pin",
    ['{model_versions: {lstm: "3.10"}}', '{model_versions: {newmodel: "1"}}',
     '{model_versions: {lstm: "9.99"}}'],
)  # fmt: skip
def test_a_brake_that_pins_a_model_is_reviewed(tmp_path: Path, pin: str) -> None:
    """A pin may add a model the policy lacks or move one forward: never the auto lane."""
    verdict_lane, reasons = _lane(tmp_path, VALID, {"pin": pin})
    assert verdict_lane == "review", reasons
    assert any("pins model_versions" in r for r in reasons)


def _adjustment_file(until: datetime, settings_text: str, start: datetime | None = None) -> str:
    # An adjustment states its whole window: from now, unless it says later.
    return "kind: adjustment\nticket: RISK-1\n" + _brake_file(until, settings_text, start or NOW)


HOUR = timedelta(hours=1)
# (the base's file or None, the head's file or None, the lane): a temporary adjustment is the
# other way round from a brake: added or extended is reviewed, removed or shortened is not.
ADJUSTMENT_EDITS = {
    "added": (None, _adjustment_file(NOW + HOUR, "{max_positions: 8}"), "review"),
    "added, tightening": (None, _adjustment_file(NOW + HOUR, "{max_positions: 2}"), "review"),
    "added, scheduled": (
        None,
        _adjustment_file(NOW + 3 * HOUR, "{max_positions: 8}", NOW + 2 * HOUR),
        "review",
    ),
    "removed": (_adjustment_file(NOW + HOUR, "{max_positions: 8}"), None, "auto"),
    "shortened": (
        _adjustment_file(NOW + 2 * HOUR, "{max_positions: 8}"),
        _adjustment_file(NOW + HOUR, "{max_positions: 8}"),
        "auto",
    ),
    "less loose": (
        _adjustment_file(NOW + HOUR, "{max_positions: 8}"),
        _adjustment_file(NOW + HOUR, "{max_positions: 6}"),
        "auto",
    ),
    "extended": (
        _adjustment_file(NOW + HOUR, "{max_positions: 8}"),
        _adjustment_file(NOW + 2 * HOUR, "{max_positions: 8}"),
        "review",
    ),
    "starts earlier": (
        _adjustment_file(NOW + 3 * HOUR, "{max_positions: 8}", NOW + 2 * HOUR),
        _adjustment_file(NOW + 3 * HOUR, "{max_positions: 8}", NOW + HOUR),
        "review",
    ),
    "looser": (
        _adjustment_file(NOW + HOUR, "{max_positions: 8}"),
        _adjustment_file(NOW + HOUR, "{max_positions: 9}"),
        "review",
    ),
    "sets more": (
        _adjustment_file(NOW + HOUR, "{max_positions: 8}"),
        _adjustment_file(NOW + HOUR, "{max_positions: 8, max_risk_per_trade: 0.02}"),
        "review",
    ),
    "removed, it tightened": (_adjustment_file(NOW + HOUR, "{max_positions: 2}"), None, "review"),
    "a brake turned into an adjustment": (
        _brake_file(NOW + HOUR, "{max_positions: 2}"),
        _adjustment_file(NOW + HOUR, "{max_positions: 2}"),
        "review",
    ),
}


@pytest.mark.parametrize("case", sorted(ADJUSTMENT_EDITS))
def test_an_adjustment_is_added_or_extended_only_by_review(tmp_path: Path, case: str) -> None:
    old, new, expected = ADJUSTMENT_EDITS[case]
    sides = {}
    for side, text in (("base", old), ("head", new)):
        (tmp_path / side / "overrides").mkdir(parents=True)
        (tmp_path / side / "policy.yaml").write_text(VALID)
        if text is not None:
            (tmp_path / side / "overrides" / "a.yaml").write_text(text)
        sides[side] = str(tmp_path / side / "policy.yaml")
    verdict = lane(compare(sides["base"], sides["head"], base_kind="file", head_kind="file"))
    assert verdict.lane == expected, verdict.reasons
