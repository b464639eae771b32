"""policyctl adjust: a temporary adjustment written as a new file after the full pipeline (it may
loosen, for at most 24 hours, with a reason and a ticket), told apart from a brake in show,
brake list and validate; every bad input refused with nothing written; hostile text escaped."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import policyctl
from policyctl.cli import main

from ..support.policy import VALID

Capture = pytest.CaptureFixture[str]


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy" / "policy.yaml"
    path.parent.mkdir()
    path.write_text(VALID)
    return path


def _files(policy: Path) -> list[str]:
    directory = policy.parent / "overrides"
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_an_adjustment_is_written_applied_and_told_apart(policy: Path, capsys: Capture) -> None:
    argv = ["adjust", "max_positions=8", "--for", "3h", "--reason", "index rebalance"]
    assert main([*argv, "--ticket", "RISK-1234", "--name", "rebalance", str(policy)]) == 0
    out = capsys.readouterr().out
    assert "adjustment rebalance written" in out and "loosens   max_positions: 5 -> 8" in out
    text = (policy.parent / "overrides" / "rebalance.yaml").read_text()
    assert "kind: adjustment\n" in text and "ticket: RISK-1234\n" in text
    snap = policyctl.load_policy(policy, env={})
    assert snap.policy.max_positions == 8 and [b.kind for b in snap.brakes] == ["adjustment"]
    assert main(["brake", "risk_mode=DEFENSIVE", "max_positions=6", "--for", "1h", "--reason",
                 "cpi", "--name", "cpi", str(policy)]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["show", "--explain", "--no-env", str(policy)]) == 0
    out = capsys.readouterr().out
    assert "# adjustment rebalance until" in out and "[RISK-1234]" in out
    assert "max_positions: 6  # from brake cpi until" in out  # a brake still wins
    assert main(["show", "--format", "json", "--no-env", str(policy)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [b["name"] for b in doc["brakes"]] == ["cpi"]
    assert [(a["name"], a["ticket"]) for a in doc["adjustments"]] == [("rebalance", "RISK-1234")]
    assert main(["brake", "list", "--format", "json", str(policy)]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["brakes"]}
    assert (rows["rebalance"]["kind"], rows["rebalance"]["ticket"]) == ("adjustment", "RISK-1234")
    assert (rows["cpi"]["kind"], rows["cpi"]["ticket"]) == ("brake", None)
    assert main(["brake", "lift", "rebalance", str(policy)]) == 0  # shortening: ends it now
    assert "adjustment rebalance lifted" in capsys.readouterr().out
    assert policyctl.load_policy(policy, env={}).policy.max_positions == 5


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        (["--for", "3h", "--ticket", "T-1"], "an adjustment needs --reason"),
        (["--for", "3h", "--reason", "r"], "an adjustment needs --ticket"),
        (["--for", "3h", "--reason", "r", "--ticket", "  "], "an adjustment needs --ticket"),
        (["--for", "25h", "--reason", "r", "--ticket", "T"], "at most 24h"),
        (["--until", "2030-01-01T00:00:00Z", "--reason", "r", "--ticket", "T"], "24-hour limit"),
        (["--for", "3h", "--reason", "r", "--ticket", "T\x1b[31m"], "ticket"),
        (["--for", "3h", "--reason", "r", "--ticket", "T", "version=9"], "cannot set 'version'"),
        (["--for", "3h", "--reason", "r", "--ticket", "T", "last_updated=x"], "last_updated"),
        (["--for", "3h", "--reason", "r", "--ticket", "T", "model_versions.lstm=1"], "cannot set"),
        (["--for", "3h", "--reason", "r", "--ticket", "T", "max_positions=0"], "max_positions"),
    ],
)
def test_every_bad_adjustment_is_refused_and_nothing_is_written(
    policy: Path, capsys: Capture, extra: list[str], said: str
) -> None:
    settings = [e for e in extra if "=" in e and not e.startswith("-")] or ["max_positions=8"]
    options = [e for e in extra if e not in settings]
    assert main(["adjust", *settings, *options, str(policy)]) != 0
    captured = capsys.readouterr()
    assert said in captured.err + captured.out
    assert "\x1b" not in captured.err + captured.out  # hostile text escaped
    assert _files(policy) == []


def test_a_second_adjustment_of_one_field_at_once_is_refused(policy: Path, capsys: Capture) -> None:
    base = ["--for", "3h", "--reason", "r", "--ticket", "T", str(policy)]
    assert main(["adjust", "max_positions=8", "--name", "one", *base]) == 0
    assert main(["adjust", "max_positions=9", "--name", "two", *base]) != 0
    assert "one adjustment per field at a time" in capsys.readouterr().err
    assert _files(policy) == ["one.yaml"]


def test_an_adjustment_states_its_whole_window(policy: Path, capsys: Capture) -> None:
    """Its from is required, so "at most 24 hours" holds whatever edits follow: an until moved
    on, edit after edit, is refused past from + 24 h (a brake's "24 h from now" would not be)."""
    start = datetime.now(UTC)
    (policy.parent / "overrides").mkdir()
    path = policy.parent / "overrides" / "long.yaml"
    for hours, valid in ((20, True), (25, False)):
        until = (start + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
        path.write_text(
            f'kind: adjustment\nreason: "r"\nticket: "T"\nfrom: "{start:%Y-%m-%dT%H:%M:%SZ}"\n'
            f'until: "{until}"\nset: {{max_positions: 8}}\n'
        )
        if valid:
            assert policyctl.load_policy(policy, env={}).policy.max_positions == 8
        else:
            with pytest.raises(policyctl.PolicyError, match="over the 24-hour limit"):
                policyctl.load_policy(policy, env={})
    path.write_text(
        f'kind: adjustment\nreason: "r"\nticket: "T"\nuntil: "{until}"\nset: {{max_positions: 8}}\n'
    )
    with pytest.raises(policyctl.PolicyError, match="required field 'from' is missing"):
        policyctl.load_policy(policy, env={})
    # policyctl adjust writes it: from now, unless --from says later.
    path.unlink()
    argv = ["adjust", "max_positions=8", "--for", "3h", "--reason", "r", "--ticket", "T"]
    assert main([*argv, "--name", "x", str(policy)]) == 0
    assert "from: " in (policy.parent / "overrides" / "x.yaml").read_text()


def test_an_adjustment_that_narrows_symbols_takes_their_rankings_with_them(policy: Path) -> None:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    until = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    (policy.parent / "overrides").mkdir()
    (policy.parent / "overrides" / "btc.yaml").write_text(
        f'kind: adjustment\nreason: "r"\nticket: "T"\nfrom: "{now}"\nuntil: "{until}"\n'
        "set: {allowed_symbols: [BTCUSDT, SOLUSDT]}\n"
    )
    snap = policyctl.load_policy(policy, env={})
    assert snap.policy.allowed_symbols == ("BTCUSDT", "SOLUSDT")  # it may add one, too
    assert dict(snap.policy.opp_rankings) == {"BTCUSDT": 0.92}
    assert snap.dropped_rankings == ("ETHUSDT",)
