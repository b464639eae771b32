"""The committed JSON Schema: generated from `GlobalPolicy`, written and checked for drift.

``schemas/global_policy.schema.json`` is what editors (yaml-language-server) and generic
checkers (check-jsonschema) validate the policy against, so it must never fall behind the model.
"""

from __future__ import annotations

import json
from pathlib import Path

from .model import GlobalPolicy

__all__ = ["SCHEMA_PATH", "check_schema", "schema_text", "write_schema"]

SCHEMA_PATH = Path("schemas/global_policy.schema.json")


def schema_text() -> str:
    """The schema as committed: stable key order, two-space indent, trailing newline."""
    return json.dumps(GlobalPolicy.model_json_schema(), indent=2, ensure_ascii=False) + "\n"


def write_schema(path: Path = SCHEMA_PATH) -> bool:
    """Write the schema to ``path``; return whether the file changed."""
    text = schema_text()
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return True


def check_schema(path: Path = SCHEMA_PATH) -> bool:
    """Whether ``path`` holds exactly the schema the model generates today."""
    try:
        return path.read_text(encoding="utf-8") == schema_text()
    except FileNotFoundError:
        return False
