"""The decision log: every ``store.decide()`` as one JSON line, written off the signal path.

Each line is a decision record as `_record` defines it; the line is formatted here by hand
(a generic encoder costs microseconds a decision), and a test holds the two together.

The signal path only appends a tuple of what it already holds (the time, the snapshot, the
verdict, the inputs) to a bounded queue: no formatting, no lock, no system call, never a
block. When the queue is full the decision is dropped and counted, never silently. One
background thread turns what is queued into lines, and writes each batch of whole lines with
one ``write`` in append mode, so a crash loses at most what was queued and can only tear the
very last line (readers skip a torn last line with a warning). The file rotates by size: the
full file is renamed and gzip-compressed beside it (``decisions.jsonl.1.gz``, ``.2.gz``, ...
up to ``backups``). ``close()`` writes everything queued before it returns.
"""

from __future__ import annotations

import contextlib
import gzip
import itertools
import json
import logging
import math
import os
import shutil
import stat
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii as _text
from pathlib import Path
from typing import Any

from ..errors import PolicySourceError
from ..model import SignalVerdict
from ..pipeline import PolicySnapshot
from ._record import policy_part

__all__ = ["DecisionLog", "Pending", "freeze_context", "freeze_input"]

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_BACKUPS = 5
DEFAULT_QUEUE = 10_000
_BATCH = 8192  # lines per write: each system call may hand the GIL to a busy signal thread
CLOSE_TIMEOUT = 10.0
"""Longest ``close()`` waits for the queue to be written."""
_IDLE_WAIT = 0.01  # at 200,000 decisions/s an idle writer wakes to 2,000 queued: far from full

Pending = tuple[float, PolicySnapshot, SignalVerdict, Any, Any, Any, Mapping[str, Any]]
"""What ``decide`` queues: time.time(), snapshot, verdict, symbol, strategy, confidence, context."""

_PLAIN = frozenset({str, int, float, bool, type(None)})
MAX_CONTEXT = 64
"""Most context keys a decision keeps (the first ones); how many more were cut is logged."""
MAX_TEXT = 1024
"""Longest text a context value keeps."""
_CUT = "_cut"  # the context key that counts what was cut


def _safe(value: Any, depth: int = 0) -> Any:
    """``value`` if it is JSON-safe data (finite numbers, text, booleans, None, and lists or
    string-keyed maps of those, a few levels deep); else its type's name, never its repr."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str.__str__(value)[:MAX_TEXT]  # the characters, whatever a subclass overrides
    if isinstance(value, int):  # one of 5,000 digits has no str(): a whole batch was lost
        return value if value.bit_length() <= 63 else f"<an integer of {value.bit_length()} bits>"
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if depth < 4 and isinstance(value, list | tuple):
        return [_safe(v, depth + 1) for v in value[:100]]
    if depth < 4 and isinstance(value, Mapping):
        return {str(k): _safe(v, depth + 1) for k, v in list(value.items())[:100]}
    return f"<{type(value).__name__}>"


def freeze_input(value: object, read: Callable[[object], object | None]) -> Any:
    """One of a decision's inputs as it is logged: as the rules read it (``read``: plain text
    for a StrEnum, a plain number for numpy's), so that its replay reaches the same verdict;
    else frozen as data (`_safe`), so that a list changed after ``decide`` is logged as it was."""
    plain = read(value)
    return _safe(value) if plain is None else plain


def freeze_context(context: dict[str, Any]) -> dict[str, Any]:
    """The context as it is now: a value that could change after ``decide`` returns (a list, a
    map, an object) is converted on the signal path, so the log says what was decided on. It
    is bounded: at most `MAX_CONTEXT` keys (``_cut`` counts the rest), text cut at
    `MAX_TEXT`, an integer too large for JSON readers named by its size."""
    if len(context) > MAX_CONTEXT:
        kept = dict(itertools.islice(context.items(), MAX_CONTEXT))
        return {**{k: _safe(v) for k, v in kept.items()}, _CUT: len(context) - MAX_CONTEXT}
    for value in context.values():
        kind = type(value)
        if (
            kind not in _PLAIN
            or (kind is str and len(value) > MAX_TEXT)
            or (kind is int and value.bit_length() > 63)
        ):
            return {k: _safe(v) for k, v in context.items()}
    return context


class _Lines:
    """Formats queued decisions as JSON lines; caches what repeats (the policy's part, the
    second of the timestamp, the codes), since one snapshot serves many decisions."""

    def __init__(self, mask: Iterable[str]) -> None:
        self._mask = frozenset(mask)
        self._snap: PolicySnapshot | None = None
        self._policy = ""
        self._second = -1
        self._stamp = ""
        self._codes: dict[tuple[str, ...], str] = {}

    def line(self, item: object) -> str:
        if type(item) is not tuple:  # anything else queued directly: plain JSON
            return str(_encode(item)) + "\n"
        when, snap, verdict, symbol, strategy, confidence, context, order = item
        if snap is not self._snap:
            self._snap = snap
            brakes = [b.name for b in snap.brakes]
            self._policy = policy_part(snap.version, snap.digest, snap.policy.risk_mode, brakes)
        second = int(when)
        if second != self._second:
            self._second = second
            self._stamp = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        codes = self._codes.get(verdict.codes)
        if codes is None:
            codes = self._codes[verdict.codes] = json.dumps(list(verdict.codes))
        return (
            f'{{"time":"{self._stamp}.{int((when - second) * 1e6):06d}Z",'
            f'"symbol":{_value(symbol)},"strategy":{_value(strategy)},'
            f'"confidence":{_value(confidence)},{"" if order is None else _order(order)}'
            f'"context":{self._context(context)},'
            f'"allowed":{"true" if verdict.allowed else "false"},"codes":{codes},'
            f"{self._policy}}}\n"
        )

    def _context(self, context: Mapping[str, Any]) -> str:
        if not context:
            return "{}"
        mask = self._mask
        return (
            "{"
            + ",".join(
                f"{_text(str(k))}:{_MASKED if k in mask else _value(v)}" for k, v in context.items()
            )
            + "}"
        )


_MASKED = '"***"'
_encode = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode  # built once


def _order(order: tuple[Any, Any]) -> str:
    """An order's inputs as record keys, with the comma after them (a signal has none)."""
    return f'"risk_per_trade":{_value(order[0])},"open_positions":{_value(order[1])},'


