"""``policyctl diff``: the policy at two places (files, revisions, the working tree), compared.

Each side goes through the whole pipeline (files alone, no environment); the semantic diff is
`diff_policies`. Which place an argument names is never guessed where a pull request could
steer the guess: a name that is both an existing path and a git revision (a committed file
called ``HEAD`` or ``origin/main``) is refused unless the caller says which it means.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from ..errors import AmbiguousArgument, Issue, PolicyError, PolicySourceError, printable
from ..model import BRAKES_DIR_NAME
from ..pipeline import (
    PolicySnapshot,
    build_snapshot,
    default_policy_path,
    read_brakes,
    read_source,
    select_brakes,
)
from ._brake_diff import BrakeChange, brake_changes
from ._diff import Change, created_changes, diff_policies
from ._git import FILE_MODES, GitRepo, mode_kind

__all__ = [
    "Comparison",
    "Side",
    "SideKind",
    "compare",
    "tree_problems",
]

SideKind = Literal["auto", "file", "revision"]
"""How to read a side's argument: ``file`` and ``revision`` are explicit; ``auto`` reads an
existing path as a file, anything else as a revision, and refuses a name that is both."""


@dataclass(frozen=True, slots=True)
class Side:
    """One side of a comparison: where it came from, and its snapshot or why it is invalid.

    ``absent`` marks a revision at which the policy file did not exist yet (a pull request that
    adds it): then every field of the other side is an addition.
    """

    label: str
    snapshot: PolicySnapshot | None
    error: PolicyError | None
    absent: bool = False


@dataclass(frozen=True, slots=True)
class Comparison:
    """The result of ``policyctl diff``.

    Attributes:
        changes: The policy's own changes (the files, before brakes): what stays when every
            brake has lifted, and what ``--require-bump`` judges.
        brakes: Brake files added, changed or removed, each with its direction.
        effective: The changes to the policy in force now (files and active brakes).
    """

    base: Side
    head: Side
    changes: list[Change]
    brakes: list[BrakeChange] = field(default_factory=list)
    effective: list[Change] = field(default_factory=list)
    file: str | None = None
    """The policy file's path in the repository, when a side is read from git."""

    @property
    def version_raised(self) -> bool:
        base, head = self.base.snapshot, self.head.snapshot
        if self.base.absent:
            return head is not None  # a new file: any version is a first version
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


def _revision_exists(argument: str) -> bool:
    try:
        GitRepo().resolve(argument)
    except PolicySourceError:  # not a revision, or not in a git repository at all
        return False
    return True


def _kind_of(argument: str, kind: SideKind, option: str) -> Literal["file", "revision"]:
    if kind != "auto":
        return kind
    if not Path(argument).exists():
        return "revision"
    if _revision_exists(argument):
        raise AmbiguousArgument.single(
            f"{argument!r} is both a path here and a git revision; say which:"
            f" `policyctl diff REV [REV] --` reads revisions (as git does), `{option}"
            f" {argument}` reads the file"
        )
    return "file"


Brakes = list[tuple[Path, bytes]]


def tree_problems(repo: GitRepo, sha: str, file: str) -> list[str]:
    """Why the policy at commit ``sha`` cannot be judged from git's objects: an entry under the
    policy's directory that is not a regular file where what deploys would follow it. For a
    symbolic link git holds the link's text, while a checkout, a ConfigMap built from it and
    every store read the target: what would be reviewed is not what would be served."""
    folder = posixpath.dirname(file)
    brakes = posixpath.join(folder, BRAKES_DIR_NAME)
    problems = []
    direct = repo.modes(sha, [file, brakes, f"{brakes}/"])
    if file in direct and direct[file] not in FILE_MODES:
        problems.append(f"{file} is {mode_kind(direct[file])}; the policy must be a regular file")
    if brakes in direct and direct[brakes] != "040000":
        problems.append(
            f"{brakes} is {mode_kind(direct[brakes])}; the brakes' place must be a directory"
        )
    for path, mode in sorted(direct.items()):
        if path.startswith(f"{brakes}/") and mode not in FILE_MODES:
            problems.append(f"{path} is {mode_kind(mode)}; a brake must be a regular file")
    names = [p.rpartition("/")[2] for p in direct if p.startswith(f"{brakes}/")]
    try:
        select_brakes(sorted(names), Path(brakes))  # names, duplicates, the limit
    except PolicySourceError as e:
        problems += [printable(i.message) for i in e.issues]
    below = repo.modes(sha, [f"{folder}/" if folder else "."], recursive=True)
    for path, mode in sorted(below.items()):
        if mode not in FILE_MODES and path not in direct:
            problems.append(f"{path} is {mode_kind(mode)}; nothing under {folder or '.'}/ may be")
    return problems


def policy_at(repo: GitRepo, revision: str, file: str) -> tuple[bytes, Brakes]:
    """The policy file and its brake files at ``revision``, as git's objects hold them (what
    a review judges), each named by its path in the repository.

    Raises:
        PolicySourceError: The revision or the file does not exist, or an entry under the
            policy's directory is not a regular file (see `tree_problems`).
    """
    sha = repo.resolve(revision)
    problems = tree_problems(repo, sha, file)
    if problems:
        raise PolicySourceError(Issue((), None, None, p, file) for p in problems)
    data = repo.read(sha, file)
    directory = posixpath.join(posixpath.dirname(file), BRAKES_DIR_NAME)
    found = dict(repo.read_directory(sha, directory))
    chosen = select_brakes(sorted(p.name for p in found), Path(directory))
    return data, [(Path(directory) / name, found[Path(directory) / name]) for name in chosen]


