"""Signed bundles with real keys (made by the real ``openssl`` and by ``cryptography``), real
files and real git: a bundle verifies as built; any change to any file, any file added or
removed, an edited statement, an unknown or removed key, an expired or future statement, a
malformed envelope is refused naming the file, the key or the rule. The envelope is standard
DSSE: securesystemslib's own implementation verifies ours, and ours verifies its."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from policyctl.cli import main
from policyctl.errors import BundleRefused, PolicySourceError
from policyctl.pipeline import (
    bundle_files,
    key_id,
    load_signing_key,
    load_trust,
    sign_bundle,
    verify_bundle,
    write_bundle,
)

from ..support.bundle import openssl_keys
from ..support.git import GIT_ENV, commit, committed_repo, git
from ..support.policy import VALID

Capture = pytest.CaptureFixture[str]
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
BRAKE = 'reason: "cpi print"\nuntil: "2026-12-05T00:00:00Z"\nset: {max_positions: 2}\n'


def _private_pem(key: Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _public_pem(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    """A signing key made by the real openssl, and a trust directory with its public half."""
    return openssl_keys(tmp_path)


def _policy_dir(root: Path) -> Path:
    (root / "overrides").mkdir(parents=True)
    (root / "policy.yaml").write_text(VALID)
    (root / "overrides" / "cpi.yaml").write_text(BRAKE)
    return root / "policy.yaml"


def _bundle(tmp_path: Path, key_file: Path, **sign: object) -> Path:
    policy = _policy_dir(tmp_path / "src")
    key, _ = load_signing_key(key_file)
    files = bundle_files(policy, policy.parent / "overrides")
    options: dict[str, object] = {"version": 7, "commit": "a" * 40, "now": NOW, **sign}
    envelope = sign_bundle(files, key=key, **options)  # type: ignore[arg-type]
    out = tmp_path / "bundle"
    write_bundle(out, files, envelope)
    return out


def _refusal(bundle: Path, trust: Path, now: datetime = NOW) -> str:
    with pytest.raises(BundleRefused) as refused:
        verify_bundle(bundle, load_trust(trust), now=now)
    return str(refused.value)


def test_a_bundle_verifies_as_built(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    bundle = _bundle(tmp_path, keys[0])
    statement, snapshot = verify_bundle(bundle, load_trust(keys[1]), now=NOW)
    assert statement.version == 7 == snapshot.version
    assert set(statement.files) == {"policy.yaml", "overrides/cpi.yaml"}
    assert statement.commit == "a" * 40 and statement.keyid == next(iter(load_trust(keys[1])))
    assert snapshot.policy.max_positions == 2  # the brake in the bundle is in force
    assert statement.expires_at - statement.signed_at == timedelta(days=7)


def test_any_changed_byte_of_any_file_is_refused(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    bundle = _bundle(tmp_path, keys[0])
    for name in ("policy.yaml", "overrides/cpi.yaml"):
        target = bundle / name
        original = target.read_bytes()
        for index in (0, len(original) // 2, len(original) - 1):
            changed = bytearray(original)
            changed[index] ^= 0x01
            target.write_bytes(bytes(changed))
            said = _refusal(bundle, keys[1])
            assert f"{target}: its SHA-256 is not the one signed" in said
        target.write_bytes(original)
    statement = bundle / "statement.dsse.json"
    envelope = json.loads(statement.read_text())
    signature = bytearray(base64.b64decode(envelope["signatures"][0]["sig"]))
    signature[5] ^= 0x01
    envelope["signatures"][0]["sig"] = base64.b64encode(bytes(signature)).decode()
    statement.write_text(json.dumps(envelope))
    assert "does not verify: the signed content or its signature was changed" in _refusal(
        bundle, keys[1]
    )


@pytest.mark.parametrize("edit", ["version", "digest", "expires_at", "commit", "add a file"])
def test_an_edited_statement_is_refused(tmp_path: Path, keys: tuple[Path, Path], edit: str) -> None:
    bundle = _bundle(tmp_path, keys[0])
    statement = bundle / "statement.dsse.json"
    envelope = json.loads(statement.read_text())
    body = json.loads(base64.b64decode(envelope["payload"]))
    if edit == "version":
        body["predicate"]["version"] = 99
    elif edit == "digest":
        body["subject"][0]["digest"]["sha256"] = "0" * 64
    elif edit == "expires_at":
        body["predicate"]["expires_at"] = "2099-01-01T00:00:00Z"
    elif edit == "commit":
        body["predicate"]["commit"] = "b" * 40
    else:
        body["subject"].append({"name": "overrides/x.yaml", "digest": {"sha256": "1" * 64}})
    envelope["payload"] = base64.b64encode(json.dumps(body).encode()).decode()
    statement.write_text(json.dumps(envelope))
    assert "does not verify" in _refusal(bundle, keys[1])


def test_files_added_removed_or_renamed_are_refused(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    bundle = _bundle(tmp_path, keys[0])
    (bundle / "overrides" / "extra.yaml").write_text(BRAKE)
    assert f"{bundle}/overrides/extra.yaml: not listed in the signed statement" in _refusal(
        bundle, keys[1]
    )
    (bundle / "overrides" / "extra.yaml").unlink()
    (bundle / "overrides" / "cpi.yaml").rename(bundle / "overrides" / "calm.yaml")
    said = _refusal(bundle, keys[1])
    assert "overrides/cpi.yaml: listed in the signed statement but missing" in said
    assert "overrides/calm.yaml: not listed" in said
    (bundle / "overrides" / "calm.yaml").rename(bundle / "overrides" / "cpi.yaml")
    (bundle / "notes.txt").write_text("hi")  # beside the policy, too
    assert "notes.txt: not listed in the signed statement" in _refusal(bundle, keys[1])
    (bundle / "notes.txt").unlink()
    (bundle / "sub").mkdir()
    assert "sub: not a regular file" in _refusal(bundle, keys[1])
    (bundle / "sub").rmdir()
    os.mkfifo(bundle / "fifo")  # never opened: a FIFO would block a reader forever
    assert "fifo: not a regular file" in _refusal(bundle, keys[1])
    (bundle / "fifo").unlink()
    (bundle / ".hidden").write_text("x")  # hidden entries are no part of a bundle
    verify_bundle(bundle, load_trust(keys[1]), now=NOW)


def test_unknown_removed_and_wrong_kinds_of_key(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    bundle = _bundle(tmp_path, keys[0])
    other = tmp_path / "other-trust"
    other.mkdir()
    stranger = Ed25519PrivateKey.generate()
    (other / "desk.pem").write_bytes(_public_pem(stranger))
    said = _refusal(bundle, other)
    signer = key_id(load_signing_key(keys[0])[0].public_key())
    assert f"signed by key {signer[:16]}…, which is not in the trust directory" in said
    assert f"trusted: {key_id(stranger.public_key())[:16]}… (desk.pem)" in said
    # The key removed from the trust directory: the same bundle is refused from then on.
    (keys[1] / "ci.pem").rename(other / "ci.pem")
    with pytest.raises(PolicySourceError, match=r"holds no \.pem public key"):
        load_trust(keys[1])
    (keys[1] / "private.pem").write_bytes(_private_pem(stranger))
    with pytest.raises(PolicySourceError, match="holds a private key"):
        load_trust(keys[1])
    (keys[1] / "private.pem").write_bytes(
        _public_pem(stranger).replace(b"MCow", b"MCox")  # a corrupt key
    )
    with pytest.raises(PolicySourceError, match="not a PEM public key"):
        load_trust(keys[1])
    curve = tmp_path / "ec.pem"
    curve.write_bytes(_private_pem(ec.generate_private_key(ec.SECP256R1())))
    with pytest.raises(PolicySourceError, match="not Ed25519"):
        load_signing_key(curve)
    encrypted = tmp_path / "enc.pem"
    encrypted.write_bytes(
        stranger.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw"),
        )
    )
    with pytest.raises(PolicySourceError, match="encrypted"):
        load_signing_key(encrypted)
    os.mkfifo(tmp_path / "fifo.pem")
    with pytest.raises(PolicySourceError):
        load_signing_key(tmp_path / "fifo.pem")


def test_expired_future_and_mismatched_statements(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    bundle = _bundle(tmp_path, keys[0], valid_for=timedelta(hours=1))
    verify_bundle(bundle, load_trust(keys[1]), now=NOW + timedelta(minutes=59))
    said = _refusal(bundle, keys[1], now=NOW + timedelta(hours=1))
    assert "expired at 2026-12-04T13:00:00Z (signed 2026-12-04T12:00:00Z)" in said
    assert "in the future" in _refusal(bundle, keys[1], now=NOW - timedelta(minutes=10))
    verify_bundle(bundle, load_trust(keys[1]), now=NOW - timedelta(minutes=4))  # clock skew
    shutil.rmtree(tmp_path / "src")
    wrong = _bundle(tmp_path, keys[0], version=8)
    assert "the policy's version is 7, the signed statement's 8" in _refusal(wrong, keys[1])


@pytest.mark.parametrize(
    "content",
    [b"", b"{", b"[]", b'{"payloadType": "x"}', b"\xff\xfe", b'{"signatures": []}'],
)
def test_a_malformed_or_truncated_statement_is_refused(
    tmp_path: Path, keys: tuple[Path, Path], content: bytes
) -> None:
    bundle = _bundle(tmp_path, keys[0])
    (bundle / "statement.dsse.json").write_bytes(content)
    said = _refusal(bundle, keys[1])
    assert "statement.dsse.json" in said and "Traceback" not in said


def test_no_statement_is_a_refusal_never_a_skip(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    bundle = _bundle(tmp_path, keys[0])
    full = (bundle / "statement.dsse.json").read_bytes()
    (bundle / "statement.dsse.json").write_bytes(full[: len(full) // 2])  # truncated
    assert "not a DSSE envelope" in _refusal(bundle, keys[1])
    (bundle / "statement.dsse.json").unlink()
    assert "the bundle is not signed" in _refusal(bundle, keys[1])


def test_securesystemslib_and_this_tool_read_each_other_s_envelopes(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    from securesystemslib.dsse import Envelope  # noqa: PLC0415
    from securesystemslib.signer import (  # type: ignore[attr-defined]  # noqa: PLC0415
        CryptoSigner,
        SSlibKey,
    )

    bundle = _bundle(tmp_path, keys[0])
    private, _ = load_signing_key(keys[0])
    public = SSlibKey.from_crypto(private.public_key(), keyid=key_id(private.public_key()))
    theirs = Envelope.from_dict(json.loads((bundle / "statement.dsse.json").read_text()))
    assert public.keyid in theirs.verify([public], 1)  # ours, checked by theirs
    # Theirs, checked by ours: the same statement signed by securesystemslib's signer.
    again = Envelope(theirs.payload, theirs.payload_type, {})
    again.sign(CryptoSigner(private, public))
    (bundle / "statement.dsse.json").write_text(json.dumps(again.to_dict()))
    statement, _ = verify_bundle(bundle, load_trust(keys[1]), now=NOW)
    assert statement.keyid == public.keyid


def test_the_command_line(
    tmp_path: Path, keys: tuple[Path, Path], capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = committed_repo(tmp_path / "repo", VALID)
    (repo / "policy" / "overrides").mkdir()
    until = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    (repo / "policy" / "overrides" / "cpi.yaml").write_text(
        BRAKE.replace("2026-12-05T00:00:00Z", until)
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a brake")
    monkeypatch.chdir(repo)
    out = tmp_path / "out"
    assert main(["bundle", "build", "--key", str(keys[0]), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "bundle of version 7 (1 brake file(s)), commit" in said
    assert main(["verify", str(out), "--trust", str(keys[1])]) == 0
    assert ": verified: version 7, commit" in capsys.readouterr().out
    assert main(["verify", str(out), "--trust", str(keys[1]), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["verified"] and doc["commit"] == git(repo, "rev-parse", "HEAD")
    (out / "policy.yaml").write_text(VALID + "\n")
    assert main(["verify", str(out), "--trust", str(keys[1]), "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert not doc["verified"] and doc["errors"][0]["file"] == str(out / "policy.yaml")
    # Rebuilt over the old bundle: replaced whole.
    assert main(["bundle", "build", "--key", str(keys[0]), "--out", str(out)]) == 0
    assert main(["verify", str(out), "--trust", str(keys[1])]) == 0
    capsys.readouterr()
    # Usage: a trust directory that is not there, uncommitted changes, a directory that is
    # not a bundle, an expiry beyond a year.
    assert main(["verify", str(out), "--trust", str(tmp_path / "none")]) == 2
    (repo / "policy" / "policy.yaml").write_text(VALID.replace("version: 7", "version: 8"))
    assert main(["bundle", "build", "--key", str(keys[0]), "--out", str(out)]) == 2
    assert "is not as committed at HEAD" in capsys.readouterr().err
    # Whatever git status would miss: an ignored brake file is still not HEAD's.
    git(repo, "checkout", "--", ".")
    (repo / ".git" / "info" / "exclude").write_text("policy/overrides/hidden.yaml\n")
    (repo / "policy" / "overrides" / "hidden.yaml").write_text(
        (repo / "policy" / "overrides" / "cpi.yaml").read_text()
    )
    assert main(["bundle", "build", "--key", str(keys[0]), "--out", str(out)]) == 2
    assert "overrides/hidden.yaml is not as committed at HEAD" in capsys.readouterr().err
    (repo / "policy" / "overrides" / "hidden.yaml").unlink()
    (repo / "policy" / "overrides" / "cpi.yaml").unlink()  # deleted here, still in HEAD
    assert main(["bundle", "build", "--key", str(keys[0]), "--out", str(out)]) == 2
    assert "cpi.yaml is in HEAD" in capsys.readouterr().err
    git(repo, "checkout", "--", ".")
    assert main(["bundle", "build", "--key", str(keys[0]), "--out", str(repo / "policy")]) == 2
    assert "holds what the bundle is built from" in capsys.readouterr().err
    assert main(["bundle", "build", "--key", str(keys[0]), "--expires-in", "400d"]) == 2
    capsys.readouterr()


def test_build_replaces_only_a_bundle(
    tmp_path: Path, keys: tuple[Path, Path], capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = committed_repo(tmp_path / "repo", VALID)
    monkeypatch.chdir(repo)
    other = tmp_path / "other"
    (other / "replay").mkdir(parents=True)
    (other / "statement.dsse.json").write_text("{}")  # a statement there: still not a bundle
    (other / "replay" / "sample.jsonl").write_text("{}\n")
    assert main(["bundle", "build", "--key", str(keys[0]), "--out", str(other)]) == 2
    assert "not a bundle to replace" in capsys.readouterr().err
    assert (other / "replay" / "sample.jsonl").exists()  # nothing removed
    assert main(["bundle", "build", "--key", str(keys[0]), "--out", "/"]) == 2
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path / "empty")
    assert main(["bundle", "build", str(repo / "policy" / "policy.yaml"), "--key", str(keys[0]),
                 "--out", "."]) == 2  # fmt: skip
    assert "is this directory" in capsys.readouterr().err
    assert main(["bundle", "build", str(repo / "policy" / "policy.yaml"), "--key", str(keys[0]),
                 "--out", "new"]) == 0  # fmt: skip
    assert (tmp_path / "empty" / "new" / "statement.dsse.json").is_file()
    monkeypatch.chdir(repo)
    assert main(["bundle", "build", "--key", str(tmp_path / "nokey.pem")]) == 2
    assert "Traceback" not in capsys.readouterr().err
    # An invalid policy is never signed.
    (repo / "policy" / "policy.yaml").write_text(
        VALID.replace("max_positions: 5", "max_positions: 0")
    )
    git(repo, "commit", "-qam", "bad")
    assert main(["bundle", "build", "--key", str(keys[0]), "--out", str(tmp_path / "bad")]) == 1
    assert not (tmp_path / "bad").exists()


def test_a_configmap_shaped_bundle_verifies(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    """As the kubelet mounts a ConfigMap: each key a link into ..data, which is a link to a
    timestamped directory; the hidden entries are no part of the bundle."""
    bundle = _bundle(tmp_path, keys[0])
    mount = tmp_path / "mount"
    stamped = mount / "..2026_12_04_12_00_00.000000001"
    shutil.copytree(bundle, stamped)
    (mount / "..data").symlink_to(stamped.name)
    for name in ("policy.yaml", "statement.dsse.json", "overrides"):
        (mount / name).symlink_to(f"..data/{name}")
    statement, _ = verify_bundle(mount, load_trust(keys[1]), now=NOW)
    assert statement.version == 7


@pytest.mark.parametrize("kind", ["fifo", "directory", "huge", "device"])
def test_an_unreadable_statement_is_a_refusal_with_exit_1(
    tmp_path: Path, keys: tuple[Path, Path], capsys: Capture, kind: str
) -> None:
    bundle = _bundle(tmp_path, keys[0])
    statement = bundle / "statement.dsse.json"
    statement.unlink()
    if kind == "fifo":
        os.mkfifo(statement)
    elif kind == "directory":
        statement.mkdir()
    elif kind == "huge":
        statement.write_bytes(b" " * (2 << 20))
    else:
        statement.symlink_to("/dev/zero")
    assert "the statement cannot be read" in _refusal(bundle, keys[1])
    assert main(["verify", str(bundle), "--trust", str(keys[1]), "--format", "json"]) == 1
    assert json.loads(capsys.readouterr().out)["verified"] is False


def test_keys_one_per_file_and_validity_bounded(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    (keys[1] / "two.pem").write_bytes(
        _public_pem(Ed25519PrivateKey.generate()) + _public_pem(Ed25519PrivateKey.generate())
    )
    with pytest.raises(PolicySourceError, match="more than one key"):
        load_trust(keys[1])
    (keys[1] / "two.pem").unlink()
    bundle = _bundle(tmp_path, keys[0], valid_for=timedelta(days=3650))
    assert "over the 366 a bundle may be" in _refusal(bundle, keys[1])


def test_a_readme_beside_the_brakes_is_read_by_neither(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    bundle = _bundle(tmp_path, keys[0])
    (bundle / "overrides" / "README.md").write_text("what these are")
    verify_bundle(bundle, load_trust(keys[1]), now=NOW)  # as a store ignores it


def _review_step() -> str:
    from policyctl.pipeline import _reader  # noqa: PLC0415

    root = Path(__file__).parents[2]
    workflow = _reader.parse((root / ".github/workflows/policy-bundle.yml").read_bytes()).data
    (job,) = workflow["jobs"].values()
    (step,) = [s for s in job["steps"] if s.get("id") == "review"]
    return str(step["run"])


def _run_review_step(tmp_path: Path, answers: dict[str, list[str]]) -> dict[str, object]:
    """The signing job's review step, run by bash with the real jq and a gh stand-in."""
    from ..support.gh import FakeGh  # noqa: PLC0415

    gh = FakeGh(tmp_path / "gh")
    gh.answers(answers)
    runner = tmp_path / "runner"
    runner.mkdir()
    env = {
        **os.environ,
        "PATH": f"{gh.bin}:{os.environ['PATH']}",
        "RUNNER_TEMP": str(runner),
        "REPOSITORY": "desk/policy",
        "SOURCE": "a" * 40,
    }
    subprocess.run(["bash", "-e", "-c", _review_step()], env=env, check=True)
    return dict(json.loads((runner / "review.json").read_text()))


