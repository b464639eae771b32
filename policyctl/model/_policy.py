"""`GlobalPolicy`: the one policy every trading component obeys, and its rules.

The model is strict (no coercion: ``true`` is not an integer, ``5.0`` is not an integer, ``3.1``
is not a version string), frozen and deeply immutable (tuples and read-only mappings), so a
snapshot handed to many threads can never change under them. Per-field rules live in the type
annotations so that `GlobalPolicy.model_json_schema()` carries them to editors and to
``check-jsonschema``; rules JSON Schema cannot express live in `_check_rules`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, Any, Final

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from ..errors import UNSAFE_CHARACTERS
from ._signals import (
    ALLOWED,
    REASON_CODES,
    Facts,
    SignalVerdict,
    as_count,
    as_number,
    as_text,
    refused,
)

__all__ = [
    "DEFAULTS",
    "DESCRIPTIONS",
    "FIELD_NAMES",
    "MAX_POSITIONS",
    "MAX_VERSION",
    "NAME_PATTERN",
    "PRINTABLE_PATTERN",
    "REASON_CODES",
    "SYMBOL_PATTERN",
    "TIMESTAMP_PATTERN",
    "VERSION_PATTERN",
    "Fraction",
    "GlobalPolicy",
    "Name",
    "RiskMode",
    "SignalVerdict",
    "Symbol",
    "Timestamp",
    "Version",
    "check_printable",
    "closed_map",
    "read_only",
]


class RiskMode(StrEnum):
    """How much risk the platform takes, from most to least."""

    AGGRESSIVE = "AGGRESSIVE"
    NORMAL = "NORMAL"
    DEFENSIVE = "DEFENSIVE"


# Every integer field is bounded: a 401-digit max_positions overflowed the aggregate-risk rule's
# float, and no output can print a 5,000-digit version.
MAX_VERSION: Final = 2**31 - 1
MAX_POSITIONS: Final = 1_000_000
SYMBOL_PATTERN: Final = r"^[A-Z0-9][A-Z0-9._/-]{0,31}$"
NAME_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
# A model version is an identifier ("v12", "3.10", "2026.11.1", "1.4.0-rc.1+cuda"): a quote mark,
# a space or a slash in one is a typing accident ('"3.13"' copied from a shell), never meant.
VERSION_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$"
_VERSION = re.compile(VERSION_PATTERN)
# No control characters, line separators or bidirectional overrides in free text: a value is
# printed to terminals, CI logs and markdown summaries (errors.printable escapes the same set).
PRINTABLE_PATTERN: Final = rf"^[^{UNSAFE_CHARACTERS}]*$"
_UNSAFE_CHARACTER = re.compile(rf"[{UNSAFE_CHARACTERS}]")
TIMESTAMP_PATTERN: Final = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$"


def read_only(value: Mapping[str, Any]) -> Mapping[str, Any]:
    """A read-only copy: map fields of frozen models must not change under their readers."""
    return MappingProxyType(dict(value))


def _real_timestamp(value: str) -> str:
    # The pattern fixes the shape; this catches month 13 or 25:00, as check-jsonschema's
    # date-time format check does.
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError(
            "timestamp", "'{value}' is not a real date and time", {"value": value}
        ) from None
    return value


def check_printable(value: str) -> str:
    """Refuse control characters and bidirectional overrides (pydantic after-validator)."""
    found = _UNSAFE_CHARACTER.search(value)
    if found:
        raise PydanticCustomError(
            "control_character",
            "contains the control character U+{code} at position {at}: values are shown to"
            " reviewers and CI logs, so only printable text is allowed; remove it",
            {"code": f"{ord(found.group()):04X}", "at": found.start() + 1},
        )
    return value


def _check_version(value: str) -> str:
    """A model version is letters, digits and . _ + - (pydantic after-validator): the message
    names what is wrong, and the fix when the value is a valid version in quote marks."""
    if _VERSION.match(value):
        return value
    stripped = value.strip().strip("\"'")
    if not value:
        why = "it is empty"
    elif len(value) > 64:
        why = f"it has {len(value)} characters, at most 64"
    elif stripped != value and _VERSION.match(stripped):
        why = f"remove the quote marks or spaces around it: {stripped}"
    else:
        bad = next((c for c in value if not re.match(r"[A-Za-z0-9._+-]", c)), value[0])
        why = f"{bad!r} is not allowed" + (" at the start" if bad == value[0] else "")
    raise PydanticCustomError(
        "version",
        "{value} is not a model version: letters, digits and . _ + -, starting with a letter"
        " or digit, at most 64 characters; {why}",
        {"value": json.dumps(value), "why": why},
    )


def closed_map(key_pattern: str) -> Any:
    """JSON Schema for a map whose every key must match: pydantic emits patternProperties,
    which lets non-matching keys through; propertyNames + additionalProperties does not."""

    def fix(schema: dict[str, Any]) -> None:
        pattern_properties = schema.pop("patternProperties", {})
        schema["propertyNames"] = {"pattern": key_pattern}
        schema["additionalProperties"] = next(iter(pattern_properties.values()), {})

    return fix


Symbol = Annotated[str, StringConstraints(strict=True, pattern=SYMBOL_PATTERN)]
Name = Annotated[str, StringConstraints(strict=True, pattern=NAME_PATTERN)]
Fraction = Annotated[float, Field(strict=True, ge=0, le=1, allow_inf_nan=False)]
Version = Annotated[
    str,
    StringConstraints(strict=True),
    AfterValidator(check_printable),
    AfterValidator(_check_version),
    Field(json_schema_extra={"pattern": VERSION_PATTERN}),
]
Timestamp = Annotated[
    str,
    StringConstraints(strict=True, pattern=TIMESTAMP_PATTERN),
    AfterValidator(_real_timestamp),
    Field(json_schema_extra={"format": "date-time"}),
]
_AsDict = PlainSerializer(dict, return_type=dict[str, Any])

_DESCRIPTIONS: Final = {
    "version": "a whole number from 1 to 2147483647, raised by every change",
    "risk_mode": "one of AGGRESSIVE, NORMAL, DEFENSIVE",
    "allowed_strategies": "a list of distinct strategy names (letters, digits, _ . -)",
    "allowed_symbols": (
        "a list of distinct symbols: upper-case letters, digits and . _ / -, at most 32 characters"
    ),
    "max_risk_per_trade": "a fraction of equity per trade, 0 < x <= 1 (0.01 is 1%)",
    "max_positions": "a whole number from 1 to 1000000",
    "global_min_confidence": "a number, 0 <= x <= 1",
    "opp_rankings": "a mapping of allowed symbol -> score, 0 <= score <= 1",
    "model_versions": (
        'a mapping of model name -> version string (letters, digits and . _ + -), e.g. lstm: "3.10"'
    ),
    "last_updated": 'an RFC 3339 UTC timestamp string, e.g. "2026-11-27T10:00:00Z"',
}


_SETS: Final = "_signal_sets"  # GlobalPolicy.__dict__ key of its allowed lists as sets
_ALLOWED_ORDER: Final = "_allowed_order"  # ... and of its allowed order's verdict


class GlobalPolicy(BaseModel):
    """The trading platform's global policy, as validated from ``policy/policy.yaml``.

    Instances are frozen and deeply immutable; build one with `model_validate` (or through
    `policyctl.load_policy`, which also locates errors in the file).
    """

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        title="GlobalPolicy",
        json_schema_extra={
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "description": "The trading system's global policy, kept in policy/policy.yaml.",
        },
    )

    version: Annotated[
        int, Field(strict=True, ge=1, le=MAX_VERSION, description=_DESCRIPTIONS["version"])
    ]
    risk_mode: Annotated[RiskMode, Field(description=_DESCRIPTIONS["risk_mode"])]
    allowed_strategies: Annotated[
        tuple[Name, ...],
        Field(
            description=_DESCRIPTIONS["allowed_strategies"], json_schema_extra={"uniqueItems": True}
        ),
    ]
    allowed_symbols: Annotated[
        tuple[Symbol, ...],
        Field(
            description=_DESCRIPTIONS["allowed_symbols"], json_schema_extra={"uniqueItems": True}
        ),
    ]
    max_risk_per_trade: Annotated[
        float,
        Field(
            strict=True,
            gt=0,
            le=1,
            allow_inf_nan=False,
            description=_DESCRIPTIONS["max_risk_per_trade"],
        ),
    ]
    max_positions: Annotated[
        int,
        Field(strict=True, ge=1, le=MAX_POSITIONS, description=_DESCRIPTIONS["max_positions"]),
    ]
    global_min_confidence: Annotated[
        Fraction, Field(description=_DESCRIPTIONS["global_min_confidence"])
    ]
    opp_rankings: Annotated[
        Mapping[Symbol, Fraction],
        AfterValidator(read_only),
        _AsDict,
        Field(
            description=_DESCRIPTIONS["opp_rankings"], json_schema_extra=closed_map(SYMBOL_PATTERN)
        ),
    ]
    model_versions: Annotated[
        Mapping[Name, Version],
        AfterValidator(read_only),
        _AsDict,
        Field(
            description=_DESCRIPTIONS["model_versions"], json_schema_extra=closed_map(NAME_PATTERN)
        ),
    ]
    last_updated: Annotated[
        Timestamp | None,
        Field(description=_DESCRIPTIONS["last_updated"]),
    ] = None

    @model_validator(mode="after")
    def _check_rules(self) -> GlobalPolicy:
        errors = [*_duplicates(self, "allowed_symbols"), *_duplicates(self, "allowed_strategies")]
        for symbol in self.opp_rankings.keys() - self._sets()[2]:
            errors.append(
                _detail(
                    ("opp_rankings", symbol),
                    "ranked_symbol_not_allowed",
                    f"{symbol} is ranked but not in allowed_symbols; add it there or remove"
                    " its ranking",
                    symbol,
                )
            )
        errors.extend(_same_but_case(self.model_versions))
        aggregate = self.max_risk_per_trade * self.max_positions
        if aggregate > 1 + 1e-12:
            errors.append(
                _detail(
                    ("max_positions",),
                    "aggregate_risk",
                    f"max_risk_per_trade * max_positions = {self.max_risk_per_trade:g} * "
                    f"{self.max_positions} = {aggregate:.4g}, over 1 (100% of equity); lower"
                    f" one of them (at most {int(1 / self.max_risk_per_trade)} positions at"
                    " this risk per trade)",
                    aggregate,
                )
            )
        if errors:
            errors.sort(key=lambda e: str(e["loc"]))
            raise ValidationError.from_exception_data("GlobalPolicy", errors)
        return self

    def _sets(self) -> tuple[Any, Any, frozenset[str], frozenset[str]]:
        """The allowed lists as sets, built once per policy. Kept in the instance's own
        ``__dict__``, not a pydantic private attribute: those are read through ``__getattr__``,
        about 1 µs each, which is most of a decision's cost. Keyed by the lists' identity, so
        a copy with other lists (``model_copy(update=...)``) builds its own."""
        sets = self.__dict__.get(_SETS)
        if (
            sets is None
            or sets[0] is not self.allowed_symbols
            or sets[1] is not self.allowed_strategies
        ):
            sets = (
                self.allowed_symbols,
                self.allowed_strategies,
                frozenset(self.allowed_symbols),
                frozenset(self.allowed_strategies),
            )
            self.__dict__[_SETS] = sets
        return sets

    def evaluate_signal(self, *, symbol: str, strategy: str, confidence: float) -> SignalVerdict:
        """Decide whether a signal may trade under this policy.

        Args:
            symbol: The instrument, e.g. ``BTCUSDT``.
            strategy: The strategy that produced the signal.
            confidence: The model's confidence, 0 to 1.

        Returns:
            The verdict, with every reason the signal is refused (none when allowed).
        """
        codes = self.signal_codes(symbol, strategy, confidence)
        if not codes:
            return ALLOWED
        return refused(codes, Facts(symbol, strategy, confidence, self.global_min_confidence))

    def evaluate_order(
        self,
        *,
        symbol: str,
        strategy: str,
        confidence: float,
        risk_per_trade: float,
        open_positions: int,
    ) -> SignalVerdict:
        """Decide whether an order may be placed under this policy: the signal's three rules
        and the two limits, in one verdict.

        Args:
            symbol, strategy, confidence: As for `evaluate_signal`.
            risk_per_trade: The fraction of equity this order puts at risk (0.01 is 1%), the
                unit of ``max_risk_per_trade``; refused when above it.
            open_positions: Positions open now; the order would open one more, refused when
                that one is over ``max_positions`` (``open_positions >= max_positions``).

        Returns:
            The verdict, with every reason and its code (none when allowed), and the policy's
            ``risk_mode`` (which has no rule here). A bad input is a refusal with its code
            (``open_positions_invalid``, ``risk_per_trade_not_finite``, ...), never an
            exception.
        """
        # The allowed path inline, with no call of its own: the caches checked as
        # `signal_codes` checks its sets (a `model_copy(update=...)` copies the instance's dict,
        # caches included), then the signal's three rules and the two limits.
        cached = self.__dict__
        sets, allowed = cached.get(_SETS), cached.get(_ALLOWED_ORDER)  # allowed: (mode, verdict)
        try:  # free in CPython 3.11 unless raised
            if (
                sets is not None
                and allowed is not None
                and sets[0] is self.allowed_symbols
                and sets[1] is self.allowed_strategies
                and allowed[0] is self.risk_mode
                and type(symbol) is str
                and type(strategy) is str
                and symbol in sets[2]
                and strategy in sets[3]
                and type(confidence) is float
                and self.global_min_confidence <= confidence <= 1.0
                and type(risk_per_trade) is float
                and 0.0 <= risk_per_trade <= self.max_risk_per_trade
                and type(open_positions) is int
                and 0 <= open_positions < self.max_positions
            ):
                return allowed[1]  # type: ignore[no-any-return]
        except TypeError:  # an unhashable symbol or strategy: refused below, by type
            pass
        codes = self.order_codes(symbol, strategy, confidence, risk_per_trade, open_positions)
        if not codes:  # one verdict per policy: it names the policy's risk mode
            verdict = SignalVerdict(allowed=True, risk_mode=str(self.risk_mode))
            cached[_ALLOWED_ORDER] = (self.risk_mode, verdict)
            return verdict
        facts = Facts(
            symbol, strategy, confidence, self.global_min_confidence,
            risk_per_trade, self.max_risk_per_trade, open_positions, self.max_positions,
        )  # fmt: skip
        return refused(codes, facts, str(self.risk_mode))

    def order_codes(
        self,
        symbol: str,
        strategy: str,
        confidence: float,
        risk_per_trade: float,
        open_positions: int,
        /,
    ) -> tuple[str, ...]:
        """The codes of `evaluate_order`'s verdict, without its text (empty: allowed): the
        signal's rules, then the count's, then the risk's. Replay calls it millions of times."""
        if (  # the common case first: two more comparisons than a signal's
            type(risk_per_trade) is float
            and 0.0 <= risk_per_trade <= self.max_risk_per_trade
            and type(open_positions) is int
            and 0 <= open_positions < self.max_positions
        ):
            return self.signal_codes(symbol, strategy, confidence)
        codes = list(self.signal_codes(symbol, strategy, confidence))
        count = as_count(open_positions)  # bool, float, text, negative, huge: None
        if count is None:
            codes.append("open_positions_invalid")
        elif count >= self.max_positions:
            codes.append("max_positions_reached")
        risk = as_number(risk_per_trade, bounded=True)  # as a log can write it
        if risk is None:
            codes.append("risk_per_trade_not_finite")
        elif not 0 <= risk <= 1:
            codes.append("risk_per_trade_out_of_range")
        elif risk > self.max_risk_per_trade:
            codes.append("risk_per_trade_exceeded")
        return tuple(codes)

    def signal_codes(self, symbol: str, strategy: str, confidence: float, /) -> tuple[str, ...]:
        """The codes of `evaluate_signal`'s verdict, without its text (empty: allowed): the
        rules themselves, in one place. Replay calls it millions of times."""
        sets = self.__dict__.get(_SETS)
        if (
            sets is None
            or sets[0] is not self.allowed_symbols
            or sets[1] is not self.allowed_strategies
        ):
            sets = self._sets()
        symbols, strategies = sets[2], sets[3]
        try:  # free in CPython 3.11 unless raised
            if (  # the common case first, with no list built (this is the signal path)
                type(symbol) is str
                and type(strategy) is str
                and symbol in symbols
                and strategy in strategies
                and type(confidence) is float
                and self.global_min_confidence <= confidence <= 1.0
            ):
                return ()
        except TypeError:  # not reached with plain text; kept for safety
            pass
        # A caller's values, whatever they are, read as plain text and numbers (a StrEnum, a
        # numpy float): never an exception, always a refusal with its code.
        codes = []
        text = as_text(symbol)
        if text is None or text not in symbols:
            codes.append("symbol_not_allowed")
        text = as_text(strategy)
        if text is None or text not in strategies:
            codes.append("strategy_not_allowed")
        number = as_number(confidence)
        if number is None:
            codes.append("confidence_not_finite")
        elif not 0 <= number <= 1:
            codes.append("confidence_out_of_range")
        elif number < self.global_min_confidence:
            codes.append("confidence_below_min")
        return tuple(codes)


