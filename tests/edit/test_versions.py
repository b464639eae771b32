"""`version` rises once per change, measured against the committed policy, and never falls."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import policyctl
from policyctl.cli import main

from ..support.git import committed_repo, git
from ..support.policy import VALID

Capture = pytest.CaptureFixture[str]


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = committed_repo(tmp_path / "repo", VALID, "version 7")
    monkeypatch.chdir(root)
    yield root


def _version() -> int:
    return policyctl.load_policy("policy/policy.yaml", env={}).version


def test_several_sets_before_a_commit_are_one_bump(repo: Path) -> None:
    for value in ("4", "3", "2"):
        assert main(["set", "max_positions", value]) == 0
    assert _version() == 8


def test_commits_on_a_branch_are_one_change(repo: Path) -> None:
    git(repo, "checkout", "-qb", "tighten")
    assert main(["set", "max_positions", "4"]) == 0
    git(repo, "commit", "-qam", "fewer positions")
    assert main(["set", "global_min_confidence", "0.75"]) == 0
    git(repo, "commit", "-qam", "higher bar")
    assert _version() == 8  # main has 7: this branch is one change


def test_each_commit_on_the_main_line_is_a_change(repo: Path) -> None:
    assert main(["set", "max_positions", "4"]) == 0
    git(repo, "commit", "-qam", "fewer positions")
    assert main(["set", "max_positions", "3"]) == 0
    assert _version() == 9


def test_lowering_the_version_is_refused(repo: Path, capsys: Capture) -> None:
    before = (repo / "policy" / "policy.yaml").read_bytes()
    assert main(["set", "version", "2"]) == 1
    assert "version can only rise: 2 is below 7" in capsys.readouterr().err
    assert (repo / "policy" / "policy.yaml").read_bytes() == before
    assert main(["set", "version", "12"]) == 0 and _version() == 12


def test_outside_git_every_set_is_a_change(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(VALID)
    assert main(["set", "max_positions", "4", str(path)]) == 0
    assert main(["set", "max_positions", "3", str(path)]) == 0
    assert policyctl.load_policy(path, env={}).version == 9
