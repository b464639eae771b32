"""``policyctl.propose``: a change turned into a commit on a branch, through the ``set`` pipeline.

The work happens in a temporary git worktree of the base branch's tip: never in the caller's
working tree or index, never in a checkout a service reads. The edit is `set_values` (comments
kept, ``version`` raised by one from the base, ``last_updated`` stamped), or `write_brake`; the
result is validated, committed with the caller's identity and pushed as a new branch.

Each change records the value it was based on (the caller's, or the base's), in a trailer of
the commit message. A proposal made or refreshed on a base that moved re-applies each change
semantically on the new tip: a field still at its recorded value is changed again (the version
raised again from the new tip), a field already at the proposed value is left, and a field the
base changed to anything else is a `ProposalConflict`; then nothing is pushed.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import Issue, PolicyError, PolicySourceError, ProposalConflict
from ..pipeline import DEFAULT_POLICY_FILE, PolicySnapshot, build_snapshot
from ._diff import Change, plain_value
from ._edit import set_values
from ._errors import EditRefused
from ._git import GitRepo
from ._lane import lane_of

__all__ = [
    "TRAILER",
    "BrakeRequest",
    "Proposal",
    "ProposalConflict",
    "open_worktree",
    "propose",
]

TRAILER = "Policyctl-Proposal: "
_IDENTITY = re.compile(r"^\s*([^<>]+?)\s*<([^<>\s]+)>\s*$")


@dataclass(frozen=True, slots=True)
class Proposal:
    """A proposed change, committed on a branch.

    Attributes:
        branch: The branch holding the commit (on ``remote`` when pushed).
        commit: The proposal's commit.
        base: The base branch's name; ``base_commit`` the tip it was made on.
        changes: The semantic changes to the policy, each with its direction.
        brakes: Override files the proposal adds (their names).
        lane: ``auto`` when nothing loosens, ``review`` otherwise (see `lane_of`).
        pushed: Whether the branch was pushed.
        remote: Where it was pushed.
    """

    branch: str
    commit: str
    base: str
    base_commit: str
    changes: list[Change]
    lane: str
    pushed: bool
    remote: str
    brakes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BrakeRequest:
    """A brake to propose: what it sets (values as ``set`` takes them), why, and when."""

    settings: Mapping[str, Any]
    reason: str
    until: datetime
    start: datetime | None = None
    name: str | None = field(default=None)


def _value_at(snap: PolicySnapshot, path: str) -> Any:
    policy = snap.file_policy or snap.policy
    field, _, key = path.partition(".")
    value = getattr(policy, field, None)
    if key:
        return plain_value(value.get(key)) if isinstance(value, Mapping) else None
    return plain_value(value)


def identity_env(author: str | None) -> dict[str, str]:
    if author is None:
        return {}
    match = _IDENTITY.match(author)
    if not match:
        raise EditRefused.single(
            f"author {author!r} is not 'Name <email>', e.g. 'ranker <ranker@desk.example>'"
        )
    name, email = match.groups()
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }


@contextmanager
def open_worktree(repo: GitRepo, sha: str) -> Iterator[GitRepo]:
    """A detached worktree of ``sha`` in a temporary directory, removed afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="policyctl-propose-"))
    tree = directory / "tree"
    repo.run("worktree", "add", "--detach", "--quiet", str(tree), sha)
    try:
        yield GitRepo(tree)
    finally:
        try:
            repo.run("worktree", "remove", "--force", str(tree))
        except PolicySourceError:
            repo.run("worktree", "prune")
        shutil.rmtree(directory, ignore_errors=True)


def base_tip(repo: GitRepo, base: str, remote: str, fetch: bool) -> str:
    if fetch:
        try:
            repo.run("fetch", "--quiet", remote, f"refs/heads/{base}:refs/remotes/{remote}/{base}")
        except PolicySourceError as e:
            raise PolicySourceError.single(
                f"cannot fetch branch {base!r} from {remote!r}: {e.issues[0].message}",
                source=str(repo.root),
            ) from None
        return repo.resolve(f"refs/remotes/{remote}/{base}")
    try:
        return repo.resolve(f"refs/heads/{base}")
    except PolicySourceError:
        raise PolicySourceError.single(
            f"base branch {base!r} does not exist here", source=str(repo.root)
        ) from None


