"""The pipeline: bytes -> strict YAML 1.2 reader -> env overrides -> GlobalPolicy -> brakes ->
snapshot.

The only way in: every command, the store, the diff and every edit turn bytes into a policy
here, so there is exactly one definition of "valid".

May import: ``policyctl.model`` and ``policyctl.errors`` (and third-party libraries). Never a
sibling sub-package (``live``, ``review``, ``cli``, ``http``). Modules with a leading underscore
are private; other rooms use the names below.
"""

from __future__ import annotations

from ._brakes import (
    MAX_OVERRIDES,
    OVERRIDE_NAME,
    OVERRIDES_DIR_VARIABLE,
    BrakeFile,
    BrakeState,
    default_overrides_dir,
    override_name,
    parse_override,
    read_overrides,
)
from ._brakes import select as select_overrides
from ._compose import Composition, compose
from ._env import (
    POLICY_FILE_VARIABLE,
    VARIABLES,
    EnvOverrides,
    EnvVariable,
    near_misses,
    overrides,
    parse_value,
)
from ._loader import (
    DEFAULT_POLICY_FILE,
    PolicySnapshot,
    build_snapshot,
    default_policy_path,
    inputs_digest,
    load_policy,
)
from ._reader import MAX_BYTES, Document, PositionMap, read_value
from ._reader import parse as parse_yaml
from ._scalars import yaml_scalar
from ._source import read_source

__all__ = [
    "DEFAULT_POLICY_FILE",
    "MAX_BYTES",
    "MAX_OVERRIDES",
    "OVERRIDES_DIR_VARIABLE",
    "OVERRIDE_NAME",
    "POLICY_FILE_VARIABLE",
    "VARIABLES",
    "BrakeFile",
    "BrakeState",
    "Composition",
    "Document",
    "EnvOverrides",
    "EnvVariable",
    "PolicySnapshot",
    "PositionMap",
    "build_snapshot",
    "compose",
    "default_overrides_dir",
    "default_policy_path",
    "inputs_digest",
    "load_policy",
    "near_misses",
    "override_name",
    "overrides",
    "parse_override",
    "parse_value",
    "parse_yaml",
    "read_overrides",
    "read_source",
    "read_value",
    "select_overrides",
    "yaml_scalar",
]
