"""set and reset: every untouched byte kept, refusals leave the file alone, no lost updates."""

from __future__ import annotations

import difflib
import os
import re
import stat
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

import policyctl
from policyctl.cli import main
from policyctl.edit import reset_policy, set_value
from policyctl.errors import EditRefused

NOW = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)

COMMENTED = textwrap.dedent(
    """\
    # yaml-language-server: $schema=../schemas/global_policy.schema.json
    # The policy of record.   Reviewed weekly.

    version: 41   # bumped by every change

    # mode
    risk_mode: NORMAL        # house default
    allowed_strategies:      # block style, indented
        - trend_follow       # the workhorse
        - mean_reversion
    allowed_symbols: [ BTCUSDT,  ETHUSDT ]   # odd spacing kept
    max_risk_per_trade: 1.0e-2   # 1%
    max_positions: 0005          # leading zeros: YAML 1.2 reads 5
    global_min_confidence: 0.70
    opp_rankings:
      BTCUSDT: 0.92   # strong
      ETHUSDT: 0.81

    # versions
    model_versions: {xgboost: 'v12', lstm: "3.10"}
    # trailing comment
    """
)


def _changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    """(removed, added) line pairs of a diff; every other line must be byte-identical."""
    out = []
    old, new = before.splitlines(True), after.splitlines(True)
    matcher = difflib.SequenceMatcher(a=old, b=new)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            out.append(("".join(old[i1:i2]), "".join(new[j1:j2])))
    return out


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(COMMENTED)
    return path


@pytest.mark.parametrize(
    ("field", "value", "expected_change"),
    [
        ("risk_mode", "DEFENSIVE", ("risk_mode: NORMAL ", "risk_mode: DEFENSIVE ")),
        ("risk_mode", "AGGRESSIVE", ("risk_mode: NORMAL ", "risk_mode: AGGRESSIVE ")),
        ("max_positions", "4", ("max_positions: 0005 ", "max_positions: 4 ")),
        (
            "max_risk_per_trade",
            "0.02",
            ("max_risk_per_trade: 1.0e-2 ", "max_risk_per_trade: 0.02 "),
        ),
        (
            "global_min_confidence",
            ".75",
            ("global_min_confidence: 0.70", "global_min_confidence: 0.75"),
        ),
        (
            "allowed_symbols",
            "[BTCUSDT, ETHUSDT, SOLUSDT]",
            ("[ BTCUSDT,  ETHUSDT ]", "[BTCUSDT, ETHUSDT, SOLUSDT]"),
        ),
        ("allowed_strategies", '["carry"]', ("- trend_follow", "- carry")),  # block stays block
        ("opp_rankings.ETHUSDT", "0.5", ("ETHUSDT: 0.81", "ETHUSDT: 0.5")),
        ("opp_rankings", '{"BTCUSDT": 0.1}', ("BTCUSDT: 0.92", "  BTCUSDT: 0.1")),
        ("model_versions.lstm", '"3.11"', ('lstm: "3.10"', 'lstm: "3.11"')),
        ("model_versions.gru", "'12'", ('"3.10"}', '"3.10", gru: "12"}')),
        ("model_versions", '{"x": "1"}', ("{xgboost: 'v12', lstm: \"3.10\"}", '{x: "1"}')),
    ],
)
def test_set_changes_only_what_it_must(
    policy: Path, field: str, value: str, expected_change: tuple[str, str]
) -> None:
    result = set_value(policy, field, value, now=NOW)
    after = policy.read_text()
    assert result.written and result.new.version == 42
    changes = _changed_lines(COMMENTED, after)
    # the version line, the edited value, and last_updated appended at the end
    assert changes[0] == (
        "version: 41   # bumped by every change\n",
        "version: 42   # bumped by every change\n",
    )
    assert changes[-1] == ("", 'last_updated: "2026-11-28T09:30:00Z"\n')
    middle = "".join(a for a, _ in changes[1:-1]), "".join(b for _, b in changes[1:-1])
    assert expected_change[0] in middle[0] and expected_change[1] in middle[1], middle
    # comments on edited scalar lines survive (a replaced block keeps none of its insides)
    whole_collection = field in ("opp_rankings", "model_versions", "allowed_strategies")
    for removed, added in [] if whole_collection else changes[1:-1]:
        for line_before, line_after in zip(removed.splitlines(), added.splitlines(), strict=False):
            if "#" in line_before and line_before.lstrip()[0] not in "-":
                assert line_before[line_before.index("#") :] in line_after
    assert policyctl.load_policy(policy, env={}).version == 42


def test_ranking_a_symbol_not_allowed_is_refused(policy: Path) -> None:
    with pytest.raises(policyctl.PolicyValidationError, match="SOLUSDT is ranked but not in"):
        set_value(policy, "opp_rankings.SOLUSDT", "0.3", now=NOW)
    assert policy.read_text() == COMMENTED


def test_set_entry_in_block_map_lands_in_place(policy: Path) -> None:
    set_value(policy, "allowed_symbols", "[BTCUSDT, ETHUSDT, SOLUSDT]", now=NOW)
    set_value(policy, "opp_rankings.SOLUSDT", "0.3", now=NOW)
    text = policy.read_text()
    assert "  ETHUSDT: 0.81\n  SOLUSDT: 0.3\n\n# versions\n" in text
    assert policyctl.load_policy(policy, env={}).policy.opp_rankings["SOLUSDT"] == 0.3


