"""A read-only HTTP view of the live store, for services that do not embed the library.

Install the ``serve`` extra (fastapi, uvicorn, prometheus-client); the core library never
imports this module. Every read route of the original PolicyStore API answers from the
hot-reloaded store; every write route answers 405 and says how changes are made now. One route
takes something in: ``POST /api/policy/brakes``, a brake signed by a trusted key, which can
only tighten (the kill switch: `PolicyStore.receive_brake`).

The policy body is serialised once per snapshot and reused: a reader polling with
``If-None-Match`` costs a digest comparison, and a full read costs no JSON encoding.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from ..live import MAX_SENT, PolicyStore, Received
from ..pipeline import PolicySnapshot
from ._metrics import StoreCollector
from ._readonly import refuse
from ._responses import (
    AllowedSymbolsOut,
    EnvOut,
    HealthOut,
    ModelVersionsOut,
    PolicyOut,
    ReceivedOut,
    RiskModeOut,
    StatusOut,
    adjustments_out,
    brakes_out,
    bundle_out,
    error_out,
)

__all__ = ["create_app", "lifespan", "router"]

# Every read route answers HEAD as well (kept out of the OpenAPI document, which would list
# each twice), and is a coroutine: each only reads a published reference (the snapshot, the
# status), so none needs a worker thread, and a crowd of slow clients cannot use up a thread
# pool that the health probe also needs.


class _BodyCache:
    """The serialised policy of the snapshot being served; rebuilt when the snapshot changes."""

    def __init__(self) -> None:
        self._entry: tuple[PolicySnapshot, bytes, str] | None = None

    def get(self, snap: PolicySnapshot) -> tuple[bytes, str]:
        entry = self._entry
        if entry is None or entry[0] is not snap:
            body = {
                **snap.policy.model_dump(mode="json"),
                "digest": snap.digest,
                "brakes": (brakes := [b.model_dump(mode="json") for b in brakes_out(snap.brakes)]),
                "active_overrides": brakes,  # the first name of "brakes", kept for old readers
                "adjustments": [a.model_dump(mode="json") for a in adjustments_out(snap.brakes)],
            }
            data = json.dumps(body, separators=(",", ":")).encode()
            # The ETag is the file's digest, and names the effective policy too: two replicas
            # reading one file under different QT_* variables, or a replica before and after a
            # brake starts, serve different bodies, so those add the body's own hash to it.
            tag = snap.digest
            if snap.env or snap.brake_files:
                tag += "-" + hashlib.sha256(data).hexdigest()[:16]
            entry = (snap, data, f'"{tag}"')
            self._entry = entry  # one reference swap: a racing request just rebuilds it
        return entry[1], entry[2]


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    candidates = [c.strip().removeprefix("W/") for c in header.split(",")]
    return "*" in candidates or etag in candidates


_BODY_SECONDS = 5.0  # a signed brake is a few hundred bytes: anything slower is a slowloris
_STATUS = {
    "applied": 201,
    "scheduled": 202,
    "replay": 200,
    "malformed": 400,
    "unsigned": 403,
    "not_accepted": 403,
    "conflict": 409,
    "full": 409,
    "not_a_brake": 422,
}


def _received(code: int, received: Received, store: PolicyStore | None = None) -> Response:
    """A signed brake's answer: what was done, and what is in force now."""
    brakes = (
        [b.name for b in store.status().brakes if b.kind == "brake"] if store is not None else []
    )
    version = store.status().current_version if store is not None else None
    body = ReceivedOut(
        outcome=received.outcome,
        message=received.message,
        name=received.name,
        brakes=brakes,
        version=version,
    )
    return Response(body.model_dump_json(), status_code=code, media_type="application/json")


