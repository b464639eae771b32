"""A brake proposed like any change: its override file committed on a new branch off the base,
through `write_brake` (the full pipeline, at its start and now), in a temporary worktree.

Adding a brake only tightens (or is neutral), so such a proposal is in the ``auto`` lane unless
the base's policy makes one of its values looser. Refreshing it on a moved base writes the same
file again on the new tip; a brake of the same name there already is a `ProposalConflict`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from ..edit import Given, write_brake
from ..errors import ProposalConflict
from ..pipeline import DEFAULT_POLICY_FILE, BrakeFile, default_brakes_dir
from ..review import brake_changes, lane_of
from ._worktree import (
    Proposal,
    commit_tree,
    open_worktree,
    prepare,
    publish,
    snapshot_at,
)

__all__ = ["BrakeRequest", "named_override", "propose_brake"]


@dataclass(frozen=True, slots=True)
class BrakeRequest:
    """A brake to propose: what it sets (values as ``set`` takes them), why, and when; with a
    ``ticket``, a temporary adjustment (which may loosen, so its lane is ``review``)."""

    settings: Mapping[str, Any]
    reason: str
    until: datetime
    start: datetime | None = None
    name: str | None = field(default=None)
    ticket: str | None = None


def propose_brake(
    request: BrakeRequest,
    *,
    message: str,
    repo: str | Path = ".",
    base: str = "main",
    remote: str = "origin",
    branch: str | None = None,
    author: str | None = None,
    push: bool = True,
    file: str = DEFAULT_POLICY_FILE,
) -> Proposal:
    """Commit ``request`` as a new override file on a new branch off ``base`` and push it."""
    kind = "brake" if request.ticket is None else "adjustment"
    git, identity, tip, now, name = prepare(repo, file, author, base, remote, push, branch, kind)
    with open_worktree(git, tip) as tree:
        snap = snapshot_at(tree, tip, file)
        directory = default_brakes_dir(tree.root / file)
        taken = request.name is not None and (directory / f"{request.name}.yaml").exists()
        if taken:
            raise ProposalConflict.single(
                f"{'a brake' if kind == 'brake' else 'an override'} named"
                f" {request.name!r} exists on {base} (commit {tip[:12]}); choose another name",
                source=str(snap.source),
            )
        result = write_brake(
            tree.root / file,
            [(k, Given(v)) for k, v in request.settings.items()],
            reason=request.reason,
            until=request.until,
            start=request.start,
            name=request.name,
            now=now,
            ticket=request.ticket,
        )
        trailer = {"base": base, "brake": result.brake.name, "changes": []}
        commit = commit_tree(tree, file, message, trailer, identity)
    assert snap.file_policy is not None
    added = brake_changes(snap.file_policy, [], [result.brake], now)
    lane = lane_of([], added)
    made = Proposal(name, commit, base, tip, result.changes, lane.lane, push, remote)
    return publish(git, named_override(made, result.brake, lane.reasons), None)


def named_override(proposal: Proposal, override: BrakeFile, reasons: tuple[str, ...]) -> Proposal:
    """``proposal`` naming the override file it adds under its kind, with the lane's reasons."""
    names = (override.name,)
    if override.kind == "adjustment":
        return replace(proposal, adjustments=names, reasons=reasons)
    return replace(proposal, brakes=names, reasons=reasons)
