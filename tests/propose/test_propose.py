"""propose and refresh, on real git with a local bare repository as origin: a commit on a new
branch, made in a temporary worktree (the caller's checkout untouched), the version raised by
one from the base, no lost updates between writers, nothing left behind by a failure."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from policyctl.cli import main
from policyctl.errors import PolicyError, PolicySourceError, ProposalConflict
from policyctl.propose import BrakeRequest, propose, refresh_proposal

from ..support.git import committed_repo, git
from ..support.policy import VALID
from ..support.readme import documented

Capture = pytest.CaptureFixture[str]


@pytest.fixture
def clone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A working clone of a bare origin holding the valid policy (version 7) on main."""
    seed = committed_repo(tmp_path / "seed", VALID)
    git(tmp_path, "clone", "-q", "--bare", str(seed), "origin.git")
    git(tmp_path, "clone", "-q", str(tmp_path / "origin.git"), "work")
    for name, value in (("user.name", "Risk Desk"), ("user.email", "risk@example.com")):
        git(tmp_path / "work", "config", name, value)
    monkeypatch.chdir(tmp_path / "work")
    yield tmp_path / "work"


def _origin(clone: Path) -> Path:
    return clone.parent / "origin.git"


def _remote_branches(clone: Path) -> set[str]:
    return set(git(_origin(clone), "branch", "--format=%(refname:short)").split())


def _state(clone: Path) -> tuple[str, str, str, str]:
    """Everything a proposal must not touch in the caller's checkout."""
    files = "".join(
        f"{p}:{hashlib.sha256(p.read_bytes()).hexdigest()}\n"
        for p in sorted(clone.rglob("*"))
        if p.is_file() and ".git" not in p.parts
    )
    index = hashlib.sha256((clone / ".git" / "index").read_bytes()).hexdigest()
    return files, index, git(clone, "status", "--porcelain"), git(clone, "worktree", "list")


def _show(clone: Path, ref: str) -> str:
    return git(_origin(clone), "show", f"{ref}:policy/policy.yaml")


def test_a_proposal_is_a_pushed_commit_and_the_checkout_is_untouched(clone: Path) -> None:
    before = _state(clone)
    result = propose(
        {"risk_mode": "DEFENSIVE", "model_versions.lstm": "3.11"},
        message="drawdown 8%",
        author="ranker <ranker@desk.example>",
        branch="ranker/week-48",
    )
    assert _state(clone) == before
    assert "ranker/week-48" in _remote_branches(clone) and result.pushed
    text = _show(clone, "ranker/week-48")
    assert "version: 8" in text and "risk_mode: DEFENSIVE  # house default" in text
    assert 'lstm: "3.11"' in text and "last_updated:" in text
    assert "# reviewed by the risk desk" in text  # comments kept
    log = git(_origin(clone), "log", "-1", "--format=%an <%ae>|%s", "ranker/week-48")
    assert log == "ranker <ranker@desk.example>|drawdown 8%"
    assert [(c.path, c.direction) for c in result.changes] == [
        ("risk_mode", "tightens"),
        ("model_versions.lstm", "neutral"),
    ]
    assert result.lane == "auto" and result.base_commit == git(clone, "rev-parse", "origin/main")


def test_a_loosening_proposal_goes_to_review(clone: Path) -> None:
    assert propose({"max_positions": 9}, message="more room").lane == "review"


def test_a_base_changed_since_the_value_read_is_a_conflict(clone: Path) -> None:
    first = propose({"max_positions": 3}, message="a", branch="a")
    git(clone, "push", "-q", "origin", f"{first.commit}:refs/heads/main")  # a merged
    with pytest.raises(ProposalConflict) as caught:
        propose({"max_positions": 4}, message="b", branch="b", based_on={"max_positions": 5})
    message = caught.value.issues[0].message
    assert "max_positions was changed to 3 on the base" in message and "from 5 to 4" in message
    assert "b" not in _remote_branches(clone)


