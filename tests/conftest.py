"""Shared fixtures: a writer for policy files in tmp_path. Shared helpers are in tests/support/."""

from __future__ import annotations

from pathlib import Path

import pytest

from .support.policy import VALID, Writer


@pytest.fixture
def write(tmp_path: Path) -> Writer:
    """Write text (or bytes) to a file in tmp_path and return its path."""

    def _write(content: str | bytes = VALID, name: str = "policy.yaml") -> Path:
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return _write
