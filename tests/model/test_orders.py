"""`GlobalPolicy.evaluate_order`: the signal's three rules and the two limits in one verdict;
every bad input a refusal with its own code, never an exception; and the replay of a logged
order (through the real log writer and reader) reaches the same verdict for any policy and any
inputs."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from enum import IntEnum, StrEnum
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policyctl import PolicyStore, load_policy
from policyctl.decisions import LogFiles
from policyctl.model import ALLOWED, REASON_CODES, GlobalPolicy
from policyctl.review import replay

from ..support.policy import policy_data

POLICY = GlobalPolicy.model_validate(
    policy_data(max_positions=5, max_risk_per_trade=0.01, global_min_confidence=0.7)
)
GOOD: dict[str, Any] = {
    "symbol": "BTCUSDT",
    "strategy": "trend_follow",
    "confidence": 0.8,
    "risk_per_trade": 0.005,
    "open_positions": 2,
}


def _codes(**change: Any) -> tuple[str, ...]:
    return POLICY.evaluate_order(**{**GOOD, **change}).codes


def test_the_limits_at_their_edges() -> None:
    assert POLICY.evaluate_order(**GOOD).allowed
    assert _codes(open_positions=4) == ()  # the fifth position: allowed
    assert _codes(open_positions=5) == ("max_positions_reached",)  # the sixth: over 5
    assert _codes(open_positions=0) == ()
    assert _codes(risk_per_trade=0.01) == ()  # at the limit
    assert _codes(risk_per_trade=0.0100001) == ("risk_per_trade_exceeded",)
    assert _codes(risk_per_trade=0.0) == () and _codes(risk_per_trade=0) == ()
    both = POLICY.evaluate_order(**{**GOOD, "open_positions": 9, "risk_per_trade": 0.02})
    assert both.codes == ("max_positions_reached", "risk_per_trade_exceeded")
    assert both.reasons == (
        "9 positions are open: another would be over max_positions 5",
        "risk_per_trade 0.02 is above max_risk_per_trade 0.01",
    )


def test_the_signal_rules_come_first_and_all_reasons_are_given() -> None:
    verdict = POLICY.evaluate_order(
        symbol="DOGEUSDT", strategy="x", confidence=0.5, risk_per_trade=0.5, open_positions=7
    )
    assert verdict.codes == (
        "symbol_not_allowed",
        "strategy_not_allowed",
        "confidence_below_min",
        "max_positions_reached",
        "risk_per_trade_exceeded",
    )
    assert len(verdict.reasons) == len(verdict.codes)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"open_positions": -1}, "open_positions_invalid"),
        ({"open_positions": 2.0}, "open_positions_invalid"),  # a count is a whole number
        ({"open_positions": True}, "open_positions_invalid"),
        ({"open_positions": "2"}, "open_positions_invalid"),
        ({"open_positions": None}, "open_positions_invalid"),
        ({"open_positions": 2**63}, "open_positions_invalid"),
        ({"open_positions": 10**400}, "open_positions_invalid"),
        ({"open_positions": 2**63 - 1}, "max_positions_reached"),
        ({"risk_per_trade": math.nan}, "risk_per_trade_not_finite"),
        ({"risk_per_trade": math.inf}, "risk_per_trade_not_finite"),
        ({"risk_per_trade": "0.005"}, "risk_per_trade_not_finite"),
        ({"risk_per_trade": None}, "risk_per_trade_not_finite"),
        ({"risk_per_trade": False}, "risk_per_trade_not_finite"),
        ({"risk_per_trade": 10**400}, "risk_per_trade_not_finite"),
        ({"risk_per_trade": -0.001}, "risk_per_trade_out_of_range"),
        ({"risk_per_trade": 1.5}, "risk_per_trade_out_of_range"),  # 1.5% typed as 1.5
        ({"risk_per_trade": 1e308}, "risk_per_trade_out_of_range"),
    ],
)
def test_a_bad_input_is_a_refusal_with_its_code(change: dict[str, Any], code: str) -> None:
    verdict = POLICY.evaluate_order(**{**GOOD, **change})
    assert verdict.codes == (code,) and not verdict.allowed
    assert code in REASON_CODES and len(verdict.reasons[0]) < 200


def test_risk_mode_is_recorded_and_evaluate_signal_is_as_it_was() -> None:
    assert POLICY.evaluate_order(**GOOD).risk_mode == "NORMAL"
    assert POLICY.evaluate_order(**{**GOOD, "open_positions": 9}).risk_mode == "NORMAL"
    defensive = POLICY.model_copy(update={"risk_mode": "DEFENSIVE"})
    assert POLICY.evaluate_order(**GOOD).risk_mode == "NORMAL"  # its cache is the policy's
    assert defensive.evaluate_order(**GOOD).risk_mode == "DEFENSIVE"
    signal = {k: GOOD[k] for k in ("symbol", "strategy", "confidence")}
    assert POLICY.evaluate_signal(**signal) is ALLOWED and ALLOWED.risk_mode is None


ANYTHING = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
)


@given(risk=ANYTHING, positions=ANYTHING, confidence=ANYTHING, symbol=ANYTHING)
def test_any_input_is_a_verdict_never_an_exception(
    risk: Any, positions: Any, confidence: Any, symbol: Any
) -> None:
    verdict = POLICY.evaluate_order(
        symbol=symbol,
        strategy="trend_follow",
        confidence=confidence,
        risk_per_trade=risk,
        open_positions=positions,
    )
    assert set(verdict.codes) <= set(REASON_CODES)
    assert verdict.allowed == (not verdict.codes)


@st.composite
def policies(draw: st.DrawFn) -> dict[str, Any]:
    positions = draw(st.integers(min_value=1, max_value=8))
    risk = draw(st.sampled_from([0.001, 0.005, 0.01, 0.02, 0.1]))
    return policy_data(
        version=draw(st.integers(min_value=1, max_value=9)),
        max_positions=positions,
        max_risk_per_trade=min(risk, 1 / positions),
        global_min_confidence=draw(st.sampled_from([0.5, 0.7, 0.9])),
        allowed_strategies=draw(st.sampled_from([["trend_follow"], ["trend_follow", "breakout"]])),
    )


ORDER_INPUT = st.one_of(
    st.floats(min_value=0, max_value=0.03),
    st.integers(min_value=-2, max_value=10),
    st.sampled_from([math.nan, math.inf, 1.5, -0.1, 2**63, 10**30, "x", None, True, 3.0]),
)
ORDERS = st.lists(
    st.tuples(
        st.sampled_from(["BTCUSDT", "ETHUSDT", "DOGEUSDT"]),
        st.sampled_from(["trend_follow", "breakout"]),
        st.one_of(st.floats(min_value=0, max_value=1), st.sampled_from([math.nan, 2.0])),
        ORDER_INPUT,
        ORDER_INPUT,
    ),
    min_size=1,
    max_size=25,
)


def _verdict(policy: GlobalPolicy, order: tuple[Any, ...]) -> Any:
    """What `store.decide` decides for ``order``: a signal when neither of the order's inputs
    is given, else an order."""
    symbol, strategy, confidence, risk, positions = order
    if risk is None and positions is None:
        return policy.evaluate_signal(symbol=symbol, strategy=strategy, confidence=confidence)
    return policy.evaluate_order(
        symbol=symbol,
        strategy=strategy,
        confidence=confidence,
        risk_per_trade=risk,
        open_positions=positions,
    )


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(base=policies(), head=policies(), orders=ORDERS)
def test_replay_of_logged_orders_agrees_with_evaluate_order(
    tmp_path_factory: pytest.TempPathFactory,
    base: dict[str, Any],
    head: dict[str, Any],
    orders: list[tuple[Any, ...]],
) -> None:
    """Orders decided by a real store with its log on, read back and replayed under a base and
    a head: every record lands where `evaluate_order` under each policy says it does."""
    tmp = tmp_path_factory.mktemp("replay")
    base_file, head_file, log = tmp / "base.yaml", tmp / "head.yaml", tmp / "decisions.jsonl"
    base_file.write_text(json.dumps(base))
    head_file.write_text(json.dumps(head))
    with PolicyStore(base_file, env={}, watch=False, decision_log=log) as store:
        for symbol, strategy, confidence, risk, positions in orders:
            store.decide(
                symbol=symbol,
                strategy=strategy,
                confidence=confidence,
                risk_per_trade=risk,
                open_positions=positions,
            )
    report = replay(LogFiles([log]), base=str(base_file), head=str(head_file), pin_base=True)
    before, after = load_policy(base_file, env={}).policy, load_policy(head_file, env={}).policy
    expected = {"refused": 0, "allowed": 0, "changed": 0, "same": 0}
    codes: dict[str, int] = {}
    for order in orders:
        old, new = _verdict(before, order).codes, _verdict(after, order).codes
        if old == new:
            expected["same"] += 1
        elif old and new:
            expected["changed"] += 1
        elif new:
            expected["refused"] += 1
            for code in new:
                codes[code] = codes.get(code, 0) + 1
        else:
            expected["allowed"] += 1
    assert report.records == len(orders) and report.skipped == 0
    assert report.mismatched == 0  # the logged verdicts are the base's
    got = {
        "refused": report.newly_refused.count,
        "allowed": report.newly_allowed.count,
        "changed": report.reasons_changed,
        "same": report.unchanged,
    }
    assert got == expected
    assert report.newly_refused.by_code == codes
    # Record by record: what replay computes from the logged values (risk and count as the log
    # wrote them: NaN as "nan", a huge integer as its size) is the live verdict's codes.
    logged = [record for _, record in LogFiles([log])]
    assert len(logged) == len(orders)
    for (_, record, symbol, strategy, confidence), order in zip(logged, orders, strict=True):
        live = _verdict(after, order)
        if "risk_per_trade" not in record:  # neither input given: decide judged a signal
            assert order[3] is None and order[4] is None
            assert after.signal_codes(symbol, strategy, confidence) == live.codes
            continue
        risk, positions = record["risk_per_trade"], record["open_positions"]
        assert after.order_codes(symbol, strategy, confidence, risk, positions) == live.codes


def test_the_committed_sample_shows_a_limit_change(tmp_path: Path) -> None:
    """The sample in policy/replay/ has orders: lowering max_positions from 5 to 3, or
    max_risk_per_trade from 0.01 to 0.008, flips decisions to the new limit's code."""
    root = Path(__file__).parents[2]
    policy = (root / "policy" / "policy.yaml").read_text()
    sample = LogFiles([root / "policy" / "replay" / "sample.jsonl.gz"])
    base = root / "policy" / "policy.yaml"
    for change, code in (
        (("max_positions: 5", "max_positions: 3"), "max_positions_reached"),
        (("max_risk_per_trade: 0.01", "max_risk_per_trade: 0.008"), "risk_per_trade_exceeded"),
    ):
        head = tmp_path / "head.yaml"
        head.write_text(policy.replace(*change).replace("version: 1", "version: 2"))
        report = replay(sample, base=str(base), head=str(head), pin_base=True)
        assert report.newly_refused.count > 100 and report.newly_allowed.count == 0
        assert set(report.newly_refused.by_code) == {code}
        assert len({g.symbol for g in report.newly_refused.top()}) >= 5  # by symbol
        sample = LogFiles([root / "policy" / "replay" / "sample.jsonl.gz"])


