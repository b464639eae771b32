"""QT_* overrides: strict parsing, merge before validation, provenance, near misses."""

from __future__ import annotations

import logging

import pytest

import policyctl
from policyctl.pipeline import near_misses, read_env

from ..support.policy import VALID, Writer


@pytest.mark.parametrize(
    ("name", "value", "field", "expected"),
    [
        ("QT_RISK_MODE", "defensive", "risk_mode", "DEFENSIVE"),
        ("QT_RISK_MODE", " Aggressive ", "risk_mode", "AGGRESSIVE"),
        ("QT_MAX_RISK_PER_TRADE", "0.02", "max_risk_per_trade", 0.02),
        ("QT_MAX_RISK_PER_TRADE", "1e-2", "max_risk_per_trade", 0.01),
        ("QT_MAX_POSITIONS", "3", "max_positions", 3),
        ("QT_CONFIDENCE_THRESHOLD", ".9", "global_min_confidence", 0.9),
        ("QT_ALLOWED_SYMBOLS", "BTCUSDT, ETHUSDT", "allowed_symbols", ("BTCUSDT", "ETHUSDT")),
        ("QT_ALLOWED_SYMBOLS", '["ETHUSDT", "BTCUSDT"]', "allowed_symbols", ("ETHUSDT", "BTCUSDT")),
        ("QT_ALLOWED_STRATEGIES", "carry", "allowed_strategies", ("carry",)),
        ("QT_ALLOWED_STRATEGIES", "[]", "allowed_strategies", ()),
    ],
)
def test_each_variable_overrides_its_field(
    write: Writer, name: str, value: str, field: str, expected: object
) -> None:
    snap = policyctl.load_policy(write(), env={name: value})
    assert getattr(snap.policy, field) == expected
    assert snap.env == {field: name}
    assert snap.overrides is snap.env  # the first name, kept for existing callers


def test_model_versions_merge_key_by_key(write: Writer) -> None:
    snap = policyctl.load_policy(write(), env={"QT_MODEL_VERSIONS": '{"lstm": "4.0", "new": "1"}'})
    assert dict(snap.policy.model_versions) == {"xgboost": "v12", "lstm": "4.0", "new": "1"}


def test_empty_value_counts_as_unset(write: Writer) -> None:
    snap = policyctl.load_policy(write(), env={"QT_MAX_POSITIONS": "", "QT_RISK_MODE": ""})
    assert snap.policy.max_positions == 5 and snap.env == {}


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("QT_MAX_POSITIONS", "true", "whole number"),
        ("QT_MAX_POSITIONS", "5.0", "whole number"),
        ("QT_MAX_POSITIONS", "many", "whole number"),
        ("QT_MAX_RISK_PER_TRADE", "nan", "finite decimal"),
        ("QT_MAX_RISK_PER_TRADE", "inf", "finite decimal"),
        ("QT_MAX_RISK_PER_TRADE", "0x10", "finite decimal"),
        ("QT_CONFIDENCE_THRESHOLD", "high", "finite decimal"),
        ("QT_RISK_MODE", "panic", "one of AGGRESSIVE"),
        ("QT_ALLOWED_SYMBOLS", "BTCUSDT,,ETHUSDT", "empty item"),
        ("QT_ALLOWED_SYMBOLS", "[BTCUSDT]", "JSON array"),
        ("QT_ALLOWED_SYMBOLS", "[1, 2]", "strings only"),
        ("QT_MODEL_VERSIONS", "lstm=3", "JSON object"),
        ("QT_MODEL_VERSIONS", "[1]", "JSON object"),
        ("QT_MODEL_VERSIONS", '{"lstm": 3.1}', 'quote it: "3.1"'),
        # Out of the field's own range: still the variable's fault.
        ("QT_MAX_POSITIONS", "0", "out of range"),
        ("QT_MAX_RISK_PER_TRADE", "1.5", "out of range"),
        ("QT_CONFIDENCE_THRESHOLD", "-0.1", "out of range"),
        ("QT_ALLOWED_SYMBOLS", "btcusdt", "not a valid symbol"),
        ("QT_ALLOWED_SYMBOLS", "BTCUSDT,ETHUSDT,BTCUSDT", "listed twice"),
        ("QT_MODEL_VERSIONS", '{"lstm": ""}', "empty"),
    ],
)
def test_bad_values_raise_env_error_naming_variable_and_value(
    write: Writer, name: str, value: str, reason: str
) -> None:
    with pytest.raises(policyctl.PolicyEnvError) as e:
        policyctl.load_policy(write(), env={name: value})
    issue = e.value.issues[0]
    assert issue.source == name and issue.line is None
    assert repr(value) in issue.message and reason in issue.message
    assert str(e.value).startswith(f"{name}: ")


