"""`Adjustment`: a temporary adjustment, a time-boxed file in ``policy/overrides/`` that may
loosen a limit for a bounded window, with a reason and a ticket.

It sits beside the brakes and says what it is in its first key::

    kind: adjustment
    reason: "Index rebalance: more positions for the afternoon"
    ticket: "RISK-1234"
    from: "2026-12-04T13:00:00Z"        # required: the whole window is in the file
    until: "2026-12-04T16:00:00Z"
    set: {max_positions: 8}

Unlike a brake it replaces the policy's values (in either direction), and brakes still apply
after it (a brake always wins). It lasts at most `MAX_ADJUSTMENT` from its ``from``, which it
must say: a longer change is a policy change. The model checks the file alone.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from ._brake import BrakeSettings, Reason, TimeBoxed, _say, window_errors
from ._policy import PRINTABLE_PATTERN, Timestamp, check_printable

__all__ = ["ADJUSTABLE_FIELDS", "ADJUSTMENT_KIND", "MAX_ADJUSTMENT", "Adjustment"]

ADJUSTMENT_KIND: Final = "adjustment"
"""The value of ``kind`` that makes an override file an adjustment (a brake has no ``kind``)."""

MAX_ADJUSTMENT: Final = timedelta(hours=24)
"""Longest an adjustment may last: longer is a policy change, reviewed as one."""

ADJUSTABLE_FIELDS: Final = (
    "risk_mode",
    "max_risk_per_trade",
    "max_positions",
    "global_min_confidence",
    "allowed_symbols",
    "allowed_strategies",
)
"""What an adjustment may set: the limits (never the version, the dates, rankings or models)."""

Ticket = Annotated[
    str,
    StringConstraints(strict=True, min_length=1, max_length=200),
    AfterValidator(check_printable),
    Field(
        json_schema_extra={"pattern": PRINTABLE_PATTERN},
        description="The ticket or reference that approves it, e.g. RISK-1234 or a URL.",
    ),
]


def _schema_extra(schema: dict[str, Any]) -> None:
    schema["description"] = (
        "A temporary adjustment, kept in policy/overrides/ with kind: adjustment: values that"
        " replace the policy's (loosening too) from `from` (default: once merged) until"
        " `until`, at most 24 hours, with a reason and a ticket. Brakes still apply after it."
    )
    # The settings are a brake's, less the model pins: a model change goes through the policy.
    settings = schema["properties"]["set"]
    schema["properties"]["set"] = {"allOf": [settings], "not": {"required": ["model_versions"]}}


class Adjustment(TimeBoxed):
    """One adjustment file, as validated on its own (the clock plays no part here)."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        populate_by_name=True,
        defer_build=True,
        title="Adjustment",
        json_schema_extra=_schema_extra,
    )

    # Required, unlike a brake's: the whole window is in the file, so "at most 24 hours" holds
    # whatever edits follow (an until moved on, commit after commit, is still from + 24 h).
    start: Annotated[Timestamp, Field(alias="from")]
    kind: Literal["adjustment"]
    reason: Reason
    ticket: Ticket
    settings: Annotated[BrakeSettings, Field(alias="set")]

    @model_validator(mode="after")
    def _check_rules(self) -> Adjustment:
        errors = []
        for name, text in (("reason", self.reason), ("ticket", self.ticket)):
            if not text.strip():
                what = "say why" if name == "reason" else "name the ticket or reference"
                errors.append(_say((name,), name, f"{name} is blank; {what}", text))
        given = self.settings.given()
        if not given:
            errors.append(
                _say(
                    ("set",),
                    "empty_adjustment",
                    "set names nothing; give at least one of " + ", ".join(ADJUSTABLE_FIELDS),
                    {},
                )
            )
        errors += [
            _say(
                ("set", name),
                "not_adjustable",
                f"{name} cannot be adjusted: an adjustment sets only "
                + ", ".join(ADJUSTABLE_FIELDS)
                + " (a model change goes through the policy)",
                value,
            )
            for name, value in given.items()
            if name not in ADJUSTABLE_FIELDS
        ]
        errors += window_errors(
            self,
            MAX_ADJUSTMENT,
            "over the 24-hour limit of an adjustment; a longer change goes through the policy"
            " itself",
        )
        if errors:
            raise ValidationError.from_exception_data("Adjustment", errors)
        return self