class _Sym(StrEnum):
    BTC = "BTCUSDT"


class _Size(IntEnum):
    TWO = 2


class _Risky(float):
    """A float subclass (as numpy's float64 is) whose comparisons raise."""

    def __ge__(self, other: object) -> bool:
        raise RuntimeError("__ge__")

    __le__ = __lt__ = __gt__ = __ge__


class _BadBits(int):
    def bit_length(self) -> int:
        raise RuntimeError("bit_length")


class _HashLiar:
    """Equal to everything, with the hash of an allowed symbol: it must not pass as one."""

    def __hash__(self) -> int:
        return hash("BTCUSDT")

    def __eq__(self, other: object) -> bool:
        return True


class _BadSlice(str):
    def __getitem__(self, key: object) -> str:
        raise RuntimeError("__getitem__")


NUMBERISH: list[tuple[str, Any, Any, tuple[str, ...]]] = [
    # (what, risk_per_trade, open_positions, codes): read as the numbers they are
    ("a float subclass (numpy's float64 is one)", _Risky(0.005), 2, ()),
    ("a Decimal", Decimal("0.005"), 2, ()),
    ("a Fraction", Fraction(1, 200), 2, ()),
    ("an IntEnum count", 0.005, _Size.TWO, ()),
    ("an int subclass whose bit_length raises", _BadBits(0), _BadBits(2), ()),
    ("a Decimal over the limit", Decimal("0.02"), 2, ("risk_per_trade_exceeded",)),
    ("a NaN Decimal", Decimal("NaN"), 2, ("risk_per_trade_not_finite",)),
]


