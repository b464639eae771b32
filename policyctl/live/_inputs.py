"""What a store builds its policy from, read at one moment: the policy file, the override files
and, when it verifies signed bundles, the statement beside them; with one key that changes
whenever any of them does."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from ..model import STATEMENT_FILE_NAME
from ..pipeline import inputs_digest, read_brakes, read_signed_brakes, read_source

__all__ = ["Inputs", "inputs_of", "keys_state", "read_inputs"]


@dataclass(frozen=True, slots=True)
class Inputs:
    """The bytes of the policy file and of each override file.

    Attributes:
        data: The policy file's bytes.
        brakes: (path, bytes) of each override file, sorted by name.
        digest: sha256 of ``data``.
        key: Changes when any file changes: the policy's digest when there are no overrides
            and no statement.
        statement: The signed statement's bytes (a store that verifies bundles reads it
            last: see `read_inputs`); None for a store that does not, or when there is none.
        signed: (path, bytes) of each signed brake (``NAME.dsse.json``) of the signed brakes'
            directory, sorted by name.
    """

    data: bytes
    brakes: tuple[tuple[Path, bytes], ...]
    digest: str
    key: str
    statement: bytes | None = None
    signed: tuple[tuple[Path, bytes], ...] = ()


def read_inputs(
    path: Path, overrides: Path, trust: Path | None = None, signed_dir: Path | None = None
) -> Inputs:
    """Read everything once; with ``trust`` (the store verifies bundles), the statement beside
    the policy file too (an absent one is read as None: the verification refuses it), and the
    signed brakes of ``signed_dir``. Raises PolicyError when a file cannot be read."""
    data = read_source(path)
    brakes = tuple(read_brakes(overrides))
    statement = None
    if trust is not None:
        where = path.parent / STATEMENT_FILE_NAME
        if where.exists() or where.is_symlink():
            statement = read_source(where)
    signed = read_signed_brakes(signed_dir) if signed_dir is not None else ()
    return inputs_of(data, brakes, statement, trust, signed)


def inputs_of(
    data: bytes,
    brakes: tuple[tuple[Path, bytes], ...],
    statement: bytes | None,
    trust: Path | None,
    signed: tuple[tuple[Path, bytes], ...] = (),
) -> Inputs:
    """Inputs from bytes already read (the files, or the last good state), with their key."""
    digest = hashlib.sha256(data).hexdigest()
    key = inputs_digest(digest, brakes) or digest
    if signed:
        key = hashlib.sha256(f"{key}\n{inputs_digest(digest, signed)}".encode()).hexdigest()
    if trust is not None:
        # The statement in the key (a re-signed bundle, a new expiry, is a change to apply),
        # and the trusted keys: a key added or removed is a reason to verify again.
        seal = hashlib.sha256(statement).hexdigest() if statement is not None else "unsigned"
        key = hashlib.sha256(f"{key}\n{seal}\n{keys_state(trust)}".encode()).hexdigest()
    return Inputs(data, brakes, digest, key, statement, signed)


def keys_state(trust: Path) -> str:
    """What the trust directory holds, cheaply: each entry's name, size and change time
    (followed through links, as a mounted Secret's keys are)."""
    try:
        entries = sorted(os.scandir(trust), key=lambda e: e.name)
    except OSError as e:
        return f"unreadable:{e.errno}"
    parts = []
    for entry in entries:
        try:
            info = entry.stat()
        except OSError:
            continue
        parts.append(f"{entry.name}:{info.st_size}:{info.st_mtime_ns}:{info.st_ino}")
    return "\n".join(parts)
