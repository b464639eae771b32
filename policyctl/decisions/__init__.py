"""Decisions: the record of every ``store.decide`` (one schema), the log that writes it off the
signal path, the reader that streams it back, and a generator of synthetic logs.

- `_record`: the record's keys and format version, in one place.
- `_log`: `DecisionLog`, the bounded queue and the writer thread, rotation and gzip.
- `_reader`: `LogFiles`, decision logs streamed back, bad lines counted by line number.
- `_generate`: a synthetic week of decisions (``policyctl replay --generate``).

Replaying decisions under two policies needs git, so it lives in ``policyctl.review``, which
reads the logs through this room.

May import: ``policyctl.pipeline``, ``policyctl.model``, ``policyctl.errors``. Never ``live``,
``review``, ``cli`` or ``http``. Modules with a leading underscore are private; other rooms use
the names below. Importing this package starts no thread.
"""

from __future__ import annotations

from ._generate import generate
from ._log import DecisionLog, freeze_context, freeze_input
from ._reader import LogFiles, Problem, log_files
from ._record import (
    FORMAT,
    INPUTS,
    KEYS,
    ORDER_INPUTS,
    brakes_of,
    format_of,
    policy_part,
    record_json,
)

__all__ = [
    "FORMAT",
    "INPUTS",
    "KEYS",
    "ORDER_INPUTS",
    "DecisionLog",
    "LogFiles",
    "Problem",
    "brakes_of",
    "format_of",
    "freeze_context",
    "freeze_input",
    "generate",
    "log_files",
    "policy_part",
    "record_json",
]
