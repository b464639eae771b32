"""The git side: revisions and history, the semantic diff and its risk directions, and the
comment-keeping ``set`` / ``reset`` edits, and writing brakes.

May import: ``policyctl.pipeline``, ``policyctl.model``, ``policyctl.errors``. Never ``live``,
``cli`` or ``http``. Modules with a leading underscore are private; other rooms use the names
below.
"""

from __future__ import annotations

from ._brake_diff import BrakeChange, brake_changes
from ._brakes import BrakeResult, lift_brake, prune_brakes, stamp, write_brake
from ._compare import Comparison, Side, compare
from ._diff import LIST_FIELDS, Change, Direction, apply_changes, diff_policies, plain_value
from ._edit import EditRefused, EditResult, reset_policy, set_value, set_values
from ._generate import generate
from ._git import Commit, GitRepo
from ._history import BrakeLogEntry, LogEntry, audit_log, brake_log
from ._lane import Lane, LaneVerdict, lane, lane_of
from ._ops import add_item, remove_item_value, unset_path
from ._propose import BrakeRequest, Proposal, ProposalConflict, propose
from ._records import LogFiles, Problem, log_files
from ._refresh import refresh_proposal
from ._replay import Flips, Group, ReplayReport, replay
from ._values import read_set_value

__all__ = [
    "LIST_FIELDS",
    "BrakeChange",
    "BrakeLogEntry",
    "BrakeRequest",
    "BrakeResult",
    "Change",
    "Commit",
    "Comparison",
    "Direction",
    "EditRefused",
    "EditResult",
    "Flips",
    "GitRepo",
    "Group",
    "Lane",
    "LaneVerdict",
    "LogEntry",
    "LogFiles",
    "Problem",
    "Proposal",
    "ProposalConflict",
    "ReplayReport",
    "Side",
    "add_item",
    "apply_changes",
    "audit_log",
    "brake_changes",
    "brake_log",
    "compare",
    "diff_policies",
    "generate",
    "lane",
    "lane_of",
    "lift_brake",
    "log_files",
    "plain_value",
    "propose",
    "prune_brakes",
    "read_set_value",
    "refresh_proposal",
    "remove_item_value",
    "replay",
    "reset_policy",
    "set_value",
    "set_values",
    "stamp",
    "unset_path",
    "write_brake",
]
