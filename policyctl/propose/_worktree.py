"""What every proposal shares: a temporary worktree of the base's tip, the author, the commit
with its trailer, and the push of a new branch.

The work happens in a temporary git worktree of the base branch's tip: never in the caller's
working tree or index, never in a checkout a service reads. The commit's trailer records each
change and the value it was based on, so that a refresh can re-apply it on a moved base.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import EditRefused, PolicyError, PolicySourceError, printable
from ..pipeline import PolicySnapshot, build_snapshot
from ..review import Change, GitRepo

__all__ = [
    "TRAILER",
    "Proposal",
    "ProposalInterrupted",
    "base_tip",
    "check_branch",
    "commit_tree",
    "identity_env",
    "open_worktree",
    "prepare",
    "publish",
    "refuse_local_edits",
    "refuse_options",
    "snapshot_at",
    "trailer_of",
]

TRAILER = "Policyctl-Proposal: "
_IDENTITY = re.compile(r"^\s*([^<>]+?)\s*<([^<>\s]+)>\s*$")


@dataclass(frozen=True, slots=True)
class Proposal:
    """A proposed change, committed on a branch.

    Attributes:
        branch: The branch holding the commit (on ``remote`` when pushed).
        commit: The proposal's commit.
        base: The base branch's name; ``base_commit`` the tip it was made on.
        changes: The semantic changes to the policy, each with its direction.
        brakes: Brake files the proposal adds (their names); ``adjustments`` the temporary
            adjustments it adds (never among ``brakes``).
        lane: ``auto`` when nothing loosens, ``review`` otherwise (see `lane_of`); ``reasons``
            why it is ``review``, one sentence each.
        pushed: Whether the branch was pushed.
        remote: Where it was pushed.
    """

    branch: str
    commit: str
    base: str
    base_commit: str
    changes: list[Change]
    lane: str
    pushed: bool
    remote: str
    brakes: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    adjustments: tuple[str, ...] = ()


def identity_env(author: str | None) -> dict[str, str]:
    if author is None:
        return {}
    match = _IDENTITY.match(author)
    if not match:
        raise EditRefused.single(
            f"author {author!r} is not 'Name <email>', e.g. 'ranker <ranker@desk.example>'"
        )
    name, email = match.groups()
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }


@contextmanager
def open_worktree(repo: GitRepo, sha: str) -> Iterator[GitRepo]:
    """A detached worktree of ``sha`` in a temporary directory, removed afterwards. Its owner
    (this process) is written beside it, so that one left by a ``kill -9`` is cleaned by the
    next proposal: it can prove the worktree is its own and that its owner is gone."""
    _clean_abandoned(repo)
    directory = Path(tempfile.mkdtemp(prefix=_PREFIX))
    tree = directory / "tree"
    try:  # from here on, an interrupt (or any failure) still removes the directory
        (directory / _OWNER).write_text(f"{socket.gethostname()} {os.getpid()}\n")
        repo.run("worktree", "add", "--detach", "--quiet", str(tree), sha)
        yield GitRepo(tree)
    finally:
        with _held_interrupts() as came:  # a Ctrl-C now does not cut the cleanup short
            try:
                repo.run("worktree", "remove", "--force", str(tree))
            except PolicySourceError:
                repo.run("worktree", "prune")
            shutil.rmtree(directory, ignore_errors=True)
        if came:
            raise KeyboardInterrupt


log = logging.getLogger(__name__)

_PREFIX = "policyctl-propose-"
_OWNER = "owner"


def _abandoned(directory: Path) -> bool:
    """Whether ``directory`` is a proposal's temporary directory whose process is gone."""
    if not directory.name.startswith(_PREFIX):
        return False
    try:
        host, pid = (directory / _OWNER).read_text().split()
        if host != socket.gethostname():
            return False  # another machine's: nothing here can prove it is gone
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (OSError, ValueError):
        return False
    return False


def _clean_abandoned(repo: GitRepo) -> None:
    """Remove the worktrees and temporary directories of proposals killed mid-way."""
    listing = repo.run("worktree", "list", "--porcelain", "-z")
    for entry in listing.split("\0"):
        if entry.startswith("worktree "):
            tree = Path(entry.removeprefix("worktree "))
            if _abandoned(tree.parent):
                with contextlib.suppress(PolicySourceError):
                    repo.run("worktree", "remove", "--force", "--end-of-options", str(tree))
                shutil.rmtree(tree.parent, ignore_errors=True)
    with contextlib.suppress(OSError):
        for directory in Path(tempfile.gettempdir()).glob(f"{_PREFIX}*"):
            if _abandoned(directory):
                shutil.rmtree(directory, ignore_errors=True)
    with contextlib.suppress(PolicySourceError):
        repo.run("worktree", "prune")


