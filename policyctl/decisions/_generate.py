"""``policyctl replay --generate N``: a synthetic decision log, for demos and benchmarks.

Shaped like a week of a signal executor's traffic under the given policy: mostly allowed
symbols and strategies, a few that are not, confidences skewed high (a model that trades
emits few weak signals), times spread over the seven days before now, and each record's
verdict and policy exactly as ``store.decide`` would log them. Seeded: one seed, one log.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

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
    policy_text = policy_part(snapshot.version, snapshot.digest, [b.name for b in snapshot.brakes])
    start = datetime.now(UTC) - timedelta(days=7)
    step = timedelta(days=7) / max(count, 1)
    batch: list[str] = []
    for n in range(count):
        symbol = rng.choice(_OTHER_SYMBOLS) if rng.random() < 0.06 else rng.choice(symbols)
        strategy = rng.choice(_OTHER_STRATEGIES) if rng.random() < 0.03 else rng.choice(strategies)
        confidence = round(rng.betavariate(6, 2.2), 4)
        verdict = policy.evaluate_signal(symbol=symbol, strategy=strategy, confidence=confidence)
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
        )
        batch.append(record + "\n")
        if len(batch) >= 4096:
            out.write("".join(batch).encode())
            batch.clear()
    out.write("".join(batch).encode())