def snapshot_at(repo: GitRepo, sha: str, file: str) -> PolicySnapshot:
    return build_snapshot(repo.read(sha, file), Path(f"{sha[:12]}:{file}"), env={})


def plan_changes(
    changes: Mapping[str, Any], snap: PolicySnapshot, based_on: Mapping[str, Any], tip: str
) -> dict[str, tuple[Any, Any]]:
    """{path: (value, based_on)} of the changes still to make on the tip; ProposalConflict
    when the tip moved a field away from what a change was based on."""
    plan = {}
    for path, value in changes.items():
        wanted = plain_value(value)
        current = _value_at(snap, path)
        base_value = based_on.get(path, current)
        if current == wanted:
            continue  # the base says it already
        if current != base_value:
            raise ProposalConflict.single(
                f"{path} was changed to {json.dumps(current)} on the base (commit {tip[:12]}),"
                f" while this proposal changes it from {json.dumps(base_value)} to"
                f" {json.dumps(wanted)}; make a new proposal from the new value",
                source=str(snap.source),
                path=tuple(path.split(".", 1)),
            )
        plan[path] = (wanted, base_value)
    return plan


def commit_tree(
    tree: GitRepo, file: str, message: str, trailer: dict[str, Any], env: dict[str, str]
) -> str:
    body = f"{message.strip()}\n\n{TRAILER}{json.dumps(trailer, separators=(',', ':'))}\n"
    tree.run("add", "-A", "--", _directory(file))  # the policy file and its overrides
    tree.run("commit", "--quiet", "--no-verify", "-m", body, env=env or _fallback_identity(tree))
    return tree.resolve("HEAD")


