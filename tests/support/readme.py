"""What the README documents, read back by the tests that hold the code to it."""

from __future__ import annotations

import re
from pathlib import Path

README = (Path(__file__).parents[2] / "README.md").read_text()


def documented(name: str) -> set[str]:
    """The keys the README's JSON section gives for ``name`` (a line `name`: {"a", "b"})."""
    match = re.search(rf"^- `{re.escape(name)}`: `\{{(.*?)\}}`", README, re.M)
    assert match, f"the README documents no JSON shape {name!r}"
    return set(re.findall(r'"(\w+)"', match.group(1)))
