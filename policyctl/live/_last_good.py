"""The last good inputs, kept on disk so a service can start while its file is broken.

After every applied snapshot the store writes the bytes it was built from (the policy file and
each override file) to one file: a sha256 line, then a JSON document with the bytes in base64.
The write is atomic (a temporary file in the same directory, fsynced, renamed, the directory
fsynced), so a kill at any moment leaves the old file or the new one; and a file whose checksum
does not match what follows it (corrupted, truncated, edited) is never used. The checksum finds
damage, not forgery: anyone who can write the file can write a matching checksum.

The kept state names the policy file it was kept for: a store of another file never serves it.
Only a regular file (or none yet) is a kept state, never inside what the store reads.
"""

from __future__ import annotations

import base64
import contextlib
import glob
import hashlib
import json
import logging
import os
import stat
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import PolicyError, PolicySourceError
from ..pipeline import MAX_BRAKES, MAX_BYTES, PolicySnapshot
from ._inputs import Inputs, inputs_of, read_inputs

__all__ = ["Start", "check_place", "load", "save", "start"]

log = logging.getLogger(__name__)

_FORMAT = "policyctl-last-good/1"
# The largest a kept state can be: the policy file and every brake file at their size limit,
# in base64, with room for the JSON around them.
_MAX_KEPT = (1 + MAX_BRAKES) * MAX_BYTES * 4 // 3 + 1024 * (1 + MAX_BRAKES)


def check_place(path: Path, policy: Path, brakes_dir: Path) -> None:
    """Refuse a kept-state path that would break what it keeps: the policy file itself, a
    path inside the brakes' directory (both overwritten or read as input), or anything that is
    not a regular file (a FIFO would hang the start, a device never ends).

    Raises:
        PolicySourceError: Located at ``path``, with the reason.
    """
    where = path.parent.resolve() / path.name
    reads = {policy.parent.resolve() / policy.name, policy.resolve()}
    if where in reads or where == brakes_dir.resolve() or brakes_dir.resolve() in where.parents:
        raise PolicySourceError.single(
            "last_good is what the store reads (the policy file or the brakes' directory);"
            " keep it elsewhere, e.g. beside the service's other state",
            source=str(path),
        )
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    except OSError as e:
        raise PolicySourceError.single(
            f"cannot use last_good: {e.strerror or e}", source=str(path)
        ) from None
    if not stat.S_ISREG(mode):
        raise PolicySourceError.single(
            "last_good is not a regular file (a directory, FIFO or device); give a file path",
            source=str(path),
        )


def save(path: Path, inputs: Inputs, source: Path) -> None:
    """Write ``inputs`` (of the policy file ``source``) to ``path`` atomically; a failure is
    logged, never raised (serving goes on: only the next start's fallback is older)."""
    document = {
        "format": _FORMAT,
        "source": str(source),
        "policy": base64.b64encode(inputs.data).decode(),
        "brakes": (brakes := [[p.name, base64.b64encode(b).decode()] for p, b in inputs.brakes]),
        "overrides": brakes,  # the key's first name: a version rolled back still reads the file
        "statement": None
        if inputs.statement is None
        else base64.b64encode(inputs.statement).decode(),
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


def load(path: Path, brakes_dir: Path, source: Path, trust: Path | None = None) -> Inputs | None:
    """The inputs kept in ``path`` for the policy file ``source``, or None when it is absent,
    unreadable, not intact, too large or kept for another file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO must not block the start
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            log.warning("%s is not a regular file; not used", path)
            return None
        try:
            raw = f.read(_MAX_KEPT + 1)
        except OSError:
            return None
    if len(raw) > _MAX_KEPT:
        log.warning("%s is larger than any kept state can be; not used", path)
        return None
    checksum, _, payload = raw.partition(b"\n")
    if hashlib.sha256(payload).hexdigest().encode() != checksum:
        log.warning("%s is not intact (checksum mismatch); not used", path)
        return None
    try:
        document = json.loads(payload)
        if document.get("format") != _FORMAT:
            return None
        kept_for = document.get("source", str(source))  # files of earlier versions name none
        if kept_for != str(source):
            log.warning("%s was kept for %s, not %s; not used", path, kept_for, source)
            return None
        data = base64.b64decode(document["policy"], validate=True)
        brakes = tuple(
            (brakes_dir / str(name), base64.b64decode(text, validate=True))
            # "overrides": the key's first name, in files kept by earlier versions
            for name, text in document["brakes" if "brakes" in document else "overrides"]
        )
        sealed = document.get("statement")  # kept by a store that verifies bundles
        statement = None if sealed is None else base64.b64decode(sealed, validate=True)
        signed = tuple(  # signed brakes: verified again, with the keys of now, like the rest
            (path.parent / str(name), base64.b64decode(text, validate=True))
            for name, text in document.get("signed", [])
        )
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as e:
        log.warning("%s cannot be read (%s); not used", path, type(e).__name__)
        return None
    return inputs_of(data, brakes, statement, trust, signed)


@dataclass(frozen=True, slots=True)
class Start:
    """How a store starts: its inputs and snapshot, and (from the last good file) why the file
    itself could not be used and the key its refused content is known by."""

    inputs: Inputs
    snapshot: PolicySnapshot
    error: PolicyError | None = None
    refused: str | None = None


def start(
    path: Path,
    brakes_dir: Path,
    keep: Path | None,
    build: Callable[[Inputs], PolicySnapshot],
    trust: Path | None = None,
    signed_dir: Path | None = None,
) -> Start:
    """The file's inputs when they are valid; else, with ``keep``, the last good ones kept there.
    With ``trust`` (the store verifies bundles), the statement is read and kept too, and
    ``build`` verifies the kept inputs as it does the file's: with the keys of now.

    Raises:
        PolicyError: The file cannot be used and nothing intact and valid is kept.
    """
    try:
        inputs = read_inputs(path, brakes_dir, trust, signed_dir)
        return Start(inputs, build(inputs))
    except PolicyError as error:
        kept = load(keep, brakes_dir, path, trust) if keep is not None else None
        if kept is None:
            raise
        try:
            snapshot = build(kept)
        except PolicyError:
            raise error from None
        try:
            refused = read_inputs(path, brakes_dir, trust, signed_dir).key
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