def test_the_statement_carries_the_review_record_or_says_none_is_known(
    tmp_path: Path, keys: tuple[Path, Path], capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    pulls = [
        {"number": 7, "merged_at": None, "base": {"ref": "main"}},  # not merged: not this one
        {
            "number": 12,
            "merged_at": "2026-12-04T10:00:00Z",
            "base": {"ref": "main"},
            "title": "Fewer positions",
            "user": {"login": "alice"},
            "body": "Drawdown 8%\u001b[2K",
            "labels": [{"name": "lane: review"}],
        },
    ]
    reviews = [
        {"state": "COMMENTED", "user": {"login": "carol"}, "submitted_at": "2026-12-04T09:00:00Z"},
        {"state": "APPROVED", "user": {"login": "bob"}, "submitted_at": "2026-12-04T09:30:00Z"},
    ]
    record = _run_review_step(
        tmp_path / "pr",
        {
            f"GET repos/desk/policy/commits/{'a' * 40}/pulls": [json.dumps(pulls)],
            "GET repos/desk/policy/pulls/12/reviews": [json.dumps(reviews)],
        },
    )
    assert record == {
        "known": True,
        "pull_request": 12,
        "title": "Fewer positions",
        "author": "alice",
        "merged_at": "2026-12-04T10:00:00Z",
        "justification": "Drawdown 8%\u001b[2K",
        "lane": "review",
        "approvers": [{"login": "bob", "at": "2026-12-04T09:30:00Z"}],
    }
    none = _run_review_step(
        tmp_path / "push", {f"GET repos/desk/policy/commits/{'a' * 40}/pulls": ["[]"]}
    )
    assert none == {"known": False, "why": "no merged pull request names this commit"}
    # Into the statement, and out of verify: escaped, never guessed.
    repo = committed_repo(tmp_path / "repo", VALID)
    monkeypatch.chdir(repo)
    (tmp_path / "review.json").write_text(json.dumps(record))
    out = tmp_path / "bundle"
    argv = ["bundle", "build", "--key", str(keys[0]), "--out", str(out)]
    assert main([*argv, "--review", str(tmp_path / "review.json")]) == 0
    assert main(["verify", str(out), "--trust", str(keys[1])]) == 0
    said = capsys.readouterr().out
    assert "review: pull request #12 by alice, approved by bob, lane review" in said
    assert main(["verify", str(out), "--trust", str(keys[1]), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["review"]["justification"].endswith("\u001b[2K")
    assert main(["bundle", "build", "--key", str(keys[0]), "--out", str(tmp_path / "u")]) == 0
    assert main(["verify", str(tmp_path / "u"), "--trust", str(keys[1])]) == 0
    assert "review: not known (no pull request recorded" in capsys.readouterr().out
    (tmp_path / "review.json").write_text(json.dumps({**record, "approvers": "everyone"}))
    assert main([*argv, "--review", str(tmp_path / "review.json")]) == 2
    assert "approvers is a list" in capsys.readouterr().err


def _workflow_step(name_start: str) -> str:
    from policyctl.pipeline import _reader  # noqa: PLC0415

    root = Path(__file__).parents[2]
    workflow = _reader.parse((root / ".github/workflows/policy-bundle.yml").read_bytes()).data
    (job,) = workflow["jobs"].values()
    (step,) = [s for s in job["steps"] if str(s.get("name", "")).startswith(name_start)]
    return str(step["run"])


def test_each_commit_s_first_statement_is_kept_on_the_evidence_branch(
    tmp_path: Path, keys: tuple[Path, Path], capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The signing job's evidence step, run by bash against a local bare remote: append only
    (a fast-forward per commit signed), the first statement of a commit kept, re-signing it
    changes nothing; and `audit --statements` reads the branch back, verified."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    repo = committed_repo(tmp_path / "repo", VALID)
    monkeypatch.chdir(repo)
    step = _workflow_step("Keep its statement on the evidence branch")

    def sign_and_keep(runner: Path) -> None:
        out = runner / "dist" / "policy"
        assert main(["bundle", "build", "--key", str(keys[0]), "--out", str(out)]) == 0
        env = {
            **os.environ, **GIT_ENV, "GH_TOKEN": "token", "REMOTE": str(remote),
            "RUNNER_TEMP": str(runner), "SOURCE": git(repo, "rev-parse", "HEAD"),
        }  # fmt: skip
        subprocess.run(["bash", "-e", "-c", step], env=env, check=True, capture_output=True)

    sign_and_keep(tmp_path / "r1")
    kept = f"policy-evidence:statements/{git(repo, 'rev-parse', 'HEAD')}.dsse.json"
    first = git(remote, "show", kept)
    sign_and_keep(tmp_path / "r2")  # the daily re-signing of the same commit: kept as it was
    assert git(remote, "rev-list", "--count", "policy-evidence") == "1"
    assert git(remote, "show", kept) == first
    looser = VALID.replace("max_positions: 5", "max_positions: 6")
    commit(repo, looser.replace("version: 7", "version: 8"), "looser")
    sign_and_keep(tmp_path / "r3")
    assert git(remote, "rev-list", "--count", "policy-evidence") == "2"  # a fast-forward
    git(repo, "fetch", "-q", str(remote), "policy-evidence:refs/remotes/origin/policy-evidence")
    capsys.readouterr()
    argv = ["audit", "--statements", "origin/policy-evidence", "--trust", str(keys[1])]
    assert main([*argv, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["statements"] == {"verified": 2, "refused": []}
    (change,) = doc["changes"]
    assert change["path"] == "max_positions" and change["in_force_at"] is not None
    assert change["review"]["known"] is False and "no pull request" in change["review"]["why"]
