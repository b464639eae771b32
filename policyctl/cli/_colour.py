"""Colour where it helps a reviewer: a loosening in red, a tightening in green.

Only on a terminal, never under ``NO_COLOR`` (https://no-color.org), and as ``--color`` says
(auto, always, never). The codes are added to text already escaped, at the start of our own
change lines only.
"""

from __future__ import annotations

import os
import re
import sys

__all__ = ["colour_directions", "configure"]

_CODES = {"loosens": "\x1b[31m", "tightens": "\x1b[32m"}
_RESET = "\x1b[0m"
_enabled = False


def configure(mode: str) -> None:
    """``auto``: colour when stdout is a terminal and NO_COLOR is unset or empty."""
    global _enabled  # noqa: PLW0603 (one switch for the one process the CLI is)
    if mode == "auto":
        _enabled = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    else:
        _enabled = mode == "always"


def colour_directions(text: str) -> str:
    """Colour the direction word that starts a change line (``  loosens   max_positions...``)
    in text already escaped: only our own line structure can match, never a value, whose line
    breaks were escaped before this runs."""
    if not _enabled:
        return text
    return _DIRECTION_LINE.sub(lambda m: f"{m[1]}{_CODES[m[2]]}{m[2]}{_RESET}", text)


_DIRECTION_LINE = re.compile(r"^( +)(loosens|tightens)(?= )", re.M)
