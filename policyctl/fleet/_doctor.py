"""``policyctl doctor``: what will go wrong for a service reading this policy file, here.

Each check looks at the machine as the service will see it (the mount, the layout, inotify's
limits, permissions, the overrides directory, the clock) and returns findings: ``problem``
(the service will misbehave; doctor exits 1) or ``note`` (worth knowing), each with its fix.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from ..errors import PolicyError
from ..live import PolicyStore, is_mount_point
from ..pipeline import TRUST_VARIABLE

__all__ = ["Finding", "examine"]

_SHA = re.compile(r"[0-9a-f]{40}")
_INOTIFY = Path("/proc/sys/fs/inotify")
_CLOSE_TO_USE = 0.8


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing doctor found: how serious, what, and what to do."""

    level: Literal["problem", "note"]
    what: str
    fix: str = ""


def _mount(path: Path) -> Iterator[Finding]:
    if is_mount_point(path):
        yield Finding(
            "problem",
            f"{path} is a mount point of its own (a Kubernetes subPath or single-file mount):"
            " it is copied at start and never updated",
            "mount the ConfigMap's directory and point QT_POLICY_FILE into it",
        )


def _layout(path: Path) -> Iterator[Finding]:
    configmap = (path.parent / "..data").is_symlink()
    if configmap:
        yield Finding("note", f"{path} is in a Kubernetes ConfigMap volume (..data swaps)")
    elif path.is_symlink():
        yield Finding(
            "note",
            f"{path} is a symbolic link to {path.readlink()}: the store serves the target's"
            " content (in git, a link under the policy's directory is refused by review)",
        )
    resolved = path.resolve()
    commit = next((p for p in reversed(resolved.parent.parts) if _SHA.fullmatch(p)), None)
    if commit is not None:
        yield Finding("note", f"{path} is in a git-sync checkout, at commit {commit}")


def _readable(path: Path) -> Iterator[Finding]:
    if not path.exists():
        yield Finding("problem", f"{path} does not exist", "check QT_POLICY_FILE and the mount")
    elif not os.access(path, os.R_OK):
        yield Finding(
            "problem",
            f"{path} is not readable by this user (uid {os.getuid()})",
            "give the service's user or group read access (fsGroup in Kubernetes)",
        )


def _overrides(directory: Path) -> Iterator[Finding]:
    if not directory.exists():
        yield Finding("note", f"no overrides directory {directory}: no brake can apply here")
    elif not directory.is_dir() or not os.access(directory, os.R_OK | os.X_OK):
        yield Finding(
            "problem",
            f"the overrides directory {directory} cannot be read: every reload will be refused",
            "give the service read and search access to it, or point QT_OVERRIDES_DIR elsewhere",
        )


def _inotify_instances(uid: int) -> int:
    count = 0
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            if fd_dir.parent.stat().st_uid != uid:
                continue
            count += sum(1 for fd in fd_dir.iterdir() if str(fd.readlink()) == "anon_inode:inotify")
        except OSError:
            continue
    return count


def _inotify() -> Iterator[Finding]:
    try:
        limit = int((_INOTIFY / "max_user_instances").read_text())
        watches = int((_INOTIFY / "max_user_watches").read_text())
    except (OSError, ValueError):
        yield Finding("note", "inotify's limits cannot be read here: the store may have to poll")
        return
    used = _inotify_instances(os.getuid())
    if used >= limit * _CLOSE_TO_USE:
        yield Finding(
            "problem",
            f"{used} of {limit} inotify instances of this user are in use: a new store will"
            " fall back to polling",
            "raise fs.inotify.max_user_instances (sysctl), or run fewer watchers per user",
        )
    if watches < 1024:
        yield Finding(
            "problem",
            f"fs.inotify.max_user_watches is {watches}: a store needs a few per file",
            "raise fs.inotify.max_user_watches (sysctl)",
        )