def test_refresh_reapplies_on_the_moved_base_or_refuses(clone: Path) -> None:
    a = propose({"max_positions": 3}, message="a", branch="a")
    b = propose({"model_versions.lstm": "3.11"}, message="b", branch="b")
    c = propose({"max_positions": 4}, message="c", branch="c")
    git(clone, "push", "-q", "origin", f"{a.commit}:refs/heads/main")
    refreshed = refresh_proposal("b")
    assert refreshed.base_commit == a.commit and refreshed.commit != b.commit
    text = _show(clone, "b")
    assert "version: 9" in text and "max_positions: 3" in text and 'lstm: "3.11"' in text
    with pytest.raises(ProposalConflict, match="max_positions was changed to 3"):
        refresh_proposal("c")
    assert git(_origin(clone), "rev-parse", "c") == c.commit  # left as it was


def test_every_failure_leaves_nothing_behind(clone: Path, capsys: Capture) -> None:
    before, branches = _state(clone), _remote_branches(clone)
    local = git(clone, "branch", "--list")
    with pytest.raises(PolicyError, match="0 is out of range"):
        propose({"max_positions": 0}, message="x", branch="bad")
    with pytest.raises(PolicyError, match="unknown field 'foo'"):
        propose({"foo": 1}, message="x", branch="bad")
    with pytest.raises(PolicySourceError, match="cannot fetch branch 'nope'"):
        propose({"max_positions": 2}, message="x", base="nope")
    hook = _origin(clone) / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'policy branches are protected' >&2\nexit 1\n")
    hook.chmod(0o755)
    with pytest.raises(PolicySourceError, match="was rejected"):
        propose({"max_positions": 2}, message="x", branch="rejected")
    assert _state(clone) == before and _remote_branches(clone) == branches
    assert git(clone, "branch", "--list") == local
    assert main(["propose", "max_positions=0", "-m", "x"]) == 1
    assert main(["propose", "foo=1", "-m", "x"]) == 2
    assert main(["propose", "max_positions=2"]) == 2  # no message
    assert "Traceback" not in capsys.readouterr().err


def test_local_edits_to_the_policy_are_not_silently_left_out(clone: Path) -> None:
    (clone / "policy" / "policy.yaml").write_text(
        VALID.replace("max_positions: 5", "max_positions: 2")
    )
    with pytest.raises(PolicyError, match="has uncommitted changes here"):
        propose({"risk_mode": "DEFENSIVE"}, message="x")


