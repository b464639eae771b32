"""HTTP figures: requests per second on one uvicorn worker, on loopback.

Run: .venv/bin/python benchmarks/bench_http.py    (or `make bench`)

GET /api/policy and a 304 revalidation (If-None-Match) from `policyctl serve`, beside a minimal
FastAPI app returning a constant dict of the same content (target: at least 0.8x of it). The
load comes from wrk (Debian package `wrk`) when installed, else from a bounded Python client
(which is then the bottleneck: its figures compare the servers less sharply).
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DURATION = 5
CONNECTIONS = 16

CONSTANT_APP = """
import json, os
from fastapi import FastAPI
BODY = json.loads(open(os.environ["BENCH_BODY"]).read())
app = FastAPI()

@app.get("/api/policy")
def get_policy():
    return BODY
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(port: int) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not start")


def _wrk(url: str, headers: dict[str, str]) -> float:
    args = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{DURATION}s"]
    for key, value in headers.items():
        args += ["-H", f"{key}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert match, out
    if "Non-2xx or 3xx responses" in out:
        raise RuntimeError(f"errors while loading {url}:\n{out}")
    return float(match[1])


def _python_load(port: int, path: str, headers: dict[str, str]) -> float:
    count = [0] * CONNECTIONS
    stop = time.monotonic() + DURATION

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port)
        while time.monotonic() < stop:
            conn.request("GET", path, headers=headers)
            conn.getresponse().read()
            count[i] += 1
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(CONNECTIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(count) / DURATION


def _load(port: int, path: str, headers: dict[str, str] | None = None) -> float:
    if shutil.which("wrk"):
        return _wrk(f"http://127.0.0.1:{port}{path}", headers or {})
    return _python_load(port, path, headers or {})


def main() -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QT_")}
    with tempfile.TemporaryDirectory() as tmp:
        policy = Path(tmp) / "policy.yaml"
        policy.write_text((ROOT / "policy" / "policy.yaml").read_text())
        ours_port, constant_port = _port(), _port()
        ours = subprocess.Popen(
            [str(BIN / "policyctl"), "serve", str(policy), "--port", str(ours_port)], env=env
        )
        try:
            _wait(ours_port)
            conn = http.client.HTTPConnection("127.0.0.1", ours_port)
            conn.request("GET", "/api/policy")
            response = conn.getresponse()
            body, etag = response.read(), response.getheader("ETag") or ""
            conn.close()
            (Path(tmp) / "body.json").write_bytes(body)
            (Path(tmp) / "constant_app.py").write_text(CONSTANT_APP)
            constant = subprocess.Popen(
                [
                    str(BIN / "python"),
                    "-m",
                    "uvicorn",
                    "constant_app:app",
                    "--port",
                    str(constant_port),
                    "--log-level",
                    "warning",
                ],
                cwd=tmp,
                env={**env, "BENCH_BODY": str(Path(tmp) / "body.json")},
            )
            try:
                _wait(constant_port)
                rows = {
                    "constant FastAPI app, GET": _load(constant_port, "/api/policy"),
                    "policyctl, GET /api/policy": _load(ours_port, "/api/policy"),
                    "policyctl, 304 revalidation": _load(
                        ours_port, "/api/policy", {"If-None-Match": etag}
                    ),
                }
            finally:
                constant.terminate()
                constant.wait()
        finally:
            ours.terminate()
            ours.wait()
    tool = "wrk -t1 -c16" if shutil.which("wrk") else "Python client, 16 connections"
    print(f"requests/s, one uvicorn worker, {DURATION} s each, {tool}; body {len(body)} bytes")
    base = rows["constant FastAPI app, GET"]
    for label, rps in rows.items():
        print(f"  {label:<32} {rps:9.0f} req/s  {rps / base:5.2f}x (target >= 0.8x)")
    return {"requests_per_second": rows, "load_tool": tool, "body_bytes": len(body)}


if __name__ == "__main__":
    main()
