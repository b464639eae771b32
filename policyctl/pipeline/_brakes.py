"""Brake files: found in a directory, read by the strict reader, validated, located.

Each file in the overrides directory (``policy/overrides/`` by default, next to the policy) is
one brake, or with ``kind: adjustment`` one temporary adjustment, named after its file
(``rate-decision.yaml`` is ``rate-decision``). Hidden entries are not overrides: a Kubernetes
ConfigMap keeps ``..data`` and its timestamped directories there, and editors keep swap files.
A file that cannot be read, or is not a valid override, is an error of the whole policy,
exactly like a bad policy file: a service keeps what it serves.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from .. import model
from ..errors import Issue, PathPart, PolicyError, PolicySourceError, PolicyValidationError
from ..model import BRAKES_DIR_NAME
from . import _reader
from ._messages import describe
from ._source import read_source

if TYPE_CHECKING:
    from ..model import Adjustment, Brake

__all__ = [
    "BRAKES_DIR_VARIABLE",
    "BRAKE_NAME",
    "MAX_BRAKES",
    "SIGNED_SUFFIX",
    "BrakeFile",
    "BrakeState",
    "OverrideKind",
    "brake_name",
    "default_brakes_dir",
    "either_dir",
    "ignored",
    "parse_brake",
    "read_brakes",
    "read_signed_brakes",
    "select",
]

BRAKES_DIR_VARIABLE: Final = "QT_OVERRIDES_DIR"
MAX_BRAKES: Final = 64
"""Most override files read: a brake is an exception, and each one costs every reload."""

BRAKE_NAME: Final = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
"""What an override file may be called (without .yaml): lower-case, safe in any shell."""
_SUFFIXES = (".yaml", ".yml")
_TOP_KEYS = ("reason", "from", "until", "set")
_ADJUSTMENT_KEYS = ("kind", "reason", "ticket", "from", "until", "set")

OverrideKind = Literal["brake", "adjustment"]

BrakeState = Literal["active", "scheduled", "expired"]


@dataclass(frozen=True, slots=True)
class BrakeFile:
    """One valid override file: a brake, or a temporary adjustment (see `kind`).

    Attributes:
        name: The file's name without its suffix; how the override is called everywhere.
        path: The file.
        content: Its validated content.
        digest: sha256 of its bytes.
    """

    name: str
    path: Path
    content: Brake | Adjustment
    digest: str

    @property
    def kind(self) -> OverrideKind:
        """``brake`` (tightens only) or ``adjustment`` (replaces values, loosening too)."""
        return "brake" if isinstance(self.content, model.Brake) else "adjustment"

    @property
    def override(self) -> Brake | Adjustment:
        """`content`, under the name the first releases gave it (kept for existing callers)."""
        return self.content

    @property
    def reason(self) -> str:
        return self.content.reason

    @property
    def ticket(self) -> str | None:
        """An adjustment's ticket or reference; None for a brake."""
        return getattr(self.content, "ticket", None)

    @property
    def label(self) -> str:
        """How it is named to people: ``brake NAME`` or ``adjustment NAME`` (not escaped)."""
        return f"{self.kind} {self.name}"

    @property
    def starts(self) -> datetime | None:
        return self.content.starts

    @property
    def ends(self) -> datetime:
        return self.content.ends

    def state(self, now: datetime) -> BrakeState:
        """``active`` from ``from`` (inclusive) until ``until`` (exclusive)."""
        if now >= self.ends:
            return "expired"
        starts = self.starts
        return "scheduled" if starts is not None and now < starts else "active"


def default_brakes_dir(
    policy: Path, directory: str | os.PathLike[str] | None = None, environ: Mapping[str, str] = {}
) -> Path:
    """The overrides directory: ``directory`` if given, else ``$QT_OVERRIDES_DIR``, else
    ``overrides/`` next to the policy file."""
    if directory is not None:
        return Path(directory)
    chosen = environ.get(BRAKES_DIR_VARIABLE)
    return Path(chosen) if chosen else policy.parent / BRAKES_DIR_NAME


def either_dir(
    brakes_dir: str | os.PathLike[str] | None, overrides_dir: str | os.PathLike[str] | None
) -> str | os.PathLike[str] | None:
    """``brakes_dir``, or ``overrides_dir``: its first name, still accepted by `load_policy`
    and `PolicyStore` for existing callers.

    Raises:
        TypeError: Both are given.
    """
    if brakes_dir is not None and overrides_dir is not None:
        raise TypeError("give brakes_dir only (overrides_dir is its first name)")
    return brakes_dir if brakes_dir is not None else overrides_dir


def ignored(file_name: str) -> bool:
    """Entries of the brakes' directory that are not brakes, by a rule the README states:
    hidden ones (a ConfigMap's ``..data`` and timestamped directories, editors' swap files) and
    a README (``README``, ``README.md``, ...). Any other entry is a brake or an error."""
    return file_name.startswith(".") or file_name.split(".", 1)[0].upper() == "README"