def _directory(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else "."


def _fallback_identity(tree: GitRepo) -> dict[str, str]:
    """A repository without user.name/email (a CI runner) still gets a commit, as policyctl."""
    try:
        tree.run("config", "user.email")
        return {}
    except PolicySourceError:
        return {
            "GIT_AUTHOR_NAME": "policyctl",
            "GIT_AUTHOR_EMAIL": "policyctl@localhost",
            "GIT_COMMITTER_NAME": "policyctl",
            "GIT_COMMITTER_EMAIL": "policyctl@localhost",
        }


def apply_plan(
    tree: GitRepo, file: str, snap: PolicySnapshot, plan: dict[str, tuple[Any, Any]], now: datetime
) -> list[Change]:
    assignments = [(p, json.dumps(v)) for p, (v, _) in plan.items()]
    assignments.append(("version", str(snap.version + 1)))  # one bump, from this tip
    try:
        return set_values(tree.root / file, assignments, now=now).changes
    except PolicyError as e:  # say where as the user knows it, not the temporary worktree
        root = str(tree.root)
        label = str(snap.source)
        raise type(e)(
            Issue(
                i.path,
                i.line,
                i.column,
                i.message,
                (i.source or "").replace(f"{root}/{file}", label) or label,
            )
            for i in e.issues
        ) from None


def refuse_local_edits(git: GitRepo, file: str) -> None:
    """Uncommitted edits to the policy here would not be in the proposal, which starts from
    the base branch: say so rather than surprise."""
    dirty = git.run("status", "--porcelain", "--", _directory(file)).strip()
    if dirty:
        raise EditRefused.single(
            f"{_directory(file)}/ has uncommitted changes here; a proposal starts from the base"
            " branch, not from this checkout: commit or stash them, or propose those values",
            source=str(git.root),
        )


def propose(
    changes: Mapping[str, Any] | BrakeRequest,
    *,
    message: str,
    repo: str | Path = ".",
    base: str = "main",
    remote: str = "origin",
    branch: str | None = None,
    author: str | None = None,
    push: bool = True,
    based_on: Mapping[str, Any] | None = None,
    file: str = DEFAULT_POLICY_FILE,
) -> Proposal:
    """Turn ``changes`` (``{"risk_mode": "DEFENSIVE", "model_versions.lstm": "3.11"}``, values
    as the file holds them, or a `BrakeRequest`) into a commit on a new branch off ``base``, and
    push it.

    Args:
        based_on: The values the caller read (path -> value), so that a base changed since is
            a `ProposalConflict` instead of a lost update; default: the base's values.

    Raises:
        ProposalConflict: The base changed a proposed field to another value; nothing pushed.
        PolicyError: The change is invalid, a path unknown, the base or the repository
            missing, the push rejected; nothing is left behind.
    """
    if not message.strip():
        raise EditRefused.single("a proposal needs a message (-m): why the change")
    if not isinstance(changes, Mapping):  # a brake (BrakeRequest): its own module
        from ._propose_brake import propose_brake  # noqa: PLC0415 (it builds on this module)

        return propose_brake(
            changes,
            message=message,
            repo=repo,
            base=base,
            remote=remote,
            branch=branch,
            author=author,
            push=push,
            file=file,
        )
    if not changes:
        raise EditRefused.single("a proposal changes at least one field")
    git, identity, tip, now, name = prepare(
        repo, file, author, base, remote, push, branch, "proposal"
    )
    with open_worktree(git, tip) as tree:
        snap = snapshot_at(tree, tip, file)
        plan = plan_changes(changes, snap, based_on or {}, tip)
        if not plan:
            raise EditRefused.single(f"{base} already holds every proposed value; nothing to do")
        applied = apply_plan(tree, file, snap, plan, now)
        commit = commit_tree(tree, file, message, trailer_of(base, plan), identity)
    lane = lane_of(applied, [])
    publish(git, name, commit, remote, push, replace=None)
    return Proposal(name, commit, base, tip, applied, lane, push, remote)


def prepare(
    repo: str | Path,
    file: str,
    author: str | None,
    base: str,
    remote: str,
    push: bool,
    branch: str | None,
    kind: str,
) -> tuple[GitRepo, dict[str, str], str, datetime, str]:
    """What every new proposal checks first: the repository (no local edits to the policy),
    the author, the base's tip (fetched when pushing), the moment, and a free branch name."""
    git = GitRepo(Path(repo))
    refuse_local_edits(git, file)
    identity = identity_env(author)
    tip = base_tip(git, base, remote, fetch=push)
    now = datetime.now(UTC)
    name = branch or f"policy/{kind}-{now:%Y%m%d-%H%M%S}-{tip[:7]}"
    check_branch(git, name, remote if push else None)
    return git, identity, tip, now, name


def trailer_of(base: str, plan: dict[str, tuple[Any, Any]]) -> dict[str, Any]:
    """The record a proposal's commit keeps of its changes and what they were based on."""
    return {
        "base": base,
        "changes": [{"path": p, "value": v, "based_on": b} for p, (v, b) in plan.items()],
    }


def check_branch(git: GitRepo, name: str, remote: str | None) -> None:
    try:
        git.run("check-ref-format", "--branch", name)
    except PolicySourceError:
        raise EditRefused.single(f"{name!r} is not a valid branch name") from None
    taken = git.run("branch", "--list", name).strip()
    if remote is not None:
        taken = taken or git.run("ls-remote", "--heads", remote, name).strip()
    if taken:
        raise EditRefused.single(
            f"branch {name!r} exists already; choose another, or refresh it:"
            f" policyctl propose --refresh {name}"
        )


def publish(
    git: GitRepo, name: str, commit: str, remote: str, push: bool, replace: str | None
) -> None:
    if not push:
        git.run("branch", "--force" if replace else "--no-track", name, commit)
        return
    lease = [f"--force-with-lease=refs/heads/{name}:{replace}"] if replace else []
    try:
        git.run("push", "--quiet", "--porcelain", *lease, remote, f"{commit}:refs/heads/{name}")
    except PolicySourceError as e:
        raise PolicySourceError.single(
            f"push of {name!r} to {remote!r} was rejected: {e.issues[0].message}",
            source=str(git.root),
        ) from None
