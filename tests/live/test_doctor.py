"""policyctl doctor: one line per finding with its fix, exit 1 on a problem; each check on the
layout it is about (real files, a ConfigMap layout, a git-sync layout, permissions)."""

from __future__ import annotations

from pathlib import Path

import pytest

from policyctl.cli import main
from policyctl.live import examine

from ..conftest import VALID

Capture = pytest.CaptureFixture[str]


def test_a_healthy_file_has_no_problem(tmp_path: Path, capsys: Capture) -> None:
    (tmp_path / "policy.yaml").write_text(VALID)
    (tmp_path / "overrides").mkdir()
    assert main(["doctor", str(tmp_path / "policy.yaml")]) == 0
    assert "no problem found" in capsys.readouterr().out


def test_a_missing_file_and_an_unreadable_overrides_directory(
    tmp_path: Path, capsys: Capture
) -> None:
    assert main(["doctor", str(tmp_path / "policy.yaml")]) == 1
    assert "problem: " in capsys.readouterr().out
    (tmp_path / "policy.yaml").write_text(VALID)
    (tmp_path / "overrides").write_text("not a directory")
    assert main(["doctor", str(tmp_path / "policy.yaml")]) == 1
    out = capsys.readouterr().out
    assert "overrides directory" in out and "fix: give the service read" in out


def test_layouts_are_named(tmp_path: Path) -> None:
    configmap = tmp_path / "cm"
    data = configmap / "..2026_11_28"
    data.mkdir(parents=True)
    (data / "policy.yaml").write_text(VALID)
    (configmap / "..data").symlink_to(data.name)
    (configmap / "policy.yaml").symlink_to("..data/policy.yaml")
    notes = [f.what for f in examine(configmap / "policy.yaml", configmap / "overrides")]
    assert any("Kubernetes ConfigMap volume" in n for n in notes)
    sha = "a" * 40
    worktree = tmp_path / "git" / ".worktrees" / sha / "policy"
    worktree.mkdir(parents=True)
    (worktree / "policy.yaml").write_text(VALID)
    (tmp_path / "git" / "current").symlink_to(f".worktrees/{sha}")
    notes = [
        f.what for f in examine(tmp_path / "git" / "current" / "policy" / "policy.yaml", tmp_path)
    ]
    assert any(f"git-sync checkout, at commit {sha}" in n for n in notes)