def brake_name(file_name: str) -> str | None:
    """The override a directory entry holds, or None when it is not an override file."""
    if file_name.startswith(".") or not file_name.endswith(_SUFFIXES):
        return None
    return file_name.rsplit(".", 1)[0]


def read_brakes(directory: Path) -> list[tuple[Path, bytes]]:
    """The override files' bytes, sorted by name; none when the directory does not exist.

    Raises:
        PolicySourceError: The directory or a file in it cannot be read, a name is not a
            valid override name, or there are more than `MAX_BRAKES` files.
    """
    try:
        entries = sorted(entry.name for entry in os.scandir(directory))
    except FileNotFoundError:
        return []
    except NotADirectoryError:
        raise PolicySourceError.single(
            "the overrides directory is a file; overrides are files inside a directory",
            source=str(directory),
        ) from None
    except OSError as e:
        raise PolicySourceError.single(
            f"cannot read the overrides directory: {e.strerror or e}", source=str(directory)
        ) from None
    configmap = (directory / "..data").is_symlink()
    return [
        (directory / name, read_source(directory / name))
        for name in select(entries, directory)
        # A ConfigMap key being removed: after the ..data swap its link dangles until the
        # kubelet removes it a moment later. It is gone already, not an unreadable brake.
        if not (configmap and (directory / name).is_symlink() and not (directory / name).exists())
    ]


def select(entries: Sequence[str], directory: Path) -> list[str]:
    """Which directory entries are override files, checked: a name that is not a valid
    override name, or more than `MAX_BRAKES` files, is an error (PolicySourceError)."""
    files: list[str] = []
    names: dict[str, str] = {}
    for entry in entries:
        if ignored(entry):
            continue
        name = brake_name(entry)
        if name is None:
            raise PolicySourceError.single(
                f"{entry!r} is not a brake file: brake files are named NAME.yaml (or .yml, in"
                " lower case); only hidden files and a README are ignored here",
                source=str(directory / entry),
            )
        if not BRAKE_NAME.fullmatch(name):
            raise PolicySourceError.single(
                f"{entry!r} is not a valid override file name: lower-case letters, digits"
                " and . _ -, at most 64 characters, ending in .yaml",
                source=str(directory / entry),
            )
        if name in names:  # x.yaml and x.yml: one brake, two files, and only one compared
            raise PolicySourceError.single(
                f"{entry!r} and {names[name]!r} are one brake ({name!r}); keep one of them",
                source=str(directory / entry),
            )
        names[name] = entry
        files.append(entry)
    if len(files) > MAX_BRAKES:
        raise PolicySourceError.single(
            f"{len(files)} override files, over the limit of {MAX_BRAKES}; prune expired"
            " ones (policyctl brake prune)",
            source=str(directory),
        )
    return files


def parse_brake(data: bytes, path: Path, now: datetime) -> BrakeFile:
    """One override file through the strict reader and the `Brake` model.

    ``now`` decides the one rule that depends on the clock: an override with no ``from``
    starts now, so it may last at most `MAX_DURATION` from now.

    Raises:
        PolicyError: Located in the file, as for the policy.
    """
    name = str(path)
    try:
        document = _reader.parse(data)
    except PolicyError as e:
        raise type(e)(Issue(i.path, i.line, i.column, i.message, name) for i in e.issues) from None
    kind = _kind(document, name)
    try:  # the model is built now
        override: Brake | Adjustment = (
            model.Adjustment.model_validate(document.data)
            if kind == "adjustment"
            else model.Brake.model_validate(document.data)
        )
    except ValidationError as e:
        raise _located(e, document.positions, name, kind) from None
    longest = model.MAX_ADJUSTMENT if kind == "adjustment" else model.MAX_DURATION
    if override.start is None and override.ends - now > longest:
        at = document.positions.get(("until",))
        raise PolicyValidationError.single(
            f"until {override.until} is more than {_span(kind)} from now, and with no 'from'"
            f" the {kind} starts now; "
            + (
                "a longer change goes through the policy itself"
                if kind == "adjustment"
                else "a brake is for an event"
            ),
            source=name,
            path=("until",),
            line=at[0] if at else None,
            column=at[1] if at else None,
        )
    stem = brake_name(path.name) or path.stem
    return BrakeFile(stem, path, override, hashlib.sha256(data).hexdigest())


