"""Every value is bounded and every odd input a located error: huge numbers, deep nesting,
look-alike letters and digits, and the messages that used to mislead."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import policyctl
from policyctl.cli import main
from policyctl.model import MAX_POSITIONS, MAX_VERSION
from policyctl.pipeline import read_env

from ..support.policy import VALID, Writer

Capture = pytest.CaptureFixture[str]
HUGE = "9" * 401


@pytest.mark.parametrize(
    ("field", "literal"),
    [
        ("max_positions", HUGE),
        ("max_positions", "9" * 5000),
        ("version", "0x" + "f" * 4000),
        ("version", "0b" + "1" * 200),
        ("global_min_confidence", "0." + "1" * 500),
    ],
)
def test_a_huge_number_in_the_file_is_a_located_error(
    write: Writer, field: str, literal: str, capsys: Capture
) -> None:
    line = next(i for i, text in enumerate(VALID.splitlines(), 1) if text.startswith(field))
    text = "\n".join(
        f"{field}: {literal}" if t.startswith(field) else t for t in VALID.splitlines()
    )
    path = write(text + "\n")
    with pytest.raises(policyctl.PolicySyntaxError) as caught:
        policyctl.load_policy(path, env={})
    issue = caught.value.issues[0]
    assert (issue.line, issue.column) == (line, len(field) + 3)
    assert "characters long; no field takes one this large" in issue.message
    assert main(["validate", str(path)]) == 1
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("field", "value", "limit"),
    [
        ("version", MAX_VERSION + 1, MAX_VERSION),
        ("max_positions", MAX_POSITIONS + 1, MAX_POSITIONS),
    ],
)
def test_every_integer_field_has_an_upper_bound(
    write: Writer, field: str, value: int, limit: int
) -> None:
    text = "\n".join(f"{field}: {value}" if t.startswith(field) else t for t in VALID.splitlines())
    with pytest.raises(policyctl.PolicyValidationError) as caught:
        policyctl.load_policy(write(text + "\n"), env={})
    assert f"to {limit}" in caught.value.issues[0].message
    schema = policyctl.GlobalPolicy.model_json_schema()
    assert schema["properties"][field]["maximum"] == limit


@settings(max_examples=60, deadline=None)
@given(version=st.integers(), positions=st.integers())
def test_any_integer_gives_a_snapshot_or_a_policy_error(
    tmp_path_factory: pytest.TempPathFactory, version: int, positions: int
) -> None:
    path = tmp_path_factory.mktemp("ints") / "policy.yaml"
    text = VALID.replace("version: 7", f"version: {version}")
    path.write_text(text.replace("max_positions: 5", f"max_positions: {positions}"))
    try:
        snap = policyctl.load_policy(path, env={})
    except policyctl.PolicyError:
        return
    assert main(["show", "--format", "json", str(path)]) == 0
    assert snap.version == version


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("QT_MAX_POSITIONS", HUGE, "digits; no field takes one this large"),
        ("QT_MAX_POSITIONS", "9" * 5000, "digits; no field takes one this large"),
        ("QT_MAX_RISK_PER_TRADE", "9" * 400, "not a finite number"),
        ("QT_MODEL_VERSIONS", '{"a":' * 100_000 + '"1"' + "}" * 100_000, "nested too deeply"),
        ("QT_ALLOWED_SYMBOLS", "[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ("QT_MODEL_VERSIONS", '{"lstm": 1e999}', "not a finite number"),
        ("QT_MODEL_VERSIONS", '{"lstm": NaN}', "NaN is not a number a policy can hold"),
        ("QT_MODEL_VERSIONS", '{"lstm": null}', 'is null; give it as a JSON string, e.g. "3.10"'),
        ("QT_MODEL_VERSIONS", '{"lstm": 3.1}', 'quote it: "3.1"'),
        ("QT_RISK_MODE", "aggre\u017f\u017five", "expected one of"),  # long s upper-cases to S
        ("QT_RISK_MODE", "defens\u0131ve", "expected one of"),  # dotless i upper-cases to I
    ],
)
def test_odd_environment_values_are_policy_env_errors(variable: str, value: str, says: str) -> None:
    with pytest.raises(policyctl.PolicyEnvError) as caught:
        read_env({variable: value})
    issue = caught.value.issues[0]
    assert issue.source == variable and says in issue.message
    assert len(issue.message) < 300  # a huge value is quoted by its start and its length


def test_look_alike_digits_are_not_indexes(write: Writer, capsys: Capture) -> None:
    path = write()
    assert main(["get", "allowed_symbols[\u0660]", str(path)]) == 2  # ARABIC-INDIC DIGIT ZERO
    assert main(["get", "allowed_symbols[0]", str(path)]) == 0
    assert capsys.readouterr().out.endswith("BTCUSDT\n")


def test_look_alike_letters_are_not_risk_modes_in_set(write: Writer, capsys: Capture) -> None:
    path = write()
    before = path.read_bytes()
    assert main(["set", "risk_mode", "defens\u0131ve", str(path)]) != 0
    assert path.read_bytes() == before


def test_a_symbol_with_a_trailing_newline_gets_no_invalid_suggestion(write: Writer) -> None:
    path = write(VALID.replace("[BTCUSDT, ETHUSDT]", '[BTCUSDT, ETHUSDT, "S0\\n"]'))
    with pytest.raises(policyctl.PolicyValidationError) as caught:
        policyctl.load_policy(path, env={})
    message = caught.value.issues[0].message
    assert "is not a valid symbol" in message and "did you mean" not in message


def test_set_refuses_a_huge_or_deep_value_and_keeps_the_file(
    write: Writer, capsys: Capture
) -> None:
    path: Path = write()
    before = path.read_bytes()
    assert main(["set", "max_positions", HUGE, str(path)]) != 0
    assert main(["set", "model_versions", '{"a":' * 50_000 + "1" + "}" * 50_000, str(path)]) != 0
    assert main(["set", "opp_rankings", '{"BTCUSDT": 1e999}', str(path)]) != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err
    assert "not a finite number" in err and '"inf" is text' not in err
    assert path.read_bytes() == before