def base_tip(repo: GitRepo, base: str, remote: str, fetch: bool) -> str:
    """The base's tip, fetched from ``remote``. Without a push (``fetch`` False) a failed
    fetch (no remote, offline) falls back to the local branch, and says so with its commit: a
    proposal must not silently diff against a stale base."""
    try:
        refspec = f"refs/heads/{base}:refs/remotes/{remote}/{base}"
        repo.run("fetch", "--quiet", "--end-of-options", remote, refspec)
        return repo.resolve(f"refs/remotes/{remote}/{base}")
    except PolicySourceError as e:
        if fetch:
            raise PolicySourceError.single(
                f"cannot fetch branch {base!r} from {remote!r}: {e.issues[0].message}",
                source=str(repo.root),
            ) from None
        reason = e.issues[0].message
    try:
        local = repo.resolve(f"refs/heads/{base}")
    except PolicySourceError:
        raise PolicySourceError.single(
            f"base branch {base!r} does not exist here", source=str(repo.root)
        ) from None
    log.warning(
        "%s was not fetched from %s (%s): proposing on the local %s at %s",
        base, remote, reason, base, local[:12],
    )  # fmt: skip
    return local


def snapshot_at(repo: GitRepo, sha: str, file: str) -> PolicySnapshot:
    return build_snapshot(repo.read(sha, file), Path(f"{sha[:12]}:{file}"), env={})


def commit_tree(
    tree: GitRepo, file: str, message: str, trailer: dict[str, Any], env: dict[str, str]
) -> str:
    body = f"{message.strip()}\n\n{TRAILER}{json.dumps(trailer, separators=(',', ':'))}\n"
    tree.run("add", "-A", "--", _directory(file))  # the policy file and its overrides
    tree.run("commit", "--quiet", "--no-verify", "-m", body, env=env or _fallback_identity(tree))
    return tree.resolve("HEAD")


