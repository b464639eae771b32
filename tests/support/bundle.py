"""A signing desk for tests of signed bundles: a real Ed25519 key, its trust directory, and a
bundle directory that a store (or a server) reads, published by signing with the real code."""

from __future__ import annotations

import hashlib
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from policyctl.pipeline import sign_bundle

from .policy import VALID

__all__ = ["Desk", "openssl_keys"]


def openssl_keys(root: Path) -> tuple[Path, Path]:
    """A signing key made by the real openssl (``root/ci.pem``), and a trust directory
    (``root/trust``) with its public half."""
    private, trust = root / "ci.pem", root / "trust"
    trust.mkdir()
    subprocess.run(
        ["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(private)], check=True
    )
    subprocess.run(
        ["openssl", "pkey", "-in", str(private), "-pubout", "-out", str(trust / "ci.pem")],
        check=True,
    )
    return private, trust


class Desk:
    """A signing key, its trust directory, and a bundle directory a store reads."""

    def __init__(self, root: Path) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.trust = root / "trust"
        self.trust.mkdir()
        self.trust_key(self.key, "ci.pem")
        self.dir = root / "bundle"
        (self.dir / "overrides").mkdir(parents=True)
        self.policy = self.dir / "policy.yaml"

    def trust_key(self, key: Ed25519PrivateKey, name: str) -> None:
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        (self.trust / name).write_bytes(public)

    def publish(
        self,
        version: int,
        *,
        brakes: dict[str, str] | None = None,
        key: Ed25519PrivateKey | None = None,
        signed_at: datetime | None = None,
        valid_for: timedelta = timedelta(days=7),
    ) -> None:
        text = VALID.replace("version: 7", f"version: {version}")
        files = {"policy.yaml": text.encode()}
        for name, content in (brakes or {}).items():
            files[f"overrides/{name}.yaml"] = content.encode()
        for old in (self.dir / "overrides").iterdir():
            old.unlink()
        for name, data in files.items():
            (self.dir / name).write_bytes(data)
        envelope = sign_bundle(
            files,
            version=version,
            commit=hashlib.sha1(text.encode()).hexdigest(),
            key=key or self.key,
            now=signed_at or datetime.now(UTC),
            valid_for=valid_for,
        )
        (self.dir / "statement.dsse.json").write_bytes(envelope)
