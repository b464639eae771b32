"""``policyctl propose --refresh``: a proposal re-applied on its base's new tip.

The changes recorded in the commit's trailer are made again on the new tip (the rules are in
`policyctl.review._propose`); a brake's file is written again. The branch is replaced with a
lease on its old commit, so a concurrent refresh can never be overwritten unseen.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import EditRefused, ProposalConflict
from ..pipeline import DEFAULT_POLICY_FILE, default_brakes_dir, parse_brake
from ..review import GitRepo, brake_changes, diff_policies, lane_of
from ._brake import named_override
from ._change import apply_plan, plan_changes
from ._worktree import (
    TRAILER,
    Proposal,
    base_tip,
    commit_tree,
    identity_env,
    open_worktree,
    publish,
    refuse_options,
    snapshot_at,
    trailer_of,
)

__all__ = ["refresh_proposal"]


def _recorded(git: GitRepo, commit: str) -> dict[str, Any]:
    body = git.run("log", "-1", "--format=%B", commit)
    for line in reversed(body.splitlines()):
        if line.startswith(TRAILER):
            try:
                data = json.loads(line[len(TRAILER) :])
            except ValueError:
                break
            if isinstance(data, dict) and isinstance(data.get("changes"), list):
                return data
    raise EditRefused.single(
        f"{commit[:12]} is not a policyctl proposal (no {TRAILER.strip()} trailer)"
    )


def refresh_proposal(
    branch: str,
    *,
    repo: str | Path = ".",
    remote: str = "origin",
    push: bool = True,
    file: str = DEFAULT_POLICY_FILE,
) -> Proposal:
    """Re-apply the proposal on ``branch`` on its base's new tip (see the module's rules), and
    replace the branch with the result. Unchanged when the base has not moved."""
    refuse_options(branch=branch, remote=remote)
    git = GitRepo(Path(repo))
    ref = f"refs/remotes/{remote}/{branch}" if push else f"refs/heads/{branch}"
    if push:
        git.run("fetch", "--quiet", "--end-of-options", remote, f"+refs/heads/{branch}:{ref}")
    old = git.resolve(ref)
    recorded = _recorded(git, old)
    base = str(recorded.get("base", "main"))
    tip = base_tip(git, base, remote, fetch=push)
    if isinstance(recorded.get("brake"), str):
        return _refresh_brake(git, recorded, old, (branch, base, tip, remote), push, file)
    if _parent(git, old) == tip:  # made on the base's tip: nothing moved
        return _unchanged(git, branch, old, base, tip, remote, push, file)
    author = git.run("log", "-1", "--format=%an <%ae>", old).strip()
    message = git.run("log", "-1", "--format=%B", old).split(TRAILER)[0]
    changes = {c["path"]: c["value"] for c in recorded["changes"]}
    based_on = {c["path"]: c["based_on"] for c in recorded["changes"]}
    now = datetime.now(UTC)
    with open_worktree(git, tip) as tree:
        snap = snapshot_at(tree, tip, file)
        plan = plan_changes(changes, snap, based_on, tip)
        if not plan:
            raise EditRefused.single(f"{base} already holds every value of {branch}; close it")
        applied = apply_plan(tree, file, snap, plan, now)
        commit = commit_tree(tree, file, message, trailer_of(base, plan), identity_env(author))
    lane = lane_of(applied, [])
    made = Proposal(
        branch, commit, base, tip, applied, lane.lane, push, remote, reasons=lane.reasons
    )
    return publish(git, made, old)


def _refresh_brake(
    git: GitRepo,
    recorded: dict[str, Any],
    old: str,
    where: tuple[str, str, str, str],
    push: bool,
    file: str,
) -> Proposal:
    """An override's proposal (a brake or an adjustment) on a moved base: the same file, written
    on the new tip; judged as the file it adds, whether it is in force yet or not."""
    branch, base, tip, remote = where
    name = str(recorded["brake"])
    relative = (default_brakes_dir(Path(file)) / f"{name}.yaml").as_posix()
    data = git.read(old, relative)
    now = datetime.now(UTC)
    override = parse_brake(data, Path(relative), now)
    moved = _parent(git, old) != tip
    commit = old
    if moved:
        author = git.run("log", "-1", "--format=%an <%ae>", old).strip()
        message = git.run("log", "-1", "--format=%B", old).split(TRAILER)[0]
        with open_worktree(git, tip) as tree:
            target = tree.root / relative
            if target.exists():
                noun = "a brake" if override.kind == "brake" else "an override"
                raise ProposalConflict.single(
                    f"{noun} named {name!r} exists on {base} (commit {tip[:12]}) already",
                    source=f"{tip[:12]}:{relative}",
                )
            target.parent.mkdir(exist_ok=True)
            target.write_bytes(data)
            commit = commit_tree(tree, file, message, recorded, identity_env(author))
    before, after = snapshot_at(git, tip, file), snapshot_at(git, commit, file)
    assert before.file_policy is not None
    changes = diff_policies(before.policy, after.policy)
    lane = lane_of([], brake_changes(before.file_policy, [], [override], now))
    made = Proposal(branch, commit, base, tip, changes, lane.lane, push, remote)
    made = named_override(made, override, lane.reasons)
    return publish(git, made, old) if moved else made


def _parent(git: GitRepo, commit: str) -> str:
    return git.run("rev-parse", f"{commit}^1").strip()


def _unchanged(
    git: GitRepo, branch: str, commit: str, base: str, tip: str, remote: str, push: bool, file: str
) -> Proposal:
    before, after = snapshot_at(git, tip, file), snapshot_at(git, commit, file)
    changes = [
        c
        for c in diff_policies(before.policy, after.policy)
        if c.field not in ("version", "last_updated")
    ]
    lane = lane_of(changes, [])
    return Proposal(
        branch, commit, base, tip, changes, lane.lane, push, remote, reasons=lane.reasons
    )
