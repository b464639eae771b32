"""The kill switch: a brake signed by a desk key, sent to every replica at once, verified by
each with its own trusted keys and applied on arrival; provable by rollout status; nothing
sent this way loosens anything. Real keys, real `policyctl serve` processes on 127.0.0.1."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from policyctl.cli import main
from policyctl.fleet import send_all
from policyctl.pipeline import sign_brake

from ..support.bundle import Desk

# Real servers: a second or so to start them.
pytestmark = pytest.mark.slow
Capture = pytest.CaptureFixture[str]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _key_file(key: Ed25519PrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


class Fleet:
    """Replicas serving one signed bundle, each with its own signed brakes' directory."""

    def __init__(self, root: Path, replicas: int) -> None:
        self.desk = Desk(root)
        self.desk.publish(7)
        self.officer = Ed25519PrivateKey.generate()
        (self.desk.trust / "brakes").mkdir()
        (self.desk.trust / "brakes" / "officer.pem").write_bytes(
            self.officer.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        self.officer_pem = _key_file(self.officer, root / "officer.pem")
        self.procs: list[subprocess.Popen[str]] = []
        self.urls: list[str] = []
        env = {k: v for k, v in os.environ.items() if not k.startswith("QT_")}
        for n in range(replicas):
            port = _port()
            argv = [str(Path(sys.executable).parent / "policyctl"), "serve", str(self.desk.policy)]
            argv += ["--port", str(port), "--trust", str(self.desk.trust)]
            argv += ["--signed-brakes", str(root / f"signed-{n}")]
            self.procs.append(
                subprocess.Popen(
                    argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
                )
            )
            self.urls.append(f"http://127.0.0.1:{port}")
        for proc in self.procs:
            assert proc.stdout is not None and "serving http://" in proc.stdout.readline()

    def close(self) -> None:
        for proc in self.procs:
            proc.terminate()
            proc.wait(timeout=10)
            if proc.stdout:
                proc.stdout.close()


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    running = Fleet(tmp_path, 3)
    yield running
    running.close()


def _brake_text(settings: str, hours: float = 1) -> bytes:
    until = (datetime.now(UTC) + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f'reason: "cpi"\nuntil: "{until}"\nset: {settings}\n'.encode()


def test_sent_to_every_replica_applied_at_once_and_proven(fleet: Fleet, capsys: Capture) -> None:
    argv = ["brake", "risk_mode=DEFENSIVE", "max_positions=2", "--for", "2h", "--reason", "cpi"]
    argv += ["--name", "cpi", "--sign-with", str(fleet.officer_pem), str(fleet.desk.policy)]
    assert main([*argv, "--send", *fleet.urls]) == 0
    out = capsys.readouterr().out
    assert out.count(": applied") == 3 and "in force on 3 of 3 replicas" in out
    for url in fleet.urls:
        policy = httpx.get(f"{url}/api/policy").json()
        assert policy["risk_mode"] == "DEFENSIVE" and policy["max_positions"] == 2
    assert 'policyctl_sent_brake{name="cpi"} 1.0' in httpx.get(f"{fleet.urls[0]}/metrics").text
    assert main(["rollout", "status", *fleet.urls, "--expect-brake", "cpi", "--timeout", "5"]) == 0
    assert "all 3 replicas serve brake cpi" in capsys.readouterr().out
    # The same signed brake sent again (as kept by a replica): a replay, harmless, said so.
    kept = (fleet.desk.dir.parent / "signed-0" / "cpi.dsse.json").read_bytes()
    for url in fleet.urls:
        answer = httpx.post(f"{url}/api/policy/brakes", content=kept)
        assert answer.status_code == 200 and answer.json()["outcome"] == "replay"
    # Signed anew with the same name and another window: a different brake, refused as such.
    again = [a if a != "2h" else "3h" for a in argv]
    assert main([*again, "--send", *fleet.urls, "--format", "json"]) == 1
    rows = json.loads(capsys.readouterr().out)["replicas"]
    assert {r["why"].split(":")[0] for r in rows} == {"conflict"}


def test_every_refusal(fleet: Fleet, capsys: Capture) -> None:
    url = fleet.urls[0]

    def post(body: bytes) -> httpx.Response:
        return httpx.post(f"{url}/api/policy/brakes", content=body, timeout=10)

    stranger = Ed25519PrivateKey.generate()
    answer = post(sign_brake("x", _brake_text("{max_positions: 1}"), stranger))
    assert answer.status_code == 403 and answer.json()["outcome"] == "unsigned"
    statement = (fleet.desk.dir / "statement.dsse.json").read_bytes()
    answer = post(statement)  # a policy's statement, signed by the bundle key: never a brake
    assert answer.status_code == 422 and answer.json()["outcome"] == "not_a_brake"
    assert post(b"{" * 50_000).status_code == 400  # deep, and not JSON
    assert post(b"[" * 30_000 + b"]" * 30_000).json()["outcome"] == "malformed"
    assert post(b"x" * (1 << 20)).status_code == 413  # stops reading past the limit
    lifted = _brake_text("{max_positions: 1}", hours=-1)
    answer = post(sign_brake("old", lifted, fleet.officer))
    assert answer.status_code == 422  # already lifted
    far = _brake_text("{max_positions: 1}").replace(
        b"reason", b'from: "2030-01-01T00:00:00Z"\nreason'
    )
    assert post(sign_brake("later", far, fleet.officer)).status_code == 422
    assert (
        post(sign_brake("Bad Name", _brake_text("{max_positions: 1}"), fleet.officer)).status_code
        == 422
    )
    first = sign_brake("same", _brake_text("{max_positions: 4}"), fleet.officer)
    assert post(first).status_code == 201
    other = sign_brake("same", _brake_text("{max_positions: 3}"), fleet.officer)
    assert post(other).status_code == 409  # another brake of that name
    # Nothing received can loosen: a looser value is a brake that changes nothing.
    loose = sign_brake(
        "loose", _brake_text("{max_positions: 500, risk_mode: AGGRESSIVE}"), fleet.officer
    )
    assert post(loose).status_code == 201
    policy = httpx.get(f"{url}/api/policy").json()
    assert policy["max_positions"] == 4 and policy["risk_mode"] == "NORMAL"
    # A temporary adjustment (which may loosen) is never accepted this way, even well signed.
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    adjustment = _brake_text("{max_positions: 9}").replace(
        b"reason", b'kind: adjustment\nticket: RISK-1\nfrom: "' + now + b'"\nreason'
    )
    answer = post(sign_brake("adjusted", adjustment, fleet.officer))
    assert answer.status_code == 422, answer.text
    assert "adjustment cannot be sent" in answer.json()["message"]
    assert httpx.get(f"{url}/api/policy").json()["max_positions"] == 4
    # The command line: a replica that refuses and one that does not answer; exit 1.
    argv = ["brake", "max_positions=3", "--for", "1h", "--reason", "r", "--name", "n2"]
    argv += ["--sign-with", _key_file(stranger, fleet.desk.dir.parent / "s.pem").as_posix()]
    dead = f"http://127.0.0.1:{_port()}"
    assert main([*argv, str(fleet.desk.policy), "--send", url, dead, "--timeout", "3"]) == 1
    out = capsys.readouterr().out
    assert f"{url}: refused: unsigned" in out and f"{dead}: unreachable" in out


def test_two_desks_at_once_both_apply_the_most_restrictive_wins(fleet: Fleet) -> None:
    url = fleet.urls[1]
    a = sign_brake("desk-a", _brake_text("{max_positions: 3}"), fleet.officer)
    b = sign_brake("desk-b", _brake_text("{max_positions: 2, risk_mode: DEFENSIVE}"), fleet.officer)
    with httpx.Client(timeout=10) as client:
        answers = [client.post(f"{url}/api/policy/brakes", content=body) for body in (a, b)]
    assert [r.status_code for r in answers] == [201, 201]
    policy = httpx.get(f"{url}/api/policy").json()
    assert policy["max_positions"] == 2 and policy["risk_mode"] == "DEFENSIVE"
    names = {b["name"] for b in httpx.get(f"{url}/api/policy/status").json()["brakes"]}
    assert {"desk-a", "desk-b"} <= names


def test_a_sent_brake_survives_a_restart(tmp_path: Path) -> None:
    fleet = Fleet(tmp_path, 1)
    try:
        body = sign_brake("cpi", _brake_text("{max_positions: 1}"), fleet.officer)
        assert httpx.post(f"{fleet.urls[0]}/api/policy/brakes", content=body).status_code == 201
    finally:
        fleet.close()
    port = _port()  # the same files, a new process: the sent brake is still in force
    env = {k: v for k, v in os.environ.items() if not k.startswith("QT_")}
    argv = [str(Path(sys.executable).parent / "policyctl"), "serve", str(fleet.desk.policy)]
    argv += ["--port", str(port), "--trust", str(fleet.desk.trust)]
    argv += ["--signed-brakes", str(tmp_path / "signed-0")]
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    try:
        assert proc.stdout is not None and "serving http://" in proc.stdout.readline()
        deadline = time.monotonic() + 10
        while httpx.get(f"http://127.0.0.1:{port}/api/policy").json()["max_positions"] != 1:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()


def test_what_an_outsider_broke_is_refused_or_held(fleet: Fleet, capsys: Capture) -> None:
    """Each was a false 201 or a stuck replica: a model pin, a bundle brake's name, the same
    name from two desks at once, a full directory of lifted brakes, a FIFO in the directory,
    a scheduled brake said to be in force, a URL that crashed the sender."""
    url = fleet.urls[2]
    signed = fleet.desk.dir.parent / "signed-2"

    def post(body: bytes) -> httpx.Response:
        return httpx.post(f"{url}/api/policy/brakes", content=body, timeout=10)

    pin = _brake_text('{model_versions: {lstm: "9.9"}}')
    answer = post(sign_brake("pin", pin, fleet.officer))
    assert answer.status_code == 422 and "may not pin model versions" in answer.json()["message"]
    assert str(signed) not in answer.text  # a replica's paths are nobody's business
    # The same name from two desks at once: one kept, the other a conflict, the file whole.
    bodies = [
        sign_brake("race", _brake_text(f"{{max_positions: {n}}}"), fleet.officer) for n in (2, 3)
    ]
    codes: list[int] = []
    threads = [
        threading.Thread(target=lambda b=b: codes.append(post(b).status_code)) for b in bodies
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [201, 409]
    assert (signed / "race.dsse.json").read_bytes() in bodies
    # A directory full of lifted brakes makes room; one full of live ones refuses more.
    lifted = _brake_text("{max_positions: 1}", hours=-1)
    for n in range(64 - len(list(signed.glob("*.dsse.json")))):
        (signed / f"old-{n}.dsse.json").write_bytes(sign_brake(f"old-{n}", lifted, fleet.officer))
    assert (
        post(sign_brake("fresh", _brake_text("{max_positions: 4}"), fleet.officer)).status_code
        == 201
    )
    assert not list(signed.glob("old-*"))
    for n in range(64 - len(list(signed.glob("*.dsse.json")))):
        (signed / f"live-{n}.dsse.json").write_bytes(
            sign_brake(f"live-{n}", _brake_text("{max_positions: 4}"), fleet.officer)
        )
    answer = post(sign_brake("one-more", _brake_text("{max_positions: 4}"), fleet.officer))
    assert answer.status_code == 409 and answer.json()["outcome"] == "full"
    for path in signed.glob("live-*"):
        path.unlink()
    # A FIFO where a brake would be kept: refused at once, never waited on.
    os.mkfifo(signed / "fifo.dsse.json")
    started = time.monotonic()
    answer = post(sign_brake("fifo", _brake_text("{max_positions: 4}"), fleet.officer))
    assert answer.status_code == 403 and time.monotonic() - started < 5
    (signed / "fifo.dsse.json").unlink()
    # Scheduled: kept, said as such (202), not "in force".
    soon = _brake_text("{max_positions: 1}", hours=3).replace(
        b"reason",
        f'from: "{(datetime.now(UTC) + timedelta(hours=1)):%Y-%m-%dT%H:%M:%SZ}"\nreason'.encode(),
    )
    answer = post(sign_brake("later", soon, fleet.officer))
    assert answer.status_code == 202 and answer.json()["outcome"] == "scheduled", answer.text
    # A URL that is not one: a line, at once, no traceback.
    argv = ["brake", "max_positions=3", "--for", "1h", "--reason", "r", "--name", "bad-url"]
    argv += ["--sign-with", str(fleet.officer_pem), str(fleet.desk.policy)]
    started = time.monotonic()
    assert main([*argv, "--send", "http://127.0.0.1:notaport", "--timeout", "20"]) == 1
    assert time.monotonic() - started < 10
    captured = capsys.readouterr()
    assert "unreachable" in captured.out and "Traceback" not in captured.err


def test_a_trickling_sender_is_cut_off_without_holding_anyone_up(fleet: Fleet) -> None:
    url = fleet.urls[0]
    host, port = url.removeprefix("http://").split(":")
    slow = socket.create_connection((host, int(port)))
    try:
        slow.sendall(
            b"POST /api/policy/brakes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n{"
        )
        started = time.monotonic()
        answers = []
        while time.monotonic() - started < 6:  # meanwhile, the replica answers everyone else
            begun = time.monotonic()
            assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
            answers.append(time.monotonic() - begun)
            slow.sendall(b" ")  # a byte now and then: never enough, never nothing
            time.sleep(0.5)
        assert max(answers) < 1.0
        slow.settimeout(10)
        reply = slow.recv(4096)
        assert reply.startswith(b"HTTP/1.1 408"), reply[:80]
    finally:
        slow.close()


def test_a_replica_killed_during_a_send_starts_whole(tmp_path: Path) -> None:
    """kill -9 while a brake lands: after a restart the replica serves, and a brake it said
    it applied is in force (written whole, or not at all)."""
    fleet = Fleet(tmp_path, 1)
    body = sign_brake("cpi", _brake_text("{max_positions: 1}"), fleet.officer)
    said: list[str] = []
    sender = threading.Thread(
        target=lambda: said.extend(s.outcome for s in send_all(fleet.urls, body, timeout=5))
    )
    sender.start()
    time.sleep(0.002)
    fleet.procs[0].kill()  # whenever it is: before, during or after the write
    fleet.procs[0].wait()
    sender.join()
    fleet.close()
    port = _port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QT_")}
    argv = [str(Path(sys.executable).parent / "policyctl"), "serve", str(fleet.desk.policy)]
    argv += ["--port", str(port), "--trust", str(fleet.desk.trust)]
    argv += ["--signed-brakes", str(tmp_path / "signed-0")]
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    try:
        assert proc.stdout is not None and "serving http://" in proc.stdout.readline()
        policy = httpx.get(f"http://127.0.0.1:{port}/api/policy").json()
        if said == ["applied"]:
            assert policy["max_positions"] == 1
        assert policy["max_positions"] in (1, 5)  # whole, either way
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()
