"""The read-only HTTP view: a real server (`policyctl serve` in a subprocess) on loopback, real
requests; and schemathesis against the app's own OpenAPI document."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from schemathesis.core.result import Ok

from policyctl import PolicyStore
from policyctl.http import create_app, lifespan, router

from ..support.policy import VALID

DEADLINE = 10.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# A test that starts one (a `policyctl serve` process: a fresh interpreter with the server stack,
# about a second) is marked slow, but for the smoke set the quick loop keeps: read routes, HEAD,
# the write routes' 405 and their advice, its quoting, ETag/304. The in-process tests further down
# (routes, metrics, brakes, OpenAPI conformance) all stay quick.
class Server:
    def __init__(self, policy: Path, *extra: str) -> None:
        self.policy = policy
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("QT_")}
        self.proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "policyctl"),
                "serve",
                str(policy),
                "--port",
                str(self.port),
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.client = httpx.Client(base_url=self.url, timeout=5)
        deadline = time.monotonic() + DEADLINE
        while True:
            try:
                self.client.get("/healthz")
                break
            except httpx.TransportError:
                assert self.proc.poll() is None, self.proc.communicate()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.05)

    def wait_for(self, route: str, predicate: Any) -> Any:
        deadline = time.monotonic() + DEADLINE
        while True:
            body = self.client.get(route).json()
            if predicate(body):
                return body
            assert time.monotonic() < deadline, body
            time.sleep(0.02)

    def stop(self) -> tuple[int, str]:
        self.client.close()
        self.proc.send_signal(signal.SIGTERM)
        self.out, err = self.proc.communicate(timeout=DEADLINE)
        return self.proc.returncode, err


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(VALID)
    srv = Server(policy)
    yield srv
    if srv.proc.poll() is None:
        srv.stop()


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One real server for the tests that only read from it (and check that writes change
    nothing): starting one costs half a second each."""
    policy = tmp_path_factory.mktemp("shared") / "policy.yaml"
    policy.write_text(VALID)
    srv = Server(policy)
    yield srv
    if srv.proc.poll() is None:
        srv.stop()


def test_read_routes(shared: Server) -> None:
    body = shared.client.get("/api/policy").json()
    assert body["version"] == 7 and body["risk_mode"] == "NORMAL"
    assert body["allowed_symbols"] == ["BTCUSDT", "ETHUSDT"]
    assert (
        body["model_versions"] == {"xgboost": "v12", "lstm": "3.10"} and len(body["digest"]) == 64
    )
    assert shared.client.get("/api/policy/risk_mode").json() == {"risk_mode": "NORMAL"}
    assert shared.client.get("/api/policy/allowed_symbols").json() == {
        "allowed_symbols": ["BTCUSDT", "ETHUSDT"]
    }
    assert (
        shared.client.get("/api/policy/model_versions").json()["model_versions"]["lstm"] == "3.10"
    )
    status = shared.client.get("/api/policy/status").json()
    assert status["version"] == 7 and status["last_error"] is None and status["failures"] == 0
    assert shared.client.get("/healthz").json() == {"status": "ok", "error": None}


@pytest.mark.parametrize(
    ("method", "route"),
    [
        ("PATCH", "/api/policy"),
        ("POST", "/api/policy/reset"),
        ("POST", "/api/policy/risk_mode/AGGRESSIVE"),
    ],
)
def test_write_routes_are_405_and_change_nothing(shared: Server, method: str, route: str) -> None:
    before = shared.policy.read_bytes()
    response = shared.client.request(method, route, json={"risk_mode": "AGGRESSIVE"})
    assert response.status_code == 405 and response.headers["allow"] == "GET, HEAD"
    assert "pull request" in response.json()["how"] and "policyctl set" in response.json()["how"]
    assert shared.policy.read_bytes() == before
    assert shared.client.get("/api/policy/risk_mode").json() == {"risk_mode": "NORMAL"}
    command = {
        "/api/policy": "Run: policyctl propose 'risk_mode=\"AGGRESSIVE\"' -m WHY.",
        "/api/policy/reset": "Run: policyctl propose 'risk_mode=\"NORMAL\"'"
        " 'allowed_strategies=[]'",
        "/api/policy/risk_mode/AGGRESSIVE": "Run: policyctl propose 'risk_mode=\"AGGRESSIVE\"'"
        " -m 'risk mode AGGRESSIVE'.",
    }[route]
    assert response.json()["how"].startswith(command)


