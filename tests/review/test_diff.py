"""The risk direction of every field, and completeness: apply(diff(A, B), A) == B."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policyctl import GlobalPolicy
from policyctl.review import Change, apply_changes, diff_policies

from ..support.policy import policy_data


def _policy(**changes: Any) -> GlobalPolicy:
    return GlobalPolicy.model_validate(policy_data(**changes))


def _one(**changes: Any) -> Change:
    found = [c for c in diff_policies(_policy(), _policy(**changes)) if c.field != "version"]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize(
    ("changes", "path", "action", "direction"),
    [
        ({"risk_mode": "AGGRESSIVE"}, "risk_mode", "changed", "loosens"),
        ({"risk_mode": "DEFENSIVE"}, "risk_mode", "changed", "tightens"),
        ({"max_risk_per_trade": 0.05}, "max_risk_per_trade", "changed", "loosens"),
        ({"max_risk_per_trade": 0.01}, "max_risk_per_trade", "changed", "tightens"),
        ({"max_positions": 6}, "max_positions", "changed", "loosens"),
        ({"max_positions": 4}, "max_positions", "changed", "tightens"),
        ({"global_min_confidence": 0.6}, "global_min_confidence", "changed", "loosens"),
        ({"global_min_confidence": 0.8}, "global_min_confidence", "changed", "tightens"),
        (
            {"allowed_symbols": ["BTCUSDT", "ETHUSDT", "SOLUSDT"]},
            "allowed_symbols.SOLUSDT",
            "added",
            "loosens",
        ),
        ({"allowed_symbols": ["BTCUSDT"]}, "allowed_symbols.ETHUSDT", "removed", "tightens"),
        (
            {"allowed_strategies": ["trend_follow", "breakout", "carry"]},
            "allowed_strategies.carry",
            "added",
            "loosens",
        ),
        (
            {"allowed_strategies": ["breakout"]},
            "allowed_strategies.trend_follow",
            "removed",
            "tightens",
        ),
        ({"allowed_symbols": ["ETHUSDT", "BTCUSDT"]}, "allowed_symbols", "reordered", "neutral"),
        ({"opp_rankings": {"BTCUSDT": 0.5}}, "opp_rankings.BTCUSDT", "changed", "neutral"),
        ({"opp_rankings": {}}, "opp_rankings.BTCUSDT", "removed", "neutral"),
        (
            {"opp_rankings": {"BTCUSDT": 0.9, "ETHUSDT": 0.1}},
            "opp_rankings.ETHUSDT",
            "added",
            "neutral",
        ),
        ({"model_versions": {"lstm": "3.11"}}, "model_versions.lstm", "changed", "neutral"),
        (
            {"model_versions": {"lstm": "3.10", "gru": "1"}},
            "model_versions.gru",
            "added",
            "neutral",
        ),
        ({"last_updated": "2026-11-27T10:00:00Z"}, "last_updated", "changed", "neutral"),
    ],
)
def test_direction_of_every_field(
    changes: dict[str, Any], path: str, action: str, direction: str
) -> None:
    change = _one(**changes)
    assert (change.path, change.action, change.direction) == (path, action, direction)


def test_version_change_is_neutral_and_map_order_is_not_a_change() -> None:
    old = _policy(opp_rankings={"BTCUSDT": 0.9, "ETHUSDT": 0.1})
    new = _policy(version=4, opp_rankings={"ETHUSDT": 0.1, "BTCUSDT": 0.9})
    assert [(c.path, c.direction) for c in diff_policies(old, new)] == [("version", "neutral")]


def test_identical_policies_have_no_changes() -> None:
    assert diff_policies(_policy(), _policy()) == []


def test_change_json_shape() -> None:
    change = _one(risk_mode="AGGRESSIVE")
    assert change.to_json() == {
        "field": "risk_mode",
        "key": None,
        "path": "risk_mode",
        "action": "changed",
        "old": "NORMAL",
        "new": "AGGRESSIVE",
        "direction": "loosens",
    }


_SYMBOLS = st.lists(
    st.sampled_from(["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "ADA.X"]), unique=True, max_size=5
)


@st.composite
def policies(draw: st.DrawFn) -> GlobalPolicy:
    symbols = draw(_SYMBOLS)
    ranked = draw(st.lists(st.sampled_from(symbols), unique=True)) if symbols else []
    positions = draw(st.integers(1, 10))
    return GlobalPolicy.model_validate(
        {
            "version": draw(st.integers(1, 5)),
            "risk_mode": draw(st.sampled_from(["AGGRESSIVE", "NORMAL", "DEFENSIVE"])),
            "allowed_strategies": draw(
                st.lists(st.sampled_from(["a", "b", "c", "d"]), unique=True, max_size=4)
            ),
            "allowed_symbols": symbols,
            "max_risk_per_trade": draw(st.floats(0.001, 1 / positions)),
            "max_positions": positions,
            "global_min_confidence": draw(st.floats(0, 1)),
            "opp_rankings": {s: draw(st.floats(0, 1)) for s in ranked},
            "model_versions": draw(
                st.dictionaries(
                    st.sampled_from(["lstm", "gru", "xgb"]), st.sampled_from(["1", "2"])
                )
            ),
            "last_updated": draw(st.none() | st.just("2026-11-27T10:00:00Z")),
        }
    )


@pytest.mark.slow  # a sweep: 300 generated examples
@settings(max_examples=300, deadline=None)
@given(policies(), policies())
def test_applying_the_diff_gives_the_new_policy(a: GlobalPolicy, b: GlobalPolicy) -> None:
    replayed = apply_changes(a.model_dump(), diff_policies(a, b))
    assert GlobalPolicy.model_validate(replayed) == b