def _kind(document: _reader.Document, name: str) -> OverrideKind:
    """``adjustment`` when the file says ``kind: adjustment``; ``brake`` when it has no kind.

    Raises:
        PolicyValidationError: Any other ``kind``, located.
    """
    data = document.data
    if not isinstance(data, dict) or "kind" not in data:
        return "brake"
    if data["kind"] == model.ADJUSTMENT_KIND:
        return "adjustment"
    at = document.positions.get(("kind",))
    raise PolicyValidationError.single(
        f"kind {document.positions.text(('kind',)) or data['kind']!r} is not known: an override"
        f" file is a brake (no kind) or a temporary adjustment (kind: {model.ADJUSTMENT_KIND})",
        source=name,
        path=("kind",),
        line=at[0] if at else None,
        column=at[1] if at else None,
    )


def _span(kind: OverrideKind) -> str:
    return "24 hours" if kind == "adjustment" else f"{model.MAX_DURATION.days} days"


def _located(
    error: ValidationError, positions: _reader.PositionMap, name: str, kind: OverrideKind
) -> PolicyError:
    issues = []
    for detail in error.errors(include_url=False):
        loc = detail["loc"]
        path: tuple[PathPart, ...] = tuple(loc)
        is_key = detail["type"] == "extra_forbidden"
        raw = None if is_key else positions.text(path)
        at = positions.get(path, key=is_key or detail["type"] == "not_adjustable")
        line, column = at if at else (None, None)
        issues.append(Issue(path, line, column, _message(detail, raw, kind), source=name))
    return PolicyValidationError(issues)


def _message(detail: ErrorDetails, raw: str | None, of: OverrideKind) -> str:
    kind, loc = detail["type"], detail["loc"]
    inside = len(loc) > 1 and loc[0] == "set"
    if kind == "extra_forbidden":
        key = str(loc[-1])
        if inside and of == "adjustment":
            return f"{key!r} cannot be adjusted: an adjustment sets only " + ", ".join(
                model.ADJUSTABLE_FIELDS
            )
        if inside:
            return (
                f"{key!r} cannot be set by an override: it names only "
                + ", ".join(model.BRAKE_FIELDS)
                + (
                    " (a brake never changes the version or the rankings)"
                    if key in ("version", "opp_rankings", "last_updated")
                    else ""
                )
            )
        if of == "adjustment":
            return f"unknown key {key!r}; an adjustment has {', '.join(_ADJUSTMENT_KEYS)}"
        hint = (
            f" (a ticket is an adjustment's: kind: {model.ADJUSTMENT_KIND} makes one)"
            if key == "ticket"
            else ""
        )
        return f"unknown key {key!r}; a brake has {', '.join(_TOP_KEYS)}{hint}"
    if kind == "not_adjustable":
        return detail["msg"]
    if kind == "missing" and not inside:
        what = {
            "from": 'when it starts, e.g. "2026-12-04T13:00:00Z": an adjustment states its whole'
            " window, at most 24 hours",
            "reason": f"say why the {of} is needed",
            "ticket": "the ticket or reference that approves it, e.g. RISK-1234",
            "until": f"when it {'reverts' if of == 'adjustment' else 'lifts'},"
            ' e.g. "2026-11-28T20:00:00Z"',
            "set": "the values it sets, e.g. "
            + ("{max_positions: 8}" if of == "adjustment" else "{risk_mode: DEFENSIVE}"),
        }
        return f"required field {loc[0]!r} is missing; add it ({what.get(str(loc[0]), '')})"
    if inside:
        shifted: Any = {**detail, "loc": loc[1:]}
        return describe(shifted, raw)
    if kind in {"dict_type", "model_type"}:
        return f"{loc[0]} must be a mapping of fields, e.g. {{risk_mode: DEFENSIVE}}"
    return describe(detail, raw)


SIGNED_SUFFIX: Final = ".dsse.json"
"""A signed brake's file: ``NAME.dsse.json`` (see `_bundle.sign_brake`)."""


def read_signed_brakes(directory: Path) -> tuple[tuple[Path, bytes], ...]:
    """The signed brakes of ``directory`` (``NAME.dsse.json``; hidden entries aside), sorted by
    name; none when it does not exist. Anything else there, or more than `MAX_BRAKES`, is
    PolicySourceError: the directory holds signed brakes only."""
    try:
        names = sorted(e.name for e in os.scandir(directory) if not e.name.startswith("."))
    except FileNotFoundError:
        return ()
    except OSError as e:
        raise PolicySourceError.single(
            f"cannot read the signed brakes' directory: {e.strerror or e}", source=str(directory)
        ) from None
    strays = [n for n in names if not n.endswith(SIGNED_SUFFIX)]
    if strays:
        raise PolicySourceError.single(
            f"{strays[0]!r} is not a signed brake (NAME{SIGNED_SUFFIX}): this directory holds"
            " signed brakes only",
            source=str(directory / strays[0]),
        )
    if len(names) > MAX_BRAKES:
        raise PolicySourceError.single(
            f"{len(names)} signed brakes, over the limit of {MAX_BRAKES}", source=str(directory)
        )
    return tuple((directory / name, read_source(directory / name)) for name in names)