def router(
    store: PolicyStore | None = None, *, health: bool = True, metrics: bool = True
) -> APIRouter:
    """The routes of the read-only policy API.

    Args:
        store: The store to answer from; None means ``request.app.state.policy_store``, the
            store `lifespan` opens, so the router can be included before the app starts.
        health: Include ``GET /healthz``. It and ``/metrics`` are mounted where the router is
            included, so at the host app's root unless a ``prefix`` is given; pass False for a
            host app that has its own.
        metrics: Include ``GET /metrics`` (Prometheus).
    """
    api = APIRouter()
    cache = _BodyCache()
    collector = StoreCollector()
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
    async def get_policy(request: Request) -> Response:
        body, etag = cache.get(live(request).current())
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        if _etag_matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/json", headers=headers)

    @api.get("/api/policy/status", response_model=StatusOut, summary="Store health and counters")
    async def get_status(request: Request) -> StatusOut:
        status = live(request).status()
        return StatusOut(
            version=status.current_version,
            digest=status.digest,
            loaded_at=status.last_success,
            reloads=status.reloads,
            failures=status.failures,
            last_error=error_out(status.last_error),
            brakes=(brakes := brakes_out(status.brakes)),
            active_overrides=brakes,
            adjustments=adjustments_out(status.brakes),
            next_change=status.next_change,
            commit=status.commit,
            serving_last_good=status.serving_last_good,
            env=[
                EnvOut(field=f, variable=v, direction=status.env_directions.get(f, "loosens"))
                for f, v in status.env.items()
            ],
            bundle=bundle_out(status),
        )

    @api.post(
        "/api/policy/brakes",
        response_model=ReceivedOut,
        status_code=201,
        responses={
            200: {"model": ReceivedOut, "description": "a replay: the brake is in force already"},
            202: {"model": ReceivedOut, "description": "kept: the brake starts at its 'from'"},
            400: {"model": ReceivedOut, "description": "not a signed brake"},
            403: {"model": ReceivedOut, "description": "no trusted signature, or not accepted"},
            408: {"model": ReceivedOut, "description": "the body took too long"},
            409: {"model": ReceivedOut, "description": "another brake has the name, or full"},
            413: {"model": ReceivedOut, "description": "too large"},
            422: {"model": ReceivedOut, "description": "a policy, or an invalid brake"},
        },
        summary="Apply a signed brake now (it can only tighten)",
    )
    async def post_brake(request: Request) -> Response:
        store_ = live(request)
        body = bytearray()
        try:
            async with asyncio.timeout(_BODY_SECONDS):  # a sender trickling bytes is cut off
                async for chunk in request.stream():
                    body += chunk
                    if len(body) > MAX_SENT:
                        return _received(413, Received("malformed", f"over {MAX_SENT} bytes"))
        except TimeoutError:
            return _received(408, Received("malformed", "the body took too long to arrive"))
        received = await run_in_threadpool(store_.receive_brake, bytes(body))
        return _received(_STATUS[received.outcome], received, store_)

    @api.get("/api/policy/risk_mode", response_model=RiskModeOut)
    async def get_risk_mode(request: Request) -> RiskModeOut:
        return RiskModeOut(risk_mode=live(request).current().policy.risk_mode.value)

    @api.get("/api/policy/allowed_symbols", response_model=AllowedSymbolsOut)
    async def get_allowed_symbols(request: Request) -> AllowedSymbolsOut:
        symbols = live(request).current().policy.allowed_symbols
        return AllowedSymbolsOut(allowed_symbols=list(symbols))

    @api.get("/api/policy/model_versions", response_model=ModelVersionsOut)
    async def get_model_versions(request: Request) -> ModelVersionsOut:
        versions = live(request).current().policy.model_versions
        return ModelVersionsOut(model_versions=dict(versions))

    for route, method in (
        ("/api/policy", "PATCH"),
        ("/api/policy/reset", "POST"),
        ("/api/policy/risk_mode/{mode}", "POST"),
    ):
        # Kept out of the OpenAPI document: it describes what the API does, and these
        # routes exist only to tell old clients of the write API how changes are made now.
        api.add_api_route(route, refuse, methods=[method], include_in_schema=False)

    async def get_metrics(request: Request) -> Response:
        collector.store = live(request)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    async def get_healthz(request: Request) -> HealthOut:
        # Never a failing status for a bad policy commit: restarting cannot fix it, and every
        # replica would fail its probe at once. The last good policy is still being served.
        error = live(request).status().last_error
        return HealthOut(status="degraded" if error else "ok", error=error_out(error))

    if metrics:
        api.add_api_route(
            "/metrics", get_metrics, response_class=Response, summary="Prometheus metrics"
        )
    if health:
        api.add_api_route(
            "/healthz",
            get_healthz,
            response_model=HealthOut,
            summary="Liveness: 200 even when degraded",
        )

    reads = [r for r in api.routes if isinstance(r, APIRoute) and "GET" in (r.methods or ())]
    for read in reads:
        api.add_api_route(
            read.path,
            read.endpoint,
            methods=["HEAD"],
            response_class=read.response_class,
            include_in_schema=False,
        )
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
        # The worker threads that take a sent brake, started now: the kill switch's first
        # brake must not wait for them on every replica at once.
        await run_in_threadpool(lambda: None)
        try:
            yield
        finally:
            store.close()

    app = FastAPI(
        title="policyctl",
        summary="Read-only view of the trading system's GlobalPolicy",
        lifespan=_lifespan,
        docs_url=None,  # served below from installed files: a CDN is out of reach air-gapped
        redoc_url=None,
    )
    app.state.policy_store = store  # before the server starts, so serve can say what it serves
    app.include_router(router())
    _offline_docs(app)
    return app


def _offline_docs(app: FastAPI) -> None:
    """/docs with Swagger UI's files from the swagger-ui-bundle package, not a public CDN."""
    try:
        from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]  # noqa: PLC0415
    except ImportError:  # the serve extra without it: no /docs rather than a blank page
        return
    from fastapi.openapi.docs import get_swagger_ui_html  # noqa: PLC0415
    from fastapi.responses import HTMLResponse  # noqa: PLC0415
    from fastapi.staticfiles import StaticFiles  # noqa: PLC0415

    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="policyctl",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )
