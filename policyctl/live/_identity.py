"""Which git commit a served file came from, where the file system says so.

Two layouts tell, read from files alone (no git process on a service's reload path):
git-sync checks each revision out into a worktree directory named after its commit and swaps a
symlink to it, so the commit is a 40-hex component of the file's resolved path; and a file
inside an ordinary checkout has the checkout's ``HEAD`` (its branch's commit, through the ref
file or ``packed-refs``). Anything else (a ConfigMap, a copied file) does not know: None.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["source_commit"]

_SHA = re.compile(r"[0-9a-f]{40}")
_MAX_PARENTS = 32


def _git_dir(start: Path) -> Path | None:
    for directory in [start, *start.parents][:_MAX_PARENTS]:
        marker = directory / ".git"
        if marker.is_dir():
            return marker
        if marker.is_file():  # a worktree or submodule: "gitdir: <path>"
            text = marker.read_text(encoding="utf-8", errors="replace").strip()
            if text.startswith("gitdir:"):
                target = Path(text[len("gitdir:") :].strip())
                return target if target.is_absolute() else (directory / target).resolve()
    return None


def _ref(git_dir: Path, ref: str) -> str | None:
    common = git_dir
    commondir = git_dir / "commondir"  # a linked worktree keeps its refs in the main .git
    if commondir.is_file():
        common = (git_dir / commondir.read_text().strip()).resolve()
    for base in (git_dir, common):
        loose = base / ref
        if loose.is_file():
            value = loose.read_text(encoding="utf-8", errors="replace").strip()
            return value if _SHA.fullmatch(value) else None
    packed = common / "packed-refs"
    if packed.is_file():
        for line in packed.read_text(encoding="utf-8", errors="replace").splitlines():
            sha, _, name = line.partition(" ")
            if name == ref and _SHA.fullmatch(sha):
                return sha
    return None


def source_commit(path: Path) -> str | None:
    """The commit ``path`` was checked out from, or None when the layout does not say."""
    try:
        resolved = path.resolve()
        for part in reversed(resolved.parent.parts):  # git-sync: .worktrees/<sha>/...
            if _SHA.fullmatch(part):
                return part
        git_dir = _git_dir(resolved.parent)
        if git_dir is None:
            return None
        head = (git_dir / "HEAD").read_text(encoding="utf-8", errors="replace").strip()
        if _SHA.fullmatch(head):
            return head  # a detached HEAD
        if head.startswith("ref: "):
            return _ref(git_dir, head[5:].strip())
    except (OSError, RuntimeError, ValueError):
        return None
    return None
