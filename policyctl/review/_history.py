"""``policyctl log``: the policy's audit trail, each commit read through the whole pipeline."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..errors import PolicyError, PolicySourceError
from ..model import BRAKES_DIR_NAME
from ..pipeline import (
    BrakeFile,
    PolicySnapshot,
    brake_name,
    build_snapshot,
    parse_brake,
)
from ._diff import Change, diff_policies
from ._git import FILE_MODES, Commit, GitRepo, mode_kind

__all__ = ["BrakeLogEntry", "LogEntry", "audit_log", "brake_log"]


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


def _snapshot(
    data: bytes | None,
    label: str,
    mode: str = FILE_MODES[0],
    seen: dict[bytes, PolicySnapshot] | None = None,
) -> tuple[PolicySnapshot | None, PolicyError | None]:
    if data is None:
        return None, None
    if mode not in FILE_MODES:  # git's blob is a link's text, not what a checkout serves
        what = f"{label.rpartition(':')[2]} is {mode_kind(mode)}; the policy must be a regular file"
        return None, PolicySourceError.single(what, source=label)
    known = None if seen is None else seen.get(data)
    if known is not None:
        return known, None
    try:
        snap = build_snapshot(data, Path(label), env={})
    except PolicyError as e:
        return None, e
    if seen is not None:
        seen[data] = snap
    return snap, None


def audit_log(
    repo: GitRepo,
    path: str,
    limit: int | None = None,
    revisions: str | None = None,
    *,
    first_parent: bool = False,
) -> list[LogEntry]:
    """The policy's audit trail, newest first: every commit that touched ``path`` (of
    ``revisions``, a revision or a range such as ``main..topic``; default HEAD; with
    ``first_parent``, the main line only)."""
    commits = repo.history(path, limit, revisions, first_parent=first_parent)
    wanted = sorted(
        {f"{c.sha}:{c.path}" for c in commits}
        | {f"{c.parent}:{c.parent_path}" for c in commits if c.parent}
    )
    blobs = dict(zip(wanted, repo.read_many(wanted), strict=True))
    modes = repo.path_modes(path)
    entries = []
    # Each commit's "before" is, most often, its parent's "after": each content is read once.
    # A refusal is not kept (its message names the commit it was found at).
    seen: dict[bytes, PolicySnapshot] = {}
    for commit in commits:
        old_mode, new_mode = modes.get(commit.sha, ("100644", "100644"))
        after, after_error = _snapshot(
            blobs[f"{commit.sha}:{commit.path}"], f"{commit.short}:{commit.path}", new_mode, seen
        )
        parent = blobs.get(f"{commit.parent}:{commit.parent_path}") if commit.parent else None
        label = f"{commit.short}^:{commit.parent_path}"
        before, before_error = _snapshot(parent, label, old_mode, seen)
        changes = diff_policies(before.policy, after.policy) if before and after else []
        entries.append(LogEntry(commit, before, after, before_error, after_error, changes))
    return entries


@dataclass(frozen=True, slots=True)
class BrakeLogEntry:
    """One override file added, changed or removed by a commit.

    ``brake`` is the file as the commit left it (as it was before, when removed); None with
    ``error`` when it could not be read as an override. ``mode``: its git mode (a symbolic
    link's blob is the link's text, not what a store reads through it).
    """

    commit: Commit
    action: str
    name: str
    brake: BrakeFile | None
    error: PolicyError | None
    mode: str = FILE_MODES[0]


_ACTIONS = {"A": "added", "M": "changed", "T": "changed", "D": "removed"}


def brake_log(
    repo: GitRepo,
    policy: str,
    limit: int | None = None,
    revisions: str | None = None,
    *,
    first_parent: bool = False,
) -> list[BrakeLogEntry]:
    """The brakes' history, newest first: each override file each commit touched, with the
    reason it gave. ``policy`` is the policy file's repository path (the brake files sit
    beside); ``revisions`` and ``first_parent`` as for `audit_log`."""
    directory = posixpath.join(posixpath.dirname(policy), BRAKES_DIR_NAME)
    history = [
        (commit, [(s, p, m) for s, p, m in files if posixpath.dirname(p) == directory])
        for commit, files in repo.directory_history(
            directory, limit, revisions, first_parent=first_parent
        )
    ]
    wanted = sorted(
        {f"{c.sha}:{p}" for c, files in history for s, p, _ in files if s != "D"}
        | {f"{c.parent}:{p}" for c, files in history for s, p, _ in files if s == "D" and c.parent}
    )
    blobs = dict(zip(wanted, repo.read_many(wanted), strict=True))
    entries = []
    for commit, files in history:
        for status, path, mode in files:
            name = brake_name(posixpath.basename(path))
            if name is None or status not in _ACTIONS:
                continue
            key = f"{commit.parent}:{path}" if status == "D" else f"{commit.sha}:{path}"
            data = blobs.get(key)
            brake: BrakeFile | None = None
            error: PolicyError | None = None
            if mode not in FILE_MODES:
                what = f"{path} is {mode_kind(mode)}; an override must be a regular file"
                error = PolicySourceError.single(what, source=f"{commit.short}:{path}")
            elif data is not None:
                try:
                    # Judged at the moment it landed (the committer's time: an author's date
                    # is older on a rebase, and anyone's to set): "7 days from now" is then.
                    when = datetime.fromtimestamp(commit.timestamp, UTC)
                    brake = parse_brake(data, Path(f"{commit.short}:{path}"), when)
                except PolicyError as e:
                    error = e
            entries.append(BrakeLogEntry(commit, _ACTIONS[status], name, brake, error, mode))
    return entries
