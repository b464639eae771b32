"""diff and log against real git repositories built in tmp_path."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from policyctl.cli import main

from ..support.git import commit, git
from ..support.policy import VALID

Capture = pytest.CaptureFixture[str]


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """HEAD~4 v7; HEAD~3 broken (PANIC); HEAD~2 v8, fewer positions; HEAD~1 v9, ETH swapped
    for SOL; HEAD reverts HEAD~1 (back to v8's content)."""
    root = tmp_path / "repo"
    (root / "policy").mkdir(parents=True)
    (root / "docs").mkdir()
    git(root, "init", "-q", "-b", "main")
    v8 = VALID.replace("version: 7", "version: 8").replace("positions: 5", "positions: 4")
    commit(root, VALID, "Initial policy")
    commit(root, v8.replace("NORMAL", "PANIC"), "Broken mode")
    commit(root, v8, "Fewer positions")
    commit(
        root,
        v8.replace("version: 8", "version: 9").replace("ETHUSDT", "SOLUSDT"),
        "Swap ETH for SOL",
    )
    git(root, "revert", "--no-edit", "HEAD")
    monkeypatch.chdir(root)
    yield root


def test_diff_working_tree_against_head(repo: Path, capsys: Capture) -> None:
    policy = repo / "policy" / "policy.yaml"
    text = policy.read_text().replace("NORMAL", "AGGRESSIVE").replace("version: 8", "version: 9")
    policy.write_text(text)
    assert main(["diff"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        "policy diff: HEAD:policy/policy.yaml (version 8) -> policy/policy.yaml (working tree)"
    )
    assert "loosens   risk_mode: NORMAL -> AGGRESSIVE" in out
    assert out.endswith("2 change(s): 1 loosen risk, 0 tighten, 1 neutral\n")


def test_diff_between_revisions_with_directions(repo: Path, capsys: Capture) -> None:
    assert main(["diff", "HEAD~4", "HEAD~2", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["base"]["version"] == 7 and doc["head"]["version"] == 8
    assert [(c["path"], c["direction"]) for c in doc["changes"]] == [
        ("max_positions", "tightens"),
        ("version", "neutral"),
    ]
    assert doc["summary"] == {"loosens": 0, "tightens": 1, "neutral": 1}
    assert doc["version_raised"] is True


def test_diff_renamed_symbol(repo: Path, capsys: Capture) -> None:
    assert main(["diff", "HEAD~2", "HEAD~1"]) == 0
    out = capsys.readouterr().out
    assert "loosens   allowed_symbols: + SOLUSDT" in out
    assert "tightens  allowed_symbols: - ETHUSDT" in out
    assert out.index("loosens") < out.index("tightens") < out.index("neutral")


def test_diff_with_an_invalid_side_reports_it(repo: Path, capsys: Capture) -> None:
    assert main(["diff", "HEAD~4", "HEAD~3"]) == 1
    out = capsys.readouterr().out
    assert "HEAD~3:policy/policy.yaml is invalid:" in out
    assert "HEAD~3:policy/policy.yaml:3:12: risk_mode:" in out and "Traceback" not in out


def test_require_bump(repo: Path, capsys: Capture) -> None:
    assert main(["diff", "HEAD~4", "HEAD~2", "--require-bump"]) == 0
    policy = repo / "policy" / "policy.yaml"
    policy.write_text(policy.read_text().replace("positions: 4", "positions: 3"))
    assert main(["diff", "HEAD", "--require-bump"]) == 1
    assert "version did not rise (8 -> 8); set version: 9" in capsys.readouterr().err
    policy.write_text(policy.read_text().replace("version: 8", "version: 9"))
    assert main(["diff", "HEAD", "--require-bump"]) == 0
    assert main(["diff", "HEAD~4", "HEAD~3", "--require-bump"]) == 1  # an invalid side
    assert "invalid" in capsys.readouterr().err
    assert main(["diff", "HEAD~1", "HEAD", "--require-bump"]) == 1  # a revert must bump too


def test_unchanged_policy_needs_no_bump(repo: Path, capsys: Capture) -> None:
    assert main(["diff", "HEAD~2", "HEAD", "--require-bump"]) == 0
    assert "no semantic change" in capsys.readouterr().out


def test_unknown_revision_is_exit_2(repo: Path, capsys: Capture) -> None:
    assert main(["diff", "no-such-branch"]) == 2
    assert "unknown revision 'no-such-branch'" in capsys.readouterr().err


def test_diff_from_a_subdirectory_and_with_files(
    repo: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo / "docs")
    assert main(["diff", "HEAD~4", "HEAD~2"]) == 0
    assert "max_positions: 5 -> 4" in capsys.readouterr().out
    a, b = repo / "a.yaml", repo / "b.yaml"
    a.write_text(VALID)
    b.write_text(VALID.replace("version: 7", "version: 8").replace("0.70", "0.60"))
    assert main(["diff", str(a), str(b), "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert "LOOSEN risk" in out and "| **LOOSENS** | `global_min_confidence` changed |" in out


def test_diff_outside_a_repository_is_exit_2(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["diff"]) == 2
    assert "git rev-parse failed" in capsys.readouterr().err


def test_log_is_the_audit_trail(repo: Path, capsys: Capture) -> None:
    assert main(["log"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert 'Revert "Swap ETH for SOL"  [version 9 -> 8]' in lines[0]
    out = "\n".join(lines)
    assert "Swap ETH for SOL  [version 8 -> 9]" in out
    assert "Fewer positions  [version - -> 8]" in out
    assert "Broken mode  [version 7 -> -]" in out
    assert "    INVALID: " in out and ":3:12: risk_mode:" in out  # shown, not skipped
    assert "Initial policy  [version - -> 7]" in out
    assert "tightens  allowed_symbols: - SOLUSDT" in out  # the revert, as a semantic change
    assert main(["log", "-n", "2", "--format", "json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert len(entries) == 2
    assert entries[1]["subject"] == "Swap ETH for SOL"
    assert (entries[1]["version_before"], entries[1]["version_after"]) == (8, 9)
    assert entries[1]["author"] == "Risk Desk" and len(entries[1]["commit"]) == 40
    assert {"path": "allowed_symbols.SOLUSDT", "direction": "loosens"}.items() <= (
        entries[1]["changes"][0].items()
    )


def test_set_then_diff_shows_the_change(repo: Path, capsys: Capture) -> None:
    assert main(["set", "risk_mode", "AGGRESSIVE"]) == 0
    assert main(["diff", "--require-bump"]) == 0
    out = capsys.readouterr().out
    assert "loosens   risk_mode: NORMAL -> AGGRESSIVE" in out
    assert "neutral   version: 8 -> 9" in out


def test_policy_file_variable_names_the_file_in_the_repository(
    repo: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QT_POLICY_FILE", str(repo / "policy" / "policy.yaml"))  # absolute
    assert main(["diff", "HEAD~4", "HEAD~2"]) == 0
    assert "HEAD~4:policy/policy.yaml (version 7)" in capsys.readouterr().out
    monkeypatch.setenv("QT_POLICY_FILE", "policy/policy.yaml")  # relative to the root
    monkeypatch.chdir(repo / "docs")
    assert main(["diff", "HEAD~4", "HEAD~2", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["head"]["version"] == 8


def test_log_from_a_subdirectory_with_a_relative_file(
    repo: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo / "docs")
    assert main(["log", "../policy/policy.yaml", "-n", "1"]) == 0
    assert 'Revert "Swap ETH for SOL"' in capsys.readouterr().out
    assert main(["log", "policy/policy.yaml", "-n", "1"]) == 0  # relative to the root
    assert 'Revert "Swap ETH for SOL"' in capsys.readouterr().out


def test_log_follows_the_file_across_a_rename(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "moved"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "policy.yaml").write_text(VALID)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "Policy at the top")
    (root / "policy").mkdir()
    git(root, "mv", "policy.yaml", "policy/policy.yaml")
    git(root, "commit", "-qm", "Move it under policy/")
    commit(root, VALID.replace("version: 7", "version: 8").replace("0.70", "0.80"), "Raise the bar")
    monkeypatch.chdir(root)
    assert main(["log"]) == 0
    out = capsys.readouterr().out
    assert "Raise the bar  [version 7 -> 8]" in out
    assert "tightens  global_min_confidence: 0.7 -> 0.8" in out
    assert "Move it under policy/  [version 7 -> 7]" in out  # the rename: no semantic change
    assert "Policy at the top  [version - -> 7]" in out


def test_log_shows_a_merge_that_combined_two_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    """Two pull requests from one base, both version 8, merged without a textual conflict: the
    second merge is a state neither showed, and the audit trail lists it."""
    root = tmp_path / "merged"
    (root / "policy").mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    commit(root, VALID, "base")
    v8 = VALID.replace("version: 7", "version: 8")
    for branch, text in (
        ("a", v8.replace("[trend_follow, mean_reversion]", "[trend_follow]")),
        ("b", v8.replace("global_min_confidence: 0.70", "global_min_confidence: 0.65")),
    ):
        git(root, "checkout", "-q", "-b", branch, "main")
        commit(root, text, f"change {branch}")
        git(root, "checkout", "-q", "main")
    git(root, "merge", "-q", "--no-ff", "--no-edit", "a")
    git(root, "merge", "-q", "--no-ff", "--no-edit", "b")
    monkeypatch.chdir(root)
    assert main(["log"]) == 0
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert "Merge branch 'b'" in first and "[version 8 -> 8]" in first
    assert "merge: the result differs from every parent" in out
    assert "loosens   global_min_confidence: 0.7 -> 0.65" in out.split("change b")[0]
    assert "Merge branch 'a'" not in out  # that merge equals its second parent: nothing new
    assert main(["log", "--format", "json", "-n", "1"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["merge"] is True
