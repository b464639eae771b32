"""The decision log: every ``store.decide()`` as one JSON line, written off the signal path.

``record`` only puts the record on a bounded queue (never blocks; when the queue is full the
record is dropped and counted, never silently); one background thread writes the lines, each
with a single ``write`` of the whole line in append mode, so a crash loses at most what was
queued and can only tear the very last line (readers skip a torn last line). The file rotates
by size: the full file is renamed and gzip-compressed beside it (``decisions.jsonl.1.gz``,
``.2.gz``, ... up to ``backups``). ``close()`` writes everything queued before it returns.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import math
import os
import queue
import shutil
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..model import SignalVerdict
from ..pipeline import PolicySnapshot

__all__ = ["DecisionLog", "decision_record"]

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_BACKUPS = 5
DEFAULT_QUEUE = 10_000
_STOP = object()


def _safe(value: Any, depth: int = 0) -> Any:
    """``value`` if it is JSON-safe data (finite numbers, text, booleans, None, and lists or
    string-keyed maps of those, a few levels deep); else its type's name, never its repr."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        return value if math.isfinite(value) else str(value)
    if depth < 4 and isinstance(value, list | tuple):
        return [_safe(v, depth + 1) for v in value[:100]]
    if depth < 4 and isinstance(value, Mapping):
        return {str(k): _safe(v, depth + 1) for k, v in list(value.items())[:100]}
    return f"<{type(value).__name__}>"


def decision_record(
    snap: PolicySnapshot,
    verdict: SignalVerdict,
    inputs: Mapping[str, Any],
    context: Mapping[str, Any],
    mask: Iterable[str],
) -> dict[str, Any]:
    """One decision as logged: when, the inputs and context, the verdict, and the policy."""
    hidden = set(mask)
    return {
        "time": datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
        **{k: _safe(v) for k, v in inputs.items()},
        "context": {k: "***" if k in hidden else _safe(v) for k, v in context.items()},
        "allowed": verdict.allowed,
        "codes": list(verdict.codes),
        "version": snap.version,
        "digest": snap.digest,
        "overrides": [b.name for b in snap.brakes],
    }


class DecisionLog:
    """A JSON Lines file written by one background thread behind a bounded queue."""

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        backups: int = DEFAULT_BACKUPS,
        queue_size: int = DEFAULT_QUEUE,
    ) -> None:
        self.path = path
        self._max_bytes = max_bytes
        self._backups = backups
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_size)
        self.dropped = 0
        self.written = 0
        self._fd = self._open()
        self._thread = threading.Thread(target=self._run, name="policyctl-decisions", daemon=True)
        self._thread.start()

    def _open(self) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)

    def record(self, record: Mapping[str, Any]) -> bool:
        """Queue one record; False (and counted) when the queue is full."""
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1  # one writer of this counter: the signal path; reads are racy-safe
            return False
        return True

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            line = json.dumps(item, separators=(",", ":"), allow_nan=False) + "\n"
            try:
                os.write(self._fd, line.encode())  # one write: a crash tears at most this line
                self.written += 1
                if os.fstat(self._fd).st_size >= self._max_bytes:
                    self._rotate()
            except (OSError, ValueError) as e:
                self.dropped += 1
                log.warning("decision log %s: a record was lost: %s", self.path, e)

    def _rotate(self) -> None:
        os.close(self._fd)
        for n in range(self._backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{n}.gz")
            if older.exists():
                older.replace(self.path.with_name(f"{self.path.name}.{n + 1}.gz"))
        full = self.path.with_name(f"{self.path.name}.1")
        self.path.replace(full)
        self._fd = self._open()
        with full.open("rb") as source, gzip.open(f"{full}.gz.tmp", "wb") as target:
            shutil.copyfileobj(source, target)
        Path(f"{full}.gz.tmp").replace(f"{full}.gz")
        full.unlink()
        with contextlib.suppress(OSError):  # beyond `backups`
            self.path.with_name(f"{self.path.name}.{self._backups + 1}.gz").unlink()

    def close(self) -> None:
        """Write everything queued, then stop. Idempotent."""
        if self._thread.is_alive():
            self._queue.put(_STOP)  # blocks only while the queue is full: the writer drains it
            self._thread.join()
            os.close(self._fd)
