"""``policyctl serve --trust KEYDIR``: a real server serves only signed bundles, names the
bundle it serves in /api/policy/status and /metrics, refuses a tampered file (still serving the
last good one, health degraded) and applies the next signed bundle by itself."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from ..support.bundle import Desk

# A real `policyctl serve` process: about a second to start.
pytestmark = pytest.mark.slow
DEADLINE = 30.0


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(client: httpx.Client, route: str, ok: object) -> object:
    deadline = time.monotonic() + DEADLINE
    while True:
        try:
            body = client.get(route).json()
            if ok(body):  # type: ignore[operator]
                return body
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, route
        time.sleep(0.05)


def test_serve_with_trust(tmp_path: Path) -> None:
    desk = Desk(tmp_path)
    desk.publish(7)
    port = _port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QT_")}
    argv = [str(Path(sys.executable).parent / "policyctl"), "serve", str(desk.policy)]
    proc = subprocess.Popen(
        [*argv, "--port", str(port), "--trust", str(desk.trust)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            status = _wait(client, "/api/policy/status", lambda b: b["version"] == 7)
            assert isinstance(status, dict)
            bundle = status["bundle"]
            assert bundle["version"] == 7 and not bundle["stale"]
            assert set(bundle["files"]) == {"policy.yaml"}
            metrics = client.get("/metrics").text
            assert f'policyctl_bundle_info{{commit="{bundle["commit"]}"' in metrics
            assert "policyctl_bundle_stale 0.0" in metrics
            desk.policy.write_text(
                desk.policy.read_text().replace("max_positions: 5", "max_positions: 9")
            )
            health = _wait(client, "/healthz", lambda b: b["status"] == "degraded")
            assert isinstance(health, dict) and "not the one signed" in health["error"]["message"]
            assert client.get("/api/policy").json()["max_positions"] == 5  # the last good
            metrics = client.get("/metrics").text  # what the alert rules read
            assert 'policyctl_failures_total{reason="bundle"} 1.0' in metrics
            assert "policyctl_bundle_expiry_timestamp_seconds " in metrics
            desk.publish(8)
            _wait(client, "/api/policy/status", lambda b: b["version"] == 8)
            assert client.get("/healthz").json()["status"] == "ok"
    finally:
        proc.terminate()
        proc.wait(timeout=DEADLINE)
        assert proc.stderr is not None
        assert "Traceback" not in proc.stderr.read()
        proc.stderr.close()
