"""``policyctl.propose``: a change turned into a commit on a new branch off the base, pushed.

One entry for both kinds of proposal: values (`_change`, through the ``set`` pipeline) and a
brake (`_brake`, through ``brake``'s writer); both build on the shared worktree (`_worktree`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import EditRefused
from ..pipeline import DEFAULT_POLICY_FILE
from ._brake import BrakeRequest, propose_brake
from ._change import propose_change
from ._worktree import Proposal

__all__ = ["propose"]


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
    where: dict[str, Any] = {
        "message": message,
        "repo": repo,
        "base": base,
        "remote": remote,
        "branch": branch,
        "author": author,
        "push": push,
        "file": file,
    }
    if isinstance(changes, BrakeRequest):
        return propose_brake(changes, **where)
    return propose_change(changes, based_on=based_on, **where)
