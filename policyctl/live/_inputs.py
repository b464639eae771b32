"""What a store builds its policy from, read at one moment: the policy file and the override
files, with one key that changes whenever any of them does."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ..pipeline import inputs_digest, read_brakes, read_source

__all__ = ["Inputs", "read_inputs"]


@dataclass(frozen=True, slots=True)
class Inputs:
    """The bytes of the policy file and of each override file.

    Attributes:
        data: The policy file's bytes.
        brakes: (path, bytes) of each override file, sorted by name.
        digest: sha256 of ``data``.
        key: Changes when any file changes: the policy's digest when there are no overrides.
    """

    data: bytes
    brakes: tuple[tuple[Path, bytes], ...]
    digest: str
    key: str


def read_inputs(path: Path, overrides: Path) -> Inputs:
    """Read everything once. Raises PolicyError when a file cannot be read."""
    data = read_source(path)
    brakes = tuple(read_brakes(overrides))
    digest = hashlib.sha256(data).hexdigest()
    return Inputs(data, brakes, digest, inputs_digest(digest, brakes) or digest)
