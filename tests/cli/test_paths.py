"""One rule for every command's file: the current directory first, then the repository root."""

from __future__ import annotations

from pathlib import Path

import pytest

import policyctl
from policyctl.cli import main

from ..support.git import git
from ..support.policy import VALID

Capture = pytest.CaptureFixture[str]


@pytest.fixture
def subdirectory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    git(tmp_path, "init", "-q")
    (tmp_path / "policy").mkdir()
    (tmp_path / "policy" / "policy.yaml").write_text(VALID)
    (tmp_path / "schemas").mkdir()
    for kind, name in (("policy", "global_policy"), ("override", "override")):
        written = tmp_path / "schemas" / "x.json"
        assert main(["schema", "--write", "--kind", kind, "--path", str(written)]) == 0
        written.rename(tmp_path / "schemas" / f"{name}.schema.json")
    deep = tmp_path / "services" / "ranker"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    monkeypatch.delenv("QT_POLICY_FILE", raising=False)
    return tmp_path


@pytest.mark.parametrize(
    "argv",
    [
        ["validate"],
        ["show", "--no-env"],
        ["get", "version", "--no-env"],
        ["schema", "--check"],
        ["diff"],
    ],
)
def test_every_command_finds_the_repository_file_from_a_subdirectory(
    subdirectory: Path, argv: list[str], capsys: Capture
) -> None:
    git(subdirectory, "add", "-A")
    git(subdirectory, "commit", "-qm", "policy")
    assert main(argv) == 0, capsys.readouterr().err


def test_set_edits_the_repository_file_from_a_subdirectory(subdirectory: Path) -> None:
    assert main(["set", "max_positions", "4"]) == 0
    policy = policyctl.load_policy(subdirectory / "policy" / "policy.yaml", env={})
    assert policy.policy.max_positions == 4


def test_a_missing_schema_is_missing_not_out_of_date(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["schema", "--check"]) == 1
    assert "missing; run `policyctl schema --write`" in capsys.readouterr().err
