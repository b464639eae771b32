"""``policyctl set`` and ``reset``: edits that change only the bytes they must.

Each edit splices new text into the exact character span of the node it changes (the spans come
from the same libyaml node tree that locates errors), so comments, key order, quoting, layout and
every untouched line stay byte for byte — by construction, not by re-emitting the document.
(A ruamel.yaml round-trip re-emits everything: it re-indents block sequences unless told the
file's indentation, wraps long lines, and respells some scalars.)

The edited text goes through the full pipeline before anything is written; the write is atomic
(temporary file in the same directory, fsync, rename) and keeps the file's mode; the directory is
locked for the whole read-modify-write, so concurrent ``set``s never lose an update.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from yaml.nodes import SequenceNode

from ..errors import (
    EditRefused,
    PolicyError,
    PolicySourceError,
    PolicySyntaxError,
    PolicyValidationError,
)
from ..model import DEFAULTS, FIELD_NAMES, LIST_FIELDS, MAP_FIELDS, parse_path
from ..pipeline import (
    PolicySnapshot,
    PositionMap,
    build_snapshot,
    parse_yaml,
    read_source,
    yaml_scalar,
)
from ..review import Change, diff_policies, plain_value
from ._baseline import committed_version
from ._splice import (
    Splice,
    apply_splices,
    in_style,
    render,
    replace_node,
    splice_field,
)
from ._values import Given, read_assigned
from ._write import locked, remove_stale_temporaries, source_errors, write_atomically

__all__ = [
    "EditRefused",
    "EditResult",
    "edit_file",
    "reset_policy",
    "set_value",
    "set_values",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EditResult:
    """What an edit did: the snapshots before (None if the file was invalid) and after."""

    path: Path
    old: PolicySnapshot | None
    new: PolicySnapshot
    changes: list[Change]
    written: bool
    text_diff: str = ""  # the file's lines before and after, as a unified diff
    dry_run: bool = False  # computed and checked, not written


def _refuse_lowering(path: Path, new: int, current: object, committed: int | None) -> None:
    floor = max(
        current if isinstance(current, int) and not isinstance(current, bool) else 0,
        committed or 0,
    )
    if new < floor:
        raise PolicyValidationError.single(
            f"version can only rise: {new} is below {floor}"
            f" ({'the committed version' if committed == floor else 'the current version'});"
            f" a change needs version {floor + 1} or more",
            source=str(path),
            path=("version",),
        )


def _timestamp(now: datetime | None) -> str:
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def edit_file(
    path: Path,
    make_splices: Callable[[str, PositionMap], list[Splice]],
    now: datetime | None,
    explicit_version: bool = False,
    dry_run: bool = False,
    expect: tuple[str, Any] | None = None,
) -> EditResult:
    try:
        target = path.resolve()  # a symlinked file is edited where it lives
    except (OSError, RuntimeError) as e:  # RuntimeError: a symlink loop (before Python 3.13)
        raise PolicySourceError.single(
            f"cannot edit the policy file: {e}; is it a symlink loop?", source=str(path)
        ) from None
    with source_errors(path), locked(target.parent):
        data = read_source(target)
        remove_stale_temporaries(target)
        old: PolicySnapshot | None
        version: object
        try:
            old = build_snapshot(data, path, env={})
            positions, version = old.positions, old.version
        except PolicySyntaxError:
            raise  # nothing we can splice into
        except PolicyError:
            old = None  # valid YAML but an invalid policy: `set` may repair it
            document = parse_yaml(data)
            positions, version = document.positions, document.data.get("version")
        bom = "\ufeff" if data.startswith(b"\xef\xbb\xbf") else ""
        text = data.decode("utf-8")[len(bom) :]
        splices: list[Splice] = make_splices(text, positions)
        if not explicit_version:
            if not isinstance(version, int) or isinstance(version, bool):
                raise PolicyValidationError.single(
                    "the file has no whole-number version to raise; set it first:"
                    " policyctl set version N",
                    source=str(path),
                    path=("version",),
                )
            committed = committed_version(target)
            if committed is None or version <= committed:  # else: raised already, leave it
                raised = version + 1 if committed is None else committed + 1
                splices.append(splice_field(text, positions, ("version",), str(raised)))
        stamp = render("last_updated", _timestamp(now))
        splices.append(splice_field(text, positions, ("last_updated",), stamp))
        new_bytes = (bom + apply_splices(text, splices)).encode("utf-8")
        new = build_snapshot(new_bytes, path, env={})  # refuses: the file stays untouched
        if explicit_version:
            _refuse_lowering(path, new.version, version, committed_version(target))
        if expect is not None and plain_value(getattr(new.policy, expect[0])) != expect[1]:
            raise EditRefused.single(  # the splice did not say what was meant: never write it
                f"this layout of {expect[0]} cannot be edited in place; edit it by hand",
                source=str(path),
            )
        changes = (
            [
                c
                for c in diff_policies(old.policy, new.policy)
                if c.field not in ("version", "last_updated")
            ]
            if old
            else []
        )
        unchanged_version = old is not None and new.version == old.version
        if old is not None and not changes and (not explicit_version or unchanged_version):
            return EditResult(path, old, old, [], written=False)  # nothing to write, not a stamp
        text_diff = "".join(
            difflib.unified_diff(
                data.decode("utf-8").splitlines(True),
                new_bytes.decode("utf-8").splitlines(True),
                str(path),
                str(path),
            )
        )
        if not dry_run:
            write_atomically(target, new_bytes)
        return EditResult(path, old, new, changes, not dry_run, text_diff, dry_run)


# --- the two edits ---------------------------------------------------------------------------


def _parse_set(
    source: str, field_path: str, value: str | Given
) -> tuple[tuple[str | int, ...], str, Any]:
    where = parse_path(field_path)
    field, key, index = where.field, where.key, where.index
    if index is not None:  # one list item: allowed_symbols[0]
        if field not in LIST_FIELDS:
            raise EditRefused.single(f"{field} is not a list; no item {index}", source=source)
        return (field, index), field, read_assigned(source, (field, index), value)
    if key == "":
        example = f"name one, e.g. {field}.lstm, or" if field in MAP_FIELDS else "so"
        raise EditRefused.single(
            f"{field_path!r} names no entry (nothing after the dot); {example} set the whole"
            f" field: policyctl set {field} ...",
            source=source,
        )
    if field not in FIELD_NAMES:
        close = difflib.get_close_matches(field, FIELD_NAMES, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"fields: {', '.join(FIELD_NAMES)}"
        raise EditRefused.single(f"unknown field {field!r}; {hint}", source=source)
    if field == "last_updated":
        raise EditRefused.single(
            "last_updated is set by every edit; it cannot be set by hand", source=source
        )
    if key and field in LIST_FIELDS:
        raise EditRefused.single(
            f"{field} is a list: name one item as {field}[N] (policyctl set {field}[0] ...),"
            f" or set it whole",
            source=source,
        )
    if key and field not in MAP_FIELDS:
        raise EditRefused.single(
            f"{field} has no entries; set it whole: policyctl set {field} ...", source=source
        )
    path = (field, key) if key else (field,)
    return path, field, read_assigned(source, path, value)


def set_value(
    path: Path,
    field_path: str,
    value: str,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
) -> EditResult:
    """Set one field (``max_positions``) or map entry (``model_versions.lstm``) in the file.

    ``version`` is raised by one (unless it is the field being set) and ``last_updated``
    stamped. Nothing is written if the result is invalid or changes nothing.

    Raises:
        PolicyError: The edit is refused; the file is untouched.
    """
    return set_values(path, [(field_path, value)], now=now, dry_run=dry_run)


def set_values(
    path: Path,
    assignments: Sequence[tuple[str, str | Given]],
    *,
    now: datetime | None = None,
    dry_run: bool = False,
) -> EditResult:
    """Several assignments (``[("max_positions", "4"), ("model_versions.lstm", "3.11")]``)
    as one change: one version raise, one write, all or nothing. A value is text read as the
    file would hold it, or a Python caller's value as it is (`Given`)."""
    parsed = [_parse_set(str(path), field_path, value) for field_path, value in assignments]
    seen: set[tuple[str | int, ...]] = set()
    for target, _, _ in parsed:
        overlaps = [s for s in seen if s[: len(target)] == target or target[: len(s)] == s]
        if overlaps:
            raise EditRefused.single(
                f"{'.'.join(map(str, target))} is set twice in one change", source=str(path)
            )
        seen.add(target)

    def splices(text: str, positions: PositionMap) -> list[Splice]:
        out = []
        for target, field, value in parsed:
            if isinstance(target[-1], int):  # a list item: it must exist (negative from the end)
                items, _, found = positions.locate(target[:1])
                index = target[-1]
                if not (found and isinstance(items, SequenceNode)) or not (
                    -len(items.value) <= index < len(items.value)
                ):
                    raise EditRefused.single(f"{field} has no item {index}", source=str(path))
                out.append(replace_node(items.value[index], text, yaml_scalar(value)))
            else:
                rendered = in_style(text, positions, target, field, value)
                out.append(splice_field(text, positions, target, rendered))  # type: ignore[arg-type]
        return out

    explicit = any(field == "version" for _, field, _ in parsed)
    return edit_file(path, splices, now, explicit_version=explicit, dry_run=dry_run)


def reset_policy(path: Path, *, now: datetime | None = None, dry_run: bool = False) -> EditResult:
    """Put every field back to the built-in defaults (nothing may trade), as a new version."""

    def splices(text: str, positions: PositionMap) -> list[Splice]:
        return [
            splice_field(text, positions, (field,), render(field, value))
            for field, value in DEFAULTS.items()
        ]

    return edit_file(path, splices, now, dry_run=dry_run)
