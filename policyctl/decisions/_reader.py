"""Reading decision logs (records as `_record` defines them) for replay: streamed, never trusted.

Files are read one line at a time, plain or gzip (told by the content's magic bytes, not the
name), so memory does not grow with the log. A line that is not a decision is skipped and
kept as a `Problem` (file, line number, why); a last line cut short by a crash (no newline,
not JSON) is a torn line: a warning, not an error, since a log that was being written when
it was copied always ends that way. A gzip file cut short, or corrupt, ends that file with a
problem; the other files are still read.
"""

from __future__ import annotations

import gzip
import json
import json.scanner
import math
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ._record import INPUTS

__all__ = ["LogFiles", "Problem", "Record", "log_files"]

MAX_LINE = 1 << 20  # a decision is a few hundred bytes: a longer line is not one
KEPT_PROBLEMS = 50  # shown with line numbers; the rest are counted
_GZIP_MAGIC = b"\x1f\x8b"
_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_SYMBOL, _STRATEGY, _CONFIDENCE = INPUTS

Record = tuple[int, dict[str, Any], str, str, Any]
"""(line, record, symbol, strategy, confidence): the confidence a float, or as logged when it
was not a number (an input the decision refused, replayed as what it was: refused on both
sides)."""
"""(line number, the record, symbol, strategy, confidence): a line fit to replay."""


class _Lines(Protocol):
    def readline(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Problem:
    """A line (or a whole file, line 0) that could not be replayed, and why."""

    file: str
    line: int
    reason: str


def log_files(arguments: Sequence[str]) -> list[Path]:
    """The files named: a directory stands for the decision logs in it (``*.jsonl`` and
    ``*.jsonl.gz``, rotated ones too), in name order.

    Raises:
        FileNotFoundError: An argument names nothing, or something that is neither a regular
            file nor a directory.
    """
    files: list[Path] = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            files += sorted(
                p for p in path.iterdir() if p.is_file() and ".jsonl" in p.name and p.name[0] != "."
            )
        elif path.is_file():
            files.append(path)
        elif path.exists():  # a FIFO or a device never ends (or never starts): not a log
            raise FileNotFoundError(f"{argument}: not a regular file or a directory")
        else:
            raise FileNotFoundError(f"{argument}: no such file or directory")
    return files


@dataclass
class LogFiles:
    """Every decision in ``files``, in order, with the lines that are not decisions counted.

    Iterate it once; then `records`, `skipped`, `torn` and `problems` say what was read.
    """

    files: Sequence[Path]
    records: int = 0
    skipped: int = 0
    torn: int = 0
    problems: list[Problem] = field(default_factory=list)

    def skip(self, file: str, line: int, reason: str) -> None:
        self.skipped += 1
        if len(self.problems) < KEPT_PROBLEMS:
            self.problems.append(Problem(file, line, reason))

    def __iter__(self) -> Iterator[tuple[str, Record]]:
        for path in self.files:
            name = str(path)
            try:
                with path.open("rb") as raw:
                    compressed = raw.read(2) == _GZIP_MAGIC
                    raw.seek(0)
                    stream: _Lines = gzip.GzipFile(fileobj=raw) if compressed else raw
                    for record in self._lines(name, stream):
                        yield name, record
            except (EOFError, gzip.BadGzipFile, zlib.error) as e:
                self.skip(
                    name,
                    0,
                    f"compressed data ends early or is corrupt ({e}); the lines before were read",
                )
            except OSError as e:
                self.skip(name, 0, f"cannot read: {e.strerror or e}")

    def _lines(self, name: str, stream: _Lines) -> Iterator[Record]:
        number = 0
        # The json module's own C scanner, called directly: json.loads adds an encoding
        # guess and two wrappers per call, a third of the parse on a short line.
        scan = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]
        while True:
            line = stream.readline(MAX_LINE)
            if not line:
                return
            number += 1
            if not line.strip():  # a blank line: no decision, and no JSON error to build
                self.skip(name, number, "a blank line")
                continue
            if len(line) == MAX_LINE and not line.endswith(b"\n"):
                while (rest := stream.readline(MAX_LINE)) and not rest.endswith(b"\n"):
                    pass  # the rest of an overlong line, read and dropped in bounded pieces
                self.skip(name, number, f"longer than {MAX_LINE} bytes: not a decision")
                continue
            try:
                record = _parse(scan, line)
            except RecursionError:
                self.skip(name, number, "nested too deep: not a decision")
                continue
            except ValueError as e:  # UnicodeDecodeError too
                if not line.endswith(b"\n"):  # the last line: readline stops only at EOF
                    self.torn += 1  # the writer was stopped mid-line: expected, not an error
                    if len(self.problems) < KEPT_PROBLEMS:
                        self.problems.append(
                            Problem(name, number, "torn last line (a crash while writing), skipped")
                        )
                else:
                    self.skip(name, number, f"not JSON: {_short(e)}")
                continue
            if type(record) is not dict:
                self.skip(name, number, f"not a JSON object but {_json_type(record)}")
                continue
            symbol, strategy = record.get(_SYMBOL), record.get(_STRATEGY)
            confidence = record.get(_CONFIDENCE)
            if type(symbol) is str and type(strategy) is str and type(confidence) is float:
                self.records += 1
                yield number, record, symbol, strategy, confidence
                continue
            reason = _invalid(symbol, strategy, _CONFIDENCE in record)
            if reason is None:
                assert isinstance(symbol, str) and isinstance(strategy, str)
                self.records += 1
                yield number, record, symbol, strategy, _number(confidence)
            else:
                self.skip(name, number, reason)


def _parse(scan: Any, line: bytes) -> object:
    """One line as JSON, exactly as json.loads reads it (whitespace around allowed)."""
    text = line.decode()
    try:
        value, end = scan(text, 0)
    except StopIteration as e:
        stripped = text.lstrip()
        if stripped is not text:  # leading whitespace: let json.loads say where it fails
            return json.loads(text)
        raise json.JSONDecodeError("Expecting value", text, e.value) from None
    if end != len(text) and text[end:].strip():
        raise json.JSONDecodeError("Extra data", text, end)
    return value


def _invalid(symbol: object, strategy: object, has_confidence: bool) -> str | None:
    """Why a record is no decision: no symbol or strategy as text, or no confidence at all. A
    confidence that is not a number is still a decision: one refused for it, replayed so."""
    for key, value in ((_SYMBOL, symbol), (_STRATEGY, strategy)):
        if value is None:
            return f"no {key!r}"
        if type(value) is not str:
            return f"{key!r} is {_json_type(value)}, not text"
    return None if has_confidence else f"no {_CONFIDENCE!r}"


def _number(confidence: object) -> object:
    """A logged confidence as the decision saw it: a written non-finite number ("nan", "inf")
    as that float; anything else (an int, text, a boolean, null, a list) as it is."""
    if type(confidence) is str and confidence in _NON_FINITE:
        return _NON_FINITE[confidence]
    return confidence


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "text", bool: "a boolean", int: "a number"}
    return "null" if value is None else names.get(type(value), "a number")


def _short(error: ValueError) -> str:
    text = str(error)
    return text if len(text) <= 120 else text[:117] + "..."
