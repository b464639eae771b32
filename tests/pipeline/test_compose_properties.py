"""Brakes compose to a policy that never loosens anything against the policy they brake (by the
diff's own direction rules), whatever their order, for any valid policy and brakes."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policyctl.model import Brake, GlobalPolicy
from policyctl.pipeline import BrakeFile, compose
from policyctl.review import diff_policies

SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT"]
STRATEGIES = ["trend_follow", "mean_reversion", "breakout"]
MODES = ["AGGRESSIVE", "NORMAL", "DEFENSIVE"]
PINS = {"lstm": "3.9", "xgboost": "v11"}  # one version per model: pins never conflict here
fractions = st.floats(min_value=0, max_value=1, allow_nan=False)
risks = st.floats(min_value=0.001, max_value=0.2, allow_nan=False)
positions = st.integers(min_value=1, max_value=5)


@st.composite
def policies(draw: st.DrawFn) -> GlobalPolicy:
    symbols = draw(st.lists(st.sampled_from(SYMBOLS), unique=True))
    ranked = draw(st.lists(st.sampled_from(symbols), unique=True)) if symbols else []
    return GlobalPolicy.model_validate(
        {
            "version": 1,
            "risk_mode": draw(st.sampled_from(MODES)),
            "allowed_strategies": draw(st.lists(st.sampled_from(STRATEGIES), unique=True)),
            "allowed_symbols": symbols,
            "max_risk_per_trade": draw(risks),
            "max_positions": draw(positions),
            "global_min_confidence": draw(fractions),
            "opp_rankings": {s: draw(fractions) for s in ranked},
            "model_versions": {"lstm": "3.10", "xgboost": "v12"},
        }
    )


@st.composite
def brakes(draw: st.DrawFn) -> list[BrakeFile]:
    out = []
    for index in range(draw(st.integers(min_value=0, max_value=4))):
        candidates: dict[str, Any] = {
            "risk_mode": st.sampled_from(MODES),
            "max_risk_per_trade": risks,
            "max_positions": positions,
            "global_min_confidence": fractions,
            "allowed_symbols": st.lists(st.sampled_from(SYMBOLS), unique=True),
            "allowed_strategies": st.lists(st.sampled_from(STRATEGIES), unique=True),
            "model_versions": st.sampled_from([{"lstm": PINS["lstm"]}, PINS]),
        }
        chosen = draw(st.lists(st.sampled_from(sorted(candidates)), min_size=1, unique=True))
        values = {name: draw(candidates[name]) for name in chosen}
        override = Brake.model_validate(
            {"reason": "property", "until": "2026-11-28T20:00:00Z", "set": values}
        )
        name = f"b{index}"
        out.append(BrakeFile(name, Path(f"{name}.yaml"), override, hashlib.sha256().hexdigest()))
    return out


@pytest.mark.slow  # a sweep: 300 generated examples
@settings(max_examples=300, deadline=None)
@given(policies(), brakes(), st.randoms(use_true_random=False))
def test_brakes_never_loosen_and_their_order_does_not_matter(
    base: GlobalPolicy, active: list[BrakeFile], random: Any
) -> None:
    result = compose(base, active)
    loosening = [c for c in diff_policies(base, result.policy) if c.direction == "loosens"]
    assert not loosening, loosening
    shuffled = list(active)
    random.shuffle(shuffled)
    again = compose(base, shuffled)
    assert again.policy == result.policy
    assert again.sources == result.sources and again.notes == result.notes
