"""The kill switch: a signed brake sent to 50 local replicas, until every one serves it.

Run: .venv/bin/python benchmarks/bench_kill_switch.py    (or `make bench`)

50 `policyctl serve --trust --signed-brakes` processes on 127.0.0.1 serve one signed bundle.
After a first brake (its send timed apart: the first a replica receives since it started), each
trial signs a new brake and measures, side by side:

- the command: ``policyctl brake ... --sign-with KEY --send URL...`` as a process, from its
  start to its exit (every replica has answered that the brake is in force: a replica answers
  after applying it), p50 and p99 over the trials. Target: p99 <= 1 s.
- the send alone (in this process: `send_all`), the same way;
- the floor: 50 concurrent round trips (``GET /healthz``) plus, measured apart, one replica's
  own work (one Ed25519 verification and one snapshot build, `PolicyStore.receive_brake`).

Beside them, the git + ConfigMap path: the kubelet's sync period (its documented default
``syncFrequency``, 1 minute, plus the ConfigMap cache's TTL), which no benchmark here can run.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from _policies import percentiles
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from policyctl import PolicyStore
from policyctl.fleet import send_all
from policyctl.pipeline import sign_brake, sign_bundle

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
REPLICAS = 50
TRIALS = 10


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pem(path: Path, key: Ed25519PrivateKey, public: bool) -> None:
    if public:
        data = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    else:
        data = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    path.write_bytes(data)


def _setup(root: Path) -> tuple[Path, Path, Ed25519PrivateKey]:
    ci, officer = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    (root / "trust" / "brakes").mkdir(parents=True)
    _pem(root / "trust" / "ci.pem", ci, public=True)
    _pem(root / "trust" / "brakes" / "officer.pem", officer, public=True)
    _pem(root / "officer.pem", officer, public=False)
    bundle = root / "bundle"
    (bundle / "overrides").mkdir(parents=True)
    text = (ROOT / "policy" / "policy.yaml").read_bytes()
    (bundle / "policy.yaml").write_bytes(text)
    envelope = sign_bundle(
        {"policy.yaml": text}, version=1, commit=None, key=ci, now=datetime.now(UTC)
    )
    (bundle / "statement.dsse.json").write_bytes(envelope)
    return bundle / "policy.yaml", root / "trust", officer


def _brake(hours: float = 2) -> bytes:
    until = (datetime.now(UTC) + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f'reason: "bench"\nuntil: "{until}"\nset: {{max_positions: 2}}\n'.encode()


def _replica_work(root: Path, policy: Path, trust: Path, officer: Ed25519PrivateKey) -> float:
    """One replica's own work for a sent brake (verify, keep, build), timed in-process."""
    samples = []
    with PolicyStore(policy, env={}, watch=False, trust=trust, signed_brakes=root / "one") as store:
        for n in range(20):
            envelope = sign_brake(f"w{n}", _brake(), officer)
            started = time.perf_counter()
            assert store.receive_brake(envelope).outcome == "applied"
            samples.append(time.perf_counter() - started)
            (root / "one" / f"w{n}.dsse.json").unlink()
    return percentiles(samples)["p50"]


def _start(root: Path, policy: Path, trust: Path) -> tuple[list[subprocess.Popen[str]], list[str]]:
    """The replicas, started, answering, and the machine calm again."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QT_")}
    procs, urls = [], []
    for n in range(REPLICAS):
        port = _port()
        argv = [str(BIN / "policyctl"), "serve", str(policy), "--port", str(port)]
        argv += ["--trust", str(trust), "--signed-brakes", str(root / f"signed-{n}")]
        procs.append(
            subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
            )
        )
        urls.append(f"http://127.0.0.1:{port}")
    for proc in procs:
        assert proc.stdout is not None and "serving http://" in proc.stdout.readline()
    with httpx.Client(timeout=30) as client:
        for url in urls:
            client.get(f"{url}/healthz")
    time.sleep(3)
    return procs, urls


def _trials(
    root: Path, policy: Path, officer: Ed25519PrivateKey, urls: list[str]
) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QT_")}
    started = time.perf_counter()  # each replica's first brake since it started
    first = send_all(urls, sign_brake("first", _brake(), officer), timeout=30)
    first_s = time.perf_counter() - started
    assert all(s.outcome == "applied" for s in first), [s for s in first if not s.in_force][:3]
    commands, sends, floors = [], [], []
    for trial in range(TRIALS):
        argv = [str(BIN / "policyctl"), "brake", "max_positions=2", "--for", "2h"]
        argv += ["--reason", "bench", "--name", f"cmd-{trial}"]
        argv += ["--sign-with", str(root / "officer.pem"), str(policy), "--send", *urls]
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        commands.append(time.perf_counter() - started)
        assert done.returncode == 0, done.stdout[-500:]
        envelope = sign_brake(f"lib-{trial}", _brake(), officer)
        started = time.perf_counter()
        sent = send_all(urls, envelope, timeout=10)
        sends.append(time.perf_counter() - started)
        assert all(s.outcome == "applied" for s in sent)
        started = time.perf_counter()
        with httpx.Client(timeout=10) as client, ThreadPoolExecutor(REPLICAS) as pool:
            list(pool.map(lambda u: client.get(f"{u}/healthz"), urls))
        floors.append(time.perf_counter() - started)
    return {
        "command": percentiles(commands),
        "command_each_s": [round(c, 3) for c in commands],
        "send": percentiles(sends),
        "round_trips": percentiles(floors),
        "first_send_s": first_s,
    }


def main() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as name:
        root = Path(name)
        policy, trust, officer = _setup(root)
        procs, urls = _start(root, policy, trust)
        try:
            result = _trials(root, policy, officer, urls)
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=30)
                if proc.stdout:
                    proc.stdout.close()
        result["replica_work_s"] = _replica_work(root, policy, trust, officer)
    print(f"a signed brake to {REPLICAS} local replicas, {TRIALS} trials")
    for label, key in (("the command", "command"), ("the send alone", "send"),
                       ("50 round trips (floor)", "round_trips")):  # fmt: skip
        figure = result[key]
        print(
            f"  {label:<24} p50 {figure['p50'] * 1e3:7.1f} ms   p99 {figure['p99'] * 1e3:7.1f} ms"
        )
    print(f"  each command: {result['command_each_s']}")
    first = result["first_send_s"] * 1e3
    print(f"  the first brake the replicas ever received, the send: {first:.0f} ms")
    print(
        f"  one replica's own work (verify, keep, build): {result['replica_work_s'] * 1e3:.2f} ms"
    )
    print("  the git + ConfigMap path: the kubelet's sync (1 min by default) plus the cache TTL")
    return result


if __name__ == "__main__":
    main()
