"""policyctl: the trading system's GlobalPolicy, kept in git, loaded strictly, reloaded live.

The names below are the public contract (CONTRACT.md §4); everything else is private.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import (
    Issue,
    PolicyEnvError,
    PolicyError,
    PolicySourceError,
    PolicySyntaxError,
    PolicyValidationError,
)
from .model import GlobalPolicy, RiskMode, SignalVerdict
from .pipeline import PolicySnapshot, load_policy

if TYPE_CHECKING:
    from .live import PolicyStore, StoreStatus

__all__ = [
    "GlobalPolicy",
    "Issue",
    "PolicyEnvError",
    "PolicyError",
    "PolicySnapshot",
    "PolicySourceError",
    "PolicyStore",
    "PolicySyntaxError",
    "PolicyValidationError",
    "RiskMode",
    "SignalVerdict",
    "StoreStatus",
    "load_policy",
]

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # The store pulls in watchdog; importing it lazily keeps `policyctl validate` fast.
    if name in ("PolicyStore", "StoreStatus"):
        from . import live  # noqa: PLC0415 (lazy on purpose, see above)

        return getattr(live, name)
    raise AttributeError(f"module 'policyctl' has no attribute {name!r}")
