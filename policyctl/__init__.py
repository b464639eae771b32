"""policyctl: the trading system's GlobalPolicy, kept in git, loaded strictly, reloaded live.

The names below are the public surface (the README, "Loading it in a service"); everything
else is private.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .errors import (
    EditRefused,
    Issue,
    PolicyEnvError,
    PolicyError,
    PolicyInternalError,
    PolicySourceError,
    PolicySyntaxError,
    PolicyValidationError,
    ProposalConflict,
)

if TYPE_CHECKING:
    from .live import PolicyStore, StoreStatus
    from .model import REASON_CODES, GlobalPolicy, RiskMode, SignalVerdict
    from .pipeline import PolicySnapshot, load_policy
    from .propose import BrakeRequest, Proposal, propose, refresh_proposal

__all__ = [
    "REASON_CODES",
    "BrakeRequest",
    "EditRefused",
    "GlobalPolicy",
    "Issue",
    "PolicyEnvError",
    "PolicyError",
    "PolicyInternalError",
    "PolicySnapshot",
    "PolicySourceError",
    "PolicyStore",
    "PolicySyntaxError",
    "PolicyValidationError",
    "Proposal",
    "ProposalConflict",
    "RiskMode",
    "SignalVerdict",
    "StoreStatus",
    "load_policy",
    "propose",
    "refresh_proposal",
]

__version__ = "0.1.0"


# Where each lazily imported name lives. The model pulls in pydantic, which `policyctl --help`
# never needs; the store pulls in watchdog, which `policyctl validate` never needs; and
# importing `policyctl.model` (which runs this file) must load no other sub-package, so that the
# dependency arrows stay one-way even at run time.
_LAZY = {
    "REASON_CODES": "model",
    "GlobalPolicy": "model",
    "RiskMode": "model",
    "SignalVerdict": "model",
    "PolicySnapshot": "pipeline",
    "load_policy": "pipeline",
    "PolicyStore": "live",
    "StoreStatus": "live",
    "propose": "propose",
    "refresh_proposal": "propose",
    "Proposal": "propose",
    "BrakeRequest": "propose",
}


def __getattr__(name: str) -> object:
    room = _LAZY.get(name)
    if room is None:
        raise AttributeError(f"module 'policyctl' has no attribute {name!r}")
    module = importlib.import_module(f".{room}", __name__)
    value = getattr(module, name)
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
