"""policyctl: the trading system's GlobalPolicy, kept in git, loaded strictly, reloaded live.

The names below are the public contract (CONTRACT.md §4); everything else is private.
"""

from __future__ import annotations

from .errors import (
    Issue,
    PolicyEnvError,
    PolicyError,
    PolicySourceError,
    PolicySyntaxError,
    PolicyValidationError,
)
from .loader import PolicySnapshot, load_policy
from .model import GlobalPolicy, RiskMode, SignalVerdict

__all__ = [
    "GlobalPolicy",
    "Issue",
    "PolicyEnvError",
    "PolicyError",
    "PolicySnapshot",
    "PolicySourceError",
    "PolicySyntaxError",
    "PolicyValidationError",
    "RiskMode",
    "SignalVerdict",
    "load_policy",
]

__version__ = "0.1.0"
