"""Proposals: a change (values, or a brake) committed on a new branch off the base, pushed, and
refreshed when the base moves.

- `_propose`: `propose`, the one entry for both kinds.
- `_change`: values set through the ``set`` pipeline, each with the value it was based on.
- `_brake`: a brake file written through ``brake``'s writer (`BrakeRequest`).
- `_refresh`: a proposal re-applied on its base's new tip.
- `_worktree`: what they share: the temporary worktree, author, commit and push.

May import: ``policyctl.edit``, ``policyctl.review``, ``policyctl.pipeline``,
``policyctl.model``, ``policyctl.errors``. Never ``live``, ``fleet``, ``cli`` or ``http``.
Modules with a leading underscore are private; other rooms use the names below.
"""

from __future__ import annotations

from ._brake import BrakeRequest
from ._propose import propose
from ._refresh import refresh_proposal
from ._worktree import TRAILER, Proposal, ProposalInterrupted

__all__ = [
    "TRAILER",
    "BrakeRequest",
    "Proposal",
    "ProposalInterrupted",
    "propose",
    "refresh_proposal",
]
