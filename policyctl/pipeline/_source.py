"""The bytes of a policy file, as they were at one moment: the first step of the pipeline."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from ..errors import PolicySourceError
from ._reader import MAX_BYTES

__all__ = ["read_source"]

_READ_ATTEMPTS = 5


def read_source(path: Path) -> bytes:
    """Read a policy file's bytes as they were at one moment.

    Only a regular file is read (a FIFO or a device would block, or never end), and it is opened
    without blocking. The bytes are returned only when two whole reads of the same descriptor
    agree and its size, mtime and inode did not move in between: a writer rewriting the file in
    place while we read can never join two versions into one that nobody wrote.

    Raises:
        PolicySourceError: The file is missing, unreadable, not a regular file, or kept changing
            through every attempt to read it.
    """
    try:
        # Looked at first, so that a socket or a device is named as such; the open itself does
        # not block either (a FIFO swapped in meanwhile is caught by the fstat below).
        kind = path.stat().st_mode
        if not stat.S_ISREG(kind):
            raise _not_regular(path, kind)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise _unreadable(path, e) from None
    try:
        return _read_settled(fd, path)
    except OSError as e:
        raise _unreadable(path, e) from None
    finally:
        os.close(fd)


def _read_settled(fd: int, path: Path) -> bytes:
    before = os.fstat(fd)
    if not stat.S_ISREG(before.st_mode):
        raise _not_regular(path, before.st_mode)
    for _ in range(_READ_ATTEMPTS):
        first = _pread_all(fd)
        second = _pread_all(fd)
        after = os.fstat(fd)
        whole = len(first) == after.st_size or len(first) > MAX_BYTES
        if first == second and whole and _same_version(before, after):
            return first
        before = after
    raise PolicySourceError.single(
        "cannot read the policy file: it kept changing while being read; try again",
        source=str(path),
    )


def _pread_all(fd: int) -> bytes:
    chunks, offset, limit = [], 0, MAX_BYTES + 1
    while offset < limit:
        chunk = os.pread(fd, limit - offset, offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _same_version(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_ino, a.st_dev, a.st_size, a.st_mtime_ns, a.st_ctime_ns) == (
        b.st_ino,
        b.st_dev,
        b.st_size,
        b.st_mtime_ns,
        b.st_ctime_ns,
    )


def _not_regular(path: Path, mode: int) -> PolicySourceError:
    if stat.S_ISDIR(mode):
        reason = "is a directory, not a file"
    else:
        reason = f"not a regular file ({_file_kind(mode)})"
    return PolicySourceError.single(f"cannot read the policy file: {reason}", source=str(path))


def _file_kind(mode: int) -> str:
    kinds = {
        stat.S_ISDIR: "a directory",
        stat.S_ISFIFO: "a FIFO",
        stat.S_ISSOCK: "a socket",
        stat.S_ISCHR: "a character device",
        stat.S_ISBLK: "a block device",
    }
    return next((name for test, name in kinds.items() if test(mode)), "not a file")


def _unreadable(path: Path, error: OSError) -> PolicySourceError:
    reasons = {
        errno.ENOENT: "no such file",
        errno.EISDIR: "is a directory, not a file",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.ELOOP: "too many levels of symbolic links (a symlink loop?)",
        errno.ENXIO: "not a regular file (a socket or a device without a reader)",
    }
    reason = reasons.get(error.errno or 0) or error.strerror or str(error)
    if error.errno == errno.ENOENT and not path.is_absolute():  # relative to what? say it
        reason += f" (looked in {Path.cwd()})"
    return PolicySourceError.single(f"cannot read the policy file: {reason}", source=str(path))