def test_the_command_line(clone: Path, capsys: Capture, tmp_path: Path) -> None:
    rankings = tmp_path / "rankings.json"
    rankings.write_text(json.dumps({"opp_rankings": {"BTCUSDT": 0.5, "ETHUSDT": 0.4}}))
    argv = ["propose", "--from-json", str(rankings), "-m", "weekly rankings", "--format", "json"]
    assert main([*argv, "--author", "ranker <ranker@desk.example>"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == documented("propose")
    assert doc["lane"] == "auto" and doc["pushed"] and doc["branch"] in _remote_branches(clone)
    assert (
        main(["propose", "risk_mode=AGGRESSIVE", "-m", "risk on", "--no-push", "--branch", "x"])
        == 0
    )
    out = capsys.readouterr().out
    assert "lane: review" in out and "not pushed" in out and "git push origin x" in out
    assert "x" in git(clone, "branch", "--list") and "x" not in _remote_branches(clone)
    assert main(["lane", "origin/main", "x"]) == 1
    assert capsys.readouterr().out.startswith("review\n  risk_mode changed: loosens")
    assert main(["lane", "origin/main", f"origin/{doc['branch']}"]) == 0


def test_a_brake_is_proposed_and_refreshed_as_its_own_file(clone: Path, capsys: Capture) -> None:
    until = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    request = BrakeRequest({"risk_mode": "DEFENSIVE"}, "CPI print", until, name="cpi")
    result = propose(request, message="brake for the CPI print", branch="brake/cpi")
    assert result.lane == "auto" and result.brakes == ("cpi",)
    assert [(c.path, c.direction) for c in result.changes] == [("risk_mode", "tightens")]
    assert 'reason: "CPI print"' in git(
        _origin(clone), "show", "brake/cpi:policy/overrides/cpi.yaml"
    )
    assert "version: 7" in _show(clone, "brake/cpi")  # a brake needs no version bump
    other = propose({"model_versions.lstm": "3.11"}, message="model", branch="model")
    git(clone, "push", "-q", "origin", f"{other.commit}:refs/heads/main")
    refreshed = refresh_proposal("brake/cpi")
    assert refreshed.base_commit == other.commit and refreshed.brakes == ("cpi",)
    assert 'lstm: "3.11"' in _show(clone, "brake/cpi")
    argv = ["brake", "max_positions=2", "--for", "1h", "--reason", "drawdown", "--propose"]
    assert main([*argv, "--name", "dd", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["lane"] == "auto" and doc["pushed"]
    git(clone, "push", "-q", "origin", f"{refreshed.commit}:refs/heads/main")
    with pytest.raises(ProposalConflict, match="a brake named 'cpi' exists"):
        propose(request, message="again", branch="brake/cpi-again")


def test_an_adjustment_is_proposed_and_refreshed_as_an_adjustment(
    clone: Path, capsys: Capture
) -> None:
    start = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    argv = ["adjust", "max_positions=8", "--from", start, "--for", "3h", "--reason", "rebalance"]
    assert main([*argv, "--ticket", "RISK-1", "--name", "reb", "--propose"]) == 0
    out = capsys.readouterr().out
    assert "  adjustment reb added" in out and "brake" not in out and "lane: review" in out
    branch = out.split("proposed on branch ")[1].split()[0]
    assert (
        main([*argv, "--ticket", "RISK-2", "--name", "two", "--propose", "--format", "json"]) == 0
    )
    doc = json.loads(capsys.readouterr().out)
    assert (doc["adjustments"], doc["brakes"], doc["lane"]) == (["two"], [], "review")
    same = refresh_proposal(branch)  # nothing moved: the same commit, judged the same way
    assert (same.adjustments, same.lane, same.commit) == (
        ("reb",),
        "review",
        git(_origin(clone), "rev-parse", branch).strip(),
    )
    other = propose({"model_versions.lstm": "3.11"}, message="model", branch="model")
    git(clone, "push", "-q", "origin", f"{other.commit}:refs/heads/main")
    # Refreshed on the moved base, it still starts later, and still waits for the risk desk.
    refreshed = refresh_proposal(branch)
    assert refreshed.base_commit == other.commit
    assert (refreshed.adjustments, refreshed.brakes, refreshed.lane) == (("reb",), (), "review")
    assert refreshed.reasons and "adjustment reb added" in refreshed.reasons[0]
    git(clone, "push", "-q", "origin", f"{refreshed.commit}:refs/heads/main")
    request = BrakeRequest({"max_positions": 8}, "again", datetime.now(UTC) + timedelta(hours=1))
    with pytest.raises(ProposalConflict, match="an override named 'reb' exists"):
        propose(replace(request, name="reb", ticket="RISK-3"), message="again", branch="again")


def test_a_missing_repository_is_said_plainly(tmp_path: Path, capsys: Capture) -> None:
    assert main(["propose", "max_positions=2", "-m", "x", "--repo", str(tmp_path / "nope")]) == 2
    assert "no such directory, so no git repository here" in capsys.readouterr().err
    assert main(["propose", "max_positions=2", "-m", "x", "--repo", str(tmp_path)]) == 2
    assert "not a git repository" in capsys.readouterr().err


@pytest.mark.parametrize("option", ["remote", "base", "branch"])
def test_text_that_starts_with_a_dash_never_reaches_git_as_an_option(
    clone: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    marker = tmp_path / "ran"
    hostile = f"--upload-pack=touch {marker}"
    assert main(["propose", "max_positions=4", "-m", "m", f"--{option}={hostile}"]) == 2
    assert "may not start with '-'" in capsys.readouterr().err
    assert not marker.exists()
    assert main(["propose", "--refresh", hostile, f"--remote={hostile}"]) == 2
    assert not marker.exists()


def test_a_worktree_left_by_a_killed_proposal_is_cleaned(clone: Path, tmp_path: Path) -> None:
    """A kill -9 mid-proposal leaves a registered worktree and its temporary directory: the
    next proposal removes them, having proved them its own (the owner file) and their owner
    gone (its process)."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    left = Path(tempfile.mkdtemp(prefix="policyctl-propose-"))
    (left / "owner").write_text(f"{socket.gethostname()} {dead.pid}\n")
    git(clone, "worktree", "add", "--detach", "-q", str(left / "tree"), "HEAD")
    alive = Path(tempfile.mkdtemp(prefix="policyctl-propose-"))  # a proposal still running
    (alive / "owner").write_text(f"{socket.gethostname()} {os.getpid()}\n")
    try:
        propose({"max_positions": 4}, message="m", push=False)
        assert not left.exists()
        assert str(left) not in git(clone, "worktree", "list")
        assert alive.exists()
    finally:
        shutil.rmtree(alive, ignore_errors=True)


@pytest.mark.timeout(20)
def test_from_json_reads_only_a_regular_file(
    clone: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["propose", "-m", "m", "--no-push", "--from-json", "/dev/zero"]) == 2
    assert "not a regular file" in capsys.readouterr().err


def test_no_push_proposes_on_the_fetched_base_or_says_it_did_not(
    clone: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(_origin(clone)), "other")
    (other / "policy" / "policy.yaml").write_text(VALID.replace("version: 7", "version: 8"))
    git(other, "commit", "-qam", "main moves on", env={"GIT_AUTHOR_NAME": "o"})
    git(other, "push", "-q", "origin", "main")
    moved = git(other, "rev-parse", "HEAD")
    result = propose({"max_positions": 4}, message="m", push=False)
    assert result.base_commit == moved  # not the stale local main
    lonely = committed_repo(tmp_path / "lonely", VALID)  # no remote at all
    with caplog.at_level(logging.WARNING, logger="policyctl"):
        result = propose({"max_positions": 4}, message="m", push=False, repo=lonely)
    local = git(lonely, "rev-parse", "main")
    assert result.base_commit == local
    assert f"proposing on the local main at {local[:12]}" in caplog.text


def test_python_values_are_checked_as_python_values(clone: Path, capsys: Capture) -> None:
    """A writer's Python value is what it is, never re-read as command-line text: a float for a
    version is refused (it lost the digits of 3.10), NaN is said as NaN, quote marks copied
    from a shell are refused, a model name that differs only in case gets its "did you mean",
    and each hint is written for the tool in use."""
    before, branches = _state(clone), _remote_branches(clone)
    cases = {
        "model_versions.lstm": (
            3.10,
            r'is a number, but this is text .*it is 3\.1\).*"model_versions\.lstm": "3\.1"',
        ),
        "max_risk_per_trade": (float("nan"), r"nan \(NaN or an infinity\) is not a finite"),
        "global_min_confidence": ({0.5}, r"set is not a value the policy can hold"),
        # Hints a Python caller (or a JSON file) can follow, in the words of both:
        "max_positions": ("4", r"\'4\' is text, but max_positions is a number: pass it without"),
        "opp_rankings.BTCUSDT": ("0.5", r"a ranking is a number: pass it without quotes"),
        "model_versions.xgboost": (None, r"None \(JSON null\) is no value"),
        "risk_mode": (1.0, r"1\.0 is a number, but risk_mode is text: one of AGGRESSIVE"),
        "allowed_strategies": ([1.5], r"1\.5 is a number, but this is text; pass it as a string"),
    }
    for path, (value, said) in cases.items():
        with pytest.raises(PolicyError, match=said):
            propose({path: value}, message="x")
    with pytest.raises(PolicyError, match=r"remove the quote marks .*: 3\.13"):
        propose({"model_versions.lstm": '"3.13"'}, message="x")
    with pytest.raises(PolicyError, match=r"version is set by the proposal itself"):
        propose({"version": 9, "max_positions": 4}, message="x")
    deep: list[object] = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(PolicyError, match="nested too deep"):
        propose({"allowed_symbols": deep}, message="x")
    with pytest.raises(PolicyError, match=r"did you mean model_versions\.lstm\?"):
        propose({"model_versions.LSTM": "3.12"}, message="x")
    with pytest.raises(PolicyError) as raised:
        propose({"opp_rankings.BTCUSDT": 1.2}, message="x")
    assert "%" not in str(raised.value)  # a score is no percentage
    with pytest.raises(PolicyError, match=r"for 70% write 0\.7"):
        propose({"global_min_confidence": 70}, message="x")  # a fraction is
    assert _state(clone) == before and _remote_branches(clone) == branches
    # The command line's hints are typed as propose and brake take them, not as set does.
    assert main(["propose", "allowed_symbols=BTCUSDT,ETHUSDT", "-m", "x"]) == 1
    assert "policyctl propose 'allowed_symbols=[BTCUSDT, ETHUSDT]'" in capsys.readouterr().err
    assert main(["propose", "model_versions={lstm: 3.10}", "-m", "x"]) == 1
    assert """policyctl propose 'model_versions={lstm: "3.10"}'""" in capsys.readouterr().err
    brake = ["brake", "model_versions={lstm: 3.10}", "--for", "1h", "--reason", "r"]
    assert main(brake) == 1
    assert """policyctl brake 'model_versions={lstm: "3.10"}'""" in capsys.readouterr().err


def test_replacing_the_model_map_says_what_it_drops_and_why_it_waits(
    clone: Path, capsys: Capture
) -> None:
    """`{"model_versions": {"lstm": "3.12"}}` replaces the map: the other models are dropped,
    which is a reviewer's to see; the proposal says which, and why its lane is review."""
    made = propose({"model_versions": {"lstm": "3.12"}}, message="x", push=False)
    assert made.lane == "review"
    assert any("model_versions.xgboost removed: a model dropped" in r for r in made.reasons)
    assert {(c.path, c.action) for c in made.changes} >= {("model_versions.xgboost", "removed")}
    assert main(["propose", 'model_versions={lstm: "3.13"}', "-m", "x", "--no-push"]) == 0
    out = capsys.readouterr().out
    assert "lane: review (it waits for the risk desk)" in out
    assert "model_versions.xgboost removed: a model dropped is reviewed" in out


def test_a_sent_brake_is_put_in_git_as_the_same_file(
    clone: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """brake --propose --from-signed: the brake sent by the kill switch, proposed into git as
    the same file (byte for byte) under the same name; verified with the trusted keys first."""
    import base64  # noqa: PLC0415

    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (  # noqa: PLC0415
        Ed25519PrivateKey,
    )

    officer = Ed25519PrivateKey.generate()
    trust = tmp_path / "trust"
    (trust / "brakes").mkdir(parents=True)
    public = officer.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (trust / "brakes" / "officer.pem").write_bytes(public)
    (trust / "ci.pem").write_bytes(
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    key = tmp_path / "officer.pem"
    key.write_bytes(
        officer.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    signed = tmp_path / "signed"
    argv = ["brake", "risk_mode=DEFENSIVE", "max_positions=2", "--for", "2h", "--reason", "crash"]
    assert (
        main([*argv, "--name", "crash", "--sign-with", str(key), "--signed-dir", str(signed)]) == 0
    )
    capsys.readouterr()
    sent = signed / "crash.dsse.json"
    adopt = ["brake", "--propose", "--from-signed", str(sent)]
    monkeypatch.delenv("QT_POLICY_TRUST", raising=False)
    assert main(adopt) == 2  # verified first: with no trusted keys named, refused
    assert "set QT_POLICY_TRUST" in capsys.readouterr().err
    monkeypatch.setenv("QT_POLICY_TRUST", str(trust))
    assert main([*adopt, "--format", "json"]) == 0
    branch = json.loads(capsys.readouterr().out)["branch"]
    proposed = git(_origin(clone), "show", f"{branch}:policy/overrides/crash.yaml")
    payload = json.loads(base64.b64decode(json.loads(sent.read_text())["payload"]))
    assert proposed + "\n" == payload["brake"] or proposed == payload["brake"]
    # A signed file that holds an adjustment is never proposed as a brake.
    from policyctl.pipeline import sign_brake  # noqa: PLC0415

    until = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    start = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    adjusted = (
        f'kind: adjustment\nreason: "r"\nticket: "T"\nfrom: "{start}"\nuntil: "{until}"\n'
        "set: {max_positions: 9}\n"
    )
    (tmp_path / "adj.dsse.json").write_bytes(sign_brake("adj", adjusted.encode(), officer))
    assert main(["brake", "--propose", "--from-signed", str(tmp_path / "adj.dsse.json")]) == 2
    assert "holds a temporary adjustment, not a brake" in capsys.readouterr().err
    (trust / "brakes" / "officer.pem").unlink()  # a brake no trusted key signed: refused
    assert main(adopt) == 1
    assert "not in the trust directory" in capsys.readouterr().err
