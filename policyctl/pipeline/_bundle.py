"""Signed bundles: what a service serves, provably what was reviewed.

A bundle is a directory: the policy file (``policy.yaml``), its brake files
(``overrides/NAME.yaml``), and one signed statement (``statement.dsse.json``) naming each file by
path and SHA-256, with the policy's ``version``, the commit it was built from, when it was signed
and until when it is valid. The statement is an in-toto Statement v1 in a DSSE envelope, signed
with Ed25519 (standard formats, so that tools other than this one can read and check it):

    {"payloadType": "application/vnd.in-toto+json",
     "payload": base64({"_type": "https://in-toto.io/Statement/v1",
                        "subject": [{"name": "policy.yaml", "digest": {"sha256": "..."}}, ...],
                        "predicateType": PREDICATE_TYPE,
                        "predicate": {"version": 8, "commit": "...", "signed_at": "...",
                                      "expires_at": "...", "review": {...}}}),
     "signatures": [{"keyid": "<sha256 of the public key's DER>", "sig": base64(...)}]}

The signature covers DSSE's pre-authentication encoding of the payload type and the payload
(``PAE``), never the parsed JSON: nothing of an unverified payload is read. Keys are PEM Ed25519
keys as ``openssl genpkey -algorithm ed25519`` writes them (``openssl pkey -pubout`` for the
public half); a key's id is the SHA-256 of its public key's DER encoding, so it is derived from
the key itself and the same wherever the key is. A trust directory holds one public key per
``.pem`` file.

Ed25519 and PEM come from ``cryptography`` (the well-kept library every Python signing tool
builds on); the envelope is DSSE's four-line encoding, written here and checked against
securesystemslib's own DSSE implementation by the tests (importing securesystemslib costs
~90 ms, most of what ``policyctl verify`` may take in all).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..errors import BundleRefused, Issue, PolicySourceError, printable
from ..model import BRAKES_DIR_NAME, BUNDLE_POLICY_NAME, STATEMENT_FILE_NAME
from ._brakes import ignored, read_brakes
from ._loader import PolicySnapshot, build_snapshot
from ._source import read_source
from ._statement import Statement

__all__ = [
    "BRAKE_PAYLOAD_TYPE",
    "DEFAULT_VALIDITY",
    "MAX_VALIDITY",
    "PAYLOAD_TYPE",
    "PREDICATE_TYPE",
    "STATEMENT_TYPE",
    "Statement",
    "TrustedKey",
    "bundle_files",
    "check_review",
    "check_version",
    "key_id",
    "load_brake_keys",
    "load_signing_key",
    "load_trust",
    "read_statement",
    "sign_brake",
    "sign_bundle",
    "verify_brake",
    "verify_bundle",
    "verify_statement",
    "write_bundle",
]

PAYLOAD_TYPE: Final = "application/vnd.in-toto+json"
BRAKE_PAYLOAD_TYPE: Final = "application/vnd.policyctl.brake+json"
"""A signed brake's envelope: its payload is ``{"name": NAME, "brake": "<the brake file>"}``."""
BRAKE_KEYS_DIR: Final = "brakes"  # in a trust directory: the keys that may sign brakes only
STATEMENT_TYPE: Final = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE: Final = "https://github.com/quantum-trader/policyctl/bundle/v1"
DEFAULT_VALIDITY: Final = timedelta(days=7)
MAX_VALIDITY: Final = timedelta(days=366)
MAX_STATEMENT: Final = 1 << 20  # a statement of 65 files is a few KiB
MAX_KEY_FILE: Final = 16 << 10
CLOCK_SKEW: Final = timedelta(minutes=5)  # a statement signed this far "in the future" is fine
_HEX64 = re.compile(r"[0-9a-f]{64}")
_TIME = "%Y-%m-%dT%H:%M:%SZ"
_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


@dataclass(frozen=True, slots=True)
class TrustedKey:
    """A public key a store or ``verify`` trusts: its id, and the file it came from."""

    keyid: str
    path: Path
    key: Ed25519PublicKey


