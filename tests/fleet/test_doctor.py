"""policyctl doctor: one line per finding with its fix, exit 1 on a problem; each check on the
layout it is about (real files, a ConfigMap layout, a git-sync layout, permissions)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from policyctl.cli import main
from policyctl.fleet import examine

from ..support.policy import VALID

Capture = pytest.CaptureFixture[str]


def test_a_healthy_file_has_no_problem(tmp_path: Path, capsys: Capture) -> None:
    (tmp_path / "policy.yaml").write_text(VALID)
    (tmp_path / "overrides").mkdir()
    assert main(["doctor", str(tmp_path / "policy.yaml")]) == 0
    assert "no problem found" in capsys.readouterr().out


def test_a_missing_file_and_an_unreadable_overrides_directory(
    tmp_path: Path, capsys: Capture
) -> None:
    assert main(["doctor", str(tmp_path / "policy.yaml")]) == 1
    assert "problem: " in capsys.readouterr().out
    (tmp_path / "policy.yaml").write_text(VALID)
    (tmp_path / "overrides").write_text("not a directory")
    assert main(["doctor", str(tmp_path / "policy.yaml")]) == 1
    out = capsys.readouterr().out
    assert "overrides directory" in out and "fix: give the service read" in out


def test_layouts_are_named(tmp_path: Path) -> None:
    configmap = tmp_path / "cm"
    data = configmap / "..2026_11_28"
    data.mkdir(parents=True)
    (data / "policy.yaml").write_text(VALID)
    (configmap / "..data").symlink_to(data.name)
    (configmap / "policy.yaml").symlink_to("..data/policy.yaml")
    notes = [f.what for f in examine(configmap / "policy.yaml", configmap / "overrides")]
    assert any("Kubernetes ConfigMap volume" in n for n in notes)
    sha = "a" * 40
    worktree = tmp_path / "git" / ".worktrees" / sha / "policy"
    worktree.mkdir(parents=True)
    (worktree / "policy.yaml").write_text(VALID)
    (tmp_path / "git" / "current").symlink_to(f".worktrees/{sha}")
    notes = [
        f.what for f in examine(tmp_path / "git" / "current" / "policy" / "policy.yaml", tmp_path)
    ]
    assert any(f"git-sync checkout, at commit {sha}" in n for n in notes)


# The two checks below need what the suite's own user cannot show: a user other than the
# file's owner, and a mount. They run doctor in a real other user (setpriv) and a real private
# mount namespace (unshare), and are skipped, saying why, only where those are not permitted.


def _runs(command: list[str]) -> bool:
    try:
        return subprocess.run(command, capture_output=True, timeout=30, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def _doctor_as_nobody(policy: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AS_NOBODY, sys.executable, "-m", "policyctl", "doctor", str(policy)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=policy.parent,
        check=False,
    )


def test_a_file_the_service_user_cannot_read_is_a_problem() -> None:
    if not _runs([*AS_NOBODY, sys.executable, "-c", "import policyctl"]):
        pytest.skip("cannot run a process as another user here (setpriv, as root)")
    directory = Path(tempfile.mkdtemp(prefix="doctor-"))  # not under pytest's 0700 tmp
    try:
        directory.chmod(0o755)
        policy, overrides = directory / "policy.yaml", directory / "overrides"
        policy.write_text(VALID)
        overrides.mkdir(mode=0o700)
        policy.chmod(0o600)
        result = _doctor_as_nobody(policy)
        assert result.returncode == 1, result.stdout + result.stderr
        assert f"{policy} is not readable by this user (uid 65534)" in result.stdout
        assert f"the overrides directory {overrides} cannot be read" in result.stdout
        policy.chmod(0o644)
        overrides.chmod(0o755)
        result = _doctor_as_nobody(policy)
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        shutil.rmtree(directory)


def test_a_file_mounted_on_its_own_is_a_problem(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(VALID)
    (tmp_path / "overrides").mkdir()
    mount = 'mount --bind "$1" "$1" && exec "$2" -m policyctl doctor "$1"'
    unshare = ["unshare", "-m", "--propagation", "private", "sh", "-c"]
    if not _runs([*unshare, 'mount --bind "$1" "$1"', "probe", str(policy)]):
        pytest.skip("no private mount namespace here (unshare -m needs CAP_SYS_ADMIN)")
    result = subprocess.run(
        [*unshare, mount, "doctor", str(policy), sys.executable],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{policy} is a mount point of its own" in result.stdout
    assert "mount the ConfigMap's directory" in result.stdout
    assert main(["doctor", str(policy)]) == 0  # outside the namespace: no mount, no problem


@pytest.mark.parametrize(
    "layout",
    ["invalid policy", "broken brake", "brake not a brake file", "unknown env", "long name"],
)
def test_doctor_agrees_with_the_store(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    layout: str,
) -> None:
    """Where a store cannot start, doctor says so (exit 1), never "no problem" nor exit 3."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(VALID)
    (tmp_path / "overrides").mkdir()
    if layout == "invalid policy":
        policy.write_text(VALID.replace("max_positions: 5", "max_positions: 0"))
    elif layout == "broken brake":
        (tmp_path / "overrides" / "b.yaml").write_text("reason: [\n")
    elif layout == "brake not a brake file":
        (tmp_path / "overrides" / "b.YAML").write_text("reason: r\n")
    elif layout == "unknown env":
        monkeypatch.setenv("QT_MAX_POSITIONS", "many")
    else:
        policy = tmp_path / ("p" * 5000 + ".yaml")
    assert main(["doctor", str(policy)]) == 1
    out = capsys.readouterr().out
    assert "problem:" in out and "no problem found" not in out
    assert main(["doctor", str(tmp_path / "policy.yaml")]) == (0 if layout == "long name" else 1)