def test_cross_field_rule_broken_by_env_is_a_validation_error_naming_it(write: Writer) -> None:
    with pytest.raises(policyctl.PolicyValidationError) as e:
        policyctl.load_policy(write(), env={"QT_MAX_POSITIONS": "200"})
    issue = e.value.issues[0]
    assert issue.source == "QT_MAX_POSITIONS" and "100% of equity" in issue.message
    # Narrowing the symbols is not a broken rule: their rankings are dropped (test below).
    snap = policyctl.load_policy(write(), env={"QT_ALLOWED_SYMBOLS": "BTCUSDT"})
    assert snap.dropped_rankings == ("ETHUSDT",)


def test_env_none_reads_os_environ(write: Writer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QT_MAX_POSITIONS", "4")
    assert policyctl.load_policy(write()).policy.max_positions == 4
    assert policyctl.load_policy(write(), env={}).policy.max_positions == 5


def test_policy_file_variable(write: Writer, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write()
    monkeypatch.setenv("QT_POLICY_FILE", str(path))
    assert policyctl.load_policy().source == path
    assert policyctl.load_policy(env={"QT_POLICY_FILE": str(path)}).source == path


def test_near_misses_are_warned_and_other_qt_variables_left_alone(
    write: Writer, caplog: pytest.LogCaptureFixture
) -> None:
    env = {"QT_MAX_POSITION": "9", "QT_QPA_PLATFORM": "offscreen", "QT_RISKMODE": "x"}
    assert near_misses(env) == [
        ("QT_MAX_POSITION", "QT_MAX_POSITIONS"),
        ("QT_RISKMODE", "QT_RISK_MODE"),
    ]
    with caplog.at_level(logging.WARNING, logger="policyctl"):
        snap = policyctl.load_policy(write(), env=env)
    assert snap.policy.max_positions == 5 and snap.env == {}
    assert "QT_MAX_POSITION is not recognised; did you mean QT_MAX_POSITIONS?" in caplog.text
    assert "QT_QPA_PLATFORM" not in caplog.text


def test_every_bad_variable_is_reported_at_once() -> None:
    with pytest.raises(policyctl.PolicyEnvError) as e:
        read_env({"QT_MAX_POSITIONS": "x", "QT_RISK_MODE": "y"})
    assert {i.source for i in e.value.issues} == {"QT_MAX_POSITIONS", "QT_RISK_MODE"}


def test_narrowing_symbols_through_the_environment_drops_their_rankings(write: Writer) -> None:
    """QT_ALLOWED_SYMBOLS narrower than the file: the rankings of symbols it stops are left
    out of the effective policy (so services can start), and the snapshot says which."""
    path = write(
        VALID.replace("[BTCUSDT, ETHUSDT]", "[BTCUSDT, ETHUSDT, SOLUSDT]").replace(
            "ETHUSDT: 0.81}", "ETHUSDT: 0.81, SOLUSDT: 0.5}"
        )
    )
    snap = policyctl.load_policy(path, env={"QT_ALLOWED_SYMBOLS": "BTCUSDT"})
    assert dict(snap.policy.opp_rankings) == {"BTCUSDT": 0.92}
    assert snap.dropped_rankings == ("ETHUSDT", "SOLUSDT")
    assert snap.env["opp_rankings"] == "QT_ALLOWED_SYMBOLS"


def test_the_files_own_ranking_rule_stays(write: Writer) -> None:
    path = write(VALID.replace("ETHUSDT: 0.81}", "ETHUSDT: 0.81, DOGEUSDT: 0.1}"))
    with pytest.raises(policyctl.PolicyValidationError, match="DOGEUSDT is ranked"):
        policyctl.load_policy(path, env={"QT_ALLOWED_SYMBOLS": "BTCUSDT"})
