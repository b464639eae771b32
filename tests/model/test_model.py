"""GlobalPolicy: strictness, deep immutability, the rules, evaluate_signal, the schema."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from policyctl import GlobalPolicy, RiskMode
from policyctl.model import DEFAULTS, REASON_CODES, check_schema, schema_text, write_schema
from policyctl.model._signals import _SENTENCES

from ..support.policy import policy_data

ROOT = Path(__file__).parents[2]


_data = policy_data


def _errors(**changes: Any) -> list[tuple[tuple[str | int, ...], str]]:
    with pytest.raises(ValidationError) as e:
        GlobalPolicy.model_validate(_data(**changes))
    return [(tuple(err["loc"]), err["type"]) for err in e.value.errors()]


def test_valid_policy() -> None:
    policy = GlobalPolicy.model_validate(_data())
    assert policy.risk_mode is RiskMode.NORMAL
    assert policy.allowed_symbols == ("BTCUSDT", "ETHUSDT")
    assert policy.last_updated is None


def test_deeply_immutable() -> None:
    policy = GlobalPolicy.model_validate(_data())
    with pytest.raises(ValidationError):
        policy.max_positions = 6  # type: ignore[misc]
    with pytest.raises(AttributeError):
        policy.allowed_symbols.append("XRPUSDT")  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        policy.opp_rankings["BTCUSDT"] = 0.1  # type: ignore[index]
    with pytest.raises(TypeError):
        policy.model_versions["lstm"] = "4"  # type: ignore[index]


def test_input_containers_are_copied() -> None:
    rankings = {"BTCUSDT": 0.9}
    policy = GlobalPolicy.model_validate(_data(opp_rankings=rankings))
    rankings["BTCUSDT"] = 0.0
    assert policy.opp_rankings["BTCUSDT"] == 0.9


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"max_positions": True}, (("max_positions",), "int_type")),
        ({"max_positions": 5.0}, (("max_positions",), "int_type")),
        ({"version": 0}, (("version",), "greater_than_equal")),
        ({"max_risk_per_trade": 0}, (("max_risk_per_trade",), "greater_than")),
        ({"max_risk_per_trade": float("nan")}, (("max_risk_per_trade",), "finite_number")),
        ({"global_min_confidence": True}, (("global_min_confidence",), "float_type")),
        ({"model_versions": {"lstm": 3.1}}, (("model_versions", "lstm"), "string_type")),
        ({"allowed_symbols": ["btcusdt"]}, (("allowed_symbols", 0), "string_pattern_mismatch")),
        ({"allowed_symbols": ["A" * 33]}, (("allowed_symbols", 0), "string_pattern_mismatch")),
        ({"risk_mode": "normal"}, (("risk_mode",), "enum")),
        ({"leverage": 3}, (("leverage",), "extra_forbidden")),
        ({"last_updated": "2026-11-27 10:00:00Z"}, (("last_updated",), "string_pattern_mismatch")),
        ({"last_updated": "2026-02-30T10:00:00Z"}, (("last_updated",), "timestamp")),
    ],
)
def test_per_field_rules(changes: dict[str, Any], expected: tuple[Any, str]) -> None:
    assert expected in _errors(**changes)


def test_duplicates_are_located_at_the_repeat() -> None:
    errors = _errors(allowed_symbols=["BTCUSDT", "ETHUSDT", "BTCUSDT"])
    assert errors == [(("allowed_symbols", 2), "duplicate_item")]
    errors = _errors(allowed_strategies=["a", "a"])
    assert errors == [(("allowed_strategies", 1), "duplicate_item")]


def test_rankings_must_name_allowed_symbols() -> None:
    errors = _errors(opp_rankings={"BTCUSDT": 0.9, "DOGEUSDT": 0.2, "XRPUSDT": 0.1})
    assert errors == [
        (("opp_rankings", "DOGEUSDT"), "ranked_symbol_not_allowed"),
        (("opp_rankings", "XRPUSDT"), "ranked_symbol_not_allowed"),
    ]


@pytest.mark.parametrize(
    ("risk", "positions", "ok"),
    [
        (0.2, 5, True),
        (0.1, 10, True),
        (0.25, 4, True),
        (0.2, 6, False),
        (1.0, 1, True),
        (0.5, 3, False),
    ],
)
def test_aggregate_risk(risk: float, positions: int, ok: bool) -> None:
    data = _data(max_risk_per_trade=risk, max_positions=positions)
    if ok:
        GlobalPolicy.model_validate(data)
    else:
        assert _errors(max_risk_per_trade=risk, max_positions=positions) == [
            (("max_positions",), "aggregate_risk")
        ]


def test_evaluate_signal() -> None:
    policy = GlobalPolicy.model_validate(_data())
    ok = policy.evaluate_signal(symbol="BTCUSDT", strategy="breakout", confidence=0.7)
    assert ok.allowed and ok.reasons == ()
    bad = policy.evaluate_signal(symbol="DOGEUSDT", strategy="scalp", confidence=0.5)
    assert not bad.allowed
    assert len(bad.reasons) == 3
    assert "DOGEUSDT" in bad.reasons[0] and "scalp" in bad.reasons[1] and "0.5" in bad.reasons[2]
    nan = policy.evaluate_signal(symbol="BTCUSDT", strategy="breakout", confidence=float("nan"))
    assert not nan.allowed and "finite" in nan.reasons[0]


@pytest.mark.parametrize(
    ("symbol", "strategy", "confidence", "codes"),
    [
        ("BTCUSDT", "breakout", 0.7, ()),
        (
            "DOGEUSDT",
            "scalp",
            0.5,
            ("symbol_not_allowed", "strategy_not_allowed", "confidence_below_min"),
        ),
        ("BTCUSDT", "breakout", float("inf"), ("confidence_not_finite",)),
        ("BTCUSDT", "breakout", 1.5, ("confidence_out_of_range",)),
    ],
)
def test_every_reason_has_its_stable_code(
    symbol: str, strategy: str, confidence: float, codes: tuple[str, ...]
) -> None:
    verdict = GlobalPolicy.model_validate(_data()).evaluate_signal(
        symbol=symbol, strategy=strategy, confidence=confidence
    )
    assert verdict.codes == codes and len(verdict.reasons) == len(codes)
    assert set(codes) <= set(REASON_CODES)


@pytest.mark.parametrize("confidence", [1.5, -0.1, 100, True])
def test_a_confidence_outside_0_to_1_is_refused_with_its_own_reason(confidence: float) -> None:
    policy = GlobalPolicy.model_validate(_data())
    verdict = policy.evaluate_signal(symbol="BTCUSDT", strategy="breakout", confidence=confidence)
    assert not verdict.allowed
    assert verdict.reasons == (
        (f"confidence {confidence!r} is not a finite number",)
        if isinstance(confidence, bool)
        else (f"confidence {confidence:g} is outside 0..1 (a model's confidence)",)
    )


def test_defaults_are_a_valid_policy_that_allows_nothing() -> None:
    policy = GlobalPolicy.model_validate({"version": 1, **DEFAULTS})
    assert (policy.risk_mode, policy.max_risk_per_trade, policy.max_positions) == (
        RiskMode.NORMAL,
        0.01,
        5,
    )
    assert policy.global_min_confidence == 0.70
    assert not policy.evaluate_signal(symbol="BTCUSDT", strategy="x", confidence=1).allowed


def test_equal_policies_compare_equal() -> None:
    assert GlobalPolicy.model_validate(_data()) == GlobalPolicy.model_validate(_data())


def test_committed_schema_is_in_sync() -> None:
    committed = ROOT / "schemas" / "global_policy.schema.json"
    assert committed.read_text(encoding="utf-8") == schema_text()
    assert json.loads(schema_text()) == GlobalPolicy.model_json_schema()


def test_schema_write_and_check(tmp_path: Path) -> None:
    path = tmp_path / "schemas" / "s.json"
    assert not check_schema(path)
    assert write_schema(path)
    assert check_schema(path)
    assert not write_schema(path)
    path.write_text(path.read_text().replace('"minimum": 1', '"minimum": 0', 1))
    assert not check_schema(path)


def test_schema_states_every_per_field_rule() -> None:
    schema = GlobalPolicy.model_json_schema()
    props = schema["properties"]
    assert schema["additionalProperties"] is False
    assert schema["$schema"].endswith("2020-12/schema")
    assert set(schema["required"]) == set(props) - {"last_updated"}
    assert props["allowed_symbols"]["uniqueItems"] and props["allowed_strategies"]["uniqueItems"]
    assert props["max_risk_per_trade"]["exclusiveMinimum"] == 0
    assert props["opp_rankings"]["propertyNames"]["pattern"]
    assert props["opp_rankings"]["additionalProperties"]["maximum"] == 1
    assert props["model_versions"]["additionalProperties"]["type"] == "string"
    assert props["last_updated"]["anyOf"][0]["format"] == "date-time"


@given(
    symbol=st.sampled_from(["BTCUSDT", "ETHUSDT", "DOGEUSDT", ""]),
    strategy=st.sampled_from(["breakout", "scalp", "trend_follow"]),
    confidence=st.one_of(st.floats(allow_nan=True), st.integers(-2, 2), st.booleans()),
)
def test_the_fast_allowed_path_agrees_with_every_rule(
    symbol: str, strategy: str, confidence: float
) -> None:
    policy = GlobalPolicy.model_validate(_data())
    verdict = policy.evaluate_signal(symbol=symbol, strategy=strategy, confidence=confidence)
    number = isinstance(confidence, int | float) and not isinstance(confidence, bool)
    expected = (
        symbol in policy.allowed_symbols
        and strategy in policy.allowed_strategies
        and number
        and math.isfinite(confidence)
        and policy.global_min_confidence <= confidence <= 1
    )
    assert verdict.allowed == expected and (verdict.codes == ()) == expected


def test_a_copy_with_other_lists_judges_by_its_own_lists() -> None:
    policy = GlobalPolicy.model_validate(_data())
    assert policy.evaluate_signal(symbol="BTCUSDT", strategy="breakout", confidence=0.9).allowed
    narrowed = policy.model_copy(update={"allowed_symbols": ("ETHUSDT",)})
    verdict = narrowed.evaluate_signal(symbol="BTCUSDT", strategy="breakout", confidence=0.9)
    assert verdict.codes == ("symbol_not_allowed",)
    # The cached sets are not fields: neither the dump nor equality sees them.
    assert "_signal_sets" not in policy.model_dump()
    assert policy == GlobalPolicy.model_validate(_data())


def test_every_code_has_its_sentence_and_meaning() -> None:
    assert set(_SENTENCES) == set(REASON_CODES)
