"""The last good inputs, kept on disk so a service can start while its file is broken.

After every applied snapshot the store writes the bytes it was built from (the policy file and
each override file) to one file: a sha256 line, then a JSON document with the bytes in base64.
The write is atomic (a temporary file in the same directory, fsynced, renamed, the directory
fsynced), so a kill at any moment leaves the old file or the new one; and a file whose checksum
does not match what follows it (corrupted, truncated, edited) is never used.
"""

from __future__ import annotations

import base64
import contextlib
import glob
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import PolicyError
from ..pipeline import PolicySnapshot, inputs_digest
from ._inputs import Inputs, read_inputs

__all__ = ["Start", "load", "save", "start"]

log = logging.getLogger(__name__)

_FORMAT = "policyctl-last-good/1"


def save(path: Path, inputs: Inputs) -> None:
    """Write ``inputs`` to ``path`` atomically; a failure is logged, never raised (serving
    goes on: only the next start's fallback is older)."""
    document = {
        "format": _FORMAT,
        "policy": base64.b64encode(inputs.data).decode(),
        "brakes": (brakes := [[p.name, base64.b64encode(b).decode()] for p, b in inputs.brakes]),
        "overrides": brakes,  # the key's first name: a version rolled back still reads the file
    }
    payload = json.dumps(document, separators=(",", ":")).encode()
    data = hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload
    try:
        _remove_stale(path)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            Path(name).replace(path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                Path(name).unlink()
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError as e:
        log.warning("cannot keep the last good policy in %s: %s", path, e)


_STALE = 60.0  # seconds: no write takes that long; an older temporary file was left by a kill


def _remove_stale(path: Path) -> None:
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        with contextlib.suppress(OSError):
            if time.time() - tmp.stat().st_mtime > _STALE:
                tmp.unlink()


def load(path: Path, brakes_dir: Path) -> Inputs | None:
    """The inputs kept in ``path``, or None when it is absent, unreadable or not intact."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    checksum, _, payload = raw.partition(b"\n")
    if hashlib.sha256(payload).hexdigest().encode() != checksum:
        log.warning("%s is not intact (checksum mismatch); not used", path)
        return None
    try:
        document = json.loads(payload)
        if document.get("format") != _FORMAT:
            return None
        data = base64.b64decode(document["policy"], validate=True)
        brakes = tuple(
            (brakes_dir / str(name), base64.b64decode(text, validate=True))
            # "overrides": the key's first name, in files kept by earlier versions
            for name, text in document["brakes" if "brakes" in document else "overrides"]
        )
    except (ValueError, KeyError, TypeError) as e:
        log.warning("%s cannot be read (%s); not used", path, e)
        return None
    digest = hashlib.sha256(data).hexdigest()
    return Inputs(data, brakes, digest, inputs_digest(digest, brakes) or digest)


@dataclass(frozen=True, slots=True)
class Start:
    """How a store starts: its inputs and snapshot, and (from the last good file) why the file
    itself could not be used and the key its refused content is known by."""

    inputs: Inputs
    snapshot: PolicySnapshot
    error: PolicyError | None = None
    refused: str | None = None


def start(
    path: Path, brakes_dir: Path, keep: Path | None, build: Callable[[Inputs], PolicySnapshot]
) -> Start:
    """The file's inputs when they are valid; else, with ``keep``, the last good ones kept there.

    Raises:
        PolicyError: The file cannot be used and nothing intact and valid is kept.
    """
    try:
        inputs = read_inputs(path, brakes_dir)
        return Start(inputs, build(inputs))
    except PolicyError as error:
        kept = load(keep, brakes_dir) if keep is not None else None
        if kept is None:
            raise
        try:
            snapshot = build(kept)
        except PolicyError:
            raise error from None
        try:
            refused = read_inputs(path, brakes_dir).key
        except PolicyError as e:
            refused = f"unreadable:{e}"  # as a check names an unreadable file
        log.warning(
            "%s cannot be used; serving the last good policy (version %s) kept in %s:\n%s",
            path,
            snapshot.version,
            keep,
            error,
        )
        return Start(kept, snapshot, error, refused)