def _value(value: Any) -> str:
    """One value as JSON: the usual types by hand (json.dumps costs microseconds a call)."""
    kind = type(value)
    if kind is str:
        return str(_text(value))
    if kind is float:
        return repr(value) if math.isfinite(value) else f'"{value}"'
    if kind is int:
        return str(value) if value.bit_length() <= 63 else str(_encode(_safe(value)))
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    return str(_encode(_safe(value)))


class DecisionLog:
    """A JSON Lines file written by one background thread behind a bounded queue."""

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        backups: int = DEFAULT_BACKUPS,
        queue_size: int = DEFAULT_QUEUE,
        mask: Iterable[str] = (),
    ) -> None:
        self.path = path
        self._max_bytes = max_bytes
        self._backups = backups
        self.limit = queue_size
        self.pending: deque[object] = deque()
        """The queue: ``store.decide`` appends here directly (see `record`)."""
        self._lines = _Lines(mask)
        self._drops = threading.Lock()
        self._closing = threading.Event()
        self.dropped = 0
        self.written = 0
        self._fd = self._open()
        self._size = os.fstat(self._fd).st_size  # counted here, not asked for: see _BATCH
        self._compressing: threading.Thread | None = None
        self._thread = threading.Thread(target=self._run, name="policyctl-decisions", daemon=True)
        self._thread.start()

    def _open(self) -> int:
        """The log, appended to: only a regular file (or a new one). A FIFO would block the
        store's start (and, once open, every write), a directory or device is no log.

        Raises:
            PolicySourceError: Located at the path, with the reason.
        """
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NONBLOCK
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, flags, 0o640)
        except OSError as e:
            raise PolicySourceError.single(
                f"cannot open the decision log: {e.strerror or e}", source=str(self.path)
            ) from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise PolicySourceError.single(
                "the decision log is not a regular file (a FIFO or a device); give a file path",
                source=str(self.path),
            )
        os.set_blocking(fd, True)  # a regular file: writes complete, as they always did
        return fd

    def record(self, item: object) -> bool:
        """Queue one decision (a `Pending` tuple, or any JSON-safe map); False, and counted,
        when the queue is full. Never blocks."""
        if len(self.pending) >= self.limit:
            self.drop()
            return False
        self.pending.append(item)  # deque.append is atomic: no lock on the signal path
        return True

    def drop(self, count: int = 1) -> None:
        """Count records not logged."""
        with self._drops:  # several signal threads may drop at once: count every one
            self.dropped += count

    def _run(self) -> None:
        pending = self.pending
        while True:
            if not pending:
                if self._closing.is_set():
                    return
                self._closing.wait(_IDLE_WAIT)
                continue
            batch = []
            with contextlib.suppress(IndexError):
                for _ in range(_BATCH):
                    batch.append(pending.popleft())
            lines = []
            for item in batch:  # a record that cannot be written is dropped alone
                try:
                    lines.append(self._lines.line(item))
                except (ValueError, TypeError, OverflowError) as e:
                    self.drop(1)
                    log.warning("decision log %s: a record lost: %s", self.path, e)
            before = self.written
            try:
                self._write(lines)
            except OSError as e:  # a full disk: what was not written whole is dropped, counted
                lost = len(lines) - (self.written - before)
                self.drop(lost)
                log.warning("decision log %s: %d records lost: %s", self.path, lost, e)

    def _write(self, lines: list[str]) -> None:
        """Write whole lines (ASCII: one character is one byte), rotating where the file
        reaches ``max_bytes``, so a batch never carries a file far past its size."""
        while lines:
            room, total, cut = self._max_bytes - self._size, 0, len(lines)
            if sum(map(len, lines)) >= room:  # the rare batch that fills the file
                for cut, line in enumerate(lines, 1):  # noqa: B007 - cut is used below
                    total += len(line)
                    if total >= room:
                        break
            self._write_all("".join(lines[:cut]).encode())
            self.written += cut
            lines = lines[cut:]
            if self._size >= self._max_bytes:
                self._rotate()

    def _write_all(self, data: bytes) -> None:
        """Write all of ``data`` or none of it: a short write continues where it stopped, and a
        write that fails part-way (a full disk) is cut back, so no partial line stays behind to
        be read as a malformed record once the disk has room again."""
        start = os.fstat(self._fd).st_size
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, start)
            raise
        self._size += len(data)

    def _rotate(self) -> None:
        """Rename the full file and go on writing a new one at once; compress the full one on
        another thread (gzip of 64 MB takes seconds, while decisions keep coming)."""
        self._join_compressor()  # at most one full file waiting: the names below stay free
        os.close(self._fd)
        for n in range(self._backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{n}.gz")
            if older.exists():
                older.replace(self.path.with_name(f"{self.path.name}.{n + 1}.gz"))
        full = self.path.with_name(f"{self.path.name}.1")
        self.path.replace(full)
        self._fd = self._open()
        self._size = 0
        self._compressing = threading.Thread(
            target=self._compress, args=(full,), name="policyctl-decisions-gzip", daemon=True
        )
        self._compressing.start()

    def _compress(self, full: Path) -> None:
        try:
            with full.open("rb") as source, gzip.open(f"{full}.gz.tmp", "wb", 6) as target:
                shutil.copyfileobj(source, target, 8 << 20)  # few GIL hand-offs
            Path(f"{full}.gz.tmp").replace(f"{full}.gz")
            full.unlink()
        except OSError as e:  # the plain file stays: nothing written is lost
            log.warning("decision log %s: could not compress %s: %s", self.path, full, e)
        with contextlib.suppress(OSError):  # beyond `backups`
            self.path.with_name(f"{self.path.name}.{self._backups + 1}.gz").unlink()

    def _join_compressor(self) -> None:
        if self._compressing is not None:
            self._compressing.join()
            self._compressing = None

    def after_fork(self) -> None:
        """In a forked child the writer thread is gone: start it again, with fresh locks and an
        empty queue (what was queued is the parent's to write, and it will), appending to the
        same file through the inherited descriptor (O_APPEND: whole lines, never interleaved
        mid-line with the parent's batches)."""
        self.pending = deque()
        self.written = self.dropped = 0  # the child's own, as its status says
        self._drops = threading.Lock()
        self._closing = threading.Event()
        self._compressing = None
        self._thread = threading.Thread(target=self._run, name="policyctl-decisions", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Write everything queued, then stop. Idempotent."""
        if self._thread.is_alive():
            self._closing.set()
            self._thread.join(CLOSE_TIMEOUT)  # bounded: a stuck disk must not hang shutdown
            if self._thread.is_alive():
                log.warning("the decision log %s did not finish writing in time", self.path)
                return
            self._join_compressor()
            os.close(self._fd)
