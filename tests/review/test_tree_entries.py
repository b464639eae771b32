"""What a review reads is what deploys: an entry under the policy's directory that is not a
regular file (a symbolic link, a submodule, a directory where a file belongs) makes that side
invalid in ``diff``, ``lane`` and ``validate --rev``; on disk, a link is said plainly."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from policyctl.cli import main

from ..support.git import committed_repo, git
from ..support.policy import VALID

Capture = pytest.CaptureFixture[str]
LOOSE = VALID.replace("NORMAL", "AGGRESSIVE").replace("max_positions: 5", "max_positions: 50")
# A name that is itself a tight policy in YAML's flow style: git's blob for a symbolic link is
# its target's name, so a reader of git's objects would see this tight policy.
TIGHT_NAME = (
    "{version: 8, risk_mode: DEFENSIVE, allowed_strategies: [trend_follow], allowed_symbols:"
    " [BTCUSDT], max_risk_per_trade: 0.005, max_positions: 1, global_min_confidence: 0.9,"
    " opp_rankings: {}, model_versions: {}}"
)


def _until() -> str:
    return (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    repo = committed_repo(tmp_path / "repo", VALID)
    brakes = repo / "policy" / "overrides"
    brakes.mkdir()
    (brakes / "calm.yaml").write_text(
        f'reason: calm\nuntil: "{_until()}"\nset: {{max_positions: 2}}\n'
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a brake")
    git(repo, "checkout", "-q", "-b", "pr")
    monkeypatch.chdir(repo)
    return repo


def _commit(repo: Path) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "the pull request")


def _policy_is_a_link(repo: Path) -> None:
    policy = repo / "policy"
    (policy / TIGHT_NAME).write_text(LOOSE.replace("version: 7", "version: 8"))
    (policy / "policy.yaml").unlink()
    (policy / "policy.yaml").symlink_to(TIGHT_NAME)


def _brake_is_a_link(repo: Path) -> None:
    brakes = repo / "policy" / "overrides"
    (repo / "elsewhere.yaml").write_text((brakes / "calm.yaml").read_text())
    (brakes / "calm.yaml").unlink()
    (brakes / "calm.yaml").symlink_to("../../elsewhere.yaml")


def _brakes_dir_is_a_link(repo: Path) -> None:
    brakes = repo / "policy" / "overrides"
    (brakes / "calm.yaml").rename(repo / "calm.yaml")
    brakes.rmdir()
    (repo / "empty").mkdir()
    (repo / "empty" / ".keep").write_text("")
    brakes.symlink_to("../empty")


def _submodule(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    git(repo, "update-index", "--add", "--cacheinfo", f"160000,{head},policy/vendor")
    git(repo, "commit", "-qm", "a submodule")  # staged by hand: `add -A` would drop it


def _policy_is_a_directory(repo: Path) -> None:
    (repo / "policy" / "policy.yaml").unlink()
    (repo / "policy" / "policy.yaml").mkdir()
    (repo / "policy" / "policy.yaml" / "x.yaml").write_text(VALID)


CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "policy-link": (_policy_is_a_link, "policy/policy.yaml is a symbolic link"),
    "brake-link": (_brake_is_a_link, "policy/overrides/calm.yaml is a symbolic link"),
    "brakes-dir-link": (_brakes_dir_is_a_link, "policy/overrides is a symbolic link"),
    "submodule": (_submodule, "policy/vendor is a submodule"),
    "policy-directory": (_policy_is_a_directory, "policy/policy.yaml is a directory"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_head_is_invalid_everywhere_a_review_looks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture, case: str
) -> None:
    repo = _repo(tmp_path, monkeypatch)
    change, said = CASES[case]
    change(repo)
    if case != "submodule":
        _commit(repo)
    capsys.readouterr()
    assert main(["diff", "main", "pr", "--"]) == 1
    assert said in capsys.readouterr().out
    assert main(["lane", "main", "pr"]) == 1
    lane = capsys.readouterr().out
    assert lane.startswith("invalid") and said in lane
    assert main(["validate", "--rev", "pr", "--format", "github"]) == 1
    assert said in capsys.readouterr().out
    assert main(["validate", "--rev", "main"]) == 0


def test_the_trick_of_the_issue_no_longer_reads_tight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    """The link's target name is a tight policy: git's object for the link reads as one."""
    repo = _repo(tmp_path, monkeypatch)
    _policy_is_a_link(repo)
    _commit(repo)
    blob = git(repo, "cat-file", "-p", "pr:policy/policy.yaml")
    assert blob == TIGHT_NAME  # what a reader of git's objects would have judged
    capsys.readouterr()
    assert main(["diff", "main", "pr", "--format", "json", "--"]) == 1
    assert '"valid": false' in capsys.readouterr().out


def test_a_link_in_the_base_makes_the_base_invalid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    repo = _repo(tmp_path, monkeypatch)
    _brake_is_a_link(repo)
    _commit(repo)
    git(repo, "checkout", "-q", "-b", "next")
    (repo / "policy" / "policy.yaml").write_text(VALID.replace("version: 7", "version: 8"))
    _commit(repo)
    capsys.readouterr()
    assert main(["lane", "pr", "next"]) == 1
    assert "is a symbolic link" in capsys.readouterr().out


def test_on_disk_a_link_is_said_plainly_and_a_configmap_is_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "real.yaml").write_text(VALID)
    (linked / "policy.yaml").symlink_to("real.yaml")
    assert main(["validate", str(linked / "policy.yaml")]) == 0
    assert "a symbolic link to real.yaml" in capsys.readouterr().out
    volume = tmp_path / "volume"  # a ConfigMap volume: policy.yaml -> ..data/policy.yaml
    (volume / "..2026_12_04").mkdir(parents=True)
    (volume / "..2026_12_04" / "policy.yaml").write_text(VALID)
    (volume / "..data").symlink_to("..2026_12_04")
    (volume / "policy.yaml").symlink_to("..data/policy.yaml")
    assert main(["validate", str(volume / "policy.yaml")]) == 0
    assert "symbolic link" not in capsys.readouterr().out


def test_log_shows_a_symlinked_policy_as_invalid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    repo = _repo(tmp_path, monkeypatch)
    _policy_is_a_link(repo)
    _commit(repo)
    capsys.readouterr()
    main(["log", "--format", "json"])
    entries = json.loads(capsys.readouterr().out)
    newest = entries[0]
    assert newest["valid"] is False
    assert "policy/policy.yaml is a symbolic link" in json.dumps(newest["errors"])
    assert newest["changes"] == []  # nothing is read from the link's text


def test_replay_finds_no_record_s_policy_in_a_link_s_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    """A record naming the digest of a link's text (what git holds for it) is not matched to
    that text as a policy: it falls back to the base."""
    repo = _repo(tmp_path, monkeypatch)
    _policy_is_a_link(repo)
    _commit(repo)
    digest = hashlib.sha256(TIGHT_NAME.encode()).hexdigest()
    record = {"symbol": "BTCUSDT", "strategy": "trend_follow", "confidence": 0.8, "digest": digest}
    (tmp_path / "log.jsonl").write_text(json.dumps(record) + "\n")
    capsys.readouterr()
    main(["replay", str(tmp_path / "log.jsonl"), "--base", "main", "--head", "main", "--format",
          "json"])  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert report["by_digest"] == 0 and report["fallback"] == 1


def test_a_newline_in_a_brake_s_name_cannot_steer_what_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    """git cat-file reads one object per line: a name holding a newline once shifted every
    later brake's content to an object of the name's choosing (an outsider's finding)."""
    repo = _repo(tmp_path, monkeypatch)
    brakes = repo / "policy" / "overrides"
    stolen = git(repo, "rev-parse", "main:policy/overrides/calm.yaml")
    git(repo, "rm", "-q", "policy/overrides/calm.yaml")
    brakes.mkdir(exist_ok=True)  # git rm took the emptied directory away
    (brakes / f"0\n{stolen}\n.yaml").write_text("x")
    (brakes / "calm.yml").write_text(
        'reason: gone\nfrom: "2020-01-01T00:00:00Z"\nuntil: "2020-01-02T00:00:00Z"\n'
        "set: {max_positions: 5}\n"
    )
    _commit(repo)
    capsys.readouterr()
    assert main(["lane", "main", "pr"]) == 1
    assert capsys.readouterr().out.startswith("invalid")
    assert main(["validate", "--rev", "pr"]) == 1


def test_two_files_of_one_brake_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    repo = _repo(tmp_path, monkeypatch)
    brakes = repo / "policy" / "overrides"
    (brakes / "calm.yml").write_text((brakes / "calm.yaml").read_text())
    _commit(repo)
    capsys.readouterr()
    assert main(["lane", "main", "pr"]) == 1
    assert "are one brake ('calm')" in capsys.readouterr().out
    assert main(["validate", str(repo / "policy" / "policy.yaml")]) == 2


def test_brakes_that_will_conflict_are_refused_now(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    """Two scheduled pins of one model to two versions: valid today, and every store would
    refuse the policy when the second starts."""
    repo = _repo(tmp_path, monkeypatch)
    brakes = repo / "policy" / "overrides"
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    start = datetime.now(UTC) + timedelta(hours=1)
    for name, version in (("p1", "v1"), ("p2", "v2")):
        (brakes / f"{name}.yaml").write_text(
            f'reason: pin\nfrom: "{start:{stamp}}"\nuntil: "{start + timedelta(hours=1):{stamp}}"\n'
            f'set: {{model_versions: {{lstm: "{version}"}}}}\n'
        )
    _commit(repo)
    capsys.readouterr()
    assert main(["validate", str(repo / "policy" / "policy.yaml")]) == 1
    assert f"from {start:{stamp}}" in capsys.readouterr().out
    assert main(["lane", "main", "pr"]) == 1
    assert capsys.readouterr().out.startswith("invalid")