def _clock() -> Iterator[Finding]:
    now = datetime.now(UTC)
    if now.year < 2025:
        yield Finding(
            "problem",
            f"the clock says {now:%Y-%m-%dT%H:%M:%SZ}: brakes start and lift by it",
            "synchronise the clock (NTP)",
        )
    drift = abs(now.timestamp() - time.time())
    if drift > 1:
        yield Finding("problem", f"the clocks disagree by {drift:.0f} s", "synchronise the clock")


def _store_starts(path: Path, overrides: Path) -> Iterator[Finding]:
    """The store's own start, as the service will run it (its environment, no watching): its
    verdict is doctor's, so the two never disagree on whether a service can start here."""
    try:
        with PolicyStore(path, brakes_dir=overrides, watch=False) as store:
            status = store.status()
    except PolicyError as e:
        yield Finding(
            "problem",
            f"a store cannot start on {path}: {e}",
            "fix what the message names; `policyctl validate` shows it with lines and columns",
        )
        return
    for brake in status.brakes:
        if brake.path.parent.absolute() != overrides.absolute():  # a signed brake, sent
            yield Finding(
                "note",
                f"brake {brake.name} is in force from the signed brakes ({brake.path.parent}),"
                " not from the policy's brakes in git",
                "put the same brake in git: policyctl brake ... --propose",
            )
    bundle = status.bundle
    if bundle is not None:
        when = f"{bundle.expires_at:%Y-%m-%dT%H:%M:%SZ}"
        if status.stale:
            yield Finding(
                "problem",
                f"the signed bundle (version {bundle.version}) expired at {when}: served, but"
                " no longer vouched for",
                "check the signing workflow and the distribution path",
            )
        else:
            yield Finding(
                "note",
                f"a signed bundle: version {bundle.version}, commit {bundle.commit or '-'},"
                f" signed by key {bundle.keyid[:16]}…, valid until {when}",
            )


def _trust() -> Iterator[Finding]:
    """The trusted keys, as the service will read them (``$QT_POLICY_TRUST``): readable, holding
    keys, and writable by no one else (whoever can add a key can sign a policy)."""
    named = os.environ.get(TRUST_VARIABLE)
    if not named:
        yield Finding(
            "note",
            f"no trust directory ({TRUST_VARIABLE}): this service serves any valid policy file,"
            " signed or not",
            "set it to the mounted trusted keys to serve signed bundles only (deploy/README.md)",
        )
        return
    from ..pipeline import load_trust  # noqa: PLC0415 - cryptography, only with trust

    directory = Path(named)
    try:
        keys = load_trust(directory)
    except PolicyError as e:
        yield Finding("problem", f"the trust directory cannot be used: {e}", "see deploy/trust/")
        return
    for place in (directory, *(k.path for k in keys.values())):
        if place.stat().st_mode & 0o022:
            yield Finding(
                "problem",
                f"{place} is writable by others: whoever can add a key can sign a policy",
                f"chmod go-w {place}",
            )
    shown = ", ".join(f"{k[:16]}… ({t.path.name})" for k, t in sorted(keys.items()))
    yield Finding("note", f"{len(keys)} trusted key(s) in {directory}: {shown}")


def examine(path: Path, overrides: Path) -> list[Finding]:
    """Every finding for a service reading ``path`` (and brakes from ``overrides``)."""
    path = path.absolute()
    checks = (
        _readable,
        _mount,
        _layout,
        lambda p: _overrides(overrides.absolute()),
        lambda p: _trust(),
        lambda p: _store_starts(p, overrides),
        lambda p: _inotify(),
        lambda p: _clock(),
    )
    findings = []
    for check in checks:
        try:
            findings += list(check(path))
        except OSError as e:  # a name too long, a directory we may not enter: said, not raised
            findings.append(
                Finding("problem", f"cannot look at {path}: {e.strerror or e}", "check the path")
            )
    return list(dict.fromkeys(findings))
