"""Temporary adjustments in a running store, on real files and real clocks: applied at ``from``
and reverted at ``until`` by the store's own timer (also when the disk has meanwhile turned
bad, and with no watching at all); a brake still wins over one; a refused change never brings
a new or longer adjustment in through the salvage of its brakes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from policyctl import PolicySnapshot, PolicyStore

from ..support.live import DEADLINE, Watching, write_atomically

# Real clocks: a test waits for a window to open and close (a second or two each).
pytestmark = pytest.mark.slow


def _at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _adjustment(settings: str, start: datetime | None, until: datetime) -> str:
    start_line = f'from: "{_at(start or datetime.now(UTC))}"\n'  # its whole window, always
    return (
        'kind: adjustment\nreason: "index rebalance"\nticket: "RISK-1"\n'
        f'{start_line}until: "{_at(until)}"\nset: {settings}\n'
    )


def _brake(settings: str, until: datetime) -> str:
    return f'reason: "cpi"\nuntil: "{_at(until)}"\nset: {settings}\n'


class Positions:
    """Every (moment, max_positions, adjustments in force) a subscriber was told of."""

    def __init__(self, store: PolicyStore) -> None:
        self.seen: list[tuple[datetime, int, tuple[str, ...]]] = []
        self._cond = threading.Condition()
        store.subscribe(self._on)

    def _on(self, _old: PolicySnapshot, new: PolicySnapshot) -> None:
        with self._cond:
            names = tuple(b.name for b in new.brakes if b.kind == "adjustment")
            self.seen.append((datetime.now(UTC), new.policy.max_positions, names))
            self._cond.notify_all()

    def wait(
        self, predicate: Callable[[list[tuple[datetime, int, tuple[str, ...]]]], bool]
    ) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: predicate(self.seen), DEADLINE), self.seen


def test_an_adjustment_loosens_for_its_window_and_reverts_by_itself(policy: Path) -> None:
    now = datetime.now(UTC)
    start, until = now + timedelta(seconds=1), now + timedelta(seconds=1.5)
    write_atomically(
        policy.parent / "overrides" / "rebalance.yaml",
        _adjustment("{max_positions: 12}", start, until),
    )
    with PolicyStore(policy, env={}, watch=False) as store:  # no file event: its own timer
        seen = Positions(store)
        seen.wait(lambda s: any(p == 12 for _, p, _ in s))
        seen.wait(lambda s: bool(s) and s[-1][1] == 8)
        on = next(t for t, p, _ in seen.seen if p == 12)
        off = next(t for t, p, _ in seen.seen if t > on and p == 8)
        assert start <= on < until <= off
        assert [names for _, p, names in seen.seen if p == 12] == [("rebalance",)]
        assert store.status().next_change is None and store.status().brakes == ()


def test_it_reverts_on_time_even_while_the_disk_is_refused(
    policy: Path, open_store: Callable[[Path], Watching]
) -> None:
    """The store keeps the last good inputs when a bad change lands; the adjustment in them
    still reverts at its until, by recomposing what is kept at the new moment."""
    until = datetime.now(UTC) + timedelta(seconds=1.5)
    write_atomically(
        policy.parent / "overrides" / "rebalance.yaml",
        _adjustment("{max_positions: 12}", None, until),
    )
    w = open_store(policy)
    assert w.store.current().policy.max_positions == 12
    seen = Positions(w.store)
    write_atomically(
        policy, "version: [\n"
    )  # a broken policy file: refused, the last good one kept
    w.wait_for(lambda: bool(w.refused))
    seen.wait(lambda s: bool(s) and s[-1][1] == 8)
    assert datetime.now(UTC) >= until
    assert w.store.status().last_error is not None  # still refusing the disk


def test_a_brake_still_wins_over_an_adjustment(policy: Path) -> None:
    until = datetime.now(UTC) + timedelta(hours=1)
    overrides = policy.parent / "overrides"
    write_atomically(
        overrides / "rebalance.yaml",
        _adjustment("{max_positions: 12, risk_mode: AGGRESSIVE}", None, until),
    )
    write_atomically(
        overrides / "cpi.yaml", _brake("{max_positions: 10, risk_mode: DEFENSIVE}", until)
    )
    with PolicyStore(policy, env={}, watch=False) as store:
        snap = store.current()
        assert snap.policy.max_positions == 10 and snap.policy.risk_mode == "DEFENSIVE"
        assert snap.brake_sources["max_positions"] == "cpi"


def test_a_refused_change_brings_no_adjustment_in_through_the_salvage(
    policy: Path, open_store: Callable[[Path], Watching]
) -> None:
    """A refused change's valid brakes are still applied (they only tighten); its new or
    extended adjustment is not (it may loosen): it waits for the change to apply whole."""
    overrides = policy.parent / "overrides"
    until = datetime.now(UTC) + timedelta(hours=1)
    write_atomically(overrides / "short.yaml", _adjustment("{max_positions: 11}", None, until))
    w = open_store(policy)
    assert w.store.current().policy.max_positions == 11
    # The broken file first: every state the store may see from here on is refused whole.
    write_atomically(overrides / "broken.yaml", "reason: [\n")
    write_atomically(overrides / "new.yaml", _adjustment("{risk_mode: AGGRESSIVE}", None, until))
    write_atomically(
        overrides / "longer.yaml", _adjustment("{max_risk_per_trade: 0.02}", None, until)
    )
    write_atomically(overrides / "short.yaml", _adjustment("{max_positions: 13}", None, until))
    write_atomically(overrides / "cpi.yaml", _brake("{global_min_confidence: 0.9}", until))
    w.wait_for(lambda: w.store.current().policy.global_min_confidence == 0.9)
    snap = w.store.current()
    assert w.store.status().last_error is not None
    assert snap.policy.risk_mode == "NORMAL" and snap.policy.max_risk_per_trade == 0.01
    assert snap.policy.max_positions == 11  # the adjustment as it was applied
