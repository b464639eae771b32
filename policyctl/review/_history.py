"""``policyctl log``: the policy's audit trail, each commit read through the whole pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import PolicyError
from ..pipeline import PolicySnapshot, build_snapshot
from ._diff import Change, diff_policies
from ._git import Commit, GitRepo

__all__ = ["LogEntry", "audit_log"]


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One commit of the policy's history, read through the full pipeline.

    ``before``/``after`` are the file at the commit's first parent and at the commit (None when
    absent or invalid; then ``before_error``/``after_error`` say why, if it was there at all).
    """

    commit: Commit
    before: PolicySnapshot | None
    after: PolicySnapshot | None
    before_error: PolicyError | None
    after_error: PolicyError | None
    changes: list[Change]


def _snapshot(data: bytes | None, label: str) -> tuple[PolicySnapshot | None, PolicyError | None]:
    if data is None:
        return None, None
    try:
        return build_snapshot(data, Path(label), env={}), None
    except PolicyError as e:
        return None, e


def audit_log(repo: GitRepo, path: str, limit: int | None = None) -> list[LogEntry]:
    """The policy's audit trail, newest first: every commit that touched ``path``."""
    commits = repo.history(path, limit)
    wanted = sorted(
        {f"{c.sha}:{c.path}" for c in commits}
        | {f"{c.parent}:{c.parent_path}" for c in commits if c.parent}
    )
    blobs = dict(zip(wanted, repo.read_many(wanted), strict=True))
    entries = []
    for commit in commits:
        after, after_error = _snapshot(
            blobs[f"{commit.sha}:{commit.path}"], f"{commit.short}:{commit.path}"
        )
        parent = blobs.get(f"{commit.parent}:{commit.parent_path}") if commit.parent else None
        before, before_error = _snapshot(parent, f"{commit.short}^:{commit.parent_path}")
        changes = diff_policies(before.policy, after.policy) if before and after else []
        entries.append(LogEntry(commit, before, after, before_error, after_error, changes))
    return entries
