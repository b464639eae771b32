"""What the benchmarks share: generated policies, percentiles, and git with a fixed identity."""

from __future__ import annotations

import os
import statistics
import subprocess
from pathlib import Path

IDENTITY = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def percentiles(values: list[float]) -> dict[str, float]:
    """p50, p99, the largest, and how many."""
    ordered = sorted(values)
    return {
        "p50": statistics.median(ordered),
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        "max": ordered[-1],
        "n": len(ordered),
    }


def git(cwd: Path, *args: str, data: bytes | None = None) -> str:
    """Run git in ``cwd`` as the benchmarks' author; its output, stripped."""
    env = {**os.environ, **IDENTITY}
    result = subprocess.run(
        ["git", *args], cwd=cwd, input=data, capture_output=True, check=True, env=env
    )
    return result.stdout.decode().strip()


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
