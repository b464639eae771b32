"""The one pipeline: bytes -> strict YAML -> env (``QT_*``) -> GlobalPolicy -> PolicySnapshot.

Every way of getting a policy (``validate``, ``show``, the store, ``diff``, ``set`` before it
writes) goes through `build_snapshot`, so there is exactly one definition of "valid".
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from ..errors import (
    Issue,
    PathPart,
    PolicyEnvError,
    PolicyError,
    PolicyValidationError,
)
from ..model import Direction, GlobalPolicy, value_direction
from . import _reader
from ._brakes import BrakeFile, default_brakes_dir, either_dir, parse_brake, read_brakes
from ._compose import compose
from ._env import POLICY_FILE_VARIABLE, EnvValues, near_misses, read_env
from ._messages import describe
from ._source import read_source
from ._statement import Statement

__all__ = [
    "DEFAULT_POLICY_FILE",
    "PolicySnapshot",
    "build_snapshot",
    "default_policy_path",
    "inputs_digest",
    "load_policy",
]

log = logging.getLogger(__name__)

DEFAULT_POLICY_FILE = "policy/policy.yaml"

# Rules that involve two fields: an error in one of them is not the environment's alone.
_CROSS_FIELD = {
    "ranked_symbol_not_allowed": ("opp_rankings", "allowed_symbols"),
    "aggregate_risk": ("max_risk_per_trade", "max_positions"),
}
_warned: set[str] = set()


@dataclass(frozen=True, slots=True)
class PolicySnapshot:
    """One validated policy, as read at one moment. Immutable; share it freely across threads.

    Attributes:
        policy: The validated, deeply immutable policy (file merged with the environment).
        version: The policy's ``version``.
        digest: sha256 hex digest of the file's bytes.
        source: The file read.
        env: Field name -> ``QT_*`` variable, for each field the environment changed
            (``overrides`` is the same mapping, under its first name).
        env_directions: Field name -> what the environment's value does to risk against the
            file's (``loosens``, ``tightens``, ``neutral``): deployments own the environment,
            the risk desk owns the file, so a loosening here is shown everywhere.
        loaded_at: When the snapshot was built (timezone-aware, UTC).
        positions: Where each value sits in the file (for ``show --explain`` and diffs).
        dropped_rankings: Ranked symbols left out because the environment or a brake no
            longer allows them (``QT_ALLOWED_SYMBOLS`` or a brake narrower than the file).
        brakes: The override files active at ``loaded_at``, applied to the policy: brakes and
            temporary adjustments, each with its ``kind`` (`adjustments`: these alone).
        brake_files: Every valid override file read: active, scheduled and expired.
        brake_sources: Field (or ``model_versions.NAME``) -> the brakes that set its value.
        brake_notes: Brake values that have no effect (looser than the policy).
        next_change: When the next brake starts or lifts, or None; the store applies it then.
        inputs_digest: sha256 over the file's and the override files' digests ("" with none).
        file_policy: The policy before brakes (file and environment): what a brake leaves in
            force when it lifts.
        bundle: The verified signed statement the policy came with, when the store verifies
            signed bundles (``PolicyStore(trust=...)``); None otherwise.
    """

    policy: GlobalPolicy
    version: int
    digest: str
    source: Path
    env: Mapping[str, str]
    loaded_at: datetime
    positions: _reader.PositionMap = field(repr=False, compare=False)
    dropped_rankings: tuple[str, ...] = ()
    brakes: tuple[BrakeFile, ...] = ()
    brake_files: tuple[BrakeFile, ...] = field(default=(), repr=False)
    brake_sources: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    brake_notes: tuple[str, ...] = ()
    next_change: datetime | None = None
    inputs_digest: str = ""
    file_policy: GlobalPolicy | None = field(default=None, repr=False, compare=False)
    env_directions: Mapping[str, Direction] = field(default_factory=lambda: MappingProxyType({}))
    bundle: Statement | None = field(default=None, compare=False)

    @property
    def adjustments(self) -> tuple[BrakeFile, ...]:
        """The temporary adjustments in force (they may loosen), of `brakes`."""
        return tuple(b for b in self.brakes if b.kind == "adjustment")

    @property
    def overrides(self) -> Mapping[str, str]:
        """`env`, under the name the first releases gave it (kept for existing callers)."""
        return self.env

    @property
    def effective_digest(self) -> str:
        """sha256 of everything the policy was built from: the file and every override file
        (the file's digest alone when there are none)."""
        return self.inputs_digest or self.digest


def default_policy_path(
    path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Path:
    """The policy file to read: ``path`` if given, else ``$QT_POLICY_FILE``, else the default."""
    if path is not None:
        return Path(path)
    env = os.environ if environ is None else environ
    return Path(env.get(POLICY_FILE_VARIABLE) or DEFAULT_POLICY_FILE)


def load_policy(
    path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    brakes_dir: str | os.PathLike[str] | None = None,
    overrides_dir: str | os.PathLike[str] | None = None,
) -> PolicySnapshot:
    """Read, validate and snapshot a policy file, with its active brakes applied.

    Args:
        path: The policy file; default ``$QT_POLICY_FILE`` or ``policy/policy.yaml``.
        env: Environment for the ``QT_*`` variables: None reads ``os.environ``, ``{}`` ignores it.
        brakes_dir: The brakes' directory; default ``$QT_OVERRIDES_DIR``, else
            ``overrides/`` next to the policy file (absent: no brakes).
        overrides_dir: ``brakes_dir``'s first name, still accepted.

    Returns:
        The validated snapshot.

    Raises:
        PolicySourceError: The file cannot be read.
        PolicySyntaxError: The file is not one safe YAML mapping.
        PolicyValidationError: The (merged) policy breaks a rule.
        PolicyEnvError: A ``QT_*`` variable is malformed or out of its field's range.
    """
    environ = os.environ if env is None else env
    source = default_policy_path(path, environ)
    data = read_source(source)
    directory = either_dir(brakes_dir, overrides_dir)
    brakes = read_brakes(default_brakes_dir(source, directory, environ))
    return build_snapshot(data, source, env=environ, brakes=brakes)


def build_snapshot(
    data: bytes,
    source: Path,
    *,
    env: Mapping[str, str] | None = None,
    digest: str | None = None,
    brakes: Sequence[tuple[Path, bytes]] = (),
    now: datetime | None = None,
) -> PolicySnapshot:
    """The pipeline on bytes already read (a file, or a file at a git revision).

    Args:
        data: The policy file's bytes.
        source: Where they came from; used in error messages and kept in the snapshot.
        env: As in `load_policy`.
        digest: sha256 hex of ``data`` when the caller already has it (the store hashes
            first, to skip unchanged content), so it is not computed twice.
        brakes: The override files (path, bytes), as `read_brakes` gives them.
        now: The moment that decides which brakes are active; default: now.
    """
    environ = os.environ if env is None else env
    name = str(source)
    try:
        document = _reader.parse(data)
    except PolicyError as e:
        raise type(e)(Issue(i.path, i.line, i.column, i.message, name) for i in e.issues) from None
    env_values = read_env(environ)
    _warn_near_misses(environ)
    merged = env_values.merge(document.data)
    dropped = _narrow_rankings(document.data, merged, env_values.sources)
    sources = dict(env_values.sources)
    if dropped:
        sources["opp_rankings"] = sources["allowed_symbols"]
    try:
        policy = GlobalPolicy.model_validate(merged)
    except ValidationError as e:
        raise _located(e, document.positions, env_values, name) from None
    moment = now or datetime.now(UTC)
    files = tuple(parse_brake(b, p, moment) for p, b in brakes)
    active = tuple(f for f in files if f.state(moment) == "active")
    braked = compose(policy, active)
    _compose_at_every_edge(policy, files, moment)
    digest = digest or hashlib.sha256(data).hexdigest()
    return PolicySnapshot(
        policy=braked.policy,
        version=policy.version,
        digest=digest,
        source=source,
        env=MappingProxyType(sources),
        loaded_at=moment,
        positions=document.positions,
        dropped_rankings=(*dropped, *braked.dropped_rankings),
        brakes=active,
        brake_files=files,
        brake_sources=braked.sources,
        brake_notes=braked.notes,
        next_change=_next_change(files, moment),
        inputs_digest=inputs_digest(digest, brakes),
        file_policy=policy,
        env_directions=MappingProxyType(
            {f: _env_direction(f, document.data.get(f), getattr(policy, f)) for f in sources}
        ),
    )


def _env_direction(field: str, before: Any, after: Any) -> Direction:
    """What the environment's value of ``field`` does against the file's. A file value that
    cannot be compared (not valid on its own) counts as a loosening: the alert errs loud."""
    try:
        return value_direction(field, before, after)
    except (TypeError, KeyError):
        return "loosens"


def _compose_at_every_edge(policy: GlobalPolicy, files: Sequence[BrakeFile], now: datetime) -> None:
    """The brakes must compose at every moment they start or lift, not only now: two scheduled
    brakes pinning one model to two versions would otherwise be valid today and refused by
    every store when the second starts (which then keeps serving without either).

    Raises:
        PolicyValidationError: The composition at some future edge, located in time.
    """
    edges = sorted({t for f in files for t in (f.starts, f.ends) if t is not None and t > now})
    for edge in edges:
        try:
            compose(policy, [f for f in files if f.state(edge) == "active"])
        except PolicyValidationError as e:
            raise PolicyValidationError(
                Issue(i.path, i.line, i.column, f"from {edge:%Y-%m-%dT%H:%M:%SZ}: {i.message}",
                      i.source)
                for i in e.issues
            ) from None  # fmt: skip


def _next_change(files: Sequence[BrakeFile], now: datetime) -> datetime | None:
    edges = [t for f in files for t in (f.starts, f.ends) if t is not None and t > now]
    return min(edges, default=None)


def inputs_digest(digest: str, brakes: Sequence[tuple[Path, bytes]]) -> str:
    """sha256 over the policy's digest and each override file's name and digest; "" with no
    override files (the policy's digest then says it all)."""
    if not brakes:
        return ""
    parts = [digest, *(f"{p.name}:{hashlib.sha256(b).hexdigest()}" for p, b in brakes)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _narrow_rankings(
    file_data: Mapping[str, object], merged: dict[str, object], sources: Mapping[str, str]
) -> list[str]:
    """When the environment narrows allowed_symbols, the rankings of symbols it no longer
    allows are dropped from the effective policy (returned, for ``show --explain``): a desk
    that stops a symbol through QT_ALLOWED_SYMBOLS cannot edit the rankings too. Only symbols
    the file itself allows are dropped, so the file's own rule (every ranked symbol allowed)
    still holds for the file."""
    if "allowed_symbols" not in sources:
        return []
    rankings, allowed = merged.get("opp_rankings"), merged.get("allowed_symbols")
    in_file = file_data.get("allowed_symbols")
    if not (isinstance(rankings, dict) and isinstance(allowed, list) and isinstance(in_file, list)):
        return []
    dropped = [s for s in rankings if s not in allowed and s in in_file]
    if dropped:
        merged["opp_rankings"] = {s: v for s, v in rankings.items() if s not in dropped}
    return dropped


def _warn_near_misses(environ: Mapping[str, str]) -> None:
    for name, known in near_misses(environ):
        if name not in _warned:  # once per process: the store reloads often
            _warned.add(name)
            log.warning("environment variable %s is not recognised; did you mean %s?", name, known)


def _env_owner(path: tuple[PathPart, ...], env_values: EnvValues) -> str | None:
    """The variable that supplied the value at ``path``, if the environment did."""
    variable = env_values.sources.get(str(path[0])) if path else None
    if variable and path[0] == "model_versions" and len(path) > 1:
        return variable if path[1] in env_values.values["model_versions"] else None
    return variable


def _located(
    error: ValidationError, positions: _reader.PositionMap, env_values: EnvValues, name: str
) -> PolicyError:
    issues: list[Issue] = []
    env_fault = False
    for detail in error.errors(include_url=False):
        loc = detail["loc"]
        is_key = bool(loc) and loc[-1] == "[key]"
        path: tuple[PathPart, ...] = tuple(loc[:-1] if is_key else loc)
        kind = detail["type"]
        owner = _env_owner(path, env_values)
        sources = env_values.sources
        involved = [sources[f] for f in _CROSS_FIELD.get(kind, ()) if f in sources]
        if owner and kind not in _CROSS_FIELD:
            env_fault = True
            raw = env_values.raw[str(path[0])]
            message = f"{raw!r}: {describe(detail, None)}"
            issues.append(Issue(path, None, None, message, source=owner))
            continue
        raw_text = None if is_key else positions.text(path)
        message = describe(detail, raw_text)
        if involved:
            message += f" (with {', '.join(involved)} from the environment)"
        if owner:
            issues.append(Issue(path, None, None, message, source=owner))
            continue
        at = positions.get(path, key=is_key or kind == "extra_forbidden")
        line, column = at if at else (None, None)
        issues.append(Issue(path, line, column, message, source=name))
    return (PolicyEnvError if env_fault else PolicyValidationError)(issues)