def _detail(loc: tuple[str | int, ...], kind: str, message: str, value: object) -> InitErrorDetails:
    # The message goes through str.format inside pydantic-core: escape braces.
    text = message.replace("{", "{{").replace("}", "}}")
    return InitErrorDetails(type=PydanticCustomError(kind, text), loc=loc, input=value)


def _same_but_case(models: Mapping[str, str]) -> list[InitErrorDetails]:
    """Model names are told apart by more than case: ``LSTM`` beside ``lstm`` is a typo that
    would otherwise add a second model (the lifecycle writes one, the executor reads the
    other)."""
    first: dict[str, str] = {}
    errors = []
    for name in models:
        other = first.setdefault(name.lower(), name)
        if other != name:
            errors.append(
                _detail(
                    ("model_versions", name),
                    "model_name_case",
                    f"{name} differs from the model {other} only in case; did you mean"
                    f" model_versions.{other}? (model names are compared ignoring case)",
                    name,
                )
            )
    return errors


def _duplicates(policy: GlobalPolicy, field: str) -> list[InitErrorDetails]:
    first: dict[str, int] = {}
    errors = []
    for index, item in enumerate(getattr(policy, field)):
        if item in first:
            errors.append(
                _detail(
                    (field, index),
                    "duplicate_item",
                    f"{item} is listed twice (also at position {first[item]}); remove one",
                    item,
                )
            )
        else:
            first[item] = index
    return errors


FIELD_NAMES: Final = tuple(GlobalPolicy.model_fields)

DESCRIPTIONS: Final = MappingProxyType(_DESCRIPTIONS)

DEFAULTS: Final[Mapping[str, Any]] = MappingProxyType(
    {
        "risk_mode": RiskMode.NORMAL.value,
        "allowed_strategies": [],
        "allowed_symbols": [],
        "max_risk_per_trade": 0.01,
        "max_positions": 5,
        "global_min_confidence": 0.70,
        "opp_rankings": {},
        "model_versions": {},
    }
)
"""Built-in defaults, used by ``policyctl reset`` only: a missing field is an error, never
defaulted. Nothing may trade under them until a reviewed change allows symbols and strategies."""
