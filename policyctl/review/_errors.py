"""The refusal every edit shares: asked for something it cannot do, the file untouched."""

from __future__ import annotations

from ..errors import PolicyError

__all__ = ["EditRefused"]


class EditRefused(PolicyError):
    """The edit cannot be made as asked (unknown field, a field set by hand that is automatic);
    a usage error, exit 2. The file is untouched."""

    kind = "usage"
    exit_status = 2
