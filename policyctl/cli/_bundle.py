"""``policyctl bundle build``: the policy file and its brake files, with one signed statement,
as a bundle directory (CI signs one after each merge to main)."""

from __future__ import annotations

import argparse
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ..errors import EditRefused, PolicySourceError, printable
from ..model import BUNDLE_POLICY_NAME, STATEMENT_FILE_NAME
from ..pipeline import (
    MAX_VALIDITY,
    bundle_files,
    check_review,
    default_brakes_dir,
    load_signing_key,
    read_source,
    sign_bundle,
    write_bundle,
)
from ..pipeline import build_snapshot as _build
from ..review import GitRepo
from ._arguments import FILE_HELP, brakes_option
from ._escape import out
from ._exit import EXIT_OK, UsageError
from ._help import duration

__all__ = ["add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("build",), help="build: sign a bundle of FILE")
    p.add_argument("file", nargs="?", metavar="FILE", help=FILE_HELP)
    brakes_option(p)
    p.add_argument(
        "--key",
        required=True,
        metavar="PEM",
        help="the Ed25519 private key to sign with (openssl genpkey -algorithm ed25519)",
    )
    p.add_argument("--out", default="bundle", metavar="DIR", help="the bundle directory (bundle)")
    p.add_argument(
        "--kustomization",
        metavar="FILE",
        help="also write FILE: a kustomization generating the ConfigMaps 'policy' (policy and"
        " statement) and 'policy-overrides' (every brake file) from the bundle",
    )
    p.add_argument(
        "--review",
        metavar="FILE",
        help="the review record of the pull request this commit merged (JSON, written by the"
        " signing job); without it the statement says none is known",
    )
    p.add_argument(
        "--expires-in",
        type=duration,
        default=timedelta(days=7),
        metavar="DURATION",
        help="how long the bundle is valid: 7d (default), 12h; at most 366d",
    )


def _commit(policy: Path, brakes: Path, files: dict[str, bytes]) -> str | None:
    """The commit the files come from; None outside git. A bundle names the commit that holds
    exactly its files: each one's bytes are compared with HEAD's (not `git status`, which an
    ignored file, an excluded one or an assumed-unchanged one would pass), and HEAD's brake
    files must all be in it."""
    try:
        repo = GitRepo(policy.parent)
    except PolicySourceError:
        return None
    if not repo.has_commits():
        return None
    head = repo.resolve("HEAD")
    fix = "commit them, or build from a clean checkout"
    where = {BUNDLE_POLICY_NAME: policy, **{n: brakes / Path(n).name for n in files if "/" in n}}
    for name, path in where.items():
        relative = repo.relative(path)  # outside the repository: PolicySourceError
        try:
            committed = repo.read(head, relative)
        except PolicySourceError:
            committed = None
        if committed != files[name]:
            raise EditRefused.single(
                f"{relative} is not as committed at HEAD ({head[:12]}): a bundle names the"
                f" commit that holds its files; {fix}",
                source=str(path),
            )
    held = {p.name for p, _ in repo.read_directory(head, repo.relative(brakes))}
    missing = sorted(
        n
        for n in held
        if n not in {Path(f).name for f in files if "/" in f} and not n.startswith(".")
    )
    if missing:
        raise EditRefused.single(
            f"{', '.join(missing)} is in HEAD ({head[:12]}) but not here: a bundle names the"
            f" commit that holds its files; {fix}",
            source=str(brakes),
        )
    return head


def _review(path: Path) -> dict[str, object]:
    """The review record file, read as a policy is (a regular file, bounded) and checked."""
    try:
        value = json.loads(read_source(path).decode("utf-8"))
        return check_review(value)
    except PolicySourceError as e:
        reason = e.issues[0].message.replace("the policy file", "the file")
        raise UsageError(f"--review {printable(str(path))}: {reason}") from None
    except (ValueError, RecursionError) as e:
        raise UsageError(f"--review {printable(str(path))}: {printable(str(e))[:300]}") from None


def _write_kustomization(path: Path, bundle: Path, names: list[str]) -> None:
    """The ConfigMaps of a bundle, every file listed from the bundle itself (no list kept by
    hand): ``policy`` holds the policy and the statement, ``policy-overrides`` the brake files
    (a ConfigMap key cannot hold a '/', so the brakes are a ConfigMap of their own, mounted
    where ``QT_OVERRIDES_DIR`` points)."""
    try:
        base = Path(os.path.relpath(bundle.resolve(), path.parent.resolve())).as_posix()
    except ValueError:  # another drive: an absolute path
        base = bundle.resolve().as_posix()
    brakes = [n for n in names if "/" in n]
    lines = [
        "# Written by policyctl bundle build --kustomization: the ConfigMaps of the bundle.",
        "apiVersion: kustomize.config.k8s.io/v1beta1",
        "kind: Kustomization",
        "generatorOptions:",
        "  disableNameSuffixHash: true  # updated in place: the pods reload, none restarts",
        "configMapGenerator:",
        "  - name: policy",
        "    files:",
        f"      - {json.dumps(f'{base}/{BUNDLE_POLICY_NAME}')}",
        f"      - {json.dumps(f'{base}/{STATEMENT_FILE_NAME}')}",
        "  - name: policy-overrides",
        "    files:" + ("" if brakes else " []"),
        *(f"      - {json.dumps(f'{base}/{name}')}" for name in brakes),
    ]
    path.write_text("\n".join(lines) + "\n")


def run(args: argparse.Namespace) -> int:
    if args.expires_in > MAX_VALIDITY:
        raise EditRefused.single(
            f"--expires-in is at most {MAX_VALIDITY.days}d: a bundle that never expires cannot"
            " show that a service is still being fed"
        )
    policy = Path(args.file)
    brakes = default_brakes_dir(policy, Path(args.brakes_dir) if args.brakes_dir else None, {})
    target = Path(args.out).absolute()
    here = Path.cwd()
    if target == here or target in here.parents:
        raise EditRefused.single(
            f"--out {printable(args.out)} is this directory (or holds it): a bundle replaces its"
            " directory whole; give one of its own, e.g. --out bundle",
            source=str(target),
        )
    for source in (policy.absolute(), brakes.absolute()):
        if target == source or target in source.parents:
            raise EditRefused.single(
                f"--out {printable(args.out)} holds what the bundle is built from; give a"
                " directory of its own (bundle/, or one outside the repository)",
                source=str(target),
            )
    key, keyid = load_signing_key(Path(args.key))
    files = bundle_files(policy, brakes)
    now = datetime.now(UTC).replace(microsecond=0)
    # Signed only when valid: the policy with its brakes, as every store will read it.
    snapshot = _build(
        read_source(policy),
        policy,
        env={},
        brakes=[(brakes / Path(n).name, d) for n, d in files.items() if "/" in n],
        now=now,
    )
    commit = _commit(policy, brakes, files)
    review = _review(Path(args.review)) if args.review else None
    envelope = sign_bundle(
        files,
        version=snapshot.version,
        commit=commit,
        key=key,
        now=now,
        valid_for=args.expires_in,
        review=review,
    )
    write_bundle(Path(args.out), files, envelope)
    if args.kustomization:
        _write_kustomization(Path(args.kustomization), Path(args.out), sorted(files))
    expires = (now + args.expires_in).strftime("%Y-%m-%dT%H:%M:%SZ")
    out(
        f"{printable(args.out)}: bundle of version {snapshot.version}"
        f" ({len(files) - 1} brake file(s)), commit {commit[:12] if commit else '(not in git)'},"
        f" signed by key {keyid[:16]}…, valid until {expires}"
    )
    return EXIT_OK
