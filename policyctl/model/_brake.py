"""`Brake`: one emergency brake, a time-boxed file in ``policy/overrides/``, tightening only.

An override names the risk fields (and ``model_versions``, to pin a model back) with the values
it wants for a while::

    reason: "Rate decision at 19:00 UTC"
    from: "2026-11-28T18:30:00Z"        # optional: active as soon as it is merged
    until: "2026-11-28T20:00:00Z"
    set: {risk_mode: DEFENSIVE, max_positions: 2}

The model checks the file alone (fields, types, ``until`` after ``from``, at most
`MAX_DURATION`); composing it with the policy, where the most restrictive value wins, is the
pipeline's work (`policyctl.pipeline` ``compose``). The rules that depend on the clock (an
override without ``from`` lasting at most `MAX_DURATION` from now) live there too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from ._policy import (
    MAX_POSITIONS,
    NAME_PATTERN,
    PRINTABLE_PATTERN,
    Fraction,
    Name,
    RiskMode,
    Symbol,
    Timestamp,
    Version,
    check_printable,
    closed_map,
    read_only,
)

__all__ = [
    "BRAKE_FIELDS",
    "MAX_DURATION",
    "Brake",
    "BrakeSettings",
    "parse_time",
]

MAX_DURATION: Final = timedelta(days=7)
"""Longest an override may last: a brake is for an emergency or an event, not a new policy."""

BRAKE_FIELDS: Final = (
    "risk_mode",
    "max_risk_per_trade",
    "max_positions",
    "global_min_confidence",
    "allowed_symbols",
    "allowed_strategies",
    "model_versions",
)
"""What an override may set: the risk fields, and model versions (pinning a model back)."""


def parse_time(value: str) -> datetime:
    """A `Timestamp` string (``2026-11-28T18:30:00Z``) as an aware UTC datetime."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _say(loc: tuple[str, ...], kind: str, message: str, value: object) -> InitErrorDetails:
    text = message.replace("{", "{{").replace("}", "}}")
    return InitErrorDetails(type=PydanticCustomError(kind, text), loc=loc, input=value)


def _no_nulls(schema: dict[str, Any]) -> None:
    """In the file a field is given or absent, never null: say so in the JSON Schema too."""
    for prop in schema.get("properties", {}).values():
        choices = prop.pop("anyOf", None)
        if choices is not None:
            prop.update(next(c for c in choices if c != {"type": "null"}))
        prop.pop("default", None)
    schema["minProperties"] = 1  # at least one field, and a pinned map names a model
    versions = schema["properties"]["model_versions"]
    closed_map(NAME_PATTERN)(versions)
    versions["minProperties"] = 1


class BrakeSettings(BaseModel):
    """The values an override sets; every field optional, at least one given."""

    # Built when first used: `validate` of a policy without brakes never needs it.
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        title="BrakeSettings",
        json_schema_extra=_no_nulls,
        defer_build=True,
    )

    @model_validator(mode="before")
    @classmethod
    def _given_means_given(cls, data: Any) -> Any:
        # `risk_mode:` with no value is a slip, not a way of leaving the field out.
        if isinstance(data, dict):
            errors = [
                _say(
                    (name,),
                    "empty_value",
                    f"{name} has no value; give one, or leave the field out",
                    value,
                )
                for name, value in data.items()
                if value is None or (name == "model_versions" and value == {})
            ]
            if errors:
                raise ValidationError.from_exception_data("BrakeSettings", errors)
        return data

    risk_mode: RiskMode | None = None
    max_risk_per_trade: Annotated[
        float | None, Field(strict=True, gt=0, le=1, allow_inf_nan=False)
    ] = None
    max_positions: Annotated[int | None, Field(strict=True, ge=1, le=MAX_POSITIONS)] = None
    global_min_confidence: Fraction | None = None
    allowed_symbols: Annotated[
        tuple[Symbol, ...] | None, Field(json_schema_extra={"uniqueItems": True})
    ] = None
    allowed_strategies: Annotated[
        tuple[Name, ...] | None, Field(json_schema_extra={"uniqueItems": True})
    ] = None
    model_versions: Annotated[
        Mapping[Name, Version] | None,
        AfterValidator(lambda v: None if v is None else read_only(v)),
    ] = None

    def given(self) -> dict[str, Any]:
        """The fields this override sets, as plain values (tuples, dicts, strings)."""
        out: dict[str, Any] = {}
        for name in BRAKE_FIELDS:
            value = getattr(self, name)
            if value is not None:
                out[name] = dict(value) if isinstance(value, Mapping) else value
        return out


Reason = Annotated[
    str,
    StringConstraints(strict=True, min_length=1, max_length=500),
    AfterValidator(check_printable),
    Field(json_schema_extra={"pattern": PRINTABLE_PATTERN}),
]


class TimeBoxed(BaseModel):
    """An override file's window: from ``from`` (None: once it is there) until ``until``."""

    start: Annotated[Timestamp | None, Field(alias="from")] = None
    until: Timestamp

    @property
    def starts(self) -> datetime | None:
        """``from`` as a datetime; None: active as soon as it is there."""
        return None if self.start is None else parse_time(self.start)

    @property
    def ends(self) -> datetime:
        """``until`` as a datetime."""
        return parse_time(self.until)


def window_errors(window: TimeBoxed, longest: timedelta, too_long: str) -> list[InitErrorDetails]:
    """The window's own rules: ``until`` after ``from``, and at most ``longest`` between them
    (``too_long``: the end of the sentence saying so)."""
    if window.start is None:
        return []
    start, until = parse_time(window.start), window.ends
    if until <= start:
        return [
            _say(
                ("until",),
                "ends_before_start",
                f"until {window.until} is not after from {window.start}; an override ends"
                " after it starts",
                window.until,
            )
        ]
    if until - start > longest:
        return [_say(("until",), "too_long", f"lasts {until - start}, {too_long}", window.until)]
    return []


class Brake(TimeBoxed):
    """One override file, as validated on its own (the clock plays no part here)."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        populate_by_name=True,
        defer_build=True,
        title="Brake",
        json_schema_extra={
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "description": (
                "A time-boxed emergency brake, kept in policy/overrides/: values that can only"
                " tighten the policy, from `from` (default: once merged) until `until`."
            ),
        },
    )

    reason: Reason
    settings: Annotated[BrakeSettings, Field(alias="set")]

    @model_validator(mode="after")
    def _check_rules(self) -> Brake:
        errors = []
        if not self.reason.strip():
            errors.append(_say(("reason",), "reason", "reason is blank; say why", self.reason))
        if not self.settings.given():
            errors.append(
                _say(
                    ("set",),
                    "empty_brake",
                    "set names nothing; give at least one of " + ", ".join(BRAKE_FIELDS),
                    {},
                )
            )
        errors += window_errors(
            self,
            MAX_DURATION,
            f"over the {MAX_DURATION.days}-day limit; a brake is for an event, a lasting change"
            " goes through the policy itself",
        )
        if errors:
            raise ValidationError.from_exception_data("Brake", errors)
        return self
