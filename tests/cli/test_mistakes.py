"""Ordinary mistakes end as exit 2 with one line, never as an internal error (exit 3)."""

from __future__ import annotations

import contextlib
import os
import pty
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from policyctl.cli import main

from ..support.policy import VALID

Capture = pytest.CaptureFixture[str]
EXE = str(Path(sys.executable).parent / "policyctl")


def _run(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [EXE, *args], capture_output=True, text=True, check=False, timeout=60, **kwargs
    )


@pytest.mark.parametrize("command", [["set", "max_positions", "4"], ["reset", "--yes"]])
def test_editing_a_file_in_a_missing_directory_is_exit_2(
    tmp_path: Path, command: list[str], capsys: Capture
) -> None:
    assert main([*command, str(tmp_path / "missing" / "policy.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No such file or directory" in err


def test_serve_with_a_port_out_of_range_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text(VALID)
    result = _run("serve", str(tmp_path / "policy.yaml"), "--port", "99999")
    assert result.returncode == 2
    assert "'99999' is not a port (0 to 65535)" in result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr


def test_serve_with_an_unknown_host_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text(VALID)
    result = _run("serve", str(tmp_path / "policy.yaml"), "--host", "256.1.1.1")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "cannot listen on 256.1.1.1:8000: unknown host" in result.stderr


def test_serve_on_a_port_in_use_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text(VALID)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run("serve", str(tmp_path / "policy.yaml"), "--port", str(port))
    assert result.returncode == 2
    assert (
        result.stderr.strip() == f"error: cannot listen on 127.0.0.1:{port}: Address already in use"
    )


@pytest.mark.parametrize("command", [["schema"], ["env"], ["show", "--format", "json"]])
def test_a_closed_pipe_ends_quietly(command: list[str]) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first byte: `| head -c0`
    try:
        result = subprocess.run(
            [EXE, *command],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            cwd=Path(__file__).parents[2],
        )
    finally:
        os.close(write_end)
    assert result.stderr == ""
    assert result.returncode == 141  # 128 + SIGPIPE, as `yes | head -1` ends


@pytest.mark.parametrize(
    ("words", "said"),
    [
        (["max_postions", "4"], "did you mean 'max_positions'?"),
        (["max_positions", "=", "4"], "write max_positions=4 with no space around '='"),
        (["max_positions=", "4"], "write max_positions=4 with no space around '='"),
        (["max_positions=4", "risk_mode"], "risk_mode has no value: write risk_mode=VALUE"),
    ],
)
def test_set_says_what_was_meant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], words: list[str], said: str
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(VALID)
    main(["set", *words, str(policy)])
    assert said in capsys.readouterr().err
    assert policy.read_text() == VALID


@pytest.mark.parametrize("answer", [b"n\n", b"\x04"])  # "n", and Ctrl-D
def test_a_declined_reset_says_so(tmp_path: Path, answer: bytes) -> None:
    """Asked on a terminal (a real pseudo-terminal here) and declined: exit 1, 'not reset',
    the file unchanged (Ctrl-D was exit 3, 'n' a usage error)."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(VALID)
    leader, follower = pty.openpty()
    script = Path(sys.executable).parent / "policyctl"
    process = subprocess.Popen(
        [str(script), "reset", str(policy)], stdin=follower, stdout=follower, stderr=follower
    )
    os.close(follower)
    output = b""
    while b"[y/N]" not in output:
        output += os.read(leader, 1024)
    os.write(leader, answer)
    assert process.wait(timeout=30) == 1
    with contextlib.suppress(OSError):  # the terminal closes with the process
        while chunk := os.read(leader, 1024):
            output += chunk
    os.close(leader)
    assert b"not reset" in output and b"Traceback" not in output
    assert policy.read_text() == VALID