def _git_side(repo: GitRepo, sha: str, label: str, file: str) -> Side | None:
    """An invalid side when the tree at ``sha`` cannot be judged (see `tree_problems`)."""
    problems = tree_problems(repo, sha, file)
    if not problems:
        return None
    error = PolicySourceError(Issue((), None, None, p, f"{sha[:12]}:{file}") for p in problems)
    return Side(label, None, error)


def _snapshot_side(label: str, data: bytes, brakes: Brakes) -> Side:
    try:
        return Side(label, build_snapshot(data, Path(label), env={}, brakes=brakes), None)
    except PolicyError as e:
        return Side(label, None, e)


def _brakes_on_disk(policy: Path) -> Brakes:
    return read_brakes(policy.parent / BRAKES_DIR_NAME)


def _brakes_at(repo: GitRepo, sha: str, file: str) -> Brakes:
    directory = posixpath.join(posixpath.dirname(file), BRAKES_DIR_NAME)
    found = {p.name: (p, b) for p, b in repo.read_directory(sha, directory)}
    chosen = select_brakes(sorted(found), Path(directory))
    return [(Path(f"{sha[:12]}:{found[n][0].as_posix()}"), found[n][1]) for n in chosen]


def _base_side(
    argument: str, kind: SideKind, file: str, head: str | None, repo: GitRepo | None
) -> Side:
    """The base: a file, or ``file`` at a revision; at a revision that predates the file, the
    path it was renamed from, else an absent (empty) side."""
    if _kind_of(argument, kind, "--base-file") == "file":
        path = Path(argument)
        return _snapshot_side(argument, read_source(path), _brakes_on_disk(path))
    assert repo is not None
    sha = repo.resolve(argument)  # PolicySourceError for an unknown revision
    refused = _git_side(repo, sha, f"{argument}:{file}", file)
    if refused is not None:
        return refused
    data = repo.read_many([f"{sha}:{file}"])[0]
    if data is not None:
        return _snapshot_side(f"{argument}:{file}", data, _brakes_at(repo, sha, file))
    source = repo.renamed_from(sha, head, file)
    if source is not None:
        data = repo.read_many([f"{sha}:{source}"])[0]
        if data is not None:
            brakes = _brakes_at(repo, sha, source)
            return _snapshot_side(f"{argument}:{source}", data, brakes)
    return Side(f"{argument}:{file} (absent)", None, None, absent=True)


def _head_side(argument: str | None, kind: SideKind, file: str, repo: GitRepo | None) -> Side:
    """The head: a file, ``file`` at a revision, or (None) ``file`` in the working tree."""
    if argument is not None and _kind_of(argument, kind, "--head-file") == "file":
        path = Path(argument)
        return _snapshot_side(argument, read_source(path), _brakes_on_disk(path))
    assert repo is not None
    if argument is None:
        path = repo.root / file
        return _snapshot_side(f"{file} (working tree)", read_source(path), _brakes_on_disk(path))
    sha = repo.resolve(argument)
    refused = _git_side(repo, sha, f"{argument}:{file}", file)
    if refused is not None:
        return refused
    data = repo.read(argument, file)  # names the revision as given when the file is absent
    return _snapshot_side(f"{argument}:{file}", data, _brakes_at(repo, sha, file))


def compare(
    base: str | None,
    head: str | None,
    file: str | None = None,
    *,
    base_kind: SideKind = "auto",
    head_kind: SideKind = "auto",
) -> Comparison:
    """Compare the policy between two revisions or files (see ``policyctl diff``).

    Args:
        base: A file path or a git revision; None means the revision ``HEAD``.
        head: A file path or a git revision; None means the working tree.
        file: The policy file, relative to the repository root, for revisions.
        base_kind: How to read ``base`` (see `SideKind`).
        head_kind: How to read ``head``.

    Raises:
        AmbiguousArgument: An ``auto`` argument is both an existing path and a revision.
        PolicySourceError: A revision or file cannot be read.
    """
    if base is None:
        base, base_kind = "HEAD", "revision"
    base_is_file = base_kind == "file" or (
        base_kind == "auto" and _kind_of(base, base_kind, "--base-file") == "file"
    )
    head_is_file = head is not None and (
        head_kind == "file"
        or (head_kind == "auto" and _kind_of(head, head_kind, "--head-file") == "file")
    )
    # The working tree needs git too: its path is relative to the repository root.
    repo = None if base_is_file and head_is_file else GitRepo()
    policy_file = default_policy_path(file)  # --file, else $QT_POLICY_FILE, else the default
    relative = policy_file.as_posix()
    if repo is not None and policy_file.is_absolute():
        relative = repo.relative(policy_file)
    rename_head = None if head_is_file else head  # renames are looked for up to this revision
    base_side = _base_side(
        base, "file" if base_is_file else "revision", relative, rename_head, repo
    )
    head_side = _head_side(head, "file" if head_is_file else "revision", relative, repo)
    old, new = base_side.snapshot, head_side.snapshot
    changes: list[Change] = []
    effective: list[Change] = []
    if base_side.absent and new and new.file_policy:
        changes, effective = created_changes(new.file_policy), created_changes(new.policy)
    elif old and new and old.file_policy and new.file_policy:
        changes = diff_policies(old.file_policy, new.file_policy)
        effective = diff_policies(old.policy, new.policy)
    brakes = brake_changes(
        new.file_policy if new else None,
        old.brake_files if old else (),
        new.brake_files if new else (),
        new.loaded_at if new else datetime.now(UTC),
    )
    return Comparison(
        base_side, head_side, changes, brakes, effective, relative if repo is not None else None
    )