def test_a_write_request_never_reaches_a_shell_unquoted(shared: Server) -> None:
    hostile = {"risk_mode": "$(rm -rf ~)'; echo owned"}
    how = shared.client.patch("/api/policy", json=hostile).json()["how"]
    assert "'risk_mode=\"$(rm -rf ~)'\"'\"'; echo owned\"'" in how
    how = shared.client.post("/api/policy/risk_mode/defensive").json()["how"]
    assert 'risk_mode="DEFENSIVE"' in how and "policyctl brake risk_mode=DEFENSIVE" in how
    how = shared.client.post("/api/policy/risk_mode/PANIC").json()["how"]
    assert how.startswith("'PANIC' is not a risk mode")


def test_etag_and_304(shared: Server) -> None:
    first = shared.client.get("/api/policy")
    etag = first.headers["etag"]
    assert etag == f'"{first.json()["digest"]}"'
    again = shared.client.get("/api/policy", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    weak = shared.client.get("/api/policy", headers={"If-None-Match": f'"x", W/{etag}'})
    assert weak.status_code == 304
    assert shared.client.get("/api/policy", headers={"If-None-Match": '"x"'}).status_code == 200


@pytest.mark.slow
def test_change_on_disk_is_served_and_bad_change_degrades(server: Server) -> None:
    old_etag = server.client.get("/api/policy").headers["etag"]
    server.policy.write_text(VALID.replace("version: 7", "version: 8"))
    server.wait_for("/api/policy", lambda b: b["version"] == 8)
    assert server.client.get("/api/policy", headers={"If-None-Match": old_etag}).status_code == 200
    server.policy.write_text(VALID.replace("version: 7", "version: 9").replace("NORMAL", "PANIC"))
    health = server.wait_for("/healthz", lambda b: b["status"] == "degraded")
    assert health["error"]["line"] == 3 and health["error"]["path"] == "risk_mode"
    status = server.client.get("/api/policy/status").json()
    assert status["last_error"]["kind"] == "validation" and status["failures"] == 1
    assert status["last_error"]["file"] == str(server.policy)
    assert server.client.get("/api/policy").json()["version"] == 8  # last good still served
    assert server.client.get("/healthz").status_code == 200
    metrics = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(server.client.get("/metrics").text)
        for s in family.samples
    }
    assert metrics[("policyctl_policy_version", ())] == 8
    assert metrics[("policyctl_reloads_total", ())] == 1
    assert metrics[("policyctl_failures_total", (("reason", "validation"),))] == 1
    assert metrics[("policyctl_failures_total", (("reason", "syntax"),))] == 0
    assert metrics[("policyctl_refused_seconds", ())] >= 0
    assert ("policyctl_seconds_since_last_success", ()) in metrics
    server.policy.write_text(VALID.replace("version: 7", "version: 10"))
    server.wait_for("/healthz", lambda b: b["status"] == "ok")


@pytest.mark.slow
def test_sigterm_shuts_down_cleanly(server: Server) -> None:
    code, err = server.stop()
    assert code == 0 and "Traceback" not in err


@pytest.mark.slow
def test_serve_with_an_invalid_policy_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text(VALID.replace("NORMAL", "PANIC"))
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "policyctl"),
            "serve",
            str(bad),
            "--port",
            str(_free_port()),
        ],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )
    assert result.returncode == 1 and f"{bad}:3:12: risk_mode" in result.stderr
    assert "Traceback" not in result.stderr


