"""``policyctl diff``: the policy at two places (files, revisions, the working tree), compared.

Each side goes through the whole pipeline (files alone, no environment); the semantic diff is
`diff_policies`. An argument naming an existing file is that file, anything else a revision.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import PolicyError
from ..pipeline import PolicySnapshot, build_snapshot, default_policy_path, read_source
from ._diff import Change, diff_policies
from ._git import GitRepo

__all__ = ["Comparison", "Side", "compare"]


@dataclass(frozen=True, slots=True)
class Side:
    """One side of a comparison: where it came from, and its snapshot or why it is invalid."""

    label: str
    snapshot: PolicySnapshot | None
    error: PolicyError | None


@dataclass(frozen=True, slots=True)
class Comparison:
    """The result of ``policyctl diff``."""

    base: Side
    head: Side
    changes: list[Change]

    @property
    def version_raised(self) -> bool:
        base, head = self.base.snapshot, self.head.snapshot
        return base is not None and head is not None and head.version > base.version

    def bump_problem(self) -> str | None:
        """Why ``--require-bump`` fails, or None when it passes."""
        invalid = [side.label for side in (self.base, self.head) if side.error is not None]
        if invalid:
            return f"cannot check the version: {' and '.join(invalid)} invalid"
        if self.changes and not self.version_raised:
            assert self.base.snapshot and self.head.snapshot
            return (
                f"the policy changed but version did not rise ({self.base.snapshot.version} ->"
                f" {self.head.snapshot.version}); set version: {self.base.snapshot.version + 1}"
            )
        return None


def _is_revision(argument: str | None) -> bool:
    """An argument naming an existing file is that file; None is the working tree; anything
    else is a git revision."""
    return argument is not None and not Path(argument).is_file()


def _load_side(argument: str | None, file: str, repo: GitRepo | None) -> Side:
    """The file ``argument`` names (None: the working tree), or ``file`` at that revision."""
    if argument is not None and not _is_revision(argument):
        label, data = argument, read_source(Path(argument))
    else:
        assert repo is not None  # compare() opens the repository for these two cases
        if argument is None:
            label, data = f"{file} (working tree)", read_source(repo.root / file)
        else:
            label, data = (
                f"{argument}:{file}",
                repo.read(argument, file),
            )  # PolicySourceError for an unknown revision
    try:
        return Side(label, build_snapshot(data, Path(label), env={}), None)
    except PolicyError as e:
        return Side(label, None, e)


def compare(base: str | None, head: str | None, file: str | None = None) -> Comparison:
    """Compare the policy between two revisions or files (see ``policyctl diff``).

    Args:
        base: A file path or a git revision; None means ``HEAD``.
        head: A file path or a git revision; None means the working tree.
        file: The policy file, relative to the repository root, for revisions.

    Raises:
        PolicySourceError: A revision or file cannot be read.
    """
    # The working tree needs git too: its path is relative to the repository root.
    needs_git = _is_revision(base or "HEAD") or head is None or _is_revision(head)
    repo = GitRepo() if needs_git else None
    policy_file = default_policy_path(file)  # --file, else $QT_POLICY_FILE, else the default
    relative = policy_file.as_posix()
    if repo is not None and policy_file.is_absolute():
        relative = repo.relative(policy_file)
    base_side = _load_side(base or "HEAD", relative, repo)
    head_side = _load_side(head, relative, repo)
    changes = (
        diff_policies(base_side.snapshot.policy, head_side.snapshot.policy)
        if base_side.snapshot and head_side.snapshot
        else []
    )
    return Comparison(base_side, head_side, changes)