# The review record a statement carries (what the signing job read from the pull request the
# commit merged), checked for shape: text is someone's, so it is bounded and never trusted.
_REVIEW_TEXT = {"title": 1024, "author": 128, "merged_at": 64, "lane": 32, "why": 1024}
_JUSTIFICATION = 64 * 1024
NO_REVIEW: Final = {
    "known": False,
    "why": "no pull request recorded: signed outside the merge of one (a schedule, or by hand)",
}


def check_review(value: object) -> dict[str, Any]:
    """A statement's review record, checked: ``{"known": false, "why": ...}`` when the signer
    could not know, else ``{"known": true, "pull_request", "title", "author", "merged_at",
    "lane", "justification", "approvers": [{"login", "at"}]}``; never guessed.

    Raises:
        ValueError: Not such a record (the message says what is wrong).
    """
    if not isinstance(value, dict) or not isinstance(value.get("known"), bool):
        raise ValueError('a review record is a JSON object with "known": true or false')
    if not value["known"]:
        if set(value) - {"known", "why"} or not isinstance(value.get("why", ""), str):
            raise ValueError('an unknown review holds only "known" and "why" (text)')
        return {"known": False, "why": str(value.get("why", ""))[: _REVIEW_TEXT["why"]]}
    allowed = {"known", "pull_request", "justification", "approvers", *_REVIEW_TEXT}
    if set(value) - allowed:
        raise ValueError(f"unknown keys in the review record: {sorted(set(value) - allowed)}")
    number = value.get("pull_request")
    if type(number) is not int or not 0 < number < 2**31:
        raise ValueError("pull_request is the pull request's number")
    record: dict[str, Any] = {"known": True, "pull_request": number}
    for name, limit in _REVIEW_TEXT.items():
        if name in value:
            if not isinstance(value[name], str) or len(value[name]) > limit:
                raise ValueError(f"{name} is text of at most {limit} characters")
            record[name] = value[name]
    text = value.get("justification", "")
    if not isinstance(text, str) or len(text) > _JUSTIFICATION:
        raise ValueError(f"justification is text of at most {_JUSTIFICATION} characters")
    record["justification"] = text
    approvers = value.get("approvers", [])
    if not isinstance(approvers, list) or len(approvers) > 100:
        raise ValueError("approvers is a list of at most 100 {login, at}")
    record["approvers"] = []
    for entry in approvers:
        if not (
            isinstance(entry, dict)
            and set(entry) <= {"login", "at"}
            and isinstance(entry.get("login"), str)
            and isinstance(entry.get("at"), str)
            and len(entry["login"]) <= 128
            and len(entry["at"]) <= 64
        ):
            raise ValueError("each approver is {login, at}, both text")
        record["approvers"].append({"login": entry["login"], "at": entry["at"]})
    return record


def key_id(key: Ed25519PublicKey) -> str:
    """The id of a public key: SHA-256 of its DER (SubjectPublicKeyInfo) encoding, in hex."""
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def _read_small(path: Path, limit: int, what: str) -> bytes:
    data = read_source(path)  # regular files only, never blocking
    if len(data) > limit:
        raise PolicySourceError.single(
            f"{what} is {len(data)} bytes, over {limit}: not a {what}", source=str(path)
        )
    return data


