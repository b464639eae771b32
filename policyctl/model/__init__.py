"""The model: what a valid policy and a valid brake are, the verdicts on signals, and the
fields' names and PATH grammar. Pure rules: no file, no clock, no git.

- `_policy`: `GlobalPolicy` and its rules, `RiskMode`, the field types and patterns.
- `_brake`: `Brake`, one brake file as validated on its own.
- `_adjustment`: `Adjustment`, one temporary adjustment file (``kind: adjustment``).
- `_signals`: `SignalVerdict` and its stable reason codes.
- `_fields`: the PATH grammar, which fields are lists or maps, the brakes' directory name.
- `_risk`: the order of the risk modes, and which way a value's change moves risk.
- `_schema`: the committed JSON Schemas, generated from the models.

May import: ``policyctl.errors`` (and pydantic). Never another sub-package. Modules with a
leading underscore are private; other rooms use the names below.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._fields import (
    BRAKES_DIR_NAME,
    BUNDLE_POLICY_NAME,
    LIST_FIELDS,
    MAP_FIELDS,
    STATEMENT_FILE_NAME,
    FieldPath,
    parse_path,
)
from ._policy import (
    DEFAULTS,
    DESCRIPTIONS,
    FIELD_NAMES,
    MAX_POSITIONS,
    MAX_VERSION,
    NAME_PATTERN,
    PRINTABLE_PATTERN,
    SYMBOL_PATTERN,
    TIMESTAMP_PATTERN,
    Fraction,
    GlobalPolicy,
    Name,
    RiskMode,
    Symbol,
    Timestamp,
    Version,
    check_printable,
    closed_map,
    read_only,
)
from ._risk import RISK_FIELDS, RISK_ORDER, Direction, list_direction, value_direction
from ._signals import ALLOWED, REASON_CODES, SignalVerdict, as_count, as_number, as_text, refused

if TYPE_CHECKING:
    from ._adjustment import ADJUSTABLE_FIELDS, ADJUSTMENT_KIND, MAX_ADJUSTMENT, Adjustment
    from ._brake import BRAKE_FIELDS, MAX_DURATION, Brake, BrakeSettings, parse_time
    from ._schema import (
        OVERRIDE_SCHEMA_PATH,
        SCHEMA_PATH,
        SCHEMA_PATHS,
        SchemaKind,
        check_schema,
        schema_text,
        write_schema,
    )

__all__ = [
    "ADJUSTABLE_FIELDS",
    "ADJUSTMENT_KIND",
    "ALLOWED",
    "BRAKES_DIR_NAME",
    "BRAKE_FIELDS",
    "BUNDLE_POLICY_NAME",
    "DEFAULTS",
    "DESCRIPTIONS",
    "FIELD_NAMES",
    "LIST_FIELDS",
    "MAP_FIELDS",
    "MAX_ADJUSTMENT",
    "MAX_DURATION",
    "MAX_POSITIONS",
    "MAX_VERSION",
    "NAME_PATTERN",
    "OVERRIDE_SCHEMA_PATH",
    "PRINTABLE_PATTERN",
    "REASON_CODES",
    "RISK_FIELDS",
    "RISK_ORDER",
    "SCHEMA_PATH",
    "SCHEMA_PATHS",
    "STATEMENT_FILE_NAME",
    "SYMBOL_PATTERN",
    "TIMESTAMP_PATTERN",
    "Adjustment",
    "Brake",
    "BrakeSettings",
    "Direction",
    "FieldPath",
    "Fraction",
    "GlobalPolicy",
    "Name",
    "RiskMode",
    "SchemaKind",
    "SignalVerdict",
    "Symbol",
    "Timestamp",
    "Version",
    "as_count",
    "as_number",
    "as_text",
    "check_printable",
    "check_schema",
    "closed_map",
    "list_direction",
    "parse_path",
    "parse_time",
    "read_only",
    "refused",
    "schema_text",
    "value_direction",
    "write_schema",
]

# Loaded when first asked for: the brake models cost every start-up that reads no brake file
# (``policyctl validate`` of a policy alone), and the schemas only ``policyctl schema`` needs.
_LAZY = {
    **dict.fromkeys(
        ("ADJUSTABLE_FIELDS", "ADJUSTMENT_KIND", "MAX_ADJUSTMENT", "Adjustment"), "_adjustment"
    ),
    **dict.fromkeys(
        ("BRAKE_FIELDS", "MAX_DURATION", "Brake", "BrakeSettings", "parse_time"), "_brake"
    ),
    **dict.fromkeys(
        (
            "OVERRIDE_SCHEMA_PATH",
            "SCHEMA_PATH",
            "SCHEMA_PATHS",
            "SchemaKind",
            "check_schema",
            "schema_text",
            "write_schema",
        ),
        "_schema",
    ),
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'policyctl.model' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
