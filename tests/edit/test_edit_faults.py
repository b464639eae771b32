"""`set` against odd layouts and file-system faults: every layout the reader accepts is edited
with every other byte kept, or refused with a reason; faults are exit 2 with a message."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import policyctl
from policyctl.cli import main
from policyctl.edit import set_value

from ..support.policy import VALID

Capture = pytest.CaptureFixture[str]
BLOCK_VERSIONS = VALID.replace(
    'model_versions: {xgboost: "v12", lstm: "3.10"}\n',
    "model_versions:\n  xgboost: v12\n  lstm: >-\n    3.10\n\n# models end\n",
).replace('last_updated: "2026-11-27T10:00:00Z"\n', "")


def _write(tmp_path: Path, text: str, newline: str = "\n") -> Path:
    path = tmp_path / "policy.yaml"
    path.write_bytes(text.replace("\n", newline).encode())
    return path


def test_a_folded_block_last_in_a_map_keeps_what_follows(tmp_path: Path) -> None:
    path = _write(tmp_path, BLOCK_VERSIONS)
    set_value(path, "model_versions.lstm", '"3.11"')
    text = path.read_text()
    assert '  lstm: "3.11"\n\n# models end\n' in text
    assert policyctl.load_policy(path, env={}).policy.model_versions["lstm"] == "3.11"


def test_a_literal_block_refusal_names_a_real_line(tmp_path: Path, capsys: Capture) -> None:
    text = VALID.replace("risk_mode: NORMAL  # house default\n", "risk_mode: |-\n  NORMAL\n\n")
    path = _write(tmp_path, text)
    assert policyctl.load_policy(path, env={}).policy.risk_mode == "NORMAL"
    before = path.read_bytes()
    assert main(["set", "max_positions", "200", str(path)]) == 1  # 200 x 1% is over 100%
    err = capsys.readouterr().err
    line = int(err.split(str(path) + ":", 1)[1].split(":")[0])
    assert text.splitlines()[line - 1].startswith(("max_risk_per_trade", "max_positions")), err
    assert path.read_bytes() == before


def test_a_literal_block_last_in_a_map_keeps_what_follows(tmp_path: Path) -> None:
    path = _write(tmp_path, BLOCK_VERSIONS.replace("lstm: >-", "lstm: |-"))
    set_value(path, "model_versions.lstm", '"3.11"')
    assert '  lstm: "3.11"\n\n# models end\n' in path.read_text()


def test_a_crlf_file_stays_crlf(tmp_path: Path) -> None:
    path = _write(tmp_path, VALID.replace('last_updated: "2026-11-27T10:00:00Z"\n', ""), "\r\n")
    set_value(path, "model_versions.gru", '"1"')
    set_value(path, "max_positions", "4")
    data = path.read_bytes()
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b'last_updated: "' in data


def test_a_file_ending_with_a_document_end_gets_last_updated_inside(tmp_path: Path) -> None:
    path = _write(tmp_path, VALID.replace('last_updated: "2026-11-27T10:00:00Z"\n', "") + "...\n")
    set_value(path, "max_positions", "4")
    text = path.read_text()
    assert text.endswith(
        "last_updated: " + text.split("last_updated: ")[1].split("\n")[0] + "\n...\n"
    )
    assert policyctl.load_policy(path, env={}).policy.max_positions == 4


def test_a_flow_top_level_gets_last_updated_inside(tmp_path: Path) -> None:
    flow = (
        "{version: 7, risk_mode: NORMAL, allowed_strategies: [a], allowed_symbols: [BTCUSDT],"
        " max_risk_per_trade: 0.01, max_positions: 5, global_min_confidence: 0.7,"
        " opp_rankings: {}, model_versions: {}}\n"
    )
    path = _write(tmp_path, flow)
    set_value(path, "max_positions", "4")
    snap = policyctl.load_policy(path, env={})
    assert snap.policy.max_positions == 4 and snap.policy.last_updated is not None
    assert path.read_text().startswith("{version: 8, risk_mode: NORMAL")


def test_an_empty_map_key_is_a_usage_error(tmp_path: Path, capsys: Capture) -> None:
    path = _write(tmp_path, VALID)
    before = path.read_bytes()
    assert main(["set", "model_versions.", '{"a": "1"}', str(path)]) == 2
    assert "names no entry" in capsys.readouterr().err
    assert path.read_bytes() == before


def test_a_symlink_loop_is_exit_2(tmp_path: Path, capsys: Capture) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.symlink_to(b)
    b.symlink_to(a)
    assert main(["set", "max_positions", "4", str(a)]) == 2
    err = capsys.readouterr().err
    assert "symlink" in err and "Traceback" not in err and "internal error" not in err


@contextlib.contextmanager
def _as_nobody() -> Iterator[None]:
    """Root passes every permission check: drop to nobody for the duration (effective ids
    only, so they can be restored); as another user, stay as is."""
    if os.geteuid() != 0:
        yield
        return
    os.setegid(65534)
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


@pytest.mark.parametrize("fault", ["unwritable directory", "unreadable file"])
def test_file_system_refusals_are_exit_2(fault: str, capsys: Capture) -> None:
    base = Path(tempfile.mkdtemp())
    base.chmod(0o755)  # traversable by the unprivileged user
    directory = base / "policy"
    directory.mkdir()
    path = directory / "policy.yaml"
    path.write_text(VALID)
    if fault == "unwritable directory":
        path.chmod(0o666)
        directory.chmod(0o555)
    else:
        path.chmod(0o000)
    try:
        with _as_nobody():
            status = main(["set", "max_positions", "4", str(path)])
    finally:
        directory.chmod(0o755)
        path.chmod(0o644)
    err = capsys.readouterr().err
    assert status == 2, err
    assert "permission denied" in err.lower() and "Traceback" not in err
    assert path.read_text() == VALID
    shutil.rmtree(base)


def test_set_keeps_owner_group_and_mode(tmp_path: Path) -> None:
    path = _write(tmp_path, VALID)
    uid, gid = (65534, 65534) if os.geteuid() == 0 else (os.getuid(), os.getgid())
    os.chown(path, uid, gid)
    path.chmod(0o2640)
    set_value(path, "max_positions", "4")
    after = path.stat()
    assert (after.st_uid, after.st_gid) == (uid, gid)
    assert stat.S_IMODE(after.st_mode) == 0o2640


def test_stale_temporary_files_are_removed(tmp_path: Path) -> None:
    path = _write(tmp_path, VALID)
    stale = tmp_path / ".policy.yaml.abc123.tmp"  # what a set killed by -9 leaves
    stale.write_text("half")
    stale.chmod(0o600)
    other = tmp_path / ".other.yaml.abc123.tmp"
    other.write_text("not ours")
    set_value(path, "max_positions", "4")
    assert not stale.exists() and other.exists()
