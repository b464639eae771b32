"""Errors raised by policyctl, and the located `Issue` each of them carries.

Every error a user can meet is a `PolicyError`: third-party exceptions (PyYAML, pydantic, OSError)
are wrapped at the boundary so callers need only one ``except``. ``str(err)`` is one line per
issue in the compiler style ``FILE:LINE:COL: PATH: message`` that editors and CI understand.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Self

__all__ = [
    "UNSAFE_CHARACTERS",
    "AmbiguousArgument",
    "BundleRefused",
    "EditRefused",
    "Issue",
    "PathPart",
    "PolicyEnvError",
    "PolicyError",
    "PolicyInternalError",
    "PolicySourceError",
    "PolicySyntaxError",
    "PolicyValidationError",
    "ProposalConflict",
    "format_path",
    "printable",
]

PathPart = str | int

UNSAFE_CHARACTERS: Final = (
    r"\u0000-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u2028-\u202e"
    r"\u2060-\u2064\u2066-\u2069\ufeff"
)
"""Characters that would let text steer the terminal, the CI log or a reader's eye, as the
inside of a regular-expression class: C0 and C1 controls and DEL (ESC sequences, CR, NUL), the
line and paragraph separators, the bidirectional marks and overrides ("Trojan Source"; U+061C,
the Arabic letter mark, among them), and the invisible ones that hide text inside text: U+200B
(zero-width space), U+2060-U+2064 (word joiner, invisible operators) and U+FEFF (zero-width
no-break space). The joiners U+200C/U+200D stay: scripts and emoji need them. The model
refuses them in free text; `printable` escapes them wherever text is shown."""

_UNSAFE = re.compile(f"[{UNSAFE_CHARACTERS}]")
_UNSAFE_BUT_NEWLINE = re.compile(f"(?!\n)[{UNSAFE_CHARACTERS}]")


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with every control character written as an escape (``\\x1b``, ``\\n``,
    ``\\u202e``): untrusted text (a file name, a value, a commit subject) printed through it
    cannot move the cursor, start a new line or reorder what a reviewer sees. With
    ``keep_newlines``, ``\\n`` stays (a whole report, whose line breaks are its own)."""
    unsafe = _UNSAFE_BUT_NEWLINE if keep_newlines else _UNSAFE
    if not unsafe.search(text):
        return text
    return unsafe.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def format_path(path: tuple[PathPart, ...]) -> str:
    """Render a field path as users write it: ``opp_rankings.BTCUSDT``, ``allowed_symbols[2]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem, located.

    Attributes:
        path: Field path inside the policy, ``()`` for the document itself.
        line: 1-based line of the offending value, or None when it has no place in a file
            (an environment variable, a missing file).
        column: 1-based column, or None like ``line``.
        message: What is wrong and, when known, how to fix it.
        source: Where the value came from: the file name, or the environment variable's name.
    """

    path: tuple[PathPart, ...]
    line: int | None
    column: int | None
    message: str
    source: str | None = None

    def __str__(self) -> str:
        # Each part may hold someone else's text (a file name, a key, a quoted value).
        where = printable(self.source or "<policy>")
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        dotted = printable(format_path(self.path))
        message = printable(self.message)
        return f"{where}: {dotted}: {message}" if dotted else f"{where}: {message}"

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.source or "", self.line or 0, self.column or 0, self.message)


class PolicyError(Exception):
    """Base class of every error policyctl raises on purpose.

    Attributes:
        issues: The located problems, sorted by position; at least one.
    """

    kind = "error"

    def __init__(self, issues: Iterable[Issue]) -> None:
        self.issues: tuple[Issue, ...] = tuple(sorted(issues, key=Issue.sort_key))
        super().__init__("\n".join(str(issue) for issue in self.issues))

    @classmethod
    def single(
        cls,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        column: int | None = None,
        path: tuple[PathPart, ...] = (),
    ) -> Self:
        """Build an error holding one issue."""
        return cls([Issue(path, line, column, message, source)])


class PolicySourceError(PolicyError):
    """The policy could not be read: missing or unreadable file, unknown git revision."""

    kind = "source"


class PolicySyntaxError(PolicyError):
    """The bytes are not acceptable YAML: broken syntax, unsafe tags, aliases, size limits."""

    kind = "syntax"


class PolicyValidationError(PolicyError):
    """The document is YAML but not a valid GlobalPolicy (types, ranges, cross-field rules)."""

    kind = "validation"


class PolicyEnvError(PolicyError):
    """A ``QT_*`` environment variable cannot be parsed for its field or is out of range."""

    kind = "env"


class ProposalConflict(PolicyError):
    """A proposal's field was changed to something else on the base since the value it was
    based on: nothing is pushed; the issue names the field, both values and the commit."""

    kind = "conflict"


class PolicyInternalError(PolicyError):
    """A check failed in a way no rule foresaw (a bug, or a fault of the machine). A store
    records it like any refusal, so it is counted, reported and never silently dropped."""

    kind = "internal"


class EditRefused(PolicyError):
    """An edit cannot be made as asked (unknown field, a field set by hand that is automatic):
    the file is untouched. The command line treats it as a usage error."""

    kind = "usage"


class BundleRefused(PolicyError):
    """A signed bundle that does not verify: its signature, a file's digest, a file listed or
    not, its version or its expiry. Each issue names the file, the key or the rule.

    ``retry_at`` is set when time alone will change the verdict (a statement signed ahead of
    this machine's clock): the same files are worth verifying again from then on."""

    kind = "bundle"
    retry_at: datetime | None = None


class AmbiguousArgument(PolicyError):
    """An argument names both an existing path and a git revision; the command line treats it
    as a usage error."""

    kind = "usage"