def _directory(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else "."


def _fallback_identity(tree: GitRepo) -> dict[str, str]:
    """A repository without user.name/email (a CI runner) still gets a commit, as policyctl."""
    try:
        tree.run("config", "user.email")
        return {}
    except PolicySourceError:
        return {
            "GIT_AUTHOR_NAME": "policyctl",
            "GIT_AUTHOR_EMAIL": "policyctl@localhost",
            "GIT_COMMITTER_NAME": "policyctl",
            "GIT_COMMITTER_EMAIL": "policyctl@localhost",
        }


def refuse_local_edits(git: GitRepo, file: str) -> None:
    """Uncommitted edits to the policy here would not be in the proposal, which starts from
    the base branch: say so rather than surprise."""
    dirty = git.run("status", "--porcelain", "--", _directory(file)).strip()
    if dirty:
        raise EditRefused.single(
            f"{_directory(file)}/ has uncommitted changes here; a proposal starts from the base"
            " branch, not from this checkout: commit or stash them, or propose those values",
            source=str(git.root),
        )


def refuse_options(**names: str | None) -> None:
    """A remote, a branch or a revision is someone's text: one that starts with ``-`` would
    reach git as an option (``--upload-pack=...`` runs a command), so it is refused here, and
    every git call that takes such text passes ``--end-of-options`` before it as well."""
    for what, value in names.items():
        if value is not None and (value.startswith("-") or not value.strip()):
            raise EditRefused.single(
                f"{what} {printable(value)!r} is not a {what} name (it may not start with '-'"
                " or be blank)"
            )


def prepare(
    repo: str | Path,
    file: str,
    author: str | None,
    base: str,
    remote: str,
    push: bool,
    branch: str | None,
    kind: str,
) -> tuple[GitRepo, dict[str, str], str, datetime, str]:
    """What every new proposal checks first: the repository (no local edits to the policy),
    the author, the base's tip (fetched when pushing), the moment, and a free branch name."""
    refuse_options(base=base, remote=remote, branch=branch)
    git = GitRepo(Path(repo))
    refuse_local_edits(git, file)
    identity = identity_env(author)
    tip = base_tip(git, base, remote, fetch=push)
    now = datetime.now(UTC)
    # Unique without asking anyone: writers run at once, in several processes and hosts, and
    # the second of a clock and the base's commit are shared by all of them.
    name = branch or f"policy/{kind}-{now:%Y%m%d-%H%M%S}-{tip[:7]}-{secrets.token_hex(4)}"
    check_branch(git, name, remote if push else None)
    return git, identity, tip, now, name


def trailer_of(base: str, plan: dict[str, tuple[Any, Any]]) -> dict[str, Any]:
    """The record a proposal's commit keeps of its changes and what they were based on."""
    return {
        "base": base,
        "changes": [{"path": p, "value": v, "based_on": b} for p, (v, b) in plan.items()],
    }


def check_branch(git: GitRepo, name: str, remote: str | None) -> None:
    try:
        git.run("check-ref-format", "--branch", name)
    except PolicySourceError:
        raise EditRefused.single(f"{name!r} is not a valid branch name") from None
    taken = git.run("branch", "--list", name).strip()
    if remote is not None:
        taken = taken or git.run("ls-remote", "--heads", "--end-of-options", remote, name).strip()
    if taken:
        raise EditRefused.single(
            f"branch {name!r} exists already; choose another, or refresh it:"
            f" policyctl propose --refresh {name}"
        )


class ProposalInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) came while a proposal was being pushed. The push was not abandoned
    half-way without a word: ``proposal`` is what was made, and ``landed`` says whether the
    remote holds it (True), or may still come to (None: its server can finish a push whose
    client was cut; check with ``git ls-remote REMOTE BRANCH``); False only for a local branch
    that was not made. A `KeyboardInterrupt`, so a caller that stops on Ctrl-C still stops."""

    def __init__(self, proposal: Proposal, landed: bool | None) -> None:
        super().__init__(proposal.branch)
        self.proposal = proposal
        self.landed = landed


def publish(git: GitRepo, proposal: Proposal, replace: str | None) -> Proposal:
    """Put ``proposal``'s commit on its branch: pushed to its remote, or a local branch.

    An interrupt that comes meanwhile is held until the push has ended (a push cut in the
    middle may or may not have landed), then raised as `ProposalInterrupted`, saying whether it
    landed. An interrupt before this point stops the proposal before anything is pushed.
    """
    with _held_interrupts() as came:
        try:
            _publish(git, proposal, replace)
        except PolicyError:
            if not came:
                raise
            raise ProposalInterrupted(proposal, _landed(git, proposal)) from None
        if came:
            raise ProposalInterrupted(proposal, True)
    return proposal


@contextmanager
def _held_interrupts() -> Iterator[list[int]]:
    """SIGINT noted instead of raised while the block runs (the signals that came are in the
    list). Only the main thread can hold them; elsewhere (and when a caller installed its own
    handler) nothing changes."""
    came: list[int] = []
    main = threading.current_thread() is threading.main_thread()
    if not main or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield came
        return
    previous = signal.signal(signal.SIGINT, lambda number, _frame: came.append(number))
    try:
        yield came
    finally:
        signal.signal(signal.SIGINT, previous)


def _landed(git: GitRepo, proposal: Proposal) -> bool | None:
    """Whether the interrupted push (git itself got the Ctrl-C too) reached the remote: True
    when the remote holds the commit now; None when it does not yet, or cannot be asked, since
    a remote's server can still be completing a push whose client was cut (over ssh or https
    it runs on). A local branch (no push) is known either way."""
    if not proposal.pushed:
        with contextlib.suppress(PolicySourceError):
            return git.resolve(f"refs/heads/{proposal.branch}") == proposal.commit
        return False
    try:
        said = git.run("ls-remote", "--heads", "--end-of-options", proposal.remote, proposal.branch)
    except PolicySourceError:
        return None
    return True if said.split("\t", 1)[0].strip() == proposal.commit else None


def _publish(git: GitRepo, proposal: Proposal, replace: str | None) -> None:
    name, commit, remote = proposal.branch, proposal.commit, proposal.remote
    if not proposal.pushed:
        git.run("branch", "--force" if replace else "--no-track", name, commit)
        return
    lease = [f"--force-with-lease=refs/heads/{name}:{replace}"] if replace else []
    try:
        refspec = f"{commit}:refs/heads/{name}"
        git.run("push", "--quiet", "--porcelain", *lease, "--end-of-options", remote, refspec)
    except PolicySourceError as e:
        said = e.issues[0].message
        if not replace and any(w in said for w in ("fetch first", "non-fast-forward", "exists")):
            raise EditRefused.single(
                f"branch {name!r} exists on {remote!r} already (another proposal took the name"
                " meanwhile); choose another with --branch, or leave the name to policyctl",
                source=str(git.root),
            ) from None
        raise PolicySourceError.single(
            f"push of {name!r} to {remote!r} was rejected: {said}", source=str(git.root)
        ) from None
