"""Output formats shared by the CLI commands: text, json, github annotations, and policy YAML.

JSON shapes are stable (documented in the README); the YAML writer quotes every string our
strict reader would not read back as the same string, so ``show`` output is itself a valid,
faithful policy file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import Issue, PolicyError, format_path
from ..pipeline import VARIABLES, yaml_scalar
from ._escape import github, printable

if TYPE_CHECKING:
    from ..review import Commit

__all__ = ["FileResult", "commit_json", "issue_json", "render_validation", "to_yaml"]


@dataclass(frozen=True, slots=True)
class FileResult:
    """The verdict on one file: its version and digest when valid, its error otherwise."""

    file: str
    version: int | None = None
    digest: str | None = None
    error: PolicyError | None = None
    warnings: tuple[tuple[str, str], ...] = ()  # (file, message): valid, but worth a look


_VARIABLES = frozenset(v.name for v in VARIABLES)


def variable_of(issue: Issue) -> str | None:
    """The environment variable an issue comes from (its source is then no file)."""
    return issue.source if issue.line is None and issue.source in _VARIABLES else None


def issue_json(issue: Issue, kind: str) -> dict[str, Any]:
    """An issue as the stable JSON object: file, variable, line, column, path, message, kind.

    ``file`` is the file (null for an issue of the environment, whose ``variable`` says which);
    ``path`` is the field path, null when the issue concerns the whole document.
    """
    variable = variable_of(issue)
    return {
        "file": None if variable else issue.source,
        "variable": variable,
        "line": issue.line,
        "column": issue.column,
        "path": format_path(issue.path) or None,
        "message": issue.message,
        "kind": kind,
    }


def _github(issue: Issue) -> str:
    variable = variable_of(issue)
    if variable is not None:  # no file to annotate: the variable leads the message
        dotted = format_path(issue.path)
        message = f"{variable}: {dotted}: {issue.message}" if dotted else issue.message
        return f"::error title=policyctl::{github(message)}"
    props = [f"file={github(issue.source or '', prop=True)}"]
    if issue.line is not None:
        props.append(f"line={issue.line}")
    if issue.column is not None:
        props.append(f"col={issue.column}")
    props.append("title=policyctl")
    dotted = format_path(issue.path)
    message = f"{dotted}: {issue.message}" if dotted else issue.message
    return f"::error {','.join(props)}::{github(message)}"


def render_validation(results: Iterable[FileResult], fmt: str) -> str:
    """The report of ``policyctl validate`` in ``fmt`` (text, json or github)."""
    results = list(results)
    if fmt == "json":
        files = [
            {
                "file": r.file,
                "valid": r.error is None,
                "version": r.version,
                "digest": r.digest,
                "errors": [issue_json(i, r.error.kind) for i in r.error.issues] if r.error else [],
                "warnings": [{"file": f, "message": m} for f, m in r.warnings],
            }
            for r in results
        ]
        return json.dumps(
            {"valid": all(r.error is None for r in results), "files": files}, indent=2
        )
    lines: list[str] = []
    issues = sorted((i for r in results if r.error for i in r.error.issues), key=Issue.sort_key)
    if fmt == "github":
        lines.extend(_github(i) for i in issues)
    else:
        lines.extend(str(i) for i in issues)
    for r in results:
        for file, message in r.warnings:
            if fmt == "github":
                props = f"file={github(file, prop=True)},title=policyctl"
                lines.append(f"::warning {props}::{github(message)}")
            else:
                lines.append(f"{printable(file)}: warning: {printable(message)}")
        if r.error is None:
            name = printable(r.file)
            if r.version is None:  # an override file, checked on its own
                lines.append(f"{name}: valid (a brake)")
            else:
                lines.append(f"{name}: valid (version {r.version}, sha256 {(r.digest or '')[:12]})")
    bad = sum(1 for r in results if r.error)
    if bad and fmt == "text":
        lines.append(f"{len(issues)} error(s) in {bad} of {len(results)} file(s)")
    return "\n".join(lines)


def to_yaml(data: Mapping[str, Any], comments: Mapping[str, str] | None = None) -> str:
    """A policy-shaped mapping as block YAML, with an optional end-of-line comment per field."""
    lines = []
    for key, value in data.items():
        note = f"  # {comments[key]}" if comments and key in comments else ""
        if isinstance(value, Mapping):
            if not value:
                lines.append(f"{key}: {{}}{note}")
                continue
            lines.append(f"{key}:{note}")
            lines.extend(f"  {yaml_scalar(k)}: {yaml_scalar(v)}" for k, v in value.items())
        elif isinstance(value, list | tuple):
            lines.append(f"{key}: [{', '.join(yaml_scalar(v) for v in value)}]{note}")
        else:
            lines.append(f"{key}: {yaml_scalar(value)}{note}")
    return "\n".join(lines) + "\n"


def commit_json(commit: Commit) -> dict[str, str]:
    """The keys every log entry shares: which commit, by whom, when, and its subject."""
    return {
        "commit": commit.sha,
        "short": commit.short,
        "author": commit.author,
        "date": commit.date,
        "subject": commit.subject,
    }
