"""A store with trust (``PolicyStore(trust=KEYDIR)``) serves only signed bundles, verified as a
whole, never older than one it applied (across restarts too, through last_good); anything else
is refused like a bad file, the last good policy kept and the reason shown. Real keys, real
files."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from policyctl import PolicyStore
from policyctl.errors import PolicyError

from ..support.bundle import Desk
from ..support.policy import VALID

BRAKE = 'reason: "cpi"\nuntil: "{until}"\nset: {{max_positions: 2}}\n'


@pytest.fixture
def desk(tmp_path: Path) -> Desk:
    return Desk(tmp_path)


def _store(desk: Desk, **options: object) -> PolicyStore:
    return PolicyStore(desk.policy, env={}, watch=False, trust=desk.trust, **options)  # type: ignore[arg-type]


def _refused_for(store: PolicyStore, said: str) -> None:
    assert not store.refresh()
    error = store.status().last_error
    assert error is not None and said in str(error), error
    assert error.kind in {"bundle", "source"}, error.kind


def test_a_signed_bundle_is_served_with_its_statement(desk: Desk) -> None:
    desk.publish(7)
    with _store(desk) as store:
        snap, status = store.current(), store.status()
        assert snap.version == 7 and snap.bundle is not None and snap.bundle.version == 7
        assert status.bundle == snap.bundle and not status.stale
        desk.publish(8)
        assert store.refresh() and store.current().version == 8


def test_anything_not_signed_as_a_whole_is_refused_and_the_last_good_kept(desk: Desk) -> None:
    signed_at = datetime.now(UTC).replace(microsecond=0)  # one statement, byte for byte
    desk.publish(7, signed_at=signed_at)
    until = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with _store(desk) as store:
        served = store.current()
        desk.policy.write_text(VALID.replace("max_positions: 5", "max_positions: 6"))
        _refused_for(store, "its SHA-256 is not the one signed")
        desk.publish(7, signed_at=signed_at)
        assert not store.refresh()  # the same inputs again: nothing new to apply
        (desk.dir / "overrides" / "extra.yaml").write_text(BRAKE.format(until=until))
        _refused_for(store, "not listed in the signed statement")
        (desk.dir / "overrides" / "extra.yaml").unlink()
        (desk.dir / "statement.dsse.json").unlink()
        _refused_for(store, "an unsigned policy is refused")
        stranger = Ed25519PrivateKey.generate()
        desk.publish(8, key=stranger)
        _refused_for(store, "which is not in the trust directory")
        assert store.current() is served
        assert store.status().failures_by_kind["bundle"] == 4


def test_a_rollback_is_refused_at_run_time(desk: Desk) -> None:
    earlier = datetime.now(UTC) - timedelta(hours=1)
    desk.publish(7, signed_at=earlier)
    with _store(desk) as store:
        desk.publish(8)
        assert store.refresh()
        desk.publish(7, signed_at=earlier)  # the older signed bundle swapped back in
        _refused_for(store, "rollback refused: this bundle (version 7")
        desk.publish(8, signed_at=earlier + timedelta(minutes=30))  # v8, but signed earlier
        _refused_for(store, "rollback refused")
        renewed = datetime.now(UTC) + timedelta(minutes=1)  # within the clock skew allowed
        desk.publish(8, signed_at=renewed)  # the same version re-signed later: applied
        assert store.refresh() and store.current().version == 8


def test_a_rollback_is_refused_at_start_through_last_good(desk: Desk, tmp_path: Path) -> None:
    kept = tmp_path / "state" / "last-good"
    kept.parent.mkdir()
    earlier = datetime.now(UTC) - timedelta(hours=1)
    desk.publish(8)
    with _store(desk, last_good=kept) as store:
        assert store.current().version == 8
    desk.publish(7, signed_at=earlier)  # while the service was down
    with _store(desk, last_good=kept) as store:
        status = store.status()
        assert store.current().version == 8 and status.serving_last_good
        assert status.last_error is not None and "rollback refused" in str(status.last_error)
    desk.publish(7, signed_at=earlier)
    (desk.trust / "ci.pem").unlink()
    other = Ed25519PrivateKey.generate()
    desk.trust_key(other, "new.pem")  # the kept bundle no longer verifies with the keys of now
    with pytest.raises(PolicyError, match="not in the trust directory"):
        _store(desk, last_good=kept)


def test_unsigned_at_start_is_an_error_never_a_skip(desk: Desk) -> None:
    desk.policy.write_text(VALID)
    with pytest.raises(PolicyError, match="an unsigned policy is refused"):
        _store(desk)


def test_keys_added_and_removed_take_effect_without_a_restart(desk: Desk) -> None:
    desk.publish(7)
    with _store(desk) as store:
        rotated = Ed25519PrivateKey.generate()
        desk.publish(8, key=rotated)
        _refused_for(store, "not in the trust directory")
        desk.trust_key(rotated, "rotated.pem")  # the same files, verified again: now trusted
        assert store.refresh() and store.current().version == 8
        (desk.trust / "ci.pem").unlink()
        desk.publish(9)  # by the removed key
        _refused_for(store, "not in the trust directory")


def test_an_expired_bundle_is_served_and_said_stale(desk: Desk) -> None:
    desk.publish(7, signed_at=datetime.now(UTC) - timedelta(days=2), valid_for=timedelta(days=1))
    with _store(desk) as store:
        assert store.current().version == 7 and store.status().stale


def test_the_trust_directory_from_the_environment(desk: Desk) -> None:
    desk.publish(7)
    desk.policy.write_text(VALID.replace("max_positions: 5", "max_positions: 4"))
    env = {"QT_POLICY_TRUST": str(desk.trust)}
    with pytest.raises(PolicyError, match="its SHA-256 is not the one signed"):
        PolicyStore(desk.policy, env=env, watch=False)
    with PolicyStore(desk.policy, env={}, watch=False) as store:  # no trust: no checks
        assert store.current().bundle is None and store.status().bundle is None


def test_a_brake_in_the_bundle_applies_and_lifts(desk: Desk) -> None:
    until = datetime.now(UTC) + timedelta(hours=1)
    desk.publish(7, brakes={"cpi": BRAKE.format(until=until.strftime("%Y-%m-%dT%H:%M:%SZ"))})
    with _store(desk) as store:
        assert store.current().policy.max_positions == 2
        assert [b.name for b in store.status().brakes] == ["cpi"]


def test_under_trust_the_environment_may_only_tighten(desk: Desk) -> None:
    desk.publish(7)
    looser = {"QT_MAX_POSITIONS": "9"}
    with pytest.raises(PolicyError, match=r"QT_MAX_POSITIONS \(max_positions\) loosens the signed"):
        PolicyStore(desk.policy, env=looser, watch=False, trust=desk.trust)
    allowed = {**looser, "QT_POLICY_ENV_LOOSENS": "allow"}  # explicit, and shown in status
    with PolicyStore(desk.policy, env=allowed, watch=False, trust=desk.trust) as store:
        status = store.status()
        assert store.current().policy.max_positions == 9
        assert status.env_directions["max_positions"] == "loosens"
    tighter = {"QT_MAX_POSITIONS": "3", "QT_RISK_MODE": "DEFENSIVE"}
    with PolicyStore(desk.policy, env=tighter, watch=False, trust=desk.trust) as store:
        assert store.current().policy.max_positions == 3


def test_a_bundle_signed_ahead_of_the_clock_is_applied_once_its_time_comes(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused while it is 'in the future', then applied by the next check after its time,
    though the files did not change (a replica with a slow clock catches up)."""
    desk.publish(7)
    with _store(desk) as store:
        desk.publish(8, signed_at=datetime.now(UTC) + timedelta(minutes=10))
        _refused_for(store, "in the future")
        assert not store.refresh()  # the same files, still too early: not counted again
        later = datetime.now(UTC) + timedelta(minutes=6)

        class Later(datetime):
            @classmethod
            def now(cls, tz: object = None) -> datetime:  # type: ignore[override]
                return later

        # The clock catches up (the store's and the verification's, as one machine's would).
        monkeypatch.setattr("policyctl.live._store.datetime", Later)
        monkeypatch.setattr("policyctl.pipeline._bundle.datetime", Later)
        assert store.refresh() and store.current().version == 8


