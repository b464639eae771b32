"""Reading the policy file from git: at a revision, and along its history.

Everything goes through the ``git`` command (no library: git's own revision syntax, ``HEAD~2``,
``origin/main``, a short SHA, must mean exactly what it means to the user's git). Blobs are read
through one ``git cat-file --batch`` process, not one process per revision.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ..errors import PolicySourceError

__all__ = ["FILE_MODES", "Commit", "GitRepo", "mode_kind"]

_FIELD_SEP = "\x1f"
_RECORD_SEP = "\x1e"


@dataclass(frozen=True, slots=True)
class Commit:
    """One commit that touched the policy file."""

    sha: str
    short: str
    author: str
    date: str  # ISO 8601, as git prints %aI
    subject: str
    parent: str | None  # first parent; None for a root commit
    path: str = ""  # the file's path at this commit
    parent_path: str = ""  # its path at the parent (differs when the commit renamed it)
    merge: bool = False  # more than one parent: the changes are shown against the first
    timestamp: int = 0  # committer time, for ordering


class GitRepo:
    """The git repository holding a directory.

    Raises:
        PolicySourceError: ``directory`` is not inside a git work tree, or git is missing.
    """

    def __init__(self, directory: Path | None = None) -> None:
        self._cwd = directory or Path.cwd()
        if not self._cwd.is_dir():
            raise PolicySourceError.single(
                "no such directory, so no git repository here", source=str(self._cwd)
            )
        self._run_in = self._cwd
        self.root = Path(self._git("rev-parse", "--show-toplevel").strip())
        # From the root on: pathspecs (`git log -- PATH`) are relative to where git runs.
        self._run_in = self.root

    def _git(self, *args: str, stdin: bytes | None = None) -> str:
        return self._git_bytes(*args, stdin=stdin).decode("utf-8", "replace")

    def run(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        """Run ``git ARGS`` at the repository root (``env`` added to the environment); its
        output, or `PolicySourceError` with git's last line of complaint."""
        return self._git_bytes(*args, env=env).decode("utf-8", "replace")

    def _git_bytes(
        self, *args: str, stdin: bytes | None = None, env: Mapping[str, str] | None = None
    ) -> bytes:
        try:
            result = subprocess.run(
                ["git", *args],
                cwd=self._run_in,
                input=stdin,
                capture_output=True,
                check=False,
                env={**os.environ, **env} if env else None,
            )
        except FileNotFoundError:
            raise PolicySourceError.single(
                "git is not installed (needed to read revisions)"
            ) from None
        if result.returncode != 0:
            lines = result.stderr.decode("utf-8", "replace").strip().splitlines()
            # git says what failed on its first "fatal:" or "error:" line; the last line is
            # often advice ("and the repository exists.").
            said = [x for x in lines if x.startswith(("fatal:", "error:"))]
            reason = (said or lines or [f"exit status {result.returncode}"])[0 if said else -1]
            raise PolicySourceError.single(f"git {args[0]} failed: {reason}", source=str(self._cwd))
        return result.stdout

    def relative(self, path: Path) -> str:
        """``path`` as a repository path: absolute, relative to the current directory if it
        names a file from there, else relative to the repository root."""
        if path.is_absolute():
            absolute = path
        elif (self._cwd / path).exists():
            absolute = self._cwd / path
        else:
            absolute = self.root / path
        # The directories resolved, not the file: a policy file that is a symbolic link is that
        # link in git (what review refuses), never its target's history.
        try:
            where = absolute.parent.resolve() / absolute.name
            return where.relative_to(self.root.resolve()).as_posix()
        except ValueError:
            raise PolicySourceError.single(
                f"{path} is outside the repository at {self.root}", source=str(path)
            ) from None

    def resolve(self, revision: str) -> str:
        """The full SHA of a commit, or `PolicySourceError` naming the unknown revision. Text
        starting with '-' is no revision: it never reaches git, where it would be an option."""
        try:
            if revision.startswith("-"):
                raise PolicySourceError.single("an option, not a revision")
            return self._git("rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}").strip()
        except PolicySourceError:
            raise PolicySourceError.single(
                f"unknown revision {revision!r} (not a branch, tag or commit here)",
                source=str(self.root),
            ) from None

    def merge_base(self, a: str, b: str) -> str | None:
        """The best common ancestor of two revisions, or None when they share none."""
        try:
            return self._git("merge-base", a, b).strip() or None
        except PolicySourceError:
            return None

    def read_many(self, objects: Sequence[str]) -> list[bytes | None]:
        """Contents of ``rev:path`` objects, None where the path does not exist at that rev (or
        names it with a newline, which cat-file's one-object-per-line input cannot carry)."""
        if any("\n" in o for o in objects):
            clean = [o for o in objects if "\n" not in o]
            found = dict(zip(clean, self.read_many(clean), strict=True))
            return [found.get(o) for o in objects]
        if not objects:
            return []
        out = self._git_bytes(
            "cat-file", "--batch", stdin="".join(f"{o}\n" for o in objects).encode()
        )
        contents: list[bytes | None] = []
        position = 0
        for _ in objects:
            end = out.index(b"\n", position)
            header = out[position:end].split()
            position = end + 1
            if len(header) < 3 or header[1] != b"blob":
                contents.append(None)  # "<object> missing", or not a file
                continue
            size = int(header[2])
            contents.append(out[position : position + size])
            position += size + 1
        return contents

    def read_directory(self, sha: str, directory: str) -> list[tuple[Path, bytes]]:
        """The files directly in ``directory`` at commit ``sha`` (path from the root, bytes),
        sorted by name; none when the directory does not exist there."""
        listing = self._git("ls-tree", "-z", sha, "--", f"{directory.rstrip('/')}/")
        blobs = []
        for entry in listing.split("\0"):
            meta, _, path = entry.partition("\t")
            fields = meta.split(" ")
            if path and fields[1:2] == ["blob"]:
                blobs.append((path, fields[2]))
        blobs.sort()
        # By object id, never ``rev:path``: cat-file reads one object per line, and a name
        # holding a newline would split into requests of the name's choosing.
        contents = self.read_many([oid for _, oid in blobs])
        return [(Path(p), c) for (p, _), c in zip(blobs, contents, strict=True) if c is not None]

    def modes(self, sha: str, paths: Sequence[str], *, recursive: bool = False) -> dict[str, str]:
        """The tree entries at ``paths`` (a path ending in ``/`` lists its directory's entries)
        at commit ``sha``: path -> git mode (``100644`` a file, ``120000`` a symbolic link,
        ``160000`` a submodule, ``040000`` a directory)."""
        flags = ["-r"] if recursive else []
        listing = self._git("ls-tree", "-z", *flags, sha, "--", *paths)
        modes = {}
        for entry in listing.split("\0"):
            meta, _, path = entry.partition("\t")
            if path:
                modes[path] = meta.split(" ")[0]
        return modes

    def read(self, revision: str, path: str) -> bytes:
        """The file at ``revision``; `PolicySourceError` if the revision or the file is absent."""
        sha = self.resolve(revision)
        content = self.read_many([f"{sha}:{path}"])[0]
        if content is None:
            raise PolicySourceError.single(
                f"{path} does not exist at {revision}", source=f"{revision}:{path}"
            )
        return content

    def changed_paths(self, base: str, head: str | None) -> list[str]:
        """Every path that differs from ``base`` to ``head`` (None: the working tree, untracked
        files included), in content, mode or existence; a rename is its two paths."""
        shas = [self.resolve(base), *([self.resolve(head)] if head else [])]  # never an option
        args = ["diff", "--name-only", "--no-renames", "-z", *shas, "--"]
        paths = set(self._git(*args).split("\0"))
        if head is None:
            paths |= set(self._git("ls-files", "--others", "--exclude-standard", "-z").split("\0"))
        return sorted(paths - {""})

    def renamed_from(self, base: str, head: str | None, path: str) -> str | None:
        """The path that ``path`` was renamed from between ``base`` and ``head`` (None: the
        working tree), as git's rename detection sees it; None if it was not a rename."""
        args = ["diff", "--find-renames", "--name-status", "-z", "--diff-filter=R", base]
        out = self._git(*args, *([head] if head else []), "--")
        fields = out.split("\0")
        for i in range(0, len(fields) - 2, 3):  # "R<score>", old path, new path
            if fields[i].startswith("R") and fields[i + 2] == path:
                return fields[i + 1]
        return None

    def path_modes(self, path: str) -> dict[str, tuple[str, str]]:
        """For each commit that touched ``path`` (following renames): the git modes it had
        before and after that commit (``000000`` where it did not exist)."""
        if not self.has_commits():
            return {}
        fmt = f"--format={_RECORD_SEP}%H"
        out = self._git("log", "--follow", "--raw", "--no-abbrev", fmt, "--", path)
        modes = {}
        for record in out.split(_RECORD_SEP):
            lines = record.strip("\n").split("\n")
            raw = [line for line in lines[1:] if line.startswith(":")]
            if lines[0] and raw:
                old, new = raw[-1][1:].split(" ")[:2]
                modes[lines[0]] = (old, new)
        return modes

    def topo_order(self, revisions: str) -> list[str]:
        """The commits of ``revisions`` (a revision or a range), newest first, each after all
        of its children (a merge and its parents often share one second of committer time)."""
        return self._git("rev-list", "--topo-order", "--end-of-options", revisions).split()

    def messages(self, revisions: str, paths: Sequence[str]) -> dict[str, str]:
        """The whole message (subject and body) of each main-line commit of ``revisions``
        that touched ``paths``, by its SHA, read by one git process."""
        out = self._git(
            "log", "--first-parent", f"--format={_RECORD_SEP}%H{_FIELD_SEP}%B",
            "--end-of-options", revisions, "--", *paths,
        )  # fmt: skip
        found = {}
        for record in out.split(_RECORD_SEP):
            sha, _, body = record.partition(_FIELD_SEP)
            if sha.strip():
                found[sha.strip()] = body
        return found

    def has_commits(self) -> bool:
        try:
            self._git("rev-parse", "--verify", "--quiet", "HEAD^{commit}")
        except PolicySourceError:
            return False
        return True

    def directory_history(
        self,
        directory: str,
        limit: int | None = None,
        revisions: str | None = None,
        *,
        first_parent: bool = False,
    ) -> list[tuple[Commit, list[tuple[str, str, str]]]]:
        """Commits that touched files in ``directory``, newest first, each with the (status
        letter A/M/D/T, path, git mode) of those files (the mode it had, for D); of
        ``revisions`` (a revision or a range, as git log takes it; default HEAD).
        ``first_parent``: the main line only, a merge showing what it changed against its
        first parent (what landed, when it landed)."""
        if not self.has_commits():
            return []
        fmt = _RECORD_SEP + _FIELD_SEP.join(["%H", "%h", "%an", "%aI", "%s", "%P", "%ct"])
        limited = [f"-n{limit}"] if limit is not None else []
        out = self._git(
            "log",
            "--raw",
            "--no-abbrev",
            "-M",
            f"--format={fmt}",
            *(["--first-parent"] if first_parent else []),
            *limited,
            "--end-of-options",
            revisions or "HEAD",
            "--",
            f"{directory}/",
        )
        records = [r for r in out.split(_RECORD_SEP) if r.strip()]
        return [(_commit(r, ""), _files(r)) for r in records]

    def history(
        self,
        path: str,
        limit: int | None = None,
        revisions: str | None = None,
        *,
        first_parent: bool = False,
    ) -> list[Commit]:
        """Commits that touched ``path``, newest first, following the file across renames;
        and the merge commits whose ``path`` differs from every parent's (two changes combined
        into a state neither pull request showed), which ``--follow`` leaves out. Of
        ``revisions`` (a revision or a range, as git log takes it; default HEAD).
        ``first_parent``: the main line only, each merge against its first parent."""
        if not self.has_commits():
            return []  # a new repository: no history yet, not git's error
        fmt = _RECORD_SEP + _FIELD_SEP.join(["%H", "%h", "%an", "%aI", "%s", "%P", "%ct"])
        limited = [f"-n{limit}"] if limit is not None else []
        line = ["--first-parent"] if first_parent else []
        which = ["--end-of-options", revisions or "HEAD"]
        follow = self._git(
            "log", "--follow", "--name-status", f"--format={fmt}", *line, *limited, *which,
            "--", path,
        )  # fmt: skip
        # Without --follow, git's default history simplification keeps exactly the merges that
        # are not TREESAME to any parent (on the main line, --follow lists them already).
        merges = (
            ""
            if first_parent
            else self._git("log", "--merges", f"--format={fmt}", *limited, *which, "--", path)
        )
        commits = {
            c.sha: c for c in (_commit(r, path) for r in follow.split(_RECORD_SEP) if r.strip())
        }
        for record in merges.split(_RECORD_SEP):
            if record.strip():
                commits.setdefault(_commit(record, path).sha, _commit(record, path))
        # Newest first, as git log shows it; topological, since a merge and its parents often
        # share one second of committer time.
        rank = {sha: i for i, sha in enumerate(self.topo_order(revisions or "HEAD"))}
        ordered = sorted(commits.values(), key=lambda c: (rank.get(c.sha, len(rank)), -c.timestamp))
        return ordered[:limit] if limit is not None else ordered


