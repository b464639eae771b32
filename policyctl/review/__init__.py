"""Review: the policy as git knows it, and what a change does to risk. Revisions and history,
two sides compared, the semantic diff and its directions, the audit log, lanes, and decisions
replayed under a base and a head.

- `_git`: revisions and history (`GitRepo`).
- `_diff`: semantic changes between two policies, each with its direction.
- `_brake_diff`: brake files between two sides.
- `_compare`: ``diff``'s two sides (files, revisions, the working tree).
- `_history`: ``log``, the audit trail.
- `_audit`: ``audit``, the evidence of a period: limit changes, brakes, adjustments, approvals.
- `_lane`: which changes may merge without the risk desk.
- `_replay`: logged decisions judged under two policies.

May import: ``policyctl.decisions``, ``policyctl.pipeline``, ``policyctl.model``,
``policyctl.errors``. Never ``live``, ``edit``, ``propose``, ``fleet``, ``cli`` or ``http``.
Modules with a leading underscore are private; other rooms use the names below.
"""

from __future__ import annotations

from ._audit import (
    Approval,
    Audit,
    LimitChange,
    OverrideRecord,
    ReviewRecord,
    audit,
    read_statements,
)
from ._audit import totals as audit_totals
from ._brake_diff import BrakeChange, brake_changes, weakenings
from ._compare import Comparison, Side, SideKind, compare, policy_at, tree_problems
from ._diff import Change, apply_changes, created_changes, diff_policies, plain_value
from ._git import Commit, GitRepo
from ._history import BrakeLogEntry, LogEntry, audit_log, brake_log
from ._lane import Lane, LaneVerdict, lane, lane_of
from ._replay import Flips, Group, ReplayReport, replay

__all__ = [
    "Approval",
    "Audit",
    "BrakeChange",
    "BrakeLogEntry",
    "Change",
    "Commit",
    "Comparison",
    "Flips",
    "GitRepo",
    "Group",
    "Lane",
    "LaneVerdict",
    "LimitChange",
    "LogEntry",
    "OverrideRecord",
    "ReplayReport",
    "ReviewRecord",
    "Side",
    "SideKind",
    "apply_changes",
    "audit",
    "audit_log",
    "audit_totals",
    "brake_changes",
    "brake_log",
    "compare",
    "created_changes",
    "diff_policies",
    "lane",
    "lane_of",
    "plain_value",
    "policy_at",
    "read_statements",
    "replay",
    "tree_problems",
    "weakenings",
]