def load_signing_key(path: Path) -> tuple[Ed25519PrivateKey, str]:
    """A PEM Ed25519 private key (unencrypted, as ``openssl genpkey -algorithm ed25519``
    writes it) and its key id.

    Raises:
        PolicySourceError: The file cannot be read, or is not such a key.
    """
    data = _read_small(path, MAX_KEY_FILE, "key file")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise PolicySourceError.single(
            "the key is encrypted; give an unencrypted PEM key (held by CI's secret store)",
            source=str(path),
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise PolicySourceError.single(
            "not a PEM private key; make one with: openssl genpkey -algorithm ed25519 -out KEY",
            source=str(path),
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise PolicySourceError.single(
            f"a {type(key).__name__.removeprefix('_')} key, not Ed25519; make one with:"
            " openssl genpkey -algorithm ed25519 -out KEY",
            source=str(path),
        )
    return key, key_id(key.public_key())


def load_trust(directory: Path) -> dict[str, TrustedKey]:
    """The public keys of a trust directory: one PEM Ed25519 public key per ``.pem`` file
    (hidden entries, such as a mounted Secret's ``..data``, are not keys).

    Raises:
        PolicySourceError: The directory is missing or holds no key, or a ``.pem`` file is
            not a public Ed25519 key (a private key there is refused: it is a secret).
    """
    try:
        names = sorted(e.name for e in os.scandir(directory) if not e.name.startswith("."))
    except OSError as e:
        raise PolicySourceError.single(
            f"cannot read the trust directory: {e.strerror or e}", source=str(directory)
        ) from None
    keys: dict[str, TrustedKey] = {}
    for name in names:
        path = directory / name
        if not name.endswith(".pem"):
            continue  # a README, the brake-only keys' subdirectory
        data = _read_small(path, MAX_KEY_FILE, "key file")
        if b"PRIVATE KEY" in data:
            raise PolicySourceError.single(
                "holds a private key: a trust directory holds public keys only (openssl pkey"
                " -in KEY -pubout -out PUBLIC.pem); remove it, and replace the key if it was"
                " shared",
                source=str(path),
            )
        if data.count(b"-----BEGIN") > 1:
            raise PolicySourceError.single(
                "holds more than one key: one public key per .pem file (each is trusted by"
                " its own file, and removed by removing it)",
                source=str(path),
            )
        try:
            key = serialization.load_pem_public_key(data)
        except (ValueError, UnsupportedAlgorithm):
            raise PolicySourceError.single(
                "not a PEM public key (openssl pkey -in KEY -pubout -out PUBLIC.pem)",
                source=str(path),
            ) from None
        if not isinstance(key, Ed25519PublicKey):
            raise PolicySourceError.single(
                f"a {type(key).__name__.removeprefix('_')} key, not Ed25519", source=str(path)
            )
        keys[key_id(key)] = TrustedKey(key_id(key), path, key)
    if not keys:
        raise PolicySourceError.single(
            "the trust directory holds no .pem public key", source=str(directory)
        )
    return keys


def _pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what is signed."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def sign_bundle(
    files: Mapping[str, bytes],
    *,
    version: int,
    commit: str | None,
    key: Ed25519PrivateKey,
    now: datetime,
    valid_for: timedelta = DEFAULT_VALIDITY,
    review: Mapping[str, Any] | None = None,
) -> bytes:
    """The signed statement (a DSSE envelope, JSON bytes) of ``files`` (bundle path -> bytes)."""
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [
            {"name": name, "digest": {"sha256": hashlib.sha256(data).hexdigest()}}
            for name, data in sorted(files.items())
        ],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "version": version,
            "commit": commit,
            "signed_at": now.astimezone(UTC).strftime(_TIME),
            "expires_at": (now + valid_for).astimezone(UTC).strftime(_TIME),
            "review": check_review(review) if review is not None else dict(NO_REVIEW),
        },
    }
    payload = json.dumps(statement, indent=2, sort_keys=True).encode()
    signature = key.sign(_pae(PAYLOAD_TYPE, payload))
    envelope = {
        "payloadType": PAYLOAD_TYPE,
        "payload": _b64(payload),
        "signatures": [{"keyid": key_id(key.public_key()), "sig": _b64(signature)}],
    }
    return json.dumps(envelope, indent=2).encode() + b"\n"


def bundle_files(policy: Path, brakes_dir: Path) -> dict[str, bytes]:
    """The files of a bundle from a policy file and its brakes' directory, by bundle path."""
    files = {BUNDLE_POLICY_NAME: read_source(policy)}
    for path, data in read_brakes(brakes_dir):
        files[f"{BRAKES_DIR_NAME}/{path.name}"] = data
    return files


