"""Generated policies of a given size, shared by the benchmarks."""

from __future__ import annotations


def generated_policy(symbols: int) -> bytes:
    """A valid policy with ``symbols`` allowed symbols, each ranked, in block style."""
    names = [f"S{i:05d}USDT" for i in range(symbols)]
    lines = [
        "# generated for benchmarks",
        "version: 1",
        "risk_mode: NORMAL",
        "allowed_strategies: [trend_follow, mean_reversion, breakout]",
        "allowed_symbols:",
        *(f"  - {name}" for name in names),
        "max_risk_per_trade: 0.01",
        "max_positions: 5",
        "global_min_confidence: 0.70",
        "opp_rankings:",
        *(f"  {name}: 0.{(i * 7919) % 1000:03d}" for i, name in enumerate(names)),
        'model_versions: {xgboost: "v12", lstm: "3.10"}',
        'last_updated: "2026-11-27T10:00:00Z"',
    ]
    return ("\n".join(lines) + "\n").encode()