@pytest.mark.parametrize(("what", "risk", "positions", "codes"), NUMBERISH)
def test_numbers_of_any_numeric_type_are_read_as_numbers(
    what: str, risk: Any, positions: Any, codes: tuple[str, ...]
) -> None:
    verdict = POLICY.evaluate_order(**{**GOOD, "risk_per_trade": risk, "open_positions": positions})
    assert verdict.codes == codes, what


def test_text_is_read_as_its_characters_and_nothing_raises() -> None:
    assert POLICY.evaluate_order(**{**GOOD, "symbol": _Sym.BTC}).allowed
    assert POLICY.evaluate_order(**{**GOOD, "symbol": _Sym.BTC, "confidence": 1}).allowed
    assert POLICY.evaluate_order(**{**GOOD, "symbol": _BadSlice("BTCUSDT")}).allowed
    liar = POLICY.evaluate_order(**{**GOOD, "symbol": _HashLiar()})
    assert liar.codes == ("symbol_not_allowed",)
    raising = POLICY.evaluate_order(**{**GOOD, "confidence": _Risky(0.8)})
    assert raising.codes == ()  # read as the float 0.8 it holds, its comparisons unused
    signal = POLICY.evaluate_signal(symbol=_HashLiar(), strategy="trend_follow", confidence=0.8)  # type: ignore[arg-type]
    assert signal.codes == ("symbol_not_allowed",)