def write_bundle(out: Path, files: Mapping[str, bytes], envelope: bytes) -> None:
    """Write a bundle directory at ``out``: built beside it, then renamed into place. An
    existing ``out`` is replaced only when it holds nothing but a bundle's files."""
    # `.` and `..` made names (a bundle needs a name and a parent), links not followed.
    out = Path(os.path.abspath(out))  # noqa: PTH100 - resolve() would follow a symlink
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise PolicySourceError.single("not a directory: a bundle is a directory", source=str(out))
    if out.parent == out:
        raise PolicySourceError.single("the root is no bundle directory", source=str(out))
    if out.is_dir() and not _only_a_bundle(out):
        raise PolicySourceError.single(
            "holds files that are no part of a bundle: not a bundle to replace (everything in"
            " it would be removed); give an empty or new directory",
            source=str(out),
        )
    staging = out.with_name(f".{out.name}.new-{os.getpid()}")
    if staging.exists():
        _remove_tree(staging)
    (staging / BRAKES_DIR_NAME).mkdir(parents=True)
    for name, data in {**files, STATEMENT_FILE_NAME: envelope}.items():
        (staging / name).write_bytes(data)
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
        staging.rename(out)
        _remove_tree(old)
    else:
        staging.rename(out)


def _only_a_bundle(directory: Path) -> bool:
    """Whether ``directory`` holds nothing but what a bundle holds (or nothing at all): a
    policy, a statement, and a brakes' directory of brake files; hidden entries aside."""
    for entry in directory.iterdir():
        if entry.name.startswith(".") or (
            entry.name in (BUNDLE_POLICY_NAME, STATEMENT_FILE_NAME) and entry.is_file()
        ):
            continue
        brakes = entry.name == BRAKES_DIR_NAME and entry.is_dir() and not entry.is_symlink()
        if brakes and all(
            f.is_file() and (f.suffix in (".yaml", ".yml") or f.name.startswith("."))
            for f in entry.iterdir()
        ):
            continue
        return False
    return True


