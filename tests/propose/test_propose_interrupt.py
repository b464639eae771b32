"""Ctrl-C during ``policyctl propose``: before the push it stops and leaves nothing behind; during
the push it says what was pushed. Real processes, real git, real signals: a hook in the clone or
the bare origin holds the step open until the test has sent SIGINT."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ..support.git import GIT_ENV, committed_repo, git
from ..support.policy import VALID

# Real processes waiting on hooks: a few seconds each.
pytestmark = pytest.mark.slow


def _setup(tmp_path: Path) -> tuple[Path, Path]:
    seed = committed_repo(tmp_path / "seed", VALID)
    git(tmp_path, "clone", "-q", "--bare", str(seed), "origin.git")
    git(tmp_path, "clone", "-q", str(tmp_path / "origin.git"), "work")
    return tmp_path / "work", tmp_path / "origin.git"


def _hook(where: Path, name: str, marker: Path, seconds: float) -> None:
    """A hook that says it started (``marker``) and then holds the step for ``seconds``."""
    hook = where / "hooks" / name
    hook.parent.mkdir(exist_ok=True)
    hook.write_text(f"#!/bin/sh\ntouch '{marker}'\nsleep {seconds}\n")
    hook.chmod(0o755)


def _propose(work: Path, tmp: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "policyctl", "propose", "risk_mode=DEFENSIVE", "-m", "calm", *extra],
        cwd=work,
        env={**os.environ, **GIT_ENV, "TMPDIR": str(tmp)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: as a terminal's foreground job is
    )


def _interrupt_when(marker: Path, proc: subprocess.Popen[str], group: bool) -> tuple[str, str]:
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the hook never ran"
        time.sleep(0.02)
    if group:  # Ctrl-C at a terminal: every process of the foreground job gets it
        os.killpg(proc.pid, signal.SIGINT)
    else:  # a supervisor's SIGINT to policyctl alone: git goes on
        os.kill(proc.pid, signal.SIGINT)
    return proc.communicate(timeout=60)


def _remote_branches(origin: Path) -> list[str]:
    heads = git(origin, "for-each-ref", "--format=%(refname)", "refs/heads/")
    return [h for h in heads.splitlines() if h != "refs/heads/main"]


def _left_behind(tmp: Path, work: Path) -> list[str]:
    left = [p.name for p in tmp.iterdir() if p.name.startswith("policyctl-propose-")]
    trees = git(work, "worktree", "list", "--porcelain").count("worktree ")
    return left + (["a worktree"] if trees != 1 else [])


def test_ctrl_c_before_the_push_leaves_nothing(tmp_path: Path) -> None:
    work, origin = _setup(tmp_path)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    marker = tmp_path / "checkout-started"
    _hook(work / ".git", "post-checkout", marker, 30)  # `git worktree add` runs it
    proc = _propose(work, tmp)
    stdout, stderr = _interrupt_when(marker, proc, group=True)
    assert proc.returncode == 130, stderr
    assert "interrupted before the push: nothing was pushed" in stderr
    assert "Traceback" not in stderr
    assert stdout == ""
    assert _remote_branches(origin) == []
    assert _left_behind(tmp, work) == []


def test_ctrl_c_to_policyctl_during_the_push_lets_it_finish_and_reports_it(
    tmp_path: Path,
) -> None:
    work, origin = _setup(tmp_path)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    marker = tmp_path / "push-started"
    _hook(origin, "pre-receive", marker, 1)
    proc = _propose(work, tmp, "--format", "json")
    stdout, stderr = _interrupt_when(marker, proc, group=False)
    assert proc.returncode == 130, stderr
    assert "the proposal is pushed" in stderr
    pushed = _remote_branches(origin)
    assert len(pushed) == 1
    branch = pushed[0].removeprefix("refs/heads/")
    assert f'"branch": "{branch}"' in stdout  # the report says which
    assert _left_behind(tmp, work) == []


def test_ctrl_c_to_the_whole_job_during_the_push_names_what_may_land(
    tmp_path: Path,
) -> None:
    work, origin = _setup(tmp_path)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    marker = tmp_path / "push-started"
    _hook(origin, "pre-receive", marker, 30)
    proc = _propose(work, tmp)
    stdout, stderr = _interrupt_when(marker, proc, group=True)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    # git's push died with the job. Over ssh or https the remote's server could still finish
    # it, so what cannot be seen yet is said as unknown, with the branch to check or remove.
    assert "the remote does not hold it now, but its server may still finish it" in stderr
    branch = stdout.split("proposed on branch ", 1)[1].split(" ", 1)[0]
    assert f"git ls-remote origin {branch}" in stderr
    assert f"git push origin --delete {branch}" in stderr
    assert _remote_branches(origin) == []  # here (a local remote) its server died with it
    assert _left_behind(tmp, work) == []
