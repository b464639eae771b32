"""The pipeline: bytes -> strict YAML 1.2 reader -> env (``QT_*``) -> GlobalPolicy -> brakes ->
snapshot.

The only way in: every command, the store, the diff and every edit turn bytes into a policy
here, so there is exactly one definition of "valid".

May import: ``policyctl.model`` and ``policyctl.errors`` (and third-party libraries). Never a
sibling sub-package (``live``, ``review``, ``cli``, ``http``). Modules with a leading underscore
are private; other rooms use the names below.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._brakes import (
    BRAKE_NAME,
    BRAKES_DIR_VARIABLE,
    MAX_BRAKES,
    SIGNED_SUFFIX,
    BrakeFile,
    BrakeState,
    OverrideKind,
    brake_name,
    default_brakes_dir,
    either_dir,
    parse_brake,
    read_brakes,
    read_signed_brakes,
)
from ._brakes import select as select_brakes
from ._compose import Composition, compose
from ._env import (
    ENV_LOOSENS_VARIABLE,
    POLICY_FILE_VARIABLE,
    SIGNED_BRAKES_VARIABLE,
    STALE_SET_VARIABLE,
    TRUST_VARIABLE,
    VARIABLES,
    EnvValues,
    EnvVariable,
    near_misses,
    parse_value,
    read_env,
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
from ._statement import Statement

if TYPE_CHECKING:
    from ._bundle import (
        DEFAULT_VALIDITY,
        MAX_VALIDITY,
        TrustedKey,
        bundle_files,
        check_review,
        check_version,
        key_id,
        load_brake_keys,
        load_signing_key,
        load_trust,
        read_statement,
        sign_brake,
        sign_bundle,
        verify_brake,
        verify_bundle,
        verify_statement,
        write_bundle,
    )

__all__ = [
    "BRAKES_DIR_VARIABLE",
    "BRAKE_NAME",
    "DEFAULT_POLICY_FILE",
    "DEFAULT_VALIDITY",
    "ENV_LOOSENS_VARIABLE",
    "MAX_BRAKES",
    "MAX_BYTES",
    "MAX_VALIDITY",
    "POLICY_FILE_VARIABLE",
    "SIGNED_BRAKES_VARIABLE",
    "SIGNED_SUFFIX",
    "STALE_SET_VARIABLE",
    "TRUST_VARIABLE",
    "VARIABLES",
    "BrakeFile",
    "BrakeState",
    "Composition",
    "Document",
    "EnvValues",
    "EnvVariable",
    "OverrideKind",
    "PolicySnapshot",
    "PositionMap",
    "Statement",
    "TrustedKey",
    "brake_name",
    "build_snapshot",
    "bundle_files",
    "check_review",
    "check_version",
    "compose",
    "default_brakes_dir",
    "default_policy_path",
    "either_dir",
    "inputs_digest",
    "key_id",
    "load_brake_keys",
    "load_policy",
    "load_signing_key",
    "load_trust",
    "near_misses",
    "parse_brake",
    "parse_value",
    "parse_yaml",
    "read_brakes",
    "read_env",
    "read_signed_brakes",
    "read_source",
    "read_statement",
    "read_value",
    "select_brakes",
    "sign_brake",
    "sign_bundle",
    "verify_brake",
    "verify_bundle",
    "verify_statement",
    "write_bundle",
    "yaml_scalar",
]

# Loaded when first asked for: signed bundles bring in ``cryptography``, which a command or a
# store that verifies nothing never needs (it would be a fifth of `policyctl validate`'s start).
_LAZY = frozenset(
    {
        "DEFAULT_VALIDITY",
        "MAX_VALIDITY",
        "TrustedKey",
        "bundle_files",
        "check_review",
        "key_id",
        "load_brake_keys",
        "load_signing_key",
        "load_trust",
        "check_version",
        "read_statement",
        "sign_brake",
        "sign_bundle",
        "verify_brake",
        "verify_bundle",
        "verify_statement",
        "write_bundle",
    }
)


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module 'policyctl.pipeline' has no attribute {name!r}")
    value = getattr(importlib.import_module("._bundle", __name__), name)
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