def test_lifespan_and_router_in_an_existing_app(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(VALID)
    app = FastAPI(lifespan=lifespan(str(policy), env={}))
    app.include_router(router())  # before startup: answers from app.state.policy_store

    async def scenario() -> PolicyStore:
        async with app.router.lifespan_context(app):
            store: PolicyStore = app.state.policy_store
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
                assert (await client.get("/api/policy/risk_mode")).json() == {"risk_mode": "NORMAL"}
                assert "policyctl_policy_version 7.0" in (await client.get("/metrics")).text
            assert store.status().mode in ("inotify", "polling")
            return store

    store = asyncio.run(scenario())
    assert store._schedule.closed  # closed at shutdown


def test_the_core_library_does_not_import_the_server_stack() -> None:
    code = (
        "import sys, policyctl; policyctl.load_policy; print(sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('fastapi', 'uvicorn', 'prometheus_client', 'starlette')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# The app's own OpenAPI document drives schemathesis. Built at import (schemathesis needs the
# schema to parametrize the test), on a policy in a temporary directory, without a watcher.
_SCHEMA_DIR = tempfile.TemporaryDirectory(prefix="policyctl-openapi-")
(Path(_SCHEMA_DIR.name) / "policy.yaml").write_text(VALID)
schema = schemathesis.openapi.from_asgi(
    "/openapi.json",
    create_app(str(Path(_SCHEMA_DIR.name) / "policy.yaml"), env={}, watch=False),
)


OPERATIONS = [result.ok() for result in schema.get_all_operations() if isinstance(result, Ok)]


# One test id per operation (schemathesis' own parametrize gave them all the same id).
@pytest.mark.parametrize(
    "operation", OPERATIONS, ids=[f"{op.method.upper()} {op.path}" for op in OPERATIONS]
)
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_openapi_conformance(operation: Any, data: st.DataObject) -> None:
    case = data.draw(operation.as_strategy())
    case.call_and_validate()


READ_ROUTES = [
    "/api/policy",
    "/api/policy/status",
    "/api/policy/risk_mode",
    "/api/policy/allowed_symbols",
    "/api/policy/model_versions",
    "/metrics",
    "/healthz",
]


# One route through a real server in the quick loop; the other six are slow.
@pytest.mark.parametrize(
    "route",
    [pytest.param(r, marks=[] if r == "/api/policy" else [pytest.mark.slow]) for r in READ_ROUTES],
)
def test_every_read_route_answers_head(shared: Server, route: str) -> None:
    get, head = shared.client.get(route), shared.client.head(route)
    assert get.status_code == head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]


def _half_sent(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(b"GET /api/policy HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # never finished
    return sock


@pytest.mark.slow
def test_slow_clients_are_cut_off_and_healthz_answers_meanwhile(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(VALID)
    server = Server(policy, "--header-timeout", "1")
    slow = [_half_sent(server.port) for _ in range(60)]
    try:
        for _ in range(20):  # the probes, while sixty clients hold their connections
            assert server.client.get("/healthz").json()["status"] == "ok"
            assert server.client.get("/api/policy/status").status_code == 200
        for sock in slow:  # each cut off once its header deadline passed
            sock.settimeout(DEADLINE)
            assert sock.recv(1024) in (b"", b"HTTP/1.1 408 Request Timeout\r\n")
    finally:
        for sock in slow:
            sock.close()
        status, _ = server.stop()
    assert status == 0


def test_probes_answer_while_a_check_holds_the_store(tmp_path: Path) -> None:
    """A check that never ends (a file changing faster than the grace, for ever) used to block
    status() and, through it, /healthz, /metrics and /api/policy/status."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(VALID)
    store = PolicyStore(policy, env={})
    api = FastAPI()
    api.include_router(router(store))

    async def probe() -> list[int]:
        transport = httpx.ASGITransport(app=api)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            routes = ("/healthz", "/metrics", "/api/policy/status", "/api/policy")
            return [(await client.get(route)).status_code for route in routes]

    try:
        with store._check_lock:
            codes = asyncio.run(asyncio.wait_for(probe(), DEADLINE))
    finally:
        store.close()
    assert codes == [200, 200, 200, 200]


def test_schemathesis_sees_every_route() -> None:
    """Every read route, and the one that takes something in: a signed brake."""
    routes = [f"{op.method.upper()} {op.path}" for op in OPERATIONS]
    assert sorted(routes) == sorted([*(f"GET {r}" for r in READ_ROUTES), "POST /api/policy/brakes"])


@pytest.mark.slow
def test_serve_says_where_and_what_it_serves_and_when_it_stops(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(VALID)
    server = Server(policy, "--log-level", "info")
    server.client.get("/healthz")
    status, err = server.stop()
    out = server.out
    assert status == 0
    assert f"serving http://127.0.0.1:{server.port} (policy {policy}, version 7)" in out
    assert out.rstrip().endswith("stopped")
    assert '"GET /healthz HTTP/1.1" 200' in out + err  # the access log at --log-level info


@pytest.mark.slow
def test_docs_are_served_from_installed_files(server: Server) -> None:
    page = server.client.get("/docs").text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets and all(a.startswith("/docs-assets/") for a in assets), assets
    for asset in assets:
        assert server.client.get(asset).status_code == 200
    assert server.client.get("/redoc").status_code == 404  # it would load from a CDN


def test_etag_names_the_effective_policy(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(VALID)
    tags = []
    for env in ({}, {"QT_MAX_POSITIONS": "2"}):
        app = FastAPI()
        store = PolicyStore(policy, env=env, watch=False)
        app.include_router(router(store))

        async def etag(app: FastAPI = app) -> str:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
                return (await client.get("/api/policy")).headers["etag"]

        tags.append(asyncio.run(etag()))
        store.close()
    assert tags[0] == f'"{PolicyStore(policy, env={}, watch=False).current().digest}"'
    assert tags[1] != tags[0] and tags[1].startswith(tags[0][:-1] + "-")


def test_router_mounts_health_and_metrics_only_when_asked(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(VALID)
    store = PolicyStore(policy, env={}, watch=False)
    try:
        paths = {r.path for r in router(store, health=False, metrics=False).routes}  # type: ignore[attr-defined]
        assert "/healthz" not in paths and "/metrics" not in paths and "/api/policy" in paths
        assert {"/healthz", "/metrics"} <= {r.path for r in router(store).routes}  # type: ignore[attr-defined]
    finally:
        store.close()


def test_brakes_show_in_the_policy_status_and_metrics(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(VALID)
    (tmp_path / "overrides").mkdir()
    until = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    (tmp_path / "overrides" / "calm.yaml").write_text(
        f'reason: "CPI print"\nuntil: "{until}"\nset: {{risk_mode: DEFENSIVE}}\n'
    )
    start = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    (tmp_path / "overrides" / "rebalance.yaml").write_text(
        'kind: adjustment\nreason: "index rebalance"\nticket: "RISK-1"\n'
        f'from: "{start}"\nuntil: "{until}"\nset: {{max_positions: 8}}\n'
    )
    app = FastAPI()
    with PolicyStore(policy, env={}, watch=False) as store:
        app.include_router(router(store))

        async def fetch() -> tuple[httpx.Response, httpx.Response, str]:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
                served = await client.get("/api/policy")
                status = await client.get("/api/policy/status")
                sent = await client.post("/api/policy/brakes", content=b"{}")
                assert sent.json()["brakes"] == ["calm"]  # what is in force: brakes alone
                return served, status, (await client.get("/metrics")).text

        served, status, metrics = asyncio.run(fetch())
        assert [a.name for a in store.status().adjustments] == ["rebalance"]
        assert [a.name for a in store.current().adjustments] == ["rebalance"]
    brake = {"name": "calm", "reason": "CPI print", "until": until}
    assert served.json()["risk_mode"] == "DEFENSIVE"
    assert served.json()["brakes"] == [brake] == served.json()["active_overrides"]
    assert served.headers["etag"].startswith(f'"{store.current().digest}-')
    assert status.json()["brakes"] == [brake] and status.json()["next_change"] == until
    assert status.json()["active_overrides"] == [brake]  # the first name, kept
    assert "policyctl_active_brakes 1.0" in metrics and "policyctl_active_overrides 1.0" in metrics
    old = re.search(r'policyctl_override_seconds_remaining\{name="calm"\} (\S+)', metrics)
    assert old is not None and 0 < float(old.group(1)) <= 3600
    remaining = re.search(r'policyctl_brake_seconds_remaining\{name="calm"\} (\S+)', metrics)
    assert remaining and 3500 < float(remaining.group(1)) <= 3600
    # The temporary adjustment beside it: never listed as a brake, and told apart everywhere.
    adjustment = {"name": "rebalance", "reason": "index rebalance", "ticket": "RISK-1"}
    assert served.json()["max_positions"] == 8
    assert served.json()["adjustments"] == [{**adjustment, "until": until}]
    assert status.json()["adjustments"] == [{**adjustment, "until": until}]
    assert "policyctl_active_adjustments 1.0" in metrics
    reverts = re.search(
        r'policyctl_adjustment_seconds_remaining\{name="rebalance"\} (\S+)', metrics
    )
    assert reverts and 3500 < float(reverts.group(1)) <= 3600


def test_logged_and_dropped_decisions_are_counted_in_the_metrics(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(VALID)
    app = FastAPI()
    with PolicyStore(policy, env={}, watch=False, decision_log=tmp_path / "d.jsonl") as store:
        app.include_router(router(store))
        for _ in range(3):
            store.decide(symbol="BTCUSDT", strategy="trend_follow", confidence=0.9)
        assert store._log is not None
        store._log.limit = 0  # a full queue: the next decision is dropped, and counted
        store.decide(symbol="BTCUSDT", strategy="trend_follow", confidence=0.9)
        store._log.limit = 10
        deadline = time.monotonic() + 10
        while store.status().decisions_logged < 3 and time.monotonic() < deadline:
            time.sleep(0.01)

        async def scrape() -> str:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
                return (await client.get("/metrics")).text

        metrics = asyncio.run(scrape())
    assert "policyctl_decisions_logged_total 3.0" in metrics
    assert "policyctl_decisions_dropped_total 1.0" in metrics


def test_the_environment_s_changes_show_with_their_direction(tmp_path: Path) -> None:
    """Deployments own QT_*, the risk desk owns the file: a loosening by the environment is
    visible in status(), /api/policy/status and /metrics (alerted on in deploy/)."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(VALID)
    env = {"QT_MAX_POSITIONS": "9", "QT_RISK_MODE": "defensive"}
    app = FastAPI()
    with PolicyStore(policy, env=env, watch=False) as store:
        app.include_router(router(store))
        assert store.status().env_directions == {
            "risk_mode": "tightens",
            "max_positions": "loosens",
        }

        async def fetch() -> tuple[httpx.Response, str]:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
                status = await client.get("/api/policy/status")
                return status, (await client.get("/metrics")).text

        status, metrics = asyncio.run(fetch())
    assert sorted(status.json()["env"], key=lambda e: e["field"]) == [
        {"field": "max_positions", "variable": "QT_MAX_POSITIONS", "direction": "loosens"},
        {"field": "risk_mode", "variable": "QT_RISK_MODE", "direction": "tightens"},
    ]
    assert 'policyctl_env_override{direction="loosens",field="max_positions"} 1.0' in metrics
    assert 'policyctl_env_override{direction="tightens",field="risk_mode"} 1.0' in metrics


def test_the_readme_names_every_field_of_the_policy_and_status_answers() -> None:
    """The README's HTTP table cannot fall behind the answers (four fields of the status were
    missing)."""
    from policyctl.http._responses import PolicyOut, StatusOut  # noqa: PLC0415 (the shapes)

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for route, model in (("GET /api/policy", PolicyOut), ("GET /api/policy/status", StatusOut)):
        row = re.search(rf"^\| `{re.escape(route)}` \| `\{{(.*?)\}}`", readme, re.M)
        assert row, route
        assert set(re.findall(r'"(\w+)"', row.group(1))) == set(model.model_fields), route