def test_odd_inputs_replay_to_the_verdict_given_live(tmp_path: Path) -> None:
    """What decide logs for a StrEnum, a numpy-like number or a mutable value is what the
    rules read, frozen when decided: the replay reaches the live verdict."""
    policy, log = tmp_path / "policy.yaml", tmp_path / "decisions.jsonl"
    policy.write_text(json.dumps(policy_data(max_positions=5, max_risk_per_trade=0.01)))
    confidence: list[object] = [0.8]
    inputs: list[dict[str, Any]] = [
        {"symbol": _Sym.BTC, "confidence": 1, "risk_per_trade": 0.005, "open_positions": 2},
        {"symbol": "BTCUSDT", "confidence": 0.8, "risk_per_trade": _Risky(0.005),
         "open_positions": _Size.TWO},
        {"symbol": "BTCUSDT", "confidence": 0.8, "risk_per_trade": Decimal("0.02"),
         "open_positions": 1},
        {"symbol": _BadSlice("BTCUSDT"), "confidence": 0.8, "risk_per_trade": 0.005,
         "open_positions": 1},
        {"symbol": "BTCUSDT", "confidence": confidence, "risk_per_trade": 0.005,
         "open_positions": 1},
    ]  # fmt: skip
    with PolicyStore(policy, env={}, watch=False, decision_log=log) as store:
        live = [store.decide(strategy="trend_follow", **order).codes for order in inputs]
        confidence.append("changed after decide")
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [tuple(r["codes"]) for r in records] == live
    assert records[4]["confidence"] == [0.8]  # as it was when decided
    policy_now = load_policy(policy, env={}).policy
    replayed = 0
    for _, (line, record, symbol, strategy, conf) in LogFiles([log]):
        again = policy_now.order_codes(
            symbol, strategy, conf, record["risk_per_trade"], record["open_positions"]
        )
        assert again == live[line - 1], record
        replayed += 1
    assert replayed == 5  # a list as confidence too: a decision refused for it, replayed so
