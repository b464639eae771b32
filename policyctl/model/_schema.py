"""The committed JSON Schemas: generated from the models, written and checked for drift.

``schemas/global_policy.schema.json`` (the policy, `GlobalPolicy`) and
``schemas/override.schema.json`` (one override file: a `Brake`, or an `Adjustment`) are what
editors (yaml-language-server) and generic checkers (check-jsonschema) validate against, so
they must never fall behind the models.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import TypeAdapter

from ._adjustment import Adjustment
from ._brake import Brake
from ._policy import GlobalPolicy

__all__ = [
    "OVERRIDE_SCHEMA_PATH",
    "SCHEMA_PATH",
    "SCHEMA_PATHS",
    "SchemaKind",
    "check_schema",
    "schema_text",
    "write_schema",
]

SchemaKind = Literal["policy", "override"]
SCHEMA_PATH = Path("schemas/global_policy.schema.json")
OVERRIDE_SCHEMA_PATH = Path("schemas/override.schema.json")
SCHEMA_PATHS: dict[SchemaKind, Path] = {"policy": SCHEMA_PATH, "override": OVERRIDE_SCHEMA_PATH}


def _override_schema() -> dict[str, Any]:
    """One override file: a brake (no ``kind``) or an adjustment (``kind: adjustment``); the
    two exclude each other, since a brake allows no ``kind`` and an adjustment requires it."""
    schema = TypeAdapter(Brake | Adjustment).json_schema(by_alias=True)
    brake = schema["$defs"]["Brake"]
    top: dict[str, Any] = {"$schema": brake.pop("$schema"), "title": "Override"}
    top["description"] = (
        "One file of policy/overrides/: a brake, or with kind: adjustment a temporary adjustment."
    )
    top["oneOf"] = schema.pop("anyOf")
    return {**top, **schema}


def schema_text(kind: SchemaKind = "policy") -> str:
    """The schema as committed: stable key order, two-space indent, trailing newline."""
    schema = (
        GlobalPolicy.model_json_schema(by_alias=True) if kind == "policy" else _override_schema()
    )
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write_schema(path: Path = SCHEMA_PATH, kind: SchemaKind = "policy") -> bool:
    """Write the schema to ``path``; return whether the file changed."""
    text = schema_text(kind)
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return True


def check_schema(path: Path = SCHEMA_PATH, kind: SchemaKind = "policy") -> bool:
    """Whether ``path`` holds exactly the schema the model generates today."""
    try:
        return path.read_text(encoding="utf-8") == schema_text(kind)
    except FileNotFoundError:
        return False
