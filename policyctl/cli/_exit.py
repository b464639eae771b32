"""Exit statuses, in one place: what each outcome of a command returns to the shell.

0 success; 1 the policy is invalid or a check failed; 2 a usage error, or a file or git
revision that cannot be read; 3 a bug (a traceback only with ``--debug``); 130 interrupted
(Ctrl-C), as a shell reports it. The library's
exceptions carry no exit status: `exit_status` maps them here.
"""

from __future__ import annotations

from ..errors import PolicyError, PolicySourceError

__all__ = [
    "EXIT_BUG",
    "EXIT_INTERRUPTED",
    "EXIT_INVALID",
    "EXIT_OK",
    "EXIT_USAGE",
    "UsageError",
    "exit_status",
]

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_BUG = 0, 1, 2, 3
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """A bad command line or an unknown path: exit 2."""


def exit_status(error: PolicyError) -> int:
    """The exit status of a refusal: 2 for what the caller asked wrongly (a file or revision
    that cannot be read, an edit that cannot be made as asked), 1 for everything else."""
    if isinstance(error, PolicySourceError) or error.kind == "usage":
        return EXIT_USAGE
    return EXIT_INVALID