def test_last_updated_is_replaced_in_place_when_present(policy: Path) -> None:
    set_value(policy, "max_positions", "4", now=NOW)
    set_value(policy, "max_positions", "3", now=datetime(2026, 11, 29, tzinfo=UTC))
    text = policy.read_text()
    assert text.count("last_updated") == 1 and '"2026-11-29T00:00:00Z"' in text


@pytest.mark.parametrize(
    ("field", "value", "error", "status"),
    [
        ("max_positions", "0", policyctl.PolicyValidationError, 1),
        ("max_positions", "true", policyctl.PolicyValidationError, 1),
        ("max_positions", "500", policyctl.PolicyValidationError, 1),  # aggregate risk > 100%
        ("risk_mode", "PANIC", policyctl.PolicyValidationError, 1),
        ("allowed_symbols", "BTCUSDT", policyctl.PolicyValidationError, 1),  # ETHUSDT is ranked
        ("opp_rankings.BTCUSDT", "high", policyctl.PolicyValidationError, 1),
        ("leverage", "3", EditRefused, 2),
        ("last_updated", "2026-01-01T00:00:00Z", EditRefused, 2),
        ("risk_mode.x", "1", EditRefused, 2),
    ],
)
def test_refused_set_leaves_the_bytes_identical(
    policy: Path,
    field: str,
    value: str,
    error: type[Exception],
    status: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = policy.read_bytes()
    mtime = policy.stat().st_mtime_ns
    with pytest.raises(error):
        set_value(policy, field, value, now=NOW)
    assert main(["set", field, value, str(policy)]) == status
    assert "Traceback" not in capsys.readouterr().err
    assert policy.read_bytes() == before and policy.stat().st_mtime_ns == mtime
    assert [p.name for p in policy.parent.iterdir()] == ["policy.yaml"]  # no temp file left


def test_setting_the_same_value_writes_nothing(policy: Path) -> None:
    before = policy.read_bytes()
    result = set_value(policy, "risk_mode", "NORMAL", now=NOW)
    assert not result.written and policy.read_bytes() == before


def test_mode_is_kept_and_symlinks_are_followed(tmp_path: Path) -> None:
    real = tmp_path / "real.yaml"
    real.write_text(COMMENTED)
    real.chmod(0o640)
    link = tmp_path / "policy.yaml"
    link.symlink_to(real.name)
    set_value(link, "max_positions", "4", now=NOW)
    assert link.is_symlink()
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert "max_positions: 4" in real.read_text()


def test_set_can_repair_an_invalid_file(policy: Path) -> None:
    policy.write_text(COMMENTED.replace("max_positions: 0005", "max_positions: 0"))
    result = set_value(policy, "max_positions", "3", now=NOW)
    assert result.old is None and result.new.policy.max_positions == 3


def test_setting_version_explicitly(policy: Path) -> None:
    result = set_value(policy, "version", "50", now=NOW)
    assert result.new.version == 50


def test_reset(policy: Path) -> None:
    result = reset_policy(policy, now=NOW)
    snap = policyctl.load_policy(policy, env={})
    assert snap.version == 42 and result.written
    assert snap.policy.allowed_symbols == () and dict(snap.policy.opp_rankings) == {}
    assert snap.policy.max_positions == 5 and snap.policy.global_min_confidence == 0.7
    text = policy.read_text()
    assert "risk_mode: NORMAL        # house default" in text
    assert text.startswith("# yaml-language-server") and "# trailing comment" in text


@pytest.mark.slow  # multi-process writers: 10 `policyctl set` processes
def test_concurrent_sets_in_two_processes_never_lose_an_update(policy: Path) -> None:
    exe = str(Path(sys.executable).parent / "policyctl")
    env = {k: v for k, v in os.environ.items() if not k.startswith("QT_")}
    for round_ in range(5):
        procs = [
            subprocess.Popen(
                [exe, "set", "max_positions", str(3 + round_ % 2), str(policy)],
                env=env,
                stdout=subprocess.DEVNULL,
            ),
            subprocess.Popen(
                [exe, "set", "global_min_confidence", f"0.{6 + round_}", str(policy)],
                env=env,
                stdout=subprocess.DEVNULL,
            ),
        ]
        assert [p.wait(timeout=60) for p in procs] == [0, 0]
        snap = policyctl.load_policy(policy, env={})
        assert snap.policy.max_positions == 3 + round_ % 2
        assert snap.policy.global_min_confidence == float(f"0.{6 + round_}")
    # every set raised the version once: nothing was read stale and overwritten
    assert policyctl.load_policy(policy, env={}).version == 41 + 10


def test_setting_the_version_it_has_changes_nothing(policy: Path) -> None:
    """`set version N` on version N: nothing changed, so nothing written (last_updated was)."""
    before = policy.read_text()
    version = re.search(r"^version: (\d+)", before, re.M)
    assert version is not None
    result = set_value(policy, "version", version.group(1))
    assert not result.written and policy.read_text() == before
