"""A read-only HTTP view of the live store, for services that do not embed the library.

Install the ``serve`` extra (fastapi, uvicorn, prometheus-client); the core library never
imports this module. Every read route of the original PolicyStore API answers from the
hot-reloaded store; every write route answers 405 and says how changes are made now.

The policy body is serialised once per snapshot and reused: a reader polling with
``If-None-Match`` costs a digest comparison, and a full read costs no JSON encoding.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from pydantic import BaseModel, Field

from ..errors import PolicyError, format_path
from ..live import PolicyStore
from ..pipeline import PolicySnapshot

__all__ = ["create_app", "lifespan", "router"]

READ_ONLY_HOW = (
    "The policy is kept in git and changes only by pull request: run"
    " `policyctl set FIELD VALUE`, commit, and open a pull request for the risk desk's review."
)


class PolicyOut(BaseModel):
    """The effective policy (file + environment) as one flat object, plus its digest."""

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
    digest: str = Field(description="sha256 of the policy file; also the ETag")


class ErrorOut(BaseModel):
    """Why the file on disk is refused."""

    kind: str = Field(description="source, syntax, validation or env")
    file: str | None
    line: int | None
    column: int | None
    path: str
    message: str


class StatusOut(BaseModel):
    version: int
    digest: str
    loaded_at: datetime
    reloads: int
    failures: int
    last_error: ErrorOut | None = Field(description="set while a bad change is pending")


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


def _error_out(error: PolicyError | None) -> ErrorOut | None:
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


class _BodyCache:
    """The serialised policy of the snapshot being served; rebuilt when the snapshot changes."""

    def __init__(self) -> None:
        self._entry: tuple[PolicySnapshot, bytes, str] | None = None

    def get(self, snap: PolicySnapshot) -> tuple[bytes, str]:
        entry = self._entry
        if entry is None or entry[0] is not snap:
            body = {**snap.policy.model_dump(mode="json"), "digest": snap.digest}
            entry = (snap, json.dumps(body, separators=(",", ":")).encode(), f'"{snap.digest}"')
            self._entry = entry  # one reference swap: a racing request just rebuilds it
        return entry[1], entry[2]


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    candidates = [c.strip().removeprefix("W/") for c in header.split(",")]
    return "*" in candidates or etag in candidates


class _StoreCollector:
    """Prometheus metrics read from the store at scrape time (no background updates)."""

    def __init__(self) -> None:
        self.store: PolicyStore | None = None  # set by the first scrape

    def collect(self) -> Iterable[Metric]:
        if self.store is None:
            return []
        status = self.store.status()
        now = time.time()
        reloads = CounterMetricFamily("policyctl_reloads", "Snapshots applied after the first load")
        reloads.add_metric([], status.reloads)
        failures = CounterMetricFamily(
            "policyctl_failures", "Refused file contents, by reason", labels=["reason"]
        )
        by_kind = dict(status.failures_by_kind)
        for reason, kind in (
            ("io", "source"),
            ("syntax", "syntax"),
            ("validation", "validation"),
            ("env", "env"),
        ):
            failures.add_metric([reason], by_kind.get(kind, 0))
        version = GaugeMetricFamily("policyctl_policy_version", "version of the policy served")
        version.add_metric([], status.current_version)
        last = GaugeMetricFamily(
            "policyctl_last_success_timestamp_seconds", "When the served snapshot was loaded"
        )
        last.add_metric([], status.last_success.timestamp())
        since = GaugeMetricFamily(
            "policyctl_seconds_since_last_success", "Seconds since the last successful load"
        )
        since.add_metric([], max(0.0, now - status.last_success.timestamp()))
        refused = GaugeMetricFamily(
            "policyctl_refused_seconds",
            "Seconds the file's current content has been refused (0 when healthy)",
        )
        refused.add_metric(
            [], max(0.0, now - status.refused_since.timestamp()) if status.refused_since else 0.0
        )
        return [reloads, failures, version, last, since, refused]


def router(store: PolicyStore | None = None) -> APIRouter:
    """The routes of the read-only policy API.

    Args:
        store: The store to answer from; None means ``request.app.state.policy_store``, the
            store `lifespan` opens, so the router can be included before the app starts.
    """
    api = APIRouter()
    cache = _BodyCache()
    collector = _StoreCollector()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)

    def live(request: Request) -> PolicyStore:
        found: PolicyStore = store if store is not None else request.app.state.policy_store
        return found

    @api.get(
        "/api/policy",
        response_model=PolicyOut,
        responses={304: {"description": "Not modified (If-None-Match matched the ETag)"}},
        summary="The effective policy",
    )
    def get_policy(request: Request) -> Response:
        body, etag = cache.get(live(request).current())
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        if _etag_matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/json", headers=headers)

    @api.get("/api/policy/status", response_model=StatusOut, summary="Store health and counters")
    def get_status(request: Request) -> StatusOut:
        status = live(request).status()
        return StatusOut(
            version=status.current_version,
            digest=status.digest,
            loaded_at=status.last_success,
            reloads=status.reloads,
            failures=status.failures,
            last_error=_error_out(status.last_error),
        )

    @api.get("/api/policy/risk_mode", response_model=RiskModeOut)
    def get_risk_mode(request: Request) -> RiskModeOut:
        return RiskModeOut(risk_mode=live(request).current().policy.risk_mode.value)

    @api.get("/api/policy/allowed_symbols", response_model=AllowedSymbolsOut)
    def get_allowed_symbols(request: Request) -> AllowedSymbolsOut:
        symbols = live(request).current().policy.allowed_symbols
        return AllowedSymbolsOut(allowed_symbols=list(symbols))

    @api.get("/api/policy/model_versions", response_model=ModelVersionsOut)
    def get_model_versions(request: Request) -> ModelVersionsOut:
        versions = live(request).current().policy.model_versions
        return ModelVersionsOut(model_versions=dict(versions))

    def refuse() -> Response:
        body = ReadOnlyOut(detail="read-only: this API cannot change the policy", how=READ_ONLY_HOW)
        return Response(
            body.model_dump_json(), 405, media_type="application/json", headers={"Allow": "GET"}
        )

    for route, method in (
        ("/api/policy", "PATCH"),
        ("/api/policy/reset", "POST"),
        ("/api/policy/risk_mode/{mode}", "POST"),
    ):
        # Kept out of the OpenAPI document: it describes what the API does, and these
        # routes exist only to tell old clients of the write API how changes are made now.
        api.add_api_route(route, refuse, methods=[method], include_in_schema=False)

    @api.get("/metrics", response_class=Response, summary="Prometheus metrics")
    def metrics(request: Request) -> Response:
        collector.store = live(request)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @api.get("/healthz", response_model=HealthOut, summary="Liveness: 200 even when degraded")
    def healthz(request: Request) -> HealthOut:
        # Never a failing status for a bad policy commit: restarting cannot fix it, and every
        # replica would fail its probe at once. The last good policy is still being served.
        error = live(request).status().last_error
        return HealthOut(status="degraded" if error else "ok", error=_error_out(error))

    return api


def lifespan(
    path: str | None = None, **store_kwargs: Any
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """A FastAPI lifespan that opens a `PolicyStore` on ``app.state.policy_store``.

    The store is opened at startup (a policy that cannot be loaded stops the app from
    starting) and closed at shutdown.
    """

    @asynccontextmanager
    async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = PolicyStore(path, **store_kwargs)
        app.state.policy_store = store
        try:
            yield
        finally:
            store.close()

    return _lifespan


def create_app(path: str | None = None, **store_kwargs: Any) -> FastAPI:
    """The app ``policyctl serve`` runs: the routes over a store opened for its lifetime."""
    # Opened now, not in the lifespan: a policy that cannot be loaded stops `serve` with the
    # usual located error and exit 1, not with a server startup traceback.
    store = PolicyStore(path, **store_kwargs)

    @asynccontextmanager
    async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.policy_store = store
        try:
            yield
        finally:
            store.close()

    app = FastAPI(
        title="policyctl",
        summary="Read-only view of the trading system's GlobalPolicy",
        lifespan=_lifespan,
    )
    app.include_router(router())
    return app
