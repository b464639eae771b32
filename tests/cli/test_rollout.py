"""rollout status against five real `policyctl serve` processes on loopback: all current is exit
0; a replica refusing a bad file, or one killed, is exit 1 with the laggard named and why."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from policyctl.cli import main

from ..support.policy import VALID
from ..support.readme import documented

Capture = pytest.CaptureFixture[str]
NEW = VALID.replace("version: 7", "version: 8")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[list[tuple[str, Path, subprocess.Popen[str]]]]:
    running = []
    env = {k: v for k, v in os.environ.items() if not k.startswith("QT_")}
    for n in range(5):
        policy = tmp_path / f"r{n}" / "policy.yaml"
        policy.parent.mkdir()
        policy.write_text(VALID)
        port = _port()
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "policyctl"),
                "serve",
                str(policy),
                "--port",
                str(port),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        running.append((f"http://127.0.0.1:{port}", policy, proc))
    for _, _, proc in running:
        assert proc.stdout is not None and "serving http://" in proc.stdout.readline()
    yield running
    for _, _, proc in running:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()


def _rollout(urls: list[str], text: str, *extra: str) -> int:
    digest = hashlib.sha256(text.encode()).hexdigest()
    argv = ["rollout", "status", *urls, "--expect-digest", digest, "--interval", "0.1"]
    return main([*argv, *extra])


@pytest.mark.slow  # rollout against 5 real `policyctl serve` processes
def test_all_current_then_laggards_named(
    replicas: list[tuple[str, Path, subprocess.Popen[str]]], capsys: Capture, tmp_path: Path
) -> None:
    urls = [url for url, _, _ in replicas]
    assert _rollout(urls, VALID, "--timeout", "10") == 0
    assert "all 5 replicas serve" in capsys.readouterr().out
    for _, policy, _ in replicas[:3]:
        policy.write_text(NEW)
    replicas[3][1].write_text("version: [")
    replicas[4][2].kill()
    replicas[4][2].wait()
    listed = tmp_path / "replicas.txt"
    listed.write_text("# the fleet\n" + "\n".join(urls) + "\n")
    assert _rollout([], NEW, "--replicas-file", str(listed), "--timeout", "5") == 1
    out = capsys.readouterr().out
    assert "2 of 5 replicas do not serve" in out
    assert f"{urls[3]}: refusing: refuses the file:" in out
    assert f"{urls[4]}: unreachable" in out
    assert _rollout(urls[:3], NEW, "--timeout", "5", "--format", "json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == documented("rollout status")
    assert set(doc["replicas"][0]) == {"url", "state", "version", "digest", "age_seconds", "why"}
    assert doc["done"] and {r["state"] for r in doc["replicas"]} == {"current"}
    assert {r["version"] for r in doc["replicas"]} == {8}


def test_kubectl_json_on_stdin_and_usage_errors(
    monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    pods = {"items": [{"status": {"podIP": "127.0.0.1"}}, {"status": {"podIP": "$(reboot)"}}]}
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(pods)))
    digest = "0" * 64
    argv = ["rollout", "status", "-", "--port", "9", "--expect-digest", digest, "--timeout", "0.2"]
    assert main([*argv, "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert [r["url"] for r in doc["replicas"]] == ["http://127.0.0.1:9"]  # the bad IP is dropped
    assert doc["replicas"][0]["state"] == "unreachable"
    assert main(["rollout", "status", "http://x", "--expect-digest", "zz"]) == 2
    assert main(["rollout", "status", "--expect-digest", digest]) == 2
    assert (
        main(
            [
                "rollout",
                "status",
                "file:///etc/passwd",
                "--expect-digest",
                digest,
                "--timeout",
                "0.1",
            ]
        )
        == 2  # refused at once (it was exit 1 after the timeout)
    )
    assert "not an http(s) URL" in capsys.readouterr().err


DIGEST = "a" * 64
_STATUS = json.dumps({"version": 8, "digest": DIGEST, "loaded_at": "2026-12-04T10:00:00"})
ANSWERS = {
    # name: (bytes sent, then seconds between further single bytes: a slow or endless peer)
    "slow headers": (b"HTTP/1.1 200 OK\r\n", 0.5),
    "slow body": (b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n{", 0.5),
    "endless chunks": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 0.3),
    "not HTTP": (b"SSH-2.0-OpenSSH_9.6\r\n", None),
    "many headers": (b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 150 + b"\r\n{}", None),
    "long header": (b"HTTP/1.1 200 OK\r\nX-A: " + b"b" * 70_000 + b"\r\n\r\n{}", None),
    "redirect": (b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/\r\n\r\n", None),
    "nested": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n" + b"[" * 100_000 + b"]" * 100_000,
        None,
    ),
    "no timezone": (
        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(_STATUS), _STATUS.encode()),
        None,
    ),
}


@pytest.fixture
def hostile() -> Iterator[dict[str, str]]:
    """A listening socket per hostile answer, served by threads that never stop on their own."""
    stop = threading.Event()
    urls = {}
    servers = []
    for name, (sent, drip) in ANSWERS.items():
        server = socket.create_server(("127.0.0.1", 0))
        servers.append(server)
        urls[name] = f"http://127.0.0.1:{server.getsockname()[1]}"

        piece = b"1\r\nx\r\n" if "chunk" in name else b"x"

        def serve(
            server: socket.socket = server,
            sent: bytes = sent,
            drip: float | None = drip,
            piece: bytes = piece,
        ) -> None:
            server.settimeout(0.2)
            while not stop.is_set():
                try:
                    client, _ = server.accept()
                except OSError:
                    continue
                with contextlib.suppress(OSError), client:
                    client.recv(65536)
                    client.sendall(sent)
                    while drip is not None and not stop.is_set():
                        client.sendall(piece)
                        time.sleep(drip)

        threading.Thread(target=serve, daemon=True).start()
    yield urls
    stop.set()
    for server in servers:
        server.close()


@pytest.mark.slow  # real sockets, and a deadline to wait out
def test_hostile_replicas_never_hold_it_past_its_timeout(
    hostile: dict[str, str], capsys: Capture
) -> None:
    started = time.monotonic()
    argv = ["rollout", "status", *hostile.values(), "--expect-digest", "b" * 64]
    assert main([*argv, "--timeout", "3", "--interval", "0.5"]) == 1
    assert time.monotonic() - started < 6  # 3 s and a round's grace, never 40 s
    out = capsys.readouterr().out
    for name, url in hostile.items():
        line = next(line for line in out.splitlines() if line.startswith(f"  {url}:"))
        if name == "no timezone":
            assert "behind" in line  # read, with no age: a time without its zone is no moment
        else:
            assert "unreachable" in line, (name, line)
    assert "http://127.0.0.1:1" not in out.replace(hostile["redirect"], "")  # not followed


def test_a_url_without_a_scheme_is_refused_at_once(capsys: Capture) -> None:
    started = time.monotonic()
    argv = ["rollout", "status", "10.0.0.1:8000", "--expect-digest", "a" * 64, "--timeout", "30"]
    assert main(argv) == 2
    assert time.monotonic() - started < 5
    assert "not an http(s) URL: 10.0.0.1:8000" in capsys.readouterr().err


def test_replicas_may_follow_the_options(capsys: Capture) -> None:
    """As deploy/README.md writes it: `rollout status --expect REV URL URL` (it was refused)."""
    argv = ["rollout", "status", "--expect-digest", "a" * 64, "http://127.0.0.1:1"]
    assert main([*argv, "http://127.0.0.1:2", "--timeout", "0.5"]) == 1
    assert "2 of 2 replicas do not serve" in capsys.readouterr().out


@pytest.mark.slow  # two real `policyctl serve` processes
def test_a_replica_missing_a_brake_of_the_revision_is_behind(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--expect REV compares what is in force: the policy file and the brakes active at REV."""
    from datetime import UTC, datetime, timedelta  # noqa: PLC0415

    from ..support.git import committed_repo, git  # noqa: PLC0415

    until = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    brake = f'reason: "cpi"\nuntil: "{until}"\nset: {{max_positions: 2}}\n'
    repo = committed_repo(tmp_path / "repo", VALID)
    (repo / "policy" / "overrides").mkdir()
    (repo / "policy" / "overrides" / "cpi.yaml").write_text(brake)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a brake")
    with _replicas(tmp_path, [{"cpi.yaml": brake}, {}]) as urls:
        monkeypatch.chdir(repo)
        argv = ["rollout", "status", *urls, "--expect", "HEAD", "--timeout", "3"]
        assert main([*argv, "--interval", "0.1"]) == 1
        out = capsys.readouterr().out
        assert "1 of 2 replicas do not serve" in out
        assert f"{urls[1]}: behind: brake cpi missing" in out
        assert main(["rollout", "status", urls[0], "--expect", "HEAD", "--timeout", "3"]) == 0
        assert main(["rollout", "status", urls[0], "--expect", "HEAD~1", "--timeout", "1"]) == 1
        assert "brake cpi not in the revision" in capsys.readouterr().out


