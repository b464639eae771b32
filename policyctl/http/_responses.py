"""The HTTP view's response bodies, as pydantic models (they make the OpenAPI document)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from ..errors import PolicyError, format_path
from ..live import StoreStatus
from ..pipeline import BrakeFile

__all__ = [
    "AdjustmentOut",
    "AllowedSymbolsOut",
    "BrakeOut",
    "BundleOut",
    "EnvOut",
    "ErrorOut",
    "HealthOut",
    "ModelVersionsOut",
    "PolicyOut",
    "ReadOnlyOut",
    "ReceivedOut",
    "RiskModeOut",
    "StatusOut",
    "adjustments_out",
    "brakes_out",
    "bundle_out",
    "error_out",
]


class BrakeOut(BaseModel):
    name: str
    reason: str
    until: datetime


class AdjustmentOut(BaseModel):
    """A temporary adjustment in force: it may loosen, and reverts by itself at `until`."""

    name: str
    reason: str
    ticket: str = Field(description="the ticket or reference that approved it")
    until: datetime


class PolicyOut(BaseModel):
    """The effective policy (file + environment + brakes) as one flat object, plus its digest
    and the brakes in force."""

    version: int
    risk_mode: Literal["AGGRESSIVE", "NORMAL", "DEFENSIVE"]
    allowed_strategies: list[str]
    allowed_symbols: list[str]
    max_risk_per_trade: float
    max_positions: int
    global_min_confidence: float
    opp_rankings: dict[str, float]
    model_versions: dict[str, str]
    last_updated: str | None
    digest: str = Field(description="sha256 of the policy file; the ETag starts with it")
    brakes: list[BrakeOut] = Field(description="brakes in force, each until when")
    active_overrides: list[BrakeOut] = Field(
        description="the same as `brakes`, under its first name (kept for existing readers)"
    )
    adjustments: list[AdjustmentOut] = Field(
        description="temporary adjustments in force (they may loosen), each until when"
    )


class ErrorOut(BaseModel):
    """Why the file on disk is refused."""

    kind: str = Field(description="source, syntax, validation or env")
    file: str | None
    line: int | None
    column: int | None
    path: str
    message: str


class EnvOut(BaseModel):
    """One field a ``QT_*`` variable changed in this process."""

    field: str
    variable: str
    direction: Literal["loosens", "tightens", "neutral"]


class BundleOut(BaseModel):
    """The verified signed bundle a replica serves (with trust configured)."""

    version: int
    commit: str | None
    signed_at: datetime
    expires_at: datetime
    keyid: str = Field(description="the trusted key whose signature verified (SHA-256 of its DER)")
    files: dict[str, str] = Field(description="bundle path -> SHA-256 of each file served")
    stale: bool = Field(description="past expires_at: still served, no longer vouched for")


class StatusOut(BaseModel):
    version: int
    digest: str
    loaded_at: datetime
    reloads: int
    failures: int
    last_error: ErrorOut | None = Field(description="set while a bad change is pending")
    brakes: list[BrakeOut] = Field(
        description="brakes in force now: each lifts by itself at `until`"
    )
    active_overrides: list[BrakeOut] = Field(
        description="the same as `brakes`, under its first name (kept for existing readers)"
    )
    adjustments: list[AdjustmentOut] = Field(
        description="temporary adjustments in force now: each reverts by itself at `until`"
    )
    next_change: datetime | None = Field(description="when the next brake starts or lifts")
    commit: str | None = Field(
        description="the git commit the file came from (git-sync worktree, or a checkout's HEAD)"
    )
    serving_last_good: bool = Field(
        description="started from the last good policy kept on disk: the file is unusable"
    )
    env: list[EnvOut] = Field(
        default_factory=list,
        description="fields this replica's QT_* environment changed, each with its direction"
        " against the file: the deployment, not the reviewed policy, decides these",
    )
    bundle: BundleOut | None = Field(
        default=None,
        description="the verified signed bundle served, with trust configured (null without)",
    )


class ReceivedOut(BaseModel):
    """What a replica did with a signed brake sent to it, and what is in force now."""

    outcome: Literal[
        "applied", "scheduled", "replay", "malformed", "unsigned", "not_a_brake", "conflict",
        "full", "not_accepted",
    ]  # fmt: skip
    message: str
    name: str | None
    brakes: list[str] = Field(description="the brakes in force on this replica now")
    version: int | None


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    error: ErrorOut | None = None


class RiskModeOut(BaseModel):
    risk_mode: Literal["AGGRESSIVE", "NORMAL", "DEFENSIVE"]


class AllowedSymbolsOut(BaseModel):
    allowed_symbols: list[str]


class ModelVersionsOut(BaseModel):
    model_versions: dict[str, str]


class ReadOnlyOut(BaseModel):
    detail: str
    how: str


def bundle_out(status: StoreStatus) -> BundleOut | None:
    """The served bundle as the API shows it; None without trust."""
    bundle = status.bundle
    if bundle is None:
        return None
    return BundleOut(
        version=bundle.version,
        commit=bundle.commit,
        signed_at=bundle.signed_at,
        expires_at=bundle.expires_at,
        keyid=bundle.keyid,
        files=dict(bundle.files),
        stale=status.stale,
    )


def error_out(error: PolicyError | None) -> ErrorOut | None:
    if error is None:
        return None
    issue = error.issues[0]
    return ErrorOut(
        kind=error.kind,
        file=issue.source,
        line=issue.line,
        column=issue.column,
        path=format_path(issue.path),
        message=issue.message,
    )


def brakes_out(brakes: Iterable[BrakeFile]) -> list[BrakeOut]:
    """The active brakes as the API shows them (adjustments aside: `adjustments_out`)."""
    return [
        BrakeOut(name=b.name, reason=b.reason, until=b.ends) for b in brakes if b.kind == "brake"
    ]


def adjustments_out(files: Iterable[BrakeFile]) -> list[AdjustmentOut]:
    """The active temporary adjustments as the API shows them."""
    return [
        AdjustmentOut(name=b.name, reason=b.reason, ticket=b.ticket or "", until=b.ends)
        for b in files
        if b.kind == "adjustment"
    ]
