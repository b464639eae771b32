"""The version a change is measured against: the policy as committed, where git knows it.

An edit raises ``version`` once relative to that: on a branch, the version at its merge base
with the main line; on the main line (or with no main line known), the version at ``HEAD``.
Five ``set``s before a commit, or on one branch, are one change and one bump.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import PolicyError
from ..pipeline import build_snapshot
from ..review import GitRepo

__all__ = ["committed_version"]

_MAIN_LINES = ("origin/HEAD", "origin/main", "main", "origin/master", "master")


def committed_version(path: Path) -> int | None:
    """``version`` of the file as committed (see above); None outside git, before the first
    commit, where the file is new, or where the committed file is not a valid policy."""
    try:
        repo = GitRepo(path.parent)
        relative = repo.relative(path)
        base = repo.resolve("HEAD")
        for line in _MAIN_LINES:
            try:
                repo.resolve(line)
            except PolicyError:
                continue
            base = repo.merge_base("HEAD", line) or base
            break
        data = repo.read_many([f"{base}:{relative}"])[0]
        if data is None:
            return None
        return build_snapshot(data, Path(f"{base[:12]}:{relative}"), env={}).version
    except PolicyError:
        return None
