"""``policyctl verify DIR --trust KEYDIR``: whether a bundle is what was signed (exit 0), or
why not (exit 1: which file, which key, which rule)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import BundleRefused, PolicyError, printable
from ..pipeline import load_trust, verify_bundle
from ._escape import out
from ._exit import EXIT_INVALID, EXIT_OK
from ._report import issue_json

__all__ = ["add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("directory", metavar="DIR", help="the bundle directory")
    p.add_argument(
        "--trust",
        required=True,
        metavar="KEYDIR",
        help="directory of trusted public keys, one PEM file each (openssl pkey -pubout)",
    )
    p.add_argument("--format", choices=("text", "json"), default="text")


def run(args: argparse.Namespace) -> int:
    directory = Path(args.directory)
    trust = load_trust(Path(args.trust))  # a trust directory that cannot be read: exit 2
    try:
        statement, snapshot = verify_bundle(directory, trust)
    except BundleRefused as e:
        return _refused(e, args.format)
    except PolicyError as e:  # signed, but the policy in it is not valid
        if e.kind == "source":
            raise
        return _refused(e, args.format)
    signer = trust[statement.keyid]
    if args.format == "json":
        doc: dict[str, object] = {
            "verified": True,
            "version": statement.version,
            "commit": statement.commit,
            "signed_at": f"{statement.signed_at:%Y-%m-%dT%H:%M:%SZ}",
            "expires_at": f"{statement.expires_at:%Y-%m-%dT%H:%M:%SZ}",
            "keyid": statement.keyid,
            "key_file": str(signer.path),
            "files": dict(statement.files),
            "review": dict(statement.review),
            "digest": snapshot.digest,
            "errors": [],
        }
        out(json.dumps(doc, indent=2))
    else:
        out(
            f"{printable(args.directory)}: verified: version {statement.version}, commit"
            f" {statement.commit or '(none)'}, {len(statement.files)} file(s), signed"
            f" {statement.signed_at:%Y-%m-%dT%H:%M:%SZ} by key {statement.keyid[:16]}…"
            f" ({printable(signer.path.name)}), valid until"
            f" {statement.expires_at:%Y-%m-%dT%H:%M:%SZ}"
        )
        out(f"  review: {_review_line(statement.review)}")
    return EXIT_OK


def _review_line(review: Mapping[str, Any]) -> str:
    """The statement's review record in one line (someone's text: escaped, and cut)."""
    if not review.get("known"):
        return f"not known ({printable(str(review.get('why', '')))[:200]})"
    approvers = (
        ", ".join(printable(str(a.get("login")))[:64] for a in review.get("approvers", []))
        or "nobody"
    )
    return (
        f"pull request #{review.get('pull_request')} by"
        f" {printable(str(review.get('author', '?')))[:64]}, approved by {approvers},"
        f" lane {printable(str(review.get('lane', 'unknown')))[:32]}"
    )


def _refused(error: PolicyError, fmt: str) -> int:
    if fmt == "json":
        doc = {"verified": False, "errors": [issue_json(i, error.kind) for i in error.issues]}
        out(json.dumps(doc, indent=2))
    else:
        out(str(error))
        out(f"not verified: {len(error.issues)} problem(s)")
    return EXIT_INVALID