def _remove_tree(path: Path) -> None:
    for entry in sorted(path.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        entry.rmdir() if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    path.rmdir()


def _refuse(message: str, where: Path) -> BundleRefused:
    return BundleRefused.single(message, source=str(where))


def _time(value: object, name: str, where: Path) -> datetime:
    if not isinstance(value, str):
        raise _refuse(f"the statement's {name} is not a time", where)
    try:  # the one shape sign_bundle writes; fromisoformat (not strptime: ~1 ms to import)
        if not _STAMP.fullmatch(value):
            raise ValueError(value)
        return datetime.fromisoformat(value).astimezone(UTC)
    except ValueError:
        raise _refuse(f"the statement's {name} {value!r} is not a UTC time", where) from None


def _read_statement(directory: Path) -> bytes:
    """The bytes of the bundle's statement file (BundleRefused when there is none)."""
    where = directory / STATEMENT_FILE_NAME
    if not where.exists() and not where.is_symlink():
        raise _refuse(
            f"no {STATEMENT_FILE_NAME}: the bundle is not signed, and with trust configured an"
            " unsigned bundle is refused (build one with: policyctl bundle build --key KEY)",
            where,
        )
    try:  # a FIFO, a device, a directory or a huge file is a bundle that does not verify
        return _read_small(where, MAX_STATEMENT, "statement")
    except PolicySourceError as e:
        reason = e.issues[0].message.replace("the policy file", "the statement")
        raise _refuse(f"the statement cannot be read: {reason}", where) from None


def _parse_envelope(
    data: bytes, where: Path, expected: str = PAYLOAD_TYPE, what: str = "DSSE envelope"
) -> tuple[str, bytes, list[tuple[str, bytes]]]:
    """(payload type, payload, [(keyid, signature)]) of an envelope's bytes (a statement, or a
    signed brake), whose payload type must be ``expected``."""
    if len(data) > MAX_STATEMENT:
        raise _refuse(f"{len(data)} bytes, over {MAX_STATEMENT}: not a {what}", where)
    try:
        envelope = json.loads(data)
        payload_type = envelope["payloadType"]
        payload = base64.b64decode(envelope["payload"], validate=True)
        signatures = [
            (s["keyid"], base64.b64decode(s["sig"], validate=True)) for s in envelope["signatures"]
        ]
        if not isinstance(payload_type, str) or not all(isinstance(k, str) for k, _ in signatures):
            raise TypeError("payloadType and keyid are text")
    except (ValueError, TypeError, KeyError, RecursionError, binascii.Error) as e:
        reason = f"{type(e).__name__}: {e}" if not isinstance(e, KeyError) else f"no {e}"
        raise _refuse(f"not a {what} ({printable(reason)[:200]})", where) from None
    if payload_type != expected:
        anything = (
            ""
            if expected == PAYLOAD_TYPE
            else ": a policy, or anything but a brake, is never accepted here"
        )
        raise _refuse(
            f"payloadType {printable(payload_type)[:80]!r}, not {expected!r}{anything}", where
        )
    if not signatures:
        raise _refuse("the envelope holds no signature", where)
    return payload_type, payload, signatures


def _signer(
    directory: Path,
    payload: bytes,
    signatures: list[tuple[str, bytes]],
    trust: Mapping[str, TrustedKey],
) -> str:
    """The id of the trusted key whose signature of a statement verifies."""
    where = directory / STATEMENT_FILE_NAME
    return _signer_of(where, PAYLOAD_TYPE, payload, signatures, trust)


def _signer_of(
    where: Path,
    payload_type: str,
    payload: bytes,
    signatures: list[tuple[str, bytes]],
    trust: Mapping[str, TrustedKey],
) -> str:
    """The id of the trusted key whose signature verifies; else every signature's reason."""
    signed = _pae(payload_type, payload)
    reasons = []
    for keyid, signature in signatures:
        shown = printable(keyid)[:16]
        trusted = trust.get(keyid)
        if trusted is None:
            reasons.append(f"signed by key {shown}…, which is not in the trust directory")
            continue
        try:
            trusted.key.verify(signature, signed)
        except InvalidSignature:
            reasons.append(
                f"the signature by key {shown}… ({trusted.path.name}) does not verify: the"
                " signed content or its signature was changed"
            )
            continue
        return keyid
    known = ", ".join(f"{k[:16]}… ({t.path.name})" for k, t in sorted(trust.items()))
    raise BundleRefused(
        Issue((), None, None, f"{reason}; trusted: {known}", str(where)) for reason in reasons
    )


def _statement(directory: Path, payload: bytes, keyid: str) -> Statement:
    where = directory / STATEMENT_FILE_NAME
    try:
        body = json.loads(payload)
        subjects = body["subject"]
        predicate = body["predicate"]
        kind, predicate_type = body["_type"], body["predicateType"]
        files = {s["name"]: s["digest"]["sha256"] for s in subjects}
        version, commit = predicate["version"], predicate.get("commit")
        review = predicate.get("review") or {}
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as e:
        raise _refuse(
            f"the signed statement is not one this tool writes ({e!r:.120})", where
        ) from None
    if kind != STATEMENT_TYPE or predicate_type != PREDICATE_TYPE:
        raise _refuse(f"the signed statement is not a {PREDICATE_TYPE} statement", where)
    if len(files) != len(subjects):
        raise _refuse("the signed statement lists a file twice", where)
    for name, digest in files.items():
        if not (isinstance(name, str) and isinstance(digest, str) and _HEX64.fullmatch(digest)):
            raise _refuse("the signed statement names a file without a SHA-256 digest", where)
    if type(version) is not int or not (commit is None or isinstance(commit, str)):
        raise _refuse("the signed statement's version or commit is malformed", where)
    if not isinstance(review, dict):
        raise _refuse("the signed statement's review is malformed", where)
    signed_at = _time(predicate.get("signed_at"), "signed_at", where)
    expires_at = _time(predicate.get("expires_at"), "expires_at", where)
    return Statement(version, commit, signed_at, expires_at, files, keyid, review)


def _present(directory: Path) -> dict[str, Path]:
    """The bundle's files as they are on disk: the policy and brake files, by bundle path
    (hidden entries, such as a ConfigMap's ``..data``, are not files of the bundle)."""
    found: dict[str, Path] = {}
    for root, prefix in ((directory, ""), (directory / BRAKES_DIR_NAME, f"{BRAKES_DIR_NAME}/")):
        try:
            names = sorted(e.name for e in os.scandir(root) if not e.name.startswith("."))
        except FileNotFoundError:
            continue
        except OSError as e:
            raise _refuse(f"cannot read the bundle: {e.strerror or e}", root) from None
        for name in names:
            path = root / name
            if prefix == "" and name in (STATEMENT_FILE_NAME, BRAKES_DIR_NAME):
                continue
            if prefix and ignored(name):
                continue  # a README beside the brakes: no store reads it either
            try:
                mode = path.stat().st_mode
            except OSError:
                mode = 0  # a dangling link: not a file the statement can vouch for
            if not stat.S_ISREG(mode):
                raise _refuse("not a regular file: a bundle holds files only", path)
            found[prefix + name] = path
    return found


def verify_statement(
    envelope: bytes,
    digests: Mapping[str, str],
    trust: Mapping[str, TrustedKey],
    directory: Path,
    *,
    now: datetime | None = None,
    expired_ok: bool = False,
) -> Statement:
    """Verify a bundle's statement (``envelope``, the bytes of its statement file) against the
    files read with it (``digests``: bundle path -> SHA-256 hex), without reading anything:
    a store verifies exactly the bytes it is about to build from.

    Args:
        directory: The bundle's directory, for the messages.
        expired_ok: Accept a statement past its expiry (a store keeps serving a bundle that
            expired, and says it is stale); never one signed in the future.

    Raises:
        BundleRefused: Each issue names the file, key or rule that fails.
    """
    moment = now or datetime.now(UTC)
    where = directory / STATEMENT_FILE_NAME
    _, payload, signatures = _parse_envelope(envelope, where)
    statement = _statement(directory, payload, _signer(directory, payload, signatures, trust))
    problems = [
        _issue(f"listed in the signed statement but missing ({name})", directory / name)
        for name in sorted(statement.files.keys() - digests.keys())
    ]
    problems += [
        _issue("not listed in the signed statement: a file added to the bundle", directory / name)
        for name in sorted(digests.keys() - statement.files.keys())
    ]
    problems += [
        _issue("its SHA-256 is not the one signed: the file was changed", directory / name)
        for name in sorted(digests.keys() & statement.files.keys())
        if digests[name] != statement.files[name]
    ]
    if problems:
        raise BundleRefused(problems)
    if BUNDLE_POLICY_NAME not in statement.files:
        raise _refuse(f"the signed statement lists no {BUNDLE_POLICY_NAME}", where)
    if statement.signed_at - CLOCK_SKEW > moment:
        ahead = _refuse(
            f"signed at {statement.signed_at:{_TIME}}, in the future: check this machine's clock",
            where,
        )
        ahead.retry_at = statement.signed_at - CLOCK_SKEW
        raise ahead
    if statement.expires_at - statement.signed_at > MAX_VALIDITY:
        raise _refuse(
            f"valid for {(statement.expires_at - statement.signed_at).days} days, over the"
            f" {MAX_VALIDITY.days} a bundle may be: re-sign it with a shorter --expires-in",
            where,
        )
    if moment >= statement.expires_at and not expired_ok:
        raise _refuse(
            f"expired at {statement.expires_at:{_TIME}} (signed {statement.signed_at:{_TIME}}):"
            " it must be signed again (CI renews bundles on a schedule)",
            where,
        )
    return statement


def read_statement(envelope: bytes, trust: Mapping[str, TrustedKey], where: Path) -> Statement:
    """What a kept statement (``envelope``, e.g. one of the evidence branch's) says, once its
    signature verifies with a ``trust`` key: the record of what was signed and when, for an
    audit. Neither its files (not read with it) nor its expiry (long past) are judged here.

    Raises:
        BundleRefused: Not a statement, or no trusted key's signature verifies.
    """
    _, payload, signatures = _parse_envelope(envelope, where)
    return _statement(where.parent, payload, _signer(where.parent, payload, signatures, trust))


def _issue(message: str, where: Path) -> Issue:
    return Issue((), None, None, message, str(where))


def verify_bundle(
    directory: Path, trust: Mapping[str, TrustedKey], *, now: datetime | None = None
) -> tuple[Statement, PolicySnapshot]:
    """Verify the bundle in ``directory`` with the keys of ``trust``, and read its policy.

    It verifies when a trusted key's signature covers the statement, every file the statement
    lists is there with its SHA-256, no other file is, the policy (with its brakes) is valid
    with the statement's version, and ``now`` lies between its signing (less a few minutes'
    clock skew) and its expiry.

    Raises:
        BundleRefused: The bundle does not verify; each issue names the file, key or rule.
        PolicyError: The signed policy itself is invalid (as `load_policy` would say).
    """
    moment = now or datetime.now(UTC)
    envelope = _read_statement(directory)
    data = {name: read_source(path) for name, path in _present(directory).items()}
    digests = {name: hashlib.sha256(content).hexdigest() for name, content in data.items()}
    statement = verify_statement(envelope, digests, trust, directory, now=moment)
    brakes = [
        (directory / name, content)
        for name, content in sorted(data.items())
        if name != BUNDLE_POLICY_NAME
    ]
    snapshot = build_snapshot(
        data[BUNDLE_POLICY_NAME], directory / BUNDLE_POLICY_NAME, env={}, brakes=brakes, now=moment
    )
    check_version(statement, snapshot.version, directory / BUNDLE_POLICY_NAME)
    return statement, snapshot


def check_version(statement: Statement, version: int, where: Path) -> None:
    """The policy's ``version`` must be the one signed (BundleRefused otherwise)."""
    if version != statement.version:
        raise _refuse(
            f"the policy's version is {version}, the signed statement's {statement.version}",
            where,
        )


def load_brake_keys(directory: Path) -> dict[str, TrustedKey]:
    """The brake-only keys of a trust directory (``KEYDIR/brakes/*.pem``: a risk officer's key,
    say); none when there is no such directory. They sign brakes, never a bundle."""
    brakes = directory / BRAKE_KEYS_DIR
    if not brakes.is_dir() or not any(p.suffix == ".pem" for p in brakes.iterdir()):
        return {}  # none (yet): the bundle keys still sign brakes
    return load_trust(brakes)


def sign_brake(name: str, data: bytes, key: Ed25519PrivateKey) -> bytes:
    """A signed brake (DSSE envelope, JSON bytes): the brake file ``data``, named ``name``."""
    payload = json.dumps({"name": name, "brake": data.decode("utf-8")}, indent=2).encode()
    signature = key.sign(_pae(BRAKE_PAYLOAD_TYPE, payload))
    envelope = {
        "payloadType": BRAKE_PAYLOAD_TYPE,
        "payload": _b64(payload),
        "signatures": [{"keyid": key_id(key.public_key()), "sig": _b64(signature)}],
    }
    return json.dumps(envelope, indent=2).encode() + b"\n"


def verify_brake(
    envelope: bytes, trust: Mapping[str, TrustedKey], where: Path
) -> tuple[str, bytes]:
    """The (name, brake file bytes) of a signed brake that a key of ``trust`` signed (the
    bundle keys and the brake-only keys); the brake itself is checked by the caller, as any
    brake file is (it can only tighten).

    Raises:
        BundleRefused: Not an envelope of a signed brake, or not signed by a trusted key.
    """
    _, payload, signatures = _parse_envelope(envelope, where, BRAKE_PAYLOAD_TYPE, "signed brake")
    _signer_of(where, BRAKE_PAYLOAD_TYPE, payload, signatures, trust)
    try:
        body = json.loads(payload)
        name, text = body["name"], body["brake"]
        if not (isinstance(name, str) and isinstance(text, str)):
            raise TypeError("name and brake are text")
    except (ValueError, TypeError, KeyError, RecursionError) as e:
        raise _refuse(f"the signed brake is malformed ({e!r:.120})", where) from None
    return name, text.encode("utf-8")
