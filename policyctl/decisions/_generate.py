"""``policyctl replay --generate N``: a synthetic decision log, for demos and benchmarks.

Shaped like a week of a risk guard's traffic under the given policy: mostly allowed symbols
and strategies, a few that are not, confidences skewed high (a model that trades emits few
weak signals); four in five records are orders, with open positions spread up to and a little
past ``max_positions`` and risk fractions around ``max_risk_per_trade`` (a few above it, a
very few not numbers at all), so that a change of any limit flips some of them; times spread
over the seven days before now, and each record's verdict and policy exactly as
``store.decide`` would log them. Seeded: one seed, one log.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

from ..pipeline import PolicySnapshot
from ._record import policy_part, record_json

__all__ = ["generate"]

_OTHER_SYMBOLS = ("DOGEUSDT", "SHIBUSDT", "PEPEUSDT", "XRPUSDT")
_OTHER_STRATEGIES = ("scalp", "martingale")


def generate(snapshot: PolicySnapshot, count: int, out: BinaryIO, *, seed: int = 0) -> None:
    """Write ``count`` decisions under ``snapshot`` to ``out`` as JSON Lines."""
    rng = random.Random(seed)
    policy = snapshot.policy
    symbols = list(policy.allowed_symbols) or list(_OTHER_SYMBOLS)
    strategies = list(policy.allowed_strategies) or list(_OTHER_STRATEGIES)
    models = list(policy.model_versions) or ["model"]
    brakes = [b.name for b in snapshot.brakes]
    policy_text = policy_part(snapshot.version, snapshot.digest, policy.risk_mode, brakes)
    start = datetime.now(UTC) - timedelta(days=7)
    step = timedelta(days=7) / max(count, 1)
    batch: list[str] = []
    for n in range(count):
        symbol = rng.choice(_OTHER_SYMBOLS) if rng.random() < 0.06 else rng.choice(symbols)
        strategy = rng.choice(_OTHER_STRATEGIES) if rng.random() < 0.03 else rng.choice(strategies)
        confidence = round(rng.betavariate(6, 2.2), 4)
        order = _order(rng, policy.max_positions, policy.max_risk_per_trade)
        if order is None:
            verdict = policy.evaluate_signal(
                symbol=symbol, strategy=strategy, confidence=confidence
            )
        else:
            verdict = policy.evaluate_order(
                symbol=symbol,
                strategy=strategy,
                confidence=confidence,
                risk_per_trade=order[0],
                open_positions=order[1],
            )
        when = start + step * n + timedelta(microseconds=rng.randrange(1000))
        record = record_json(
            time=when.isoformat(timespec="microseconds").replace("+00:00", "Z"),
            symbol=symbol,
            strategy=strategy,
            confidence=confidence,
            context={"signal_id": f"s-{n:08d}", "model": rng.choice(models)},
            allowed=verdict.allowed,
            codes=verdict.codes,
            policy=policy_text,
            order=order,
        )
        batch.append(record + "\n")
        if len(batch) >= 4096:
            out.write("".join(batch).encode())
            batch.clear()
    out.write("".join(batch).encode())


def _order(rng: random.Random, positions: int, risk: float) -> tuple[Any, Any] | None:
    """An order's (risk_per_trade, open_positions), or None for a signal (one in five)."""
    if rng.random() < 0.2:
        return None
    if rng.random() < 0.001:  # a caller's bug: the log keeps it, and replay its code
        return rng.choice([(math.nan, 1), (1.5, 1), (risk / 2, -1), (risk / 2, 2.0)])
    # Open positions: most below the limit, some at or past it (the risk guard's refusals).
    open_now = min(int(rng.expovariate(2.2 / positions)), positions + 2)
    # Risk: around two thirds of the limit, a few above it, never negative.
    fraction = round(min(risk * rng.lognormvariate(math.log(0.65), 0.35), 1.0), 6)
    return fraction, open_now
