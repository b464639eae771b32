"""Every JSON output has one documented, stable shape: the keys the README lists, each test
checking one shape (a key added or dropped fails here first)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from policyctl.cli import main

from ..support.git import git
from ..support.policy import VALID, Writer
from ..support.readme import documented

Capture = pytest.CaptureFixture[str]
ISSUE = {"file", "variable", "line", "column", "path", "message", "kind"}
CHANGE = {"field", "key", "path", "action", "old", "new", "direction"}
SIDE = {"label", "valid", "version", "digest", "errors"}


def _json(capsys: Capture, *argv: str) -> Any:
    main(list(argv))
    return json.loads(capsys.readouterr().out)


def test_validate_shape(write: Writer, capsys: Capture) -> None:
    bad = write(VALID.replace("max_positions: 5", "max_positions: true"))
    doc = _json(capsys, "validate", "--format", "json", str(bad))
    assert set(doc) == documented("validate") == {"valid", "files"}
    assert set(doc["files"][0]) == documented("validate file")
    assert set(doc["files"][0]["errors"][0]) == documented("issue") == ISSUE


def test_environment_issue_names_its_variable(
    write: Writer, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    monkeypatch.setenv("QT_MAX_POSITIONS", "many")
    main(["validate", "--with-env", "--format", "json", str(write())])
    issue = json.loads(capsys.readouterr().out)["files"][0]["errors"][0]
    assert issue["file"] is None and issue["variable"] == "QT_MAX_POSITIONS"
    assert main(["validate", "--with-env", "--format", "github", str(write())]) == 1
    assert "file=QT_" not in capsys.readouterr().out


def test_a_document_level_issue_has_a_null_path(tmp_path: Path, capsys: Capture) -> None:
    doc = _json(capsys, "validate", "--format", "json", str(tmp_path / "missing.yaml"))
    assert doc["files"][0]["errors"][0]["path"] is None


def test_show_shape(write: Writer, capsys: Capture) -> None:
    no_stamp = VALID.replace('last_updated: "2026-11-27T10:00:00Z"\n', "")
    doc = _json(capsys, "show", "--format", "json", "--explain", "--no-env", str(write(no_stamp)))
    assert set(doc) == documented("show")
    assert doc["policy"]["last_updated"] is None  # every field, null included


def _brakes(policy: Path) -> None:
    until = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    (policy.parent / "overrides").mkdir()
    (policy.parent / "overrides" / "calm.yaml").write_text(
        f'reason: "test"\nuntil: "{until}"\nset: {{risk_mode: DEFENSIVE, max_positions: 9}}\n'
    )


def test_brake_shapes(write: Writer, capsys: Capture) -> None:
    policy = write()
    _brakes(policy)
    listed = _json(capsys, "brake", "list", "--format", "json", str(policy))
    assert set(listed) == documented("brake list")
    assert set(listed["brakes"][0]) == documented("brake")
    assert listed["brakes"][0]["set"] == {"risk_mode": "DEFENSIVE", "max_positions": 9}
    shown = _json(capsys, "show", "--format", "json", "--no-env", str(policy))
    assert set(shown["brakes"][0]) == documented("show brake")
    assert shown["policy"]["risk_mode"] == "DEFENSIVE"
    checked = _json(capsys, "validate", "--format", "json", str(policy))
    warning = checked["files"][0]["warnings"][0]
    assert set(warning) == documented("warning")
    assert "max_positions 9 is looser" in warning["message"]


def test_diff_shape(write: Writer, tmp_path: Path, capsys: Capture) -> None:
    base = write(name="base.yaml")
    head = tmp_path / "head" / "policy.yaml"
    head.parent.mkdir()
    head.write_text(VALID.replace("version: 7", "version: 8"))
    _brakes(head)
    doc = _json(
        capsys, "diff", "--base-file", str(base), "--head-file", str(head), "--format", "json"
    )
    assert set(doc) == documented("diff")
    assert set(doc["base"]) == documented("diff side") == SIDE
    assert set(doc["changes"][0]) == documented("change") == CHANGE
    assert set(doc["brakes"][0]) == documented("diff brake")
    assert set(doc["effective"][0]) == CHANGE


def test_log_shape(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture) -> None:
    (tmp_path / "policy").mkdir()
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "policy" / "policy.yaml").write_text(VALID)
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "first")
    monkeypatch.chdir(tmp_path)
    doc = _json(capsys, "log", "--format", "json")
    assert set(doc[0]) == documented("log entry")


def test_env_shape(monkeypatch: pytest.MonkeyPatch, capsys: Capture) -> None:
    monkeypatch.setenv("QT_MAX_POSITION", "3")  # a near miss
    doc = _json(capsys, "env", "--format", "json")
    assert set(doc) == documented("env")
    assert set(doc["variables"][0]) == documented("env variable")
    assert set(doc["near_misses"][0]) == documented("env near miss")


def test_brake_log_shape(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture) -> None:
    (tmp_path / "policy").mkdir()
    (tmp_path / "policy" / "policy.yaml").write_text(VALID)
    _brakes(tmp_path / "policy" / "policy.yaml")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "policy and a brake")
    monkeypatch.chdir(tmp_path)
    (entry,) = _json(capsys, "log", "--brakes", "--format", "json")
    assert set(entry) == documented("log brake")
