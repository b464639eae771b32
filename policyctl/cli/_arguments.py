"""The arguments several commands share, registered one way: the policy FILE, the brakes'
directory, --no-env, and what they resolve to.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from ..pipeline import (
    POLICY_FILE_VARIABLE,
)

__all__ = ["FILE_HELP", "brakes_option", "env_for", "now_utc"]


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
