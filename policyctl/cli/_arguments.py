"""The arguments several commands share, registered one way: the policy FILE, the brakes'
directory, --no-env, and what they resolve to.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from ..errors import printable
from ..pipeline import (
    POLICY_FILE_VARIABLE,
)
from ._exit import UsageError

__all__ = ["FILE_HELP", "brakes_option", "env_for", "now_utc", "replica_urls"]


def brakes_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--brakes-dir",
        "--overrides-dir",  # its first name, kept for existing scripts
        dest="brakes_dir",
        metavar="DIR",
        help="the brake files' directory; default: $QT_OVERRIDES_DIR, else overrides/ next to"
        " the policy file",
    )


FILE_HELP = f"policy file (default: ${POLICY_FILE_VARIABLE} or policy/policy.yaml)"


def env_for(args: argparse.Namespace) -> dict[str, str] | None:
    """The environment a command applies: os.environ (None), or none at all with --no-env."""
    return {} if getattr(args, "no_env", False) else None


def now_utc() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def replica_urls(targets: list[str], replicas_file: str | None, port: int) -> list[str]:
    """The replicas named on a command line, as `rollout status` and `brake --send` take them:
    URLs, ``-`` for stdin, and a file (URLs one per line, or ``kubectl get pods -o json``,
    whose pods' IPs get ``port``). Checked now, not after waiting out a deadline.

    Raises:
        UsageError: None named, one unreadable, or one that is not an http(s) URL.
    """
    from ..fleet import replicas_from_text  # noqa: PLC0415 - only the commands that send

    urls = [u for u in targets if u != "-"]
    try:
        if "-" in targets:
            urls += replicas_from_text(sys.stdin.read(), port)
        if replicas_file:
            text = Path(replicas_file).read_text(encoding="utf-8")
            urls += replicas_from_text(text, port)
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read the replicas: {e}") from None
    if not urls:
        raise UsageError("name the replicas: URLs, --replicas-file FILE, or - (stdin)")
    wrong = [u for u in urls if not u.startswith(("http://", "https://"))]
    if wrong:
        shown = ", ".join(printable(u) for u in wrong[:3])
        raise UsageError(f"not an http(s) URL: {shown}; a replica is http://HOST:PORT")
    return list(dict.fromkeys(urls))