@pytest.mark.slow  # two real `policyctl serve` processes
def test_rollout_proves_an_adjustment_reverted_everywhere(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After an adjustment ends in git, --expect REV finds any replica still serving it."""
    from datetime import UTC, datetime, timedelta  # noqa: PLC0415

    from ..support.git import committed_repo  # noqa: PLC0415

    until = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    start = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    adjustment = (
        f'kind: adjustment\nreason: "rebalance"\nticket: "RISK-1"\nfrom: "{start}"\n'
        f'until: "{until}"\nset: {{max_positions: 8}}\n'
    )
    repo = committed_repo(tmp_path / "repo", VALID)  # main: the adjustment ended (removed)
    with _replicas(tmp_path, [{"rebalance.yaml": adjustment}, {}]) as urls:
        monkeypatch.chdir(repo)
        argv = ["rollout", "status", *urls, "--expect", "HEAD", "--timeout", "2"]
        assert main([*argv, "--interval", "0.1"]) == 1
        out = capsys.readouterr().out
        assert f"{urls[0]}: behind: adjustment rebalance not in the revision (not reverted)" in out
        assert main(["rollout", "status", urls[1], "--expect", "HEAD", "--timeout", "2"]) == 0


@contextlib.contextmanager
def _replicas(tmp_path: Path, overrides: list[dict[str, str]]) -> Iterator[list[str]]:
    """Real `policyctl serve` replicas of VALID, each with its own override files."""
    running, urls = [], []
    env = {k: v for k, v in os.environ.items() if not k.startswith("QT_")}
    for n, files in enumerate(overrides):
        policy = tmp_path / f"r{n}" / "policy.yaml"
        (policy.parent / "overrides").mkdir(parents=True)
        policy.write_text(VALID)
        for name, text in files.items():
            (policy.parent / "overrides" / name).write_text(text)
        port = _port()
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "policyctl"), "serve", str(policy), "--port",
             str(port)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
        )  # fmt: skip
        running.append(proc)
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for proc in running:
            assert proc.stdout is not None and "serving http://" in proc.stdout.readline()
        yield urls
    finally:
        for proc in running:
            proc.terminate()
            proc.wait(timeout=10)
            if proc.stdout:
                proc.stdout.close()
