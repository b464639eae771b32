"""What a replica serves, named: the digest, version and git commit its file came from (a
checkout's HEAD, or git-sync's worktree named after the commit), in status and metrics."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from fastapi import FastAPI

from policyctl import PolicyStore
from policyctl.http import router

from ..support.git import committed_repo, git
from ..support.policy import VALID


def test_a_checkout_names_its_head(tmp_path: Path) -> None:
    repo = committed_repo(tmp_path / "repo", VALID)
    git(repo, "pack-refs", "--all")  # the branch's commit only in packed-refs
    with PolicyStore(repo / "policy" / "policy.yaml", env={}, watch=False) as store:
        assert store.status().commit == git(repo, "rev-parse", "HEAD")


def test_a_git_sync_layout_names_the_worktree_commit(tmp_path: Path) -> None:
    repo = committed_repo(tmp_path / "repo", VALID)
    sha = git(repo, "rev-parse", "HEAD")
    root = tmp_path / "git"
    root.mkdir()
    git(repo, "worktree", "add", "--detach", "-q", str(root / ".worktrees" / sha), sha)
    (root / "current").symlink_to(f".worktrees/{sha}")  # git-sync's --link
    with PolicyStore(root / "current" / "policy" / "policy.yaml", env={}, watch=False) as store:
        assert store.status().commit == sha


def test_a_plain_file_does_not_know_and_metrics_say_what_is_served(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(VALID)
    app = FastAPI()
    with PolicyStore(policy, env={}, watch=False) as store:
        assert store.status().commit is None
        app.include_router(router(store))

        async def fetch() -> tuple[dict[str, object], str]:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
                status = (await client.get("/api/policy/status")).json()
                return status, (await client.get("/metrics")).text

        status, metrics = asyncio.run(fetch())
        digest = store.current().digest
    assert status["commit"] is None and status["digest"] == digest and status["version"] == 7
    assert f'policyctl_policy_info{{commit="",digest="{digest}",version="7"}} 1.0' in metrics