def test_an_empty_trust_variable_is_a_mistake_never_off(desk: Desk) -> None:
    desk.policy.write_text(VALID)
    with pytest.raises(PolicyError, match="QT_POLICY_TRUST is set but empty"):
        PolicyStore(desk.policy, env={"QT_POLICY_TRUST": " "}, watch=False)
    with pytest.raises(PolicyError, match="QT_POLICY_TRUST is set but empty"):
        PolicyStore(desk.policy, env={"QT_POLICY_TRUST": ""}, watch=False)


def _officer(desk: Desk) -> Path:
    """A risk officer's brake-only key: its public half in KEYDIR/brakes/."""
    key = Ed25519PrivateKey.generate()
    (desk.trust / "brakes").mkdir(exist_ok=True)
    (desk.trust / "brakes" / "officer.pem").write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    private = desk.dir.parent / "officer.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return private


def _sign_brake(desk: Desk, key: Path, signed: Path, *settings: str, name: str) -> int:
    from policyctl.cli import main  # noqa: PLC0415

    argv = ["brake", *settings, "--for", "1h", "--reason", "cpi", "--name", name]
    argv += ["--sign-with", str(key), "--signed-dir", str(signed), str(desk.policy)]
    return main(argv)


def test_a_signed_brake_applies_at_once_and_can_only_tighten(desk: Desk) -> None:
    desk.publish(7)
    officer, signed = _officer(desk), desk.dir.parent / "signed"
    with _store(desk, signed_brakes=signed) as store:
        assert _sign_brake(desk, officer, signed, "max_positions=2", name="cpi") == 0
        assert store.refresh()
        assert store.current().policy.max_positions == 2
        assert "cpi" in [b.name for b in store.status().brakes]
        assert store.current().version == 7  # the policy itself is the bundle's
        # A looser value signed as a brake changes nothing: the most restrictive wins.
        assert _sign_brake(desk, officer, signed, "max_positions=50", name="loose") == 0
        assert store.refresh() and store.current().policy.max_positions == 2
        (signed / "loose.dsse.json").unlink()
        desk.publish(8)  # the bundle moves on; the signed brake stays in force
        assert store.refresh()
        assert store.current().version == 8 and store.current().policy.max_positions == 2


