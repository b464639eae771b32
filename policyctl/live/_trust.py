"""A store that verifies signed bundles: the keys it trusts, and the floor below which a bundle
is a rollback.

With a trust directory (``PolicyStore(trust=KEYDIR)`` or ``$QT_POLICY_TRUST``), an input set
(the policy file, its brake files and the statement beside them, read together) is applied
only when a trusted key's signature covers the statement and the statement names exactly those
files with their SHA-256, and when it is not older than the newest bundle this store has
applied: by ``version``, then by when it was signed (a bundle re-signed to renew its expiry
keeps its version). The floor survives a restart through ``last_good``, whose kept bundle is
verified again with the keys of now. The keys are read at every check, so a key added to or
removed from the directory takes effect at the next change, without a restart.

A bundle past its expiry is still served (and status says it is stale): refusing it would
turn a stopped signer into an outage. An older bundle can never come back (the floor).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import BundleRefused, PolicyEnvError, PolicyError, PolicySourceError, printable
from ..model import BRAKES_DIR_NAME, BUNDLE_POLICY_NAME, STATEMENT_FILE_NAME
from ..pipeline import (
    BRAKE_NAME,
    ENV_LOOSENS_VARIABLE,
    MAX_BRAKES,
    SIGNED_BRAKES_VARIABLE,
    SIGNED_SUFFIX,
    STALE_SET_VARIABLE,
    TRUST_VARIABLE,
    PolicySnapshot,
    read_source,
)
from ._inputs import Inputs, keys_state

if TYPE_CHECKING:
    from ..pipeline import BrakeFile, Statement, TrustedKey

__all__ = ["MAX_SENT", "Received", "Trust", "default_signed_brakes", "default_trust"]

MAX_SENT = 64 * 1024
"""The largest signed brake a replica takes (a brake is a few hundred bytes)."""


@dataclass(frozen=True, slots=True)
class Received:
    """What a replica did with a signed brake sent to it.

    Attributes:
        outcome: ``applied`` (new, now in force), ``scheduled`` (kept: it starts at its
            ``from``), ``replay`` (the same signed brake again: harmless), or why it was
            refused: ``malformed``, ``unsigned``
            (no trusted key's signature), ``not_a_brake`` (a policy, or an invalid brake),
            ``conflict`` (another signed brake has the name), ``full`` (as many as allowed),
            ``not_accepted`` (this replica takes no signed brakes).
        message: One sentence saying what, for people.
        name: The brake's name, when it could be read.
    """

    outcome: str
    message: str
    name: str | None = None

    @property
    def accepted(self) -> bool:
        return self.outcome in ("applied", "scheduled", "replay")


def default_trust(trust: str | os.PathLike[str] | None, environ: Mapping[str, str]) -> Path | None:
    """The trust directory: the argument, else ``$QT_POLICY_TRUST``, else none (no checks)."""
    if trust is not None:
        return Path(trust).absolute()
    named = environ.get(TRUST_VARIABLE)
    if named is not None and not named.strip():  # set, to nothing: a mistake, never "off"
        raise PolicySourceError.single(
            f"{TRUST_VARIABLE} is set but empty: name the trusted keys' directory, or unset it"
            " to serve unsigned policies",
            source=TRUST_VARIABLE,
        )
    return Path(named).absolute() if named else None


def _stale_set(text: str | None) -> dict[str, object] | None:
    """``QT_POLICY_STALE_SET``'s brake settings, or None; a value that is not a JSON object is
    a mistake said at once (the brake's fields are checked as any brake's when composed)."""
    if text is None or not text.strip():
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, dict) or not value:
        raise PolicyEnvError.single(
            f"{STALE_SET_VARIABLE} is not a JSON object of brake settings, e.g."
            ' {"risk_mode": "DEFENSIVE"}',
            source=STALE_SET_VARIABLE,
        )
    return value


def _accept(
    verified: tuple[str, bytes] | str, now: datetime, reviewed: set[str]
) -> tuple[tuple[str, bytes] | None, str]:
    """((name, brake file), "") for a signed brake (``verified``: its name and brake file,
    or why its signature is refused) that may be applied now or later; else (None, why). The
    one rule for a brake kept and a brake received."""
    if isinstance(verified, str):
        return None, verified
    name, data = verified
    if not BRAKE_NAME.fullmatch(name):
        return None, f"{printable(name)[:64]!r} is not a brake name"
    if name in reviewed:
        return None, f"a reviewed brake named {name} holds (it is in git)"
    brake = _parsed(name, data, now)
    if isinstance(brake, str):
        return None, brake
    if brake.kind != "brake":
        return None, (
            "a temporary adjustment cannot be sent: it may loosen, so it is reviewed; put it in git"
        )
    if brake.content.settings.model_versions:
        return None, "a sent brake may not pin model versions: a pin is reviewed, put it in git"
    if brake.state(now) == "expired":
        return None, f"brake {name} has lifted"
    if brake.starts is not None and brake.starts - now > timedelta(days=7):
        return None, f"brake {name} starts more than 7 days from now: send it then"
    return (name, data), ""


_PARSED: dict[bytes, BrakeFile] = {}  # brake file digest -> its model (refusals not kept:
# one refused for a window too far ahead may be valid tomorrow)


def _parsed(name: str, data: bytes, now: datetime) -> BrakeFile | str:
    """A signed brake's file through the brake model, once per content (a check reads every
    kept brake again: their contents do not change; what time does is judged by the caller)."""
    from ..pipeline import parse_brake  # noqa: PLC0415

    digest = hashlib.sha256(name.encode() + b"\0" + data).digest()
    found = _PARSED.get(digest)
    if found is None:
        try:  # located by its name only: a replica's paths are nobody's business
            found = parse_brake(data, Path(f"{name}.yaml"), now)
        except PolicyError as e:
            return printable(str(e))[:300]
        if len(_PARSED) >= 4 * MAX_BRAKES:
            _PARSED.clear()
        _PARSED[digest] = found
    return found


def _kind(why: str) -> str:
    """The outcome of a refused brake, from why."""
    if "not a signed brake" in why or "bytes, over" in why:
        return "malformed"
    if "trust directory" in why or "does not verify" in why:
        return "unsigned"
    if "a reviewed brake named" in why:
        return "conflict"
    return "not_a_brake"


def _create(path: Path, data: bytes) -> None:
    """Write a new file whole (a temporary file hard-linked into place), never over an
    existing one: FileExistsError when the name is taken. Not fsynced: it must survive the
    process (a restart), which the page cache does; a node that crashes takes the pod's
    directory with it. (Fifty replicas fsyncing at once on one disk cost the send half a
    second.)"""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:  # a name of its own: two senders never share one
            f.write(data)
        os.link(name, path)
    finally:
        Path(name).unlink(missing_ok=True)


def default_signed_brakes(
    signed: str | os.PathLike[str] | None, environ: Mapping[str, str], trust: Path | None
) -> Path | None:
    """The signed brakes' directory: the argument, else ``$QT_SIGNED_BRAKES_DIR``, else none.
    Only with trust: a signed brake is worth nothing where no key is trusted."""
    named = signed if signed is not None else environ.get(SIGNED_BRAKES_VARIABLE) or None
    if named is None:
        return None
    if trust is None:
        raise PolicySourceError.single(
            f"signed brakes ({named}) need a trust directory (trust=, {TRUST_VARIABLE}) to be"
            " verified with",
            source=str(named),
        )
    return Path(named).absolute()


STALE_BRAKE = "stale-bundle"  # the brake composed while the bundle served is stale


class Trust:
    """The trusted keys' directory, the rollback floor of one store, and the tightening it
    applies while the bundle it serves is stale (``QT_POLICY_STALE_SET``)."""

    def __init__(self, directory: Path, environ: Mapping[str, str] | None = None) -> None:
        self.directory = directory
        self.floor: tuple[int, datetime] | None = None
        self.stale_set = _stale_set((environ or {}).get(STALE_SET_VARIABLE))
        self._receiving = threading.Lock()
        # Parsed keys and verified brakes, kept while the trust directory is unchanged: a
        # check verifies each kept brake, and a kill switch sends one brake after another.
        self._keys: tuple[str, dict[str, TrustedKey]] | None = None
        self._bundle_keys: tuple[str, dict[str, TrustedKey]] | None = None
        self._verified: dict[bytes, tuple[str, bytes] | str] = {}

    def brake_keys(self) -> dict[str, TrustedKey]:
        """The keys that may sign a brake (the bundle keys and the brake-only keys), parsed
        again only when the trust directory changes.

        Raises:
            PolicySourceError: The trust directory cannot be read or holds no key.
        """
        from ..pipeline import load_brake_keys, load_trust  # noqa: PLC0415 - cryptography

        state = keys_state(self.directory) + keys_state(self.directory / "brakes")
        if self._keys is None or self._keys[0] != state:
            self._keys = (state, {**load_trust(self.directory), **load_brake_keys(self.directory)})
            self._verified = {}
        return self._keys[1]

    def verified(self, envelope: bytes, keys: Mapping[str, TrustedKey]) -> tuple[str, bytes] | str:
        """(name, brake file) of a signed brake a key of ``keys`` (`brake_keys`, read once by
        the caller) signed, else why not; remembered by the envelope's digest until the keys
        change."""
        from ..pipeline import verify_brake  # noqa: PLC0415 - cryptography

        digest = hashlib.sha256(envelope).digest()
        found = self._verified.get(digest)
        if found is None:
            try:
                found = verify_brake(envelope, keys, Path("(signed brake)"))
            except BundleRefused as e:
                found = printable(e.issues[0].message)[:300]
            if len(self._verified) >= 4 * MAX_BRAKES:
                self._verified.clear()
            self._verified[digest] = found
        return found

    def stale_brake(
        self, statement: Statement, now: datetime, policy: Path
    ) -> tuple[Path, bytes] | None:
        """The brake file composed while ``statement`` is past its expiry, or None (not
        stale, or no tightening named). It starts at the expiry and is renewed at each
        composition, so it holds for as long as nothing newer arrives."""
        if self.stale_set is None or now < statement.expires_at:
            return None
        until = (now + timedelta(days=6)).replace(microsecond=0)  # within a brake's 7 days
        text = json.dumps(
            {
                "reason": f"the signed bundle (version {statement.version}) expired at"
                f" {statement.expires_at:%Y-%m-%dT%H:%M:%SZ}: {STALE_SET_VARIABLE} applies",
                "until": until.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "set": self.stale_set,
            }
        )
        return policy.parent / f"{STALE_BRAKE}.yaml", text.encode()

    def verify(self, inputs: Inputs, policy: Path) -> Statement:
        """The verified statement of ``inputs`` (the bytes the store is about to build from).

        Raises:
            BundleRefused: Unsigned, not signed by a trusted key, files not as signed, or
                older than the floor (a rollback).
            PolicySourceError: The trust directory cannot be read or holds no key.
        """
        from ..pipeline import load_trust, verify_statement  # noqa: PLC0415 - cryptography

        where = policy.parent
        if inputs.statement is None:
            raise BundleRefused.single(
                f"no {STATEMENT_FILE_NAME} beside the policy file: with trust configured an"
                " unsigned policy is refused, never served",
                source=str(where / STATEMENT_FILE_NAME),
            )
        digests = {BUNDLE_POLICY_NAME: inputs.digest}
        for path, data in inputs.brakes:
            digests[f"{BRAKES_DIR_NAME}/{path.name}"] = hashlib.sha256(data).hexdigest()
        state = keys_state(self.directory)
        if self._bundle_keys is None or self._bundle_keys[0] != state:
            self._bundle_keys = (state, load_trust(self.directory))
        keys = self._bundle_keys[1]
        statement = verify_statement(inputs.statement, digests, keys, where, expired_ok=True)
        if self.floor is not None and (statement.version, statement.signed_at) < self.floor:
            version, signed_at = self.floor
            raise BundleRefused.single(
                f"rollback refused: this bundle (version {statement.version}, signed"
                f" {statement.signed_at:%Y-%m-%dT%H:%M:%SZ}) is older than one already applied"
                f" (version {version}, signed {signed_at:%Y-%m-%dT%H:%M:%SZ})",
                source=str(where / STATEMENT_FILE_NAME),
            )
        return statement

    def tightening_env(self, snap: PolicySnapshot, environ: Mapping[str, str]) -> None:
        """Under trust the environment may only tighten the signed policy: a ``QT_*`` value
        that loosens it is refused (PolicyEnvError), unless ``QT_POLICY_ENV_LOOSENS=allow``
        says it is meant (a test environment; status and metrics show the loosening)."""
        loosened = [f for f, d in snap.env_directions.items() if d == "loosens"]
        if not loosened or environ.get(ENV_LOOSENS_VARIABLE) == "allow":
            return
        named = ", ".join(f"{snap.env.get(f, f)} ({f})" for f in sorted(loosened))
        raise PolicyEnvError.single(
            f"{named} loosens the signed policy: under trust the environment may only"
            f" tighten it; unset it, or set {ENV_LOOSENS_VARIABLE}=allow where a looser"
            " policy than the one signed is meant (a test environment)",
            source=snap.env.get(loosened[0], loosened[0]),
        )

    def signed_brakes(
        self, inputs: Inputs, now: datetime
    ) -> tuple[list[tuple[Path, bytes]], list[str]]:
        """The brake files of ``inputs``' signed brakes, each signed by a trusted key (a
        bundle key or a brake-only key, ``KEYDIR/brakes/``), as (path, bytes) for the pipeline,
        and why each other one is left out: a brake can only tighten, so leaving one out never
        blocks the bundle (a key removed, a file planted by someone without one).

        Left out: one that does not verify (an unknown or removed key), is misnamed, is not a
        valid brake, pins a model version (a pin is reviewed, never sent), has lifted, or has
        the name of a brake of the bundle (it was put in git, reviewed: that one holds now).
        """
        if not inputs.signed:
            return [], []
        keys = self.brake_keys()
        reviewed = {path.name.rsplit(".", 1)[0] for path, _ in inputs.brakes}
        out, notes = [], []
        for path, envelope in inputs.signed:
            accepted, why = _accept(self.verified(envelope, keys), now, reviewed)
            if accepted is None or path.name != f"{accepted[0]}{SIGNED_SUFFIX}":
                why = why or "its file is not named NAME.dsse.json with its signed name"
                notes.append(f"signed brake {printable(path.name)[:80]} left out: {why}")
                continue
            name, data = accepted
            out.append((path.with_name(f"{name}.yaml"), data))
        return out, notes

    def ready(self) -> None:
        """Load now what receiving a brake needs (the brake-only keys, the brake model): the
        first brake of a kill switch must not pay for it, on every replica at once."""
        from ..pipeline import parse_brake  # noqa: PLC0415

        with contextlib.suppress(PolicyError):
            self.brake_keys()
        with contextlib.suppress(PolicyError):
            parse_brake(b"{}", self.directory / "warm-up.yaml", datetime.now(UTC))

    def receive(
        self, envelope: bytes, directory: Path, now: datetime, reviewed: set[str]
    ) -> Received:
        """Check a signed brake sent to this replica and keep it in ``directory`` (whole, never
        over another, one at a time): signed by a trusted key, a valid brake that may be sent,
        named as signed, no more than `MAX_BRAKES` kept (lifted ones are removed to make room).
        The store then applies it, and says whether it is in force."""
        if len(envelope) > MAX_SENT:
            return Received("malformed", f"{len(envelope)} bytes, over {MAX_SENT}")
        try:
            keys = self.brake_keys()
        except PolicyError as e:  # the trust directory itself
            return Received("not_accepted", printable(e.issues[0].message)[:300])
        accepted, why = _accept(self.verified(envelope, keys), now, reviewed)
        if accepted is None:
            return Received(_kind(why), why)
        name = accepted[0]
        target = directory / f"{name}{SIGNED_SUFFIX}"
        with self._receiving:  # one at a time: the count, the name and the write agree
            try:
                existing = read_source(target) if target.exists() or target.is_symlink() else None
            except PolicyError:
                return Received("not_accepted", f"{target.name} here is not a regular file", name)
            if existing is not None:
                if existing == envelope:
                    return Received("replay", f"brake {name} is in force already (a replay)", name)
                return Received("conflict", f"another signed brake is named {name}", name)
            kept = self._prune(directory, now, keys)
            if kept >= MAX_BRAKES:
                return Received("full", f"{kept} signed brakes kept, the most there may be", name)
            try:
                directory.mkdir(parents=True, exist_ok=True)
                _create(target, envelope)
            except FileExistsError:
                return Received("conflict", f"another signed brake is named {name}", name)
            except OSError as e:
                return Received("not_accepted", f"cannot keep it: {e.strerror or e}", name)
        return Received("applied", f"brake {name} is kept", name)

    def _prune(self, directory: Path, now: datetime, keys: Mapping[str, TrustedKey]) -> int:
        """The number of signed brakes kept; at the limit, those that have lifted are removed
        first to make room (verified, so only when it matters)."""
        from ..pipeline import read_signed_brakes  # noqa: PLC0415

        count = len(list(directory.glob(f"*{SIGNED_SUFFIX}"))) if directory.is_dir() else 0
        if count < MAX_BRAKES:
            return count
        try:
            present = read_signed_brakes(directory)
        except PolicyError:
            return MAX_BRAKES  # a directory that cannot be read takes nothing more
        kept = 0
        for path, envelope in present:
            accepted, why = _accept(self.verified(envelope, keys), now, set())
            if accepted is None and why.endswith("has lifted"):
                path.unlink(missing_ok=True)
            else:
                kept += 1
        return kept

    def applied(self, statement: Statement | None) -> None:
        """Raise the floor to a bundle just applied."""
        if statement is not None:
            mark = (statement.version, statement.signed_at)
            self.floor = mark if self.floor is None else max(self.floor, mark)

    def seed(self, kept: Inputs | None, policy: Path) -> None:
        """Start the floor at the bundle kept in ``last_good``, if it still verifies."""
        if kept is None:
            return
        try:
            self.applied(self.verify(kept, policy))
        except PolicyError:
            return  # not verifiable with the keys of now: no floor from it
