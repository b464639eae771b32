"""The README's examples are run, not copied: its Python blocks in order, and the Makefile's
answer to a .venv left by another Python."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def test_every_python_block_of_the_readme_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    assert len(BLOCKS) >= 3
    monkeypatch.chdir(ROOT)
    for name in [n for n in os.environ if n.startswith("QT_")]:
        monkeypatch.delenv(name)
    namespace: dict[str, object] = {"__name__": "readme"}
    for block in BLOCKS:  # later blocks use what earlier ones defined, as a reader would
        exec(compile(block, "README.md", "exec"), namespace)  # our own README, as data


def test_make_rebuilds_a_venv_left_by_another_python(tmp_path: Path) -> None:
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    fake = tmp_path / ".venv" / "bin" / "python"
    fake.parent.mkdir(parents=True)
    fake.write_text("#!/bin/sh\necho '(2, 7)'\n")
    fake.chmod(0o755)
    result = subprocess.run(
        ["make", "-n", "run"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert ".venv was built by another Python ((2, 7))" in result.stdout
    assert not (tmp_path / ".venv").exists()
