"""diff's sides: a name both a path and a revision is refused; `--` and --base-file/--head-file
say which; a base that predates the file is empty; a renamed file is followed (real git)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from policyctl.cli import main

from ..support.git import committed_repo, git
from ..support.policy import VALID

Capture = pytest.CaptureFixture[str]
LOOSER = VALID.replace("version: 7", "version: 8").replace("NORMAL", "AGGRESSIVE")


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """main: the valid policy, version 7; branch pr: risk_mode loosened, version 8."""
    root = committed_repo(tmp_path / "repo", VALID)
    git(root, "checkout", "-qb", "pr")
    (root / "policy" / "policy.yaml").write_text(LOOSER)
    git(root, "commit", "-qam", "loosen")
    monkeypatch.chdir(root)
    yield root


@pytest.mark.parametrize("name", ["main", "HEAD", "HEAD~1"])
def test_a_file_named_like_a_revision_is_refused(repo: Path, name: str, capsys: Capture) -> None:
    target = repo / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(repo / "policy" / "policy.yaml", target)  # the PR's own policy, as a decoy
    assert main(["diff", name, "pr"]) == 2
    err = capsys.readouterr().err
    assert f"'{name}' is both a path here and a git revision" in err
    assert "--base-file" in err and "--" in err


def test_origin_main_file_cannot_hide_a_loosening(repo: Path, capsys: Capture) -> None:
    git(repo, "update-ref", "refs/remotes/origin/main", "main")
    (repo / "origin").mkdir()
    shutil.copy(repo / "policy" / "policy.yaml", repo / "origin" / "main")
    assert main(["diff", "origin/main", "HEAD", "--require-bump"]) == 2
    capsys.readouterr()
    # Disambiguated as git does: before `--` are revisions, so the decoy file is not read.
    assert main(["diff", "origin/main", "HEAD", "--require-bump", "--"]) == 0
    out = capsys.readouterr().out
    assert "loosens   risk_mode: NORMAL -> AGGRESSIVE" in out


def test_explicit_files(repo: Path, tmp_path: Path, capsys: Capture) -> None:
    (repo / "HEAD").write_text(VALID)
    assert main(["diff", "--base-file", "HEAD", "--head-file", "policy/policy.yaml"]) == 0
    assert "loosens   risk_mode: NORMAL -> AGGRESSIVE" in capsys.readouterr().out
    assert main(["diff", "main", "--", "HEAD"]) == 0  # revision main, then the file HEAD
    assert "no semantic change" in capsys.readouterr().out
    assert main(["diff", "-", "--", "a", "b", "c"]) == 2
    assert "at most BASE and HEAD" in capsys.readouterr().err


def test_a_pull_request_that_adds_the_file_shows_every_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    root = tmp_path / "new"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "README").write_text("no policy yet\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "start")
    (root / "policy").mkdir()
    (root / "policy" / "policy.yaml").write_text(VALID)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "add the policy")
    monkeypatch.chdir(root)
    assert main(["diff", "HEAD^1", "HEAD", "--require-bump", "--format", "json", "--"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["base"]["label"] == "HEAD^1:policy/policy.yaml (absent)"
    added = {(c["path"], c["direction"]) for c in doc["changes"]}
    assert ("risk_mode", "loosens") in added
    assert ("allowed_symbols.BTCUSDT", "loosens") in added
    assert ("version", "neutral") in added
    assert all(c["action"] == "added" for c in doc["changes"])
    assert doc["version_raised"] is True


def test_a_renamed_policy_is_followed(repo: Path, capsys: Capture) -> None:
    git(repo, "checkout", "-q", "main")
    git(repo, "mv", "policy/policy.yaml", "policy/global.yaml")
    git(repo, "commit", "-qm", "rename")
    text = (repo / "policy" / "global.yaml").read_text()
    (repo / "policy" / "global.yaml").write_text(text.replace("positions: 5", "positions: 4"))
    git(repo, "commit", "-qam", "tighten")  # a rename and an edit, each its own commit
    args = ["diff", "HEAD~2", "HEAD", "--file", "policy/global.yaml", "--require-bump", "--"]
    assert main(args) == 1
    out, err = capsys.readouterr()
    assert "policy diff: HEAD~2:policy/policy.yaml (version 7)" in out
    assert "tightens  max_positions: 5 -> 4" in out
    assert "version did not rise (7 -> 7)" in err
    # The working tree against a revision before the rename, too.
    assert main(["diff", "HEAD~2", "--file", "policy/global.yaml"]) == 0
    assert "tightens  max_positions: 5 -> 4" in capsys.readouterr().out


def test_a_deleted_policy_fails_the_diff(repo: Path, capsys: Capture) -> None:
    git(repo, "rm", "-q", "policy/policy.yaml")
    git(repo, "commit", "-qm", "delete")
    assert main(["diff", "HEAD^1", "HEAD", "--require-bump", "--"]) == 2
    assert "does not exist at HEAD" in capsys.readouterr().err
