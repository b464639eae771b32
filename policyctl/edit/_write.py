"""Writing the policy file: under a directory lock, atomically, keeping mode, owner and group.

The write is a temporary file in the same directory, fsynced, renamed over the file, and the
directory fsynced; the lock spans the whole read-modify-write, so concurrent edits never lose
an update; temporary files a killed writer left are removed under that lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import PolicySourceError

__all__ = [
    "locked",
    "remove_stale_temporaries",
    "source_errors",
    "write_atomically",
    "write_new",
]

log = logging.getLogger(__name__)


@contextlib.contextmanager
def source_errors(path: Path) -> Iterator[None]:
    """An unreadable or unwritable directory is the file system's answer, not a bug: exit 2."""
    try:
        yield
    except OSError as e:
        reason = e.strerror or str(e)
        where = f" ({e.filename})" if e.filename else ""
        raise PolicySourceError.single(
            f"cannot edit the policy file: {reason}{where}", source=str(path)
        ) from None


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    # Lock the directory, not the file: the file is replaced by rename, so a lock on it would
    # be a lock on an inode the next writer never opens.
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def remove_stale_temporaries(path: Path) -> None:
    """Temporary files of our own naming left by a killed `set`: every writer holds the
    directory lock while its temporary file exists, so under the lock any such file is stale."""
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        with contextlib.suppress(OSError):
            stale.unlink()


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: a fsynced temporary file renamed over it, keeping the
    file's mode, owner and group."""
    before = path.stat()
    _write_via_temporary(path, data, before, Path.replace)


def write_new(path: Path, data: bytes) -> None:
    """Create ``path`` with ``data`` atomically, never over an existing file: the temporary
    file is hard-linked into place, which fails with FileExistsError if the name is taken."""
    _write_via_temporary(path, data, None, os.link)


def _write_via_temporary(
    path: Path,
    data: bytes,
    before: os.stat_result | None,
    place: Callable[[Path, Path], object],
) -> None:
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if before is not None:
                _keep_owner(f.fileno(), before, path)
            os.fsync(f.fileno())
        tmp.chmod(before.st_mode & 0o7777 if before is not None else 0o644)
        place(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # after a rename it is gone; after a link, a second name
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename or link itself survives a crash
    finally:
        os.close(directory)


def _keep_owner(fd: int, before: os.stat_result, path: Path) -> None:
    """The new file keeps the old one's owner and group: a service that read it through its
    group must still be able to (only root, or the owner for its own groups, may do this)."""
    if (before.st_uid, before.st_gid) == (os.getuid(), os.getegid()):
        return
    try:
        os.fchown(fd, before.st_uid, before.st_gid)
    except PermissionError:
        try:
            os.fchown(fd, -1, before.st_gid)
        except PermissionError:
            log.warning(
                "%s: cannot keep its group %s (not a member); the new file's group is %s",
                path,
                before.st_gid,
                os.getegid(),
            )