def test_a_policy_under_a_directory_the_user_may_not_enter_is_a_problem() -> None:
    """As another user, under a 0700 directory: doctor says so (it exited 3)."""
    if not _runs([*AS_NOBODY, sys.executable, "-c", "import policyctl"]):
        pytest.skip("cannot run a process as another user here (setpriv, as root)")
    directory = Path(tempfile.mkdtemp(prefix="doctor-"))
    try:
        (directory / "private").mkdir(mode=0o700)
        policy = directory / "private" / "policy.yaml"
        policy.write_text(VALID)
        result = _doctor_as_nobody(policy)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "problem:" in result.stdout and "internal error" not in result.stderr
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_the_trust_directory_is_examined(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With QT_POLICY_TRUST, as the service runs: the keys named, a key others may write is a
    problem, a bundle that does not verify is the store's problem, a stale one a problem."""
    from datetime import UTC, datetime, timedelta  # noqa: PLC0415

    from ..support.bundle import Desk  # noqa: PLC0415

    desk = Desk(tmp_path)
    desk.publish(7)
    overrides = desk.dir / "overrides"
    monkeypatch.delenv("QT_POLICY_TRUST", raising=False)
    said = [f.what for f in examine(desk.policy, overrides)]
    assert any("no trust directory (QT_POLICY_TRUST)" in w for w in said)
    monkeypatch.setenv("QT_POLICY_TRUST", str(desk.trust))
    (desk.trust).chmod(0o755)
    (desk.trust / "ci.pem").chmod(0o644)
    findings = examine(desk.policy, overrides)
    assert not [f for f in findings if f.level == "problem"], findings
    assert any("1 trusted key(s)" in f.what for f in findings)
    assert any("a signed bundle: version 7" in f.what for f in findings)
    (desk.trust / "ci.pem").chmod(0o666)
    assert any("writable by others" in f.what for f in examine(desk.policy, overrides))
    (desk.trust / "ci.pem").chmod(0o644)
    desk.policy.write_text(VALID.replace("max_positions: 5", "max_positions: 4"))
    problems = [f.what for f in examine(desk.policy, overrides) if f.level == "problem"]
    assert any("its SHA-256 is not the one signed" in w for w in problems)
    past = datetime.now(UTC) - timedelta(days=3)
    desk.publish(7, signed_at=past, valid_for=timedelta(days=1))
    problems = [f.what for f in examine(desk.policy, overrides) if f.level == "problem"]
    assert any("expired at" in w for w in problems)