FILE_MODES: Final = ("100644", "100755")
"""The git modes of a regular file (plain, executable)."""

_KINDS: Final = {"120000": "a symbolic link", "160000": "a submodule", "040000": "a directory"}


def mode_kind(mode: str) -> str:
    """What a tree entry of git mode ``mode`` is, in words."""
    return _KINDS.get(mode, f"not a regular file (git mode {mode})")


def _files(record: str) -> list[tuple[str, str, str]]:
    """(status letter, path, mode) of each file a ``--raw`` record lists (``:old-mode new-mode
    old-id new-id STATUS``, then the path or two); the mode is the new one, the old for D."""
    out = []
    for line in record.strip("\n").split("\n")[1:]:
        fields = line.split("\t")
        meta = fields[0].split(" ")
        if len(fields) >= 2 and fields[0].startswith(":") and len(meta) == 5:
            old_mode, new_mode, status = meta[0][1:], meta[1], meta[4][:1]
            if status == "R":  # a rename is the old name gone and the new one added
                out += [("A", fields[2], new_mode), ("D", fields[1], old_mode)]
            else:
                out.append((status, fields[-1], old_mode if status == "D" else new_mode))
    return out


def _commit(record: str, path: str) -> Commit:
    header, *changes = record.strip("\n").split("\n")
    sha, short, author, date, subject, parents, timestamp = header.split(_FIELD_SEP)
    first_parent = parents.split()[0] if parents.split() else None
    now = before = path
    for line in changes:  # "M\tpath", or "R100\told\tnew" for a rename (--raw: after the modes)
        fields = line.split("\t")
        if len(fields) == 3 and fields[0].rpartition(" ")[2][:1] in ("R", "C"):
            before, now = fields[1], fields[2]
        elif len(fields) == 2:
            before = now = fields[1]
    merge = len(parents.split()) > 1
    return Commit(
        sha, short, author, date, subject, first_parent, now, before, merge, int(timestamp)
    )