def test_signed_brakes_from_anyone_else_or_of_anything_else_are_left_out(desk: Desk) -> None:
    """A signed brake that may not apply is left out, said in the brake notes, and never
    blocks the bundle (a key removed, a file planted without one): brakes only tighten."""
    from policyctl.pipeline import sign_brake  # noqa: PLC0415

    soon = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    desk.publish(7, brakes={"cpi": BRAKE.format(until=soon)})
    officer, signed = _officer(desk), desk.dir.parent / "signed"
    signed.mkdir()
    with _store(desk, signed_brakes=signed) as store:
        stranger = Ed25519PrivateKey.generate()
        tighter = BRAKE.format(until=soon).replace("max_positions: 2", "max_positions: 1")
        pin = f'reason: "r"\nuntil: "{soon}"\nset: {{model_versions: {{lstm: "9.9"}}}}\n'
        cases = {
            "x": (sign_brake("x", tighter.encode(), stranger), "not in the trust directory"),
            "y": (sign_brake("z", tighter.encode(), desk.key), "not named NAME.dsse.json"),
            "cpi": (sign_brake("cpi", tighter.encode(), desk.key), "a reviewed brake named cpi"),
            "s": ((desk.dir / "statement.dsse.json").read_bytes(), "never accepted here"),
            "m": (sign_brake("m", pin.encode(), officer_key(officer)), "may not pin model"),
        }
        for name, (envelope, said) in cases.items():
            (signed / f"{name}.dsse.json").write_bytes(envelope)
            assert store.refresh()
            notes = " ".join(store.current().brake_notes)
            assert store.status().last_error is None and said in notes, notes
            assert store.current().policy.max_positions == 2  # the bundle's brake, alone
            (signed / f"{name}.dsse.json").unlink()
        (signed / "notes.txt").write_text("x")  # not a signed brake at all: the directory
        _refused_for(store, "is not a signed brake")  # is refused, as a brakes' directory is
        (signed / "notes.txt").unlink()
        # The brake-only key signs brakes, never a bundle.
        desk.publish(8, key=officer_key(officer))
        _refused_for(store, "which is not in the trust directory")
    with pytest.raises(PolicyError, match="need a trust directory"):
        PolicyStore(desk.policy, env={}, watch=False, signed_brakes=signed)


def officer_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return key


STALE = {"QT_POLICY_STALE_SET": '{"risk_mode": "DEFENSIVE", "max_positions": 3}'}


def test_a_tightening_named_for_staleness_applies_while_stale(desk: Desk) -> None:
    desk.publish(7, signed_at=datetime.now(UTC) - timedelta(days=2), valid_for=timedelta(days=1))
    with PolicyStore(desk.policy, env=STALE, watch=False, trust=desk.trust) as store:
        policy, status = store.current().policy, store.status()
        assert status.stale and policy.risk_mode == "DEFENSIVE" and policy.max_positions == 3
        assert "stale-bundle" in [b.name for b in status.brakes]
        desk.publish(8)  # a fresh bundle: no longer stale, the tightening goes
        assert store.refresh()
        policy, status = store.current().policy, store.status()
        assert not status.stale and policy.risk_mode == "NORMAL" and policy.max_positions == 5
    with pytest.raises(PolicyError, match="QT_POLICY_STALE_SET is not a JSON object"):
        PolicyStore(desk.policy, env={"QT_POLICY_STALE_SET": "DEFENSIVE"}, trust=desk.trust)
    looser = {"QT_POLICY_STALE_SET": '{"max_positions": 50}'}  # a brake: it cannot loosen
    desk.publish(9, signed_at=datetime.now(UTC) - timedelta(days=2), valid_for=timedelta(days=1))
    with PolicyStore(desk.policy, env=looser, watch=False, trust=desk.trust) as store:
        assert store.status().stale and store.current().policy.max_positions == 5


