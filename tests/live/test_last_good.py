"""Safe start: every applied policy is kept (atomically) in ``last_good``; a store whose file is
unusable at start serves what is kept, if intact and valid, says so, and takes the file back as
soon as it is valid. A kept file cut or corrupted at any moment is never used."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import policyctl
from policyctl import PolicyStore

from ..support.policy import VALID

FILE_STATES = ["valid", "invalid", "missing"]
KEPT_STATES = ["valid", "corrupt", "absent"]


def _file(path: Path, state: str, version: int = 7) -> None:
    if state == "missing":
        path.unlink(missing_ok=True)
    elif state == "invalid":
        path.write_text(VALID.replace("max_positions: 5", "max_positions: 0"))
    else:
        path.write_text(VALID.replace("version: 7", f"version: {version}"))


def _kept(policy: Path, kept: Path, state: str) -> None:
    if state == "absent":
        return
    _file(policy, "valid", version=3)
    PolicyStore(policy, env={}, watch=False, last_good=kept).close()  # keeps version 3
    if state == "corrupt":
        data = bytearray(kept.read_bytes())
        data[len(data) // 2] ^= 0x01  # one flipped bit
        kept.write_bytes(bytes(data))


@pytest.mark.parametrize("file_state", FILE_STATES)
@pytest.mark.parametrize("kept_state", KEPT_STATES)
def test_every_combination(tmp_path: Path, file_state: str, kept_state: str) -> None:
    policy, kept = tmp_path / "policy.yaml", tmp_path / "last-good"
    _kept(policy, kept, kept_state)
    _file(policy, file_state)
    if file_state == "valid":
        with PolicyStore(policy, env={}, watch=False, last_good=kept) as store:
            assert store.current().version == 7 and not store.status().serving_last_good
        # The kept state names its policy file: a store of another file never serves it.
        with pytest.raises(policyctl.PolicySourceError):
            PolicyStore(tmp_path / "nope.yaml", env={}, watch=False, last_good=kept)
        return
    if kept_state != "valid":
        with pytest.raises(policyctl.PolicyError):
            PolicyStore(policy, env={}, watch=False, last_good=kept)
        return
    with PolicyStore(policy, env={}, watch=False, last_good=kept) as store:
        status = store.status()
        assert store.current().version == 3 and status.serving_last_good
        assert status.last_error is not None and status.failures == 1
        assert store.current().source == policy.absolute()
        assert not store.refresh()  # the same bad file: not counted again
        assert store.status().failures == 1
        _file(policy, "valid", version=8)
        assert store.refresh() and store.current().version == 8
        status = store.status()
        assert not status.serving_last_good and status.last_error is None


def test_a_watching_store_takes_the_file_back_by_itself(tmp_path: Path) -> None:
    policy, kept = tmp_path / "policy.yaml", tmp_path / "last-good"
    _kept(policy, kept, "valid")
    policy.unlink()
    with PolicyStore(policy, env={}, last_good=kept) as store:
        assert store.status().serving_last_good
        _file(policy, "valid", version=9)
        deadline = time.monotonic() + 10
        while store.current().version != 9:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert not store.status().serving_last_good


_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from policyctl import PolicyStore
    policy, kept, text = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]).read_text()
    store = PolicyStore(policy, env={}, watch=False, last_good=kept)
    print("ready", flush=True)
    version = 8
    while True:  # every refresh applies a new version and keeps it
        policy.write_text(text.replace("version: 7", f"version: {version}"))
        store.refresh()
        version += 1
    """
)


@pytest.mark.slow  # soak: 8 writer processes killed at random
def test_a_kill_at_any_moment_never_leaves_a_kept_file_that_is_used_while_corrupt(
    tmp_path: Path,
) -> None:
    policy, kept, template = tmp_path / "policy.yaml", tmp_path / "last-good", tmp_path / "t"
    template.write_text(VALID)
    policy.write_text(VALID)
    rng = random.Random(1128)
    for _ in range(8):
        proc = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(policy), str(kept), str(template)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.01, 0.3))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        policy.write_text("version: [")  # the file is broken: only the kept one can serve
        with PolicyStore(policy, env={}, watch=False, last_good=kept) as store:
            assert store.status().serving_last_good and store.current().version >= 7
        policy.write_text(VALID)
    # A killed writer's temporary files are never read as the kept one, and go once stale.
    stale = tmp_path / ".last-good.abc123.tmp"
    stale.write_text("half a write")
    os.utime(stale, (time.time() - 120, time.time() - 120))
    PolicyStore(policy, env={}, watch=False, last_good=kept).close()
    assert not stale.exists()  # fresh ones (a writer may still be at work) stay


