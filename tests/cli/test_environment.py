"""The environment as commands apply it: blanks are unset, an empty map is no override,
--no-env ignores it all, and the messages give examples of the right field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from policyctl import PolicyEnvError
from policyctl.cli import main
from policyctl.pipeline import read_env

from ..support.policy import VALID, Writer

Capture = pytest.CaptureFixture[str]


def test_a_blank_variable_counts_as_unset() -> None:
    assert read_env({"QT_RISK_MODE": " ", "QT_MAX_POSITIONS": "\t"}).values == {}


def test_an_empty_model_map_is_not_an_override(
    write: Writer, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    monkeypatch.setenv("QT_MODEL_VERSIONS", "{}")
    assert main(["show", "--format", "json", str(write())]) == 0
    assert json.loads(capsys.readouterr().out)["overrides"] == {}


def test_no_env_ignores_a_malformed_variable(
    write: Writer, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    path: Path = write()
    monkeypatch.setenv("QT_MAX_POSITIONS", "lots")
    monkeypatch.setenv("QT_RISK_MODE", "DEFENSIVE")
    assert main(["get", "version", str(path)]) == 1
    assert "QT_MAX_POSITIONS" in capsys.readouterr().err
    assert main(["get", "risk_mode", str(path), "--no-env"]) == 0
    assert capsys.readouterr().out == "NORMAL\n"
    assert main(["show", "--no-env", "--format", "json", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["overrides"] == {}


def test_a_list_for_model_versions_gets_a_model_example() -> None:
    with pytest.raises(PolicyEnvError, match=r'like \{"lstm": "3.10"\}'):
        read_env({"QT_MODEL_VERSIONS": "[]"})


def test_a_percentage_for_a_fraction_says_how_to_write_it(write: Writer, capsys: Capture) -> None:
    path = write()
    assert main(["set", "global_min_confidence", "70", str(path)]) == 1
    assert "a fraction: for 70% write 0.7" in capsys.readouterr().err


def test_show_explain_says_what_the_environment_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(VALID)
    monkeypatch.setenv("QT_MAX_POSITIONS", "9")
    assert main(["show", "--explain", str(policy)]) == 0
    assert f"QT_MAX_POSITIONS (loosens against {policy}:" in capsys.readouterr().out
