"""set, add and remove read VALUE as the file would: YAML flow through the strict reader, and
what the file's reading would change from what was typed is refused before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest

import policyctl
from policyctl.cli import main

from ..support.policy import VALID

Capture = pytest.CaptureFixture[str]


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(VALID)
    return path


@pytest.mark.parametrize(
    ("assignment", "field", "expected"),
    [
        (
            ["allowed_symbols", "[BTCUSDT, ETHUSDT, SOLUSDT]"],
            "allowed_symbols",
            ["BTCUSDT", "ETHUSDT", "SOLUSDT"],
        ),
        (
            ["allowed_symbols", '["ETHUSDT", "BTCUSDT"]'],
            "allowed_symbols",
            ["ETHUSDT", "BTCUSDT"],
        ),  # JSON is YAML
        (
            ["model_versions", '{lstm: "3.10", gru: "1"}'],
            "model_versions",
            {"lstm": "3.10", "gru": "1"},
        ),
        (["model_versions.lstm", '"3.10"'], "model_versions", {"xgboost": "v12", "lstm": "3.10"}),
        (["model_versions.lstm", "v3.10"], "model_versions", {"xgboost": "v12", "lstm": "v3.10"}),
        (["global_min_confidence", "75e-2"], "global_min_confidence", 0.75),
        (["max_positions", "0x4"], "max_positions", 4),  # YAML 1.2, as CI's reader
        (["risk_mode", "'DEFENSIVE'"], "risk_mode", "DEFENSIVE"),
    ],
)
def test_a_value_means_what_it_would_mean_in_the_file(
    policy: Path, assignment: list[str], field: str, expected: object
) -> None:
    assert main(["set", *assignment, str(policy)]) == 0
    value = getattr(policyctl.load_policy(policy, env={}).policy, field)
    assert (value if not isinstance(value, tuple) else list(value)) == expected


@pytest.mark.parametrize(
    ("assignment", "hint"),
    [
        (["model_versions", '{lstm: 3.10, x: "1"}'], '\'{lstm: "3.10", x: "1"}\''),
        (["allowed_symbols", "[BTCUSDT, 010]"], "'[BTCUSDT, \"010\"]'"),
        (["allowed_symbols", "BTCUSDT,ETHUSDT"], "'[BTCUSDT, ETHUSDT]'"),
        (["risk_mode", "defensive"], "must be written in upper case: DEFENSIVE"),
        (["max_positions", "[1"], "did not find expected ',' or ']'"),
        (["max_positions", "!!python/object:os.system x"], "tag !!python/object:os.system"),
        (["opp_rankings.BTCUSDT", ".inf"], ".inf is not a finite number"),
        (["max_positions", "4\n---\n5"], "more than one YAML document"),
    ],
)
def test_what_the_file_would_misread_is_refused_with_what_to_type(
    policy: Path, capsys: Capture, assignment: list[str], hint: str
) -> None:
    assert main(["set", *assignment, str(policy)]) == 1
    err = capsys.readouterr().err
    assert hint in err and "Traceback" not in err
    assert policy.read_text() == VALID


def test_add_reads_its_item_the_same_way(policy: Path, capsys: Capture) -> None:
    assert main(["add", "allowed_symbols", "'SOLUSDT'", str(policy)]) == 0
    assert "SOLUSDT" in policyctl.load_policy(policy, env={}).policy.allowed_symbols
    before = policy.read_text()
    assert main(["add", "allowed_symbols", "[XRPUSDT]", str(policy)]) == 1
    assert main(["remove", "allowed_symbols", "12", str(policy)]) == 2  # not in the list
    err = capsys.readouterr().err
    assert "'[XRPUSDT]' is not text" in err and "'12' is not in allowed_symbols" in err
    assert policy.read_text() == before


def test_setting_a_whole_map_says_how_many_entries_it_removed(
    policy: Path, capsys: Capture
) -> None:
    assert main(["set", "model_versions", '{lstm: "3.11"}', str(policy)]) == 0
    err = capsys.readouterr().err
    assert "replaced the whole map, removing 1 entry" in err
    assert "policyctl set model_versions.KEY VALUE" in err
    assert main(["set", "model_versions.lstm", '"3.12"', str(policy)]) == 0
    assert "replaced" not in capsys.readouterr().err


def test_a_bare_value_for_a_text_field_is_its_text(policy: Path) -> None:
    """The shell already gave the text: `set model_versions.lstm 3.20` means "3.20" (it was
    refused with "quote it"); inside a YAML map or list, where the file's reading applies, the
    trap is still refused."""
    assert main(["set", "model_versions.lstm", "3.20", str(policy)]) == 0
    assert policyctl.load_policy(policy, env={}).policy.model_versions["lstm"] == "3.20"
    assert main(["set", "model_versions", "{lstm: 3.30}", str(policy)]) == 1
