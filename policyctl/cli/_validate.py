"""``policyctl validate``: every rule, on the files alone unless --with-env."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from ..errors import PolicyError, PolicySourceError
from ..model import BRAKES_DIR_NAME
from ..pipeline import (
    MAX_BYTES,
    PolicySnapshot,
    brake_name,
    build_snapshot,
    default_policy_path,
    load_policy,
    parse_brake,
    read_source,
)
from ._arguments import FILE_HELP, brakes_option
from ._escape import out
from ._exit import EXIT_INVALID, EXIT_OK, EXIT_USAGE
from ._report import FileResult, render_validation

__all__ = ["add_arguments", "run"]


def run(args: argparse.Namespace) -> int:
    env = os.environ if args.with_env else {}
    if args.rev is not None:
        return _at_revision(args, env)
    files = args.files or [str(default_policy_path())]
    results = []
    status = EXIT_OK
    for name in files:
        try:
            if name == "-":  # stdin, read as a file would be (the same size limit)
                data = sys.stdin.buffer.read(MAX_BYTES + 1)
                snap = build_snapshot(data, Path("<stdin>"), env=env)
                name = "<stdin>"  # noqa: PLW2901 (the name reported)
            elif Path(name).parent.name == BRAKES_DIR_NAME and brake_name(Path(name).name):
                results.append(_validate_brake(Path(name)))  # one brake file on its own
                continue
            else:
                snap = load_policy(name, env=env, brakes_dir=args.brakes_dir)
        except PolicyError as e:
            results.append(FileResult(name, error=e))
            status = max(status, EXIT_USAGE if isinstance(e, PolicySourceError) else EXIT_INVALID)
        else:
            notes = _warnings(snap) + _links(Path(name), snap)
            results.append(FileResult(name, snap.version, snap.digest, warnings=notes))
    out(render_validation(results, args.format))
    return status


def _links(path: Path, snap: PolicySnapshot) -> tuple[tuple[str, str], ...]:
    """Symbolic links on disk, said plainly: what is validated (and served) is the target, while
    a review reads git's objects, where such a link is refused. A ConfigMap volume's links
    (``policy.yaml -> ..data/policy.yaml``) are its layout, not a surprise."""
    files = [path, *(b.path for b in snap.brake_files)]
    return tuple(
        (str(f), f"a symbolic link to {f.readlink()}: validated as the target's content")
        for f in files
        if f.is_symlink() and not (f.parent / "..data").is_symlink()
    )


def _at_revision(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """The files as git's objects hold them at ``--rev``: what a review judges (a symbolic link
    is refused there, never followed), named by their paths in the repository."""
    # git's side only here: validating files on disk loads none of it.
    from ..review import GitRepo, policy_at  # noqa: PLC0415

    repo = GitRepo()
    sha = repo.resolve(args.rev)  # an unknown revision: a usage error (exit 2)
    results, status = [], EXIT_OK
    for name in args.files or [None]:
        file = default_policy_path(name).as_posix()
        if Path(file).is_absolute():
            file = repo.relative(Path(file))
        try:
            data, brakes = policy_at(repo, sha, file)
            snap = build_snapshot(data, Path(file), env=env, brakes=brakes)
        except PolicyError as e:
            results.append(FileResult(file, error=e))
            status = max(status, EXIT_INVALID)
        else:
            results.append(FileResult(file, snap.version, snap.digest, warnings=_warnings(snap)))
    out(render_validation(results, args.format))
    return status


def _validate_brake(path: Path) -> FileResult:
    now = datetime.now(UTC)
    brake = parse_brake(read_source(path), path, now)
    expired = brake.state(now) == "expired"
    warning = ((str(path), f"expired at {brake.content.until}; remove it: policyctl brake prune"),)
    return FileResult(str(path), warnings=warning if expired else ())


def _warnings(snap: PolicySnapshot) -> tuple[tuple[str, str], ...]:
    """Brakes that do nothing: expired, or values looser than the policy (which may have been
    tightened since the brake was written). Not errors: the policy is still what it says."""
    paths = {b.name: str(b.path) for b in snap.brake_files}
    out = [
        (str(b.path), f"expired at {b.content.until}; remove it: policyctl brake prune")
        for b in snap.brake_files
        if b.state(snap.loaded_at) == "expired"
    ]
    for note in snap.brake_notes:
        name, _, message = note.partition(": ")
        out.append((paths.get(name, str(snap.source)), message))
    return tuple(out)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """This command's arguments."""
    p.add_argument("files", nargs="*", metavar="FILE", help=FILE_HELP + "; - reads stdin")
    p.add_argument("--with-env", action="store_true", help="also apply this QT_* environment")
    brakes_option(p)
    p.add_argument("--format", choices=("text", "json", "github"), default="text")
    p.add_argument(
        "--rev",
        metavar="REV",
        help="validate the files as git holds them at REV (paths in the repository), as a"
        " review judges them: a symbolic link or submodule under the policy's directory is"
        " refused, never followed",
    )