@pytest.mark.slow  # waits for a real expiry, a second or two away
def test_the_store_tightens_by_itself_when_its_bundle_expires(desk: Desk) -> None:
    desk.publish(7, valid_for=timedelta(seconds=2))
    with PolicyStore(desk.policy, env=STALE, watch=False, trust=desk.trust) as store:
        assert store.current().policy.risk_mode == "NORMAL"
        deadline = time.monotonic() + 20
        while store.current().policy.risk_mode != "DEFENSIVE":
            assert time.monotonic() < deadline, "the expiry was not composed"
            time.sleep(0.05)
        assert store.status().stale


def test_brake_list_shows_signed_brakes_that_git_does_not_hold(
    desk: Desk, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from policyctl.cli import main  # noqa: PLC0415

    desk.publish(7)
    officer, signed = _officer(desk), desk.dir.parent / "signed"
    assert _sign_brake(desk, officer, signed, "max_positions=2", name="cpi") == 0
    capsys.readouterr()
    monkeypatch.delenv("QT_POLICY_TRUST", raising=False)
    argv = ["brake", "list", str(desk.policy), "--signed-dir", str(signed)]
    assert main(argv) == 2
    assert "set QT_POLICY_TRUST" in capsys.readouterr().err
    monkeypatch.setenv("QT_POLICY_TRUST", str(desk.trust))
    assert main(argv) == 0
    assert "(signed, not in git: propose it)" in capsys.readouterr().out
    assert main([*argv, "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["brakes"]
    assert row["name"] == "cpi" and row["signed"] and not row["in_git"]
    from policyctl.fleet import examine  # noqa: PLC0415

    monkeypatch.setenv("QT_SIGNED_BRAKES_DIR", str(signed))
    notes = [f.what for f in examine(desk.policy, desk.dir / "overrides")]
    assert any("brake cpi is in force from the signed brakes" in n for n in notes), notes


@pytest.mark.slow  # real inotify, a few hundred swaps
@pytest.mark.parametrize("style", ["in-place", "configmap"])
def test_no_swap_ever_serves_a_policy_its_statement_does_not_cover(
    desk: Desk, tmp_path: Path, style: str
) -> None:
    """The statement and the files change in separate writes (in place: the policy first, then
    the statement; a ConfigMap: ..data swapped to a new directory), while a reader polls: every
    snapshot served is one the statement beside it signed, and the last one lands."""
    import threading  # noqa: PLC0415

    versions = list(range(7, 47))
    sources = {}
    for version in versions:  # each bundle signed once, kept as bytes
        desk.publish(version)
        sources[version] = (
            desk.policy.read_bytes(),
            (desk.dir / "statement.dsse.json").read_bytes(),
        )
    root = tmp_path / "served"
    root.mkdir()
    if style == "configmap":

        def swap(version: int) -> None:
            data = root / f"..{version}"
            data.mkdir()
            (data / "policy.yaml").write_bytes(sources[version][0])
            (data / "statement.dsse.json").write_bytes(sources[version][1])
            (root / "..tmp").symlink_to(data.name)
            (root / "..tmp").replace(root / "..data")

        swap(versions[0])
        for name in ("policy.yaml", "statement.dsse.json"):
            (root / name).symlink_to(f"..data/{name}")
    else:

        def swap(version: int) -> None:
            (root / "policy.yaml").write_bytes(sources[version][0])
            (root / "statement.dsse.json").write_bytes(sources[version][1])

        swap(versions[0])
    bad: list[str] = []
    done = threading.Event()
    with PolicyStore(root / "policy.yaml", env={}, trust=desk.trust, debounce=0.001) as store:

        def reader() -> None:
            while not done.is_set():
                snap = store.current()
                if snap.bundle is None or snap.bundle.files.get("policy.yaml") != snap.digest:
                    bad.append(f"version {snap.version} served without its signature")

        thread = threading.Thread(target=reader)
        thread.start()
        try:
            for version in versions[1:]:
                swap(version)
                time.sleep(0.002)
            deadline = time.monotonic() + 20
            while store.current().version != versions[-1]:
                assert time.monotonic() < deadline, store.status().last_error
                time.sleep(0.01)
        finally:
            done.set()
            thread.join()
    assert bad == []