def test_a_kept_file_of_an_earlier_version_is_read(tmp_path: Path) -> None:
    """Files kept before the brakes' key was renamed name it "overrides": still served."""
    policy, kept = tmp_path / "policy.yaml", tmp_path / "last-good"
    (tmp_path / "overrides").mkdir()
    until = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    brake = f'{{reason: calm, until: "{until}", set: {{max_positions: 2}}}}\n'
    (tmp_path / "overrides" / "calm.yaml").write_text(brake)
    _kept(policy, kept, "valid")
    payload = kept.read_bytes().partition(b"\n")[2]
    document = json.loads(payload)
    assert document["brakes"] == document["overrides"]  # both names, for a rollback
    document["overrides"] = document.pop("brakes")
    old = json.dumps(document).encode()
    kept.write_bytes(hashlib.sha256(old).hexdigest().encode() + b"\n" + old)
    _file(policy, "invalid")
    with PolicyStore(policy, env={}, watch=False, last_good=kept) as store:
        assert store.status().serving_last_good
        assert store.current().version == 3 and store.current().policy.max_positions == 2


def test_a_kept_state_is_never_what_the_store_reads(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    _file(policy, "valid")
    (tmp_path / "overrides").mkdir()
    for place in (policy, tmp_path / "overrides", tmp_path / "overrides" / "kept"):
        with pytest.raises(policyctl.PolicySourceError, match="what the store reads"):
            PolicyStore(policy, env={}, watch=False, last_good=place)
    assert policy.read_text() == VALID  # untouched


@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
def test_a_kept_state_that_is_not_a_regular_file_is_refused(tmp_path: Path, kind: str) -> None:
    policy, kept = tmp_path / "policy.yaml", tmp_path / "last-good"
    _file(policy, "invalid")
    if kind == "fifo":
        os.mkfifo(kept)
    elif kind == "directory":
        kept.mkdir()
    else:
        kept = Path("/dev/zero")
    with pytest.raises(policyctl.PolicySourceError, match="not a regular file"):
        PolicyStore(policy, env={}, watch=False, last_good=kept)


def test_a_forged_deep_document_is_not_used(tmp_path: Path) -> None:
    policy, kept = tmp_path / "policy.yaml", tmp_path / "last-good"
    _file(policy, "invalid")
    payload = b"[" * 200_000 + b"]" * 200_000
    kept.write_bytes(hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
    with pytest.raises(policyctl.PolicyValidationError):  # the file's own error, not a crash
        PolicyStore(policy, env={}, watch=False, last_good=kept)


@pytest.mark.slow  # a real clock: the adjustment's two seconds
def test_a_kept_adjustment_reverts_and_the_store_still_says_it_serves_the_kept_state(
    tmp_path: Path,
) -> None:
    """Started from last_good (the file refused), with a kept adjustment: it reverts at its
    until, and the status still says the kept state is served and why the file is refused."""
    policy, kept = tmp_path / "policy.yaml", tmp_path / "last-good"
    (tmp_path / "overrides").mkdir()
    now = datetime.now(UTC)
    (tmp_path / "overrides" / "reb.yaml").write_text(
        'kind: adjustment\nreason: "r"\nticket: "T"\n'
        f'from: "{now:%Y-%m-%dT%H:%M:%SZ}"\n'
        f'until: "{(now + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}"\n'
        "set: {max_positions: 8}\n"
    )
    _file(policy, "valid")
    PolicyStore(policy, env={}, watch=False, last_good=kept).close()
    _file(policy, "invalid")
    with PolicyStore(policy, env={}, watch=False, last_good=kept) as store:
        assert store.current().policy.max_positions == 8 and store.status().serving_last_good
        deadline = time.monotonic() + 10
        while store.current().policy.max_positions != 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.current().policy.max_positions == 5  # reverted by its own timer
        status = store.status()
        assert status.serving_last_good and status.last_error is not None
