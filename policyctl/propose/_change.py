"""A change of values proposed: each path set on the base's tip through the ``set`` pipeline.

The edit is `set_values` (comments kept, ``version`` raised by one from the base,
``last_updated`` stamped). Each change records the value it was based on (the caller's, or the
base's). A proposal made or refreshed on a base that moved re-applies each change semantically
on the new tip: a field still at its recorded value is changed again (the version raised again
from the new tip), a field already at the proposed value is left, and a field the base changed
to anything else is a `ProposalConflict`; then nothing is pushed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from ..edit import Given, set_values
from ..errors import EditRefused, Issue, PolicyError, ProposalConflict
from ..model import parse_path
from ..pipeline import PolicySnapshot
from ..review import Change, GitRepo, lane_of, plain_value
from ._worktree import (
    Proposal,
    commit_tree,
    open_worktree,
    prepare,
    publish,
    snapshot_at,
    trailer_of,
)

__all__ = ["apply_plan", "plan_changes", "propose_change"]


def _value_at(snap: PolicySnapshot, path: str) -> Any:
    policy = snap.file_policy or snap.policy
    where = parse_path(path)
    value = getattr(policy, where.field, None)
    if where.key:
        return plain_value(value.get(where.key)) if isinstance(value, Mapping) else None
    return plain_value(value)


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
                path=parse_path(path).parts,
            )
        plan[path] = (wanted, base_value)
    return plan


def apply_plan(
    tree: GitRepo, file: str, snap: PolicySnapshot, plan: dict[str, tuple[Any, Any]], now: datetime
) -> list[Change]:
    assignments: list[tuple[str, str | Given]] = [(p, Given(v)) for p, (v, _) in plan.items()]
    assignments.append(("version", Given(snap.version + 1)))  # one bump, from this tip
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


def propose_change(
    changes: Mapping[str, Any],
    *,
    message: str,
    repo: str | Path,
    base: str,
    remote: str,
    branch: str | None,
    author: str | None,
    push: bool,
    based_on: Mapping[str, Any] | None,
    file: str,
) -> Proposal:
    """`policyctl.propose` for values: see there."""
    if not changes:
        raise EditRefused.single("a proposal changes at least one field")
    for path in changes:
        if parse_path(path).field in ("version", "last_updated"):
            raise EditRefused.single(
                f"{path} is set by the proposal itself (version: the base's plus one;"
                " last_updated: now); leave it out"
            )
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
    made = Proposal(name, commit, base, tip, applied, lane.lane, push, remote, reasons=lane.reasons)
    return publish(git, made, None)
