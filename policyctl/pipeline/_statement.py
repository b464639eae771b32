"""What a signed bundle's statement says, once verified: a plain value (no cryptography), so
that a snapshot can carry it and anything can read it without loading the signature code."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["Statement"]


@dataclass(frozen=True, slots=True)
class Statement:
    """What a verified bundle's statement says (see the module's docstring)."""

    version: int
    commit: str | None
    signed_at: datetime
    expires_at: datetime
    files: Mapping[str, str]  # bundle path -> sha256 hex
    keyid: str  # the trusted key whose signature verified
    review: Mapping[str, Any] = field(default_factory=dict)
