"""Real git repositories in tmp_path: git run with a fixed identity and no user or system
configuration, and a repository holding a committed policy."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Risk Desk",
    "GIT_AUTHOR_EMAIL": "risk@example.com",
    "GIT_COMMITTER_NAME": "Risk Desk",
    "GIT_COMMITTER_EMAIL": "risk@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=repo,
        env={**os.environ, **GIT_ENV, **(env or {})},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def committed_repo(root: Path, text: str, message: str = "base") -> Path:
    """A new repository at ``root`` with ``text`` committed as policy/policy.yaml on main."""
    (root / "policy").mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    (root / "policy" / "policy.yaml").write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-qm", message)
    return root


def commit(repo: Path, text: str, message: str) -> str:
    """Commit ``text`` as policy/policy.yaml; the new commit's short hash."""
    (repo / "policy" / "policy.yaml").write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)
    return git(repo, "rev-parse", "--short", "HEAD")
