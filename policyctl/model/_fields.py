"""The policy's fields as users name them: the PATH grammar, which fields are lists or maps, and
where the brakes live beside the policy file.

Every command, edit and proposal that takes a PATH (``risk_mode``, ``model_versions.lstm``,
``allowed_symbols[1]``) reads it here, so the grammar has one definition.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

__all__ = [
    "BRAKES_DIR_NAME",
    "BUNDLE_POLICY_NAME",
    "LIST_FIELDS",
    "MAP_FIELDS",
    "STATEMENT_FILE_NAME",
    "FieldPath",
    "parse_path",
]

LIST_FIELDS: Final = ("allowed_strategies", "allowed_symbols")
"""Fields that hold a list of names (adding an item loosens risk)."""

MAP_FIELDS: Final = ("opp_rankings", "model_versions")
"""Fields that hold a map, changed entry by entry (``model_versions.lstm``)."""

BRAKES_DIR_NAME: Final = "overrides"
BUNDLE_POLICY_NAME: Final = "policy.yaml"
"""The policy file's name in a signed bundle (its brakes are ``overrides/NAME.yaml`` beside)."""
STATEMENT_FILE_NAME: Final = "statement.dsse.json"
"""A signed bundle's statement: an in-toto Statement in a DSSE envelope, beside the policy."""
"""The directory beside the policy file that holds the brake files (``policy/overrides/``)."""

# ASCII digits only, at most nine of them: int() reads other scripts' digits too, and a
# 5,000-digit index is not a position in any list.
_ITEM = re.compile(r"(\w+)\[(-?[0-9]{1,9})\]")


@dataclass(frozen=True, slots=True)
class FieldPath:
    """A PATH as written: ``field``, ``field.key`` (one map entry) or ``field[i]`` (one item).

    Attributes:
        text: The PATH as given.
        field: The field's name (never holds a dot).
        key: What follows the first dot, or None without a dot; ``""`` for a trailing dot.
            Symbols such as ``BRK.B`` and model names may hold dots themselves.
        index: The list index of ``field[i]``, or None.
    """

    text: str
    field: str
    key: str | None = None
    index: int | None = None

    @property
    def parts(self) -> tuple[str | int, ...]:
        """The path as a tuple: ``("model_versions", "lstm")``, ``("allowed_symbols", 1)``."""
        if self.index is not None:
            return (self.field, self.index)
        return (self.field, self.key) if self.key else (self.field,)


def parse_path(text: str) -> FieldPath:
    """Read a PATH; which fields exist and what they hold is for the caller to check."""
    item = _ITEM.fullmatch(text)
    if item is not None:
        return FieldPath(text, item.group(1), index=int(item.group(2)))
    field, dot, key = text.partition(".")
    return FieldPath(text, field, key if dot else None)
