"""The policies tests start from: a valid policy file's text, and a valid policy as plain data."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

VALID = textwrap.dedent(
    """\
    # reviewed by the risk desk
    version: 7
    risk_mode: NORMAL  # house default
    allowed_strategies: [trend_follow, mean_reversion]
    allowed_symbols: [BTCUSDT, ETHUSDT]
    max_risk_per_trade: 0.01
    max_positions: 5
    global_min_confidence: 0.70
    opp_rankings: {BTCUSDT: 0.92, ETHUSDT: 0.81}
    model_versions: {xgboost: "v12", lstm: "3.10"}
    last_updated: "2026-11-27T10:00:00Z"
    """
)

# The type of the `write` fixture (tests/conftest.py).
Writer = Callable[..., Path]


def policy_data(**changes: Any) -> dict[str, Any]:
    """A valid policy as plain data, with ``changes`` applied (for model-level tests)."""
    data: dict[str, Any] = {
        "version": 3,
        "risk_mode": "NORMAL",
        "allowed_strategies": ["trend_follow", "breakout"],
        "allowed_symbols": ["BTCUSDT", "ETHUSDT"],
        "max_risk_per_trade": 0.02,
        "max_positions": 5,
        "global_min_confidence": 0.7,
        "opp_rankings": {"BTCUSDT": 0.9},
        "model_versions": {"lstm": "3.10"},
    }
    data.update(changes)
    return data
