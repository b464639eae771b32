"""Where a command's file is: one rule for every command.

A relative path names a file in the current directory when there is one, else in the git
repository the current directory belongs to (the policy is kept at a fixed place in it), so
``policyctl validate`` means the same from ``policyctl/`` as from the repository root.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["locate", "repository_root"]


def repository_root(start: Path) -> Path | None:
    """The nearest directory at or above ``start`` holding ``.git`` (a directory, or a file
    in a worktree), or None outside any repository."""
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    return None


def locate(path: str | None) -> Path:
    """``path`` (None: ``$QT_POLICY_FILE`` or the default policy file) by the rule above."""
    from ..pipeline import default_policy_path  # noqa: PLC0415 (not for --help: pydantic)

    chosen = default_policy_path(path)
    if chosen.is_absolute() or _exists(chosen):
        return chosen
    root = repository_root(Path.cwd().absolute())
    if root is not None and _exists(root / chosen):
        return root / chosen
    return chosen


def _exists(path: Path) -> bool:
    """Whether ``path`` is there, as far as we may look: a directory we may not enter (0700,
    another user's) says no here, and the command that reads it then says why."""
    try:
        return path.exists()
    except OSError:
        return False
