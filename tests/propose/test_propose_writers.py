"""Three writer processes (rankings, model versions, risk) make 10 proposals each while this
test merges auto-lane branches as they arrive, refreshing those the base moved under: all 30
land, version rises by exactly one per merge, and the final policy holds every writer's last
value (real git, a local bare origin, real processes)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from policyctl.pipeline import build_snapshot
from policyctl.propose import refresh_proposal
from policyctl.review import compare, lane

from ..support.git import committed_repo, git
from ..support.policy import VALID

# Multi-process writers: 3 processes, 30 proposals through real git (tens of seconds).
pytestmark = pytest.mark.slow

ROUNDS = 10
WRITER = textwrap.dedent(
    """
    import subprocess, sys, time
    from pathlib import Path
    from policyctl import propose
    from policyctl.pipeline import build_snapshot

    repo, kind = sys.argv[1], sys.argv[2]

    def on_main():
        subprocess.run(["git", "fetch", "-q", "origin"], cwd=repo, check=True)
        data = subprocess.run(
            ["git", "show", "origin/main:policy/policy.yaml"], cwd=repo, capture_output=True
        ).stdout
        return build_snapshot(data, Path("main"), env={}).policy

    for i in range(1, 11):
        if kind == "rankings":
            change = {"opp_rankings": {"BTCUSDT": 0.5 + i / 100, "ETHUSDT": 0.4}}
            done = lambda p: p.opp_rankings["BTCUSDT"] == 0.5 + i / 100
        elif kind == "models":
            change = {"model_versions.lstm": f"4.{i}"}
            done = lambda p: p.model_versions["lstm"] == f"4.{i}"
        else:
            change = {"risk_mode": "DEFENSIVE", "global_min_confidence": 0.70 + i / 100}
            done = lambda p: p.global_min_confidence == 0.70 + i / 100
        if i > 1 and kind == "risk":
            change.pop("risk_mode")
        propose(change, message=f"{kind} {i}", repo=repo, branch=f"{kind}/{i}",
                author=f"{kind} <{kind}@desk.example>")
        deadline = time.time() + 120
        while not done(on_main()):
            assert time.time() < deadline, f"{kind} {i} never merged"
            time.sleep(0.05)
    """
)


def _clone(tmp_path: Path, name: str) -> Path:
    git(tmp_path, "clone", "-q", str(tmp_path / "origin.git"), name)
    for key, value in (("user.name", name), ("user.email", f"{name}@desk.example")):
        git(tmp_path / name, "config", key, value)
    return tmp_path / name


def _version(repo: Path, sha: str) -> int:
    data = git(repo, "show", f"{sha}:policy/policy.yaml").encode()
    return build_snapshot(data, Path(sha), env={}).version


@pytest.mark.timeout(300)
def test_three_writers_and_a_merger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seed = committed_repo(tmp_path / "seed", VALID)
    git(tmp_path, "clone", "-q", "--bare", str(seed), "origin.git")
    merger = _clone(tmp_path, "merger")
    monkeypatch.chdir(merger)
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(_clone(tmp_path, kind)), kind],
            stderr=subprocess.PIPE,
            text=True,
        )
        for kind in ("rankings", "models", "risk")
    ]
    merged: list[str] = []
    refreshed = 0
    deadline = time.monotonic() + 240
    while len(merged) < 3 * ROUNDS:
        assert time.monotonic() < deadline, merged
        assert all(w.poll() in (None, 0) for w in writers), [
            w.stderr.read() for w in writers if w.stderr
        ]
        git(merger, "fetch", "-q", "--prune", "origin")
        branches = git(merger, "branch", "-r", "--format=%(refname:short)").split()
        for remote in (
            b for b in branches if b.split("/", 1)[1].startswith(("rankings/", "models/", "risk/"))
        ):
            branch = remote.split("/", 1)[1]
            tip = git(merger, "rev-parse", "origin/main")
            if git(merger, "rev-parse", f"{remote}^1") != tip:
                refresh_proposal(branch, repo=merger)  # a ProposalConflict here fails the test
                refreshed += 1
            verdict = lane(
                compare("origin/main", remote, base_kind="revision", head_kind="revision")
            )
            assert verdict.lane == "auto", (branch, verdict.reasons)
            git(merger, "push", "-q", "origin", f"{remote}:refs/heads/main")  # fast-forward
            git(merger, "push", "-q", "origin", "--delete", branch)
            merged.append(branch)
        time.sleep(0.05)
    assert refreshed > 0  # the writers raced: some branches were made on a base that moved
    for writer in writers:
        _, err = writer.communicate(timeout=60)
        assert writer.returncode == 0, err
    history = git(merger, "rev-list", "--first-parent", "--reverse", "origin/main").split()
    versions = [_version(merger, sha) for sha in history]
    assert versions == list(range(7, 7 + 3 * ROUNDS + 1))  # one per merge: no gap, no repeat
    final = build_snapshot(
        git(merger, "show", "origin/main:policy/policy.yaml").encode(), Path("main"), env={}
    ).policy
    assert final.opp_rankings["BTCUSDT"] == 0.5 + ROUNDS / 100
    assert final.model_versions["lstm"] == f"4.{ROUNDS}"
    assert final.global_min_confidence == 0.70 + ROUNDS / 100 and final.risk_mode == "DEFENSIVE"
    assert sorted(merged) == sorted(
        f"{k}/{i}" for k in ("rankings", "models", "risk") for i in range(1, 11)
    )


_BURST = textwrap.dedent(
    """
    import sys
    from policyctl import propose
    failures = 0
    for n in range(10):
        try:
            propose({"max_positions": 1 + n % 4}, message=f"writer {sys.argv[1]} #{n}")
        except Exception as e:  # counted, and said, for the test to show
            failures += 1
            print(f"writer {sys.argv[1]} #{n}: {e}", file=sys.stderr)
    raise SystemExit(failures)
    """
)


def test_ten_writers_ten_proposals_each_never_collide(tmp_path: Path) -> None:
    """Machine writers at once, in several processes (as on several hosts), each in its own
    clone of one bare remote: 100 proposals, 100 branches, no failure."""
    seed = committed_repo(tmp_path / "seed", VALID)
    git(tmp_path, "clone", "-q", "--bare", str(seed), "origin.git")
    writers = []
    for n in range(10):
        clone = tmp_path / f"writer{n}"
        git(tmp_path, "clone", "-q", str(tmp_path / "origin.git"), clone.name)
        writers.append(
            subprocess.Popen(
                [sys.executable, "-c", _BURST, str(n)], cwd=clone, text=True, stderr=subprocess.PIPE
            )
        )
    said = [w.communicate(timeout=300)[1] for w in writers]
    assert all(w.returncode == 0 for w in writers), said
    branches = git(tmp_path / "origin.git", "branch", "--list", "policy/*").split()
    assert len(branches) == 100
