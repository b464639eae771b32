"""Brake files: read by the strict reader, validated, located; which ones are active when.

Every file in cases/overrides/ is refused with its expected line, column and message, and the
real check-jsonschema on the committed override schema agrees unless the case says why not.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import policyctl
from policyctl.pipeline import build_snapshot, parse_brake, read_brakes

from ..support.policy import VALID

CASES = sorted((Path(__file__).parents[1] / "cases" / "overrides").glob("*.yaml"))
SCHEMA = Path(__file__).parents[2] / "schemas" / "override.schema.json"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
_EXPECT = re.compile(r"^# expect: (\d+):(\d+): (.+)$", re.M)


def brake(directory: Path, name: str, body: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.yaml"
    path.write_text(body)
    return path


def body(settings: str, *, start: str | None = None, until: str = "2026-11-28T20:00:00Z") -> str:
    start_line = f'from: "{start}"\n' if start else ""
    return f'reason: "test"\n{start_line}until: "{until}"\nset: {settings}\n'


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(VALID)
    return path


def snapshot(
    policy: Path, now: datetime = NOW, env: dict[str, str] | None = None
) -> policyctl.PolicySnapshot:
    brakes = read_brakes(policy.parent / "overrides")
    return build_snapshot(policy.read_bytes(), policy, env=env or {}, brakes=brakes, now=now)


@pytest.mark.parametrize("case", CASES, ids=[p.stem for p in CASES])
def test_a_bad_override_is_located(case: Path) -> None:
    match = _EXPECT.search(case.read_text())
    assert match, f"{case.name} has no '# expect:' line"
    with pytest.raises(policyctl.PolicyError) as caught:
        parse_brake(case.read_bytes(), case, NOW)
    first = caught.value.issues[0]
    assert first.source == str(case)
    assert (first.line, first.column) == (int(match[1]), int(match[2])), str(caught.value)
    assert first.message.startswith(match[3]), str(caught.value)


@pytest.mark.slow  # one check-jsonschema process per case (test_cases.py runs it once, quick)
def test_check_jsonschema_agrees_on_the_override_schema(tmp_path: Path) -> None:
    exe = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    assert exe, "check-jsonschema is a dev dependency"
    same = [c for c in CASES if c.read_text().startswith("# check-jsonschema: same")]
    good = brake(tmp_path, "good", body("{risk_mode: DEFENSIVE, model_versions: {lstm: '3.9'}}"))
    for case in [*same, good]:
        result = subprocess.run(
            [exe, "--schemafile", str(SCHEMA), str(case)],
            check=False,
            capture_output=True,
            text=True,
        )
        assert (result.returncode == 0) == (case == good), (case.name, result.stdout)


def test_an_override_applies_between_from_and_until(policy: Path) -> None:
    overrides = policy.parent / "overrides"
    brake(overrides, "rate", body("{risk_mode: DEFENSIVE}", start="2026-11-28T18:30:00Z"))
    before = snapshot(policy, datetime(2026, 11, 28, 18, 29, 59, tzinfo=UTC))
    during = snapshot(policy, datetime(2026, 11, 28, 18, 30, tzinfo=UTC))
    after = snapshot(policy, datetime(2026, 11, 28, 20, 0, tzinfo=UTC))
    assert before.policy.risk_mode == "NORMAL" and not before.brakes
    assert before.next_change == datetime(2026, 11, 28, 18, 30, tzinfo=UTC)
    assert during.policy.risk_mode == "DEFENSIVE" and [b.name for b in during.brakes] == ["rate"]
    assert during.next_change == datetime(2026, 11, 28, 20, 0, tzinfo=UTC)
    assert during.brake_sources == {"risk_mode": "rate"}
    assert after.policy.risk_mode == "NORMAL" and after.next_change is None
    assert [f.state(after.loaded_at) for f in after.brake_files] == ["expired"]


def test_load_policy_reads_the_overrides_next_to_the_file(policy: Path) -> None:
    until = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    brake(policy.parent / "overrides", "stop", body("{max_positions: 1}", until=until))
    assert policyctl.load_policy(policy, env={}).policy.max_positions == 1
    elsewhere = policy.parent / "mounted"
    assert policyctl.load_policy(policy, env={}, brakes_dir=elsewhere).policy.max_positions == 5
    env = {"QT_OVERRIDES_DIR": str(elsewhere)}
    assert policyctl.load_policy(policy, env=env).policy.max_positions == 5


def test_the_most_restrictive_value_wins(policy: Path) -> None:
    overrides = policy.parent / "overrides"
    brake(
        overrides,
        "a",
        body("{risk_mode: DEFENSIVE, max_positions: 3, allowed_symbols: [ETHUSDT, BTCUSDT]}"),
    )
    brake(
        overrides,
        "b",
        body("{risk_mode: AGGRESSIVE, max_positions: 2, global_min_confidence: 0.9}"),
    )
    brake(overrides, "c", body("{allowed_symbols: [BTCUSDT, SOLUSDT], max_risk_per_trade: 0.5}"))
    snap = snapshot(policy)
    p = snap.policy
    assert (p.risk_mode, p.max_positions, p.global_min_confidence) == ("DEFENSIVE", 2, 0.9)
    assert p.allowed_symbols == ("BTCUSDT",)  # the intersection, in the policy's order
    assert dict(p.opp_rankings) == {"BTCUSDT": 0.92} and snap.dropped_rankings == ("ETHUSDT",)
    assert p.max_risk_per_trade == 0.01
    assert snap.brake_sources["allowed_symbols"] == "c" and snap.brake_sources["risk_mode"] == "a"
    notes = " | ".join(snap.brake_notes)
    assert "b: risk_mode AGGRESSIVE is looser than the policy's NORMAL" in notes
    assert "c: max_risk_per_trade 0.5 is looser" in notes and "SOLUSDT" in notes


def test_no_environment_variable_undoes_a_brake(policy: Path) -> None:
    brake(policy.parent / "overrides", "calm", body("{risk_mode: DEFENSIVE, max_positions: 2}"))
    env = {"QT_RISK_MODE": "AGGRESSIVE", "QT_MAX_POSITIONS": "40"}
    p = snapshot(policy, env=env).policy
    assert (p.risk_mode, p.max_positions) == ("DEFENSIVE", 2)


def test_an_empty_symbol_list_stops_all_trading(policy: Path) -> None:
    brake(policy.parent / "overrides", "halt", body("{allowed_symbols: []}"))
    snap = snapshot(policy)
    assert snap.policy.allowed_symbols == () and dict(snap.policy.opp_rankings) == {}
    verdict = snap.policy.evaluate_signal(symbol="BTCUSDT", strategy="trend_follow", confidence=1)
    assert not verdict.allowed


def test_pins_of_one_model_must_agree(policy: Path) -> None:
    overrides = policy.parent / "overrides"
    brake(overrides, "a", body("{model_versions: {lstm: '3.9'}}"))
    brake(overrides, "b", body("{model_versions: {lstm: '3.9', xgboost: 'v11'}}"))
    snap = snapshot(policy)
    assert dict(snap.policy.model_versions) == {"xgboost": "v11", "lstm": "3.9"}
    assert snap.brake_sources["model_versions.lstm"] == "a, b"
    brake(overrides, "c", body("{model_versions: {lstm: '3.8'}}"))
    with pytest.raises(
        policyctl.PolicyValidationError, match=r"c pins lstm to '3\.8' while b pins"
    ):
        snapshot(policy)


def test_a_bad_override_makes_the_policy_unreadable(policy: Path) -> None:
    overrides = policy.parent / "overrides"
    path = brake(overrides, "bad", body("{opp_rankings: {}}"))
    with pytest.raises(policyctl.PolicyValidationError) as caught:
        snapshot(policy)
    assert caught.value.issues[0].source == str(path)
    path.unlink()
    brake(overrides, "Bad Name", body("{risk_mode: DEFENSIVE}"))
    with pytest.raises(policyctl.PolicySourceError, match="not a valid override file name"):
        snapshot(policy)


def test_hidden_entries_and_other_files_are_not_overrides(policy: Path) -> None:
    overrides = policy.parent / "overrides"
    brake(overrides, "real", body("{max_positions: 4}"))
    (overrides / "..data").mkdir()  # a ConfigMap's own layout
    (overrides / ".real.yaml.swp").write_text("junk")
    (overrides / "README.md").write_text("how to brake")
    assert [f.name for f in snapshot(policy).brake_files] == ["real"]


def test_an_override_without_from_lasts_at_most_a_week_from_now(policy: Path) -> None:
    path = brake(
        policy.parent / "overrides",
        "long",
        body("{max_positions: 4}", until="2026-12-06T12:00:01Z"),
    )
    with pytest.raises(policyctl.PolicyValidationError, match="more than 7 days from now") as e:
        snapshot(policy)
    assert (e.value.issues[0].source, e.value.issues[0].line) == (str(path), 2)


def test_a_configmap_key_being_removed_is_gone_not_unreadable(tmp_path: Path) -> None:
    """After the ..data swap, the removed key's link dangles until the kubelet removes it:
    the brake is gone, and no failure is counted for that moment."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(VALID)
    brakes = tmp_path / "overrides"
    (brakes / "..2026_12_04_1").mkdir(parents=True)
    (brakes / "..2026_12_04_2").mkdir()
    until = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    (brakes / "..2026_12_04_1" / "calm.yaml").write_text(
        f'reason: r\nuntil: "{until}"\nset: {{max_positions: 2}}\n'
    )
    (brakes / "..data").symlink_to("..2026_12_04_1")
    (brakes / "calm.yaml").symlink_to("..data/calm.yaml")
    assert build_snapshot(policy.read_bytes(), policy, env={}, brakes=read_brakes(brakes)).brakes
    (brakes / "..data_tmp").symlink_to("..2026_12_04_2")  # the key removed: swap, then unlink
    (brakes / "..data_tmp").replace(brakes / "..data")
    assert read_brakes(brakes) == []
