"""Untrusted text, made safe for each place the CLI prints it.

A policy value, a file name, a git subject or an environment value is someone else's text. In a
terminal an ESC sequence can erase lines; in a CI log a CR starts a new line where ``::warning``
becomes a workflow command; in markdown a backtick or a pipe breaks the code span or table row.
Every value is escaped where it is formatted (`printable`, `code`, `md`, `github`,
`csv_cell`: a cell that would start a spreadsheet formula), and
everything written goes through `terminal` as a last net, which keeps only the format's own
line breaks.
"""

from __future__ import annotations

import re
import sys

from ..errors import printable
from ._colour import colour_directions

__all__ = ["code", "csv_cell", "err", "github", "md", "out", "printable", "terminal"]

_MD_PUNCTUATION = re.compile(r"([!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])")
_SPAN_BREAKERS = re.compile(r"[`|\\]")


def terminal(text: str) -> str:
    """``text`` with every control character escaped except ``\\n``, the format's own breaks."""
    return printable(text, keep_newlines=True)


def out(text: str) -> None:
    """Write one report to stdout, through `terminal`; colour goes on after the escaping, so
    no byte of a value can become a code (see _colour)."""
    sys.stdout.write(colour_directions(terminal(text if text.endswith("\n") else text + "\n")))


def err(text: str) -> None:
    """Write one message to stderr, through `terminal`."""
    sys.stderr.write(terminal(text if text.endswith("\n") else text + "\n"))


def code(text: str) -> str:
    """``text`` as code, safe in a markdown table cell.

    A plain code span where nothing in ``text`` can break or trim one; otherwise (a backtick, a
    pipe, a backslash, a space at either end) an HTML ``<code>`` element with every ASCII
    punctuation mark, and the spaces at its ends, written as character references: GFM splits
    table cells on a pipe before anything else, and a backslash before it (``\\|``) would undo
    the escape that protects it.
    """
    safe = printable(text)
    if safe and safe == safe.strip() and not _SPAN_BREAKERS.search(safe):
        return f"`{safe}`"
    # A code span also drops one space at each end, and a table cell trims its edges.
    body = _MD_PUNCTUATION.sub(lambda m: f"&#{ord(m.group())};", safe)
    stripped = body.strip(" ")
    lead, trail = len(body) - len(body.lstrip(" ")), len(body) - len(body.rstrip(" "))
    if not stripped:
        lead, trail = len(body), 0
    return f"<code>{'&#32;' * lead}{stripped}{'&#32;' * trail}</code>"


def md(text: str) -> str:
    """``text`` as literal markdown: every ASCII punctuation mark backslash-escaped, so it can
    open no emphasis, link, HTML tag, code span or table cell."""
    return _MD_PUNCTUATION.sub(r"\\\1", printable(text))


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text: str) -> str:
    """``text`` for a CSV cell a spreadsheet opens: one that would start a formula (``=``,
    ``+``, ``-``, ``@``, a tab or CR: OWASP's list) gets a leading ``'``, so it stays text;
    control characters are escaped (the csv module quotes the rest)."""
    safe = printable(text)
    return f"'{safe}" if safe.startswith(_FORMULA) else safe


def github(text: str, *, prop: bool = False) -> str:
    """``text`` for a workflow command (``::error file=…::message``): the ``%``, CR and LF
    encodings the syntax defines, and ``:`` and ``,`` in a property."""
    text = printable(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text
