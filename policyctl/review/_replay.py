"""``policyctl replay``: logged decisions re-evaluated under a base and a head policy.

What a pull request would have done to real signals and orders: each decision of the logs is
evaluated under the base's effective policy and the head's (an order's, with its risk and open
positions, by `GlobalPolicy.order_codes`: a change of ``max_positions`` or
``max_risk_per_trade`` flips orders; a signal's by `GlobalPolicy.signal_codes`), and every
decision whose verdict differs is counted by direction (newly refused: the change tightens;
newly allowed: it loosens), by code, symbol and strategy, with a few sample lines each. Memory
stays bounded whatever the log's size: counts per key are capped (`MAX_KEYS`, the rest under
"(other)"), samples per group too.

The base of a record is the policy it names: its ``digest`` looked up in the git history of the
policy file, with the brakes it names read from that revision; a record whose policy is not
found there is replayed under ``--base`` (default ``HEAD``), and counted as such. With
``--pin-base``, every record is replayed under ``--base``.
"""

from __future__ import annotations

import hashlib
import json
import math
import posixpath
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..decisions import ORDER_INPUTS, LogFiles, Problem, brakes_of
from ..errors import PolicyError
from ..model import BRAKES_DIR_NAME, GlobalPolicy
from ..pipeline import brake_name, build_snapshot, compose, default_policy_path, parse_brake
from ._compare import Side, SideKind, compare
from ._git import FILE_MODES, GitRepo

__all__ = ["Flips", "Group", "ReplayReport", "replay"]

MAX_KEYS = 1000  # distinct symbols, strategies, codes or groups counted per direction
SAMPLES = 3  # sample records kept per group
OTHER = "(other)"


@dataclass(slots=True)
class Group:
    """Decisions that flipped one way for one reason, symbol and strategy."""

    code: str
    symbol: str
    strategy: str
    count: int = 0
    samples: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class Flips:
    """Decisions that flipped one way: how many, and by what."""

    count: int = 0
    by_code: dict[str, int] = field(default_factory=dict)
    by_symbol: dict[str, int] = field(default_factory=dict)
    by_strategy: dict[str, int] = field(default_factory=dict)
    groups: dict[tuple[str, str, str], Group] = field(default_factory=dict)

    def add(self, codes: Sequence[str], symbol: str, strategy: str, sample: dict[str, Any]) -> None:
        self.count += 1
        _bump(self.by_symbol, symbol)
        _bump(self.by_strategy, strategy)
        for code in codes or ("",):
            _bump(self.by_code, code)
            key = (code, symbol, strategy)
            group = self.groups.get(key)
            if group is None:
                if len(self.groups) >= MAX_KEYS:
                    key = (code, OTHER, OTHER)
                    group = self.groups.get(key)
                if group is None:
                    group = self.groups[key] = Group(*key)
            group.count += 1
            if len(group.samples) < SAMPLES:
                group.samples.append(sample)

    def top(self) -> list[Group]:
        """The groups, largest first."""
        return sorted(self.groups.values(), key=lambda g: (-g.count, g.code, g.symbol, g.strategy))


def _bump(counts: dict[str, int], key: str) -> None:
    if key not in counts and len(counts) >= MAX_KEYS:
        key = OTHER
    counts[key] = counts.get(key, 0) + 1


@dataclass
class ReplayReport:
    """What ``policyctl replay`` found.

    Attributes:
        base: Label of the base (a revision or a file; "per record" when by digest).
        head: Label of the head.
        records: Decisions replayed.
        skipped: Lines that were not decisions (see ``problems``).
        torn: Torn last lines (a crash while writing): skipped, with a warning.
        problems: The first lines skipped, with why.
        by_digest: Records replayed under the policy their digest names (per-record base).
        fallback: Records whose policy was not found in git, replayed under ``HEAD``'s.
        mismatched: Records whose logged verdict differs from their base's replay (the
            service ran with environment overrides, or a policy not in this history).
        newly_refused: Allowed under the base, refused under the head (tightens).
        newly_allowed: Refused under the base, allowed under the head (loosens).
        reasons_changed: Refused under both, for other reasons.
        unchanged: The same verdict and reasons under both.
    """

    base: str
    head: str
    records: int = 0
    skipped: int = 0
    torn: int = 0
    problems: list[Problem] = field(default_factory=list)
    by_digest: int = 0
    fallback: int = 0
    mismatched: int = 0
    newly_refused: Flips = field(default_factory=Flips)
    newly_allowed: Flips = field(default_factory=Flips)
    reasons_changed: int = 0
    unchanged: int = 0


def _policy(side: Side, role: str) -> GlobalPolicy:
    if side.snapshot is None:
        if side.error is not None:
            raise type(side.error)(side.error.issues) from None
        raise PolicyError.single(f"{role} {side.label}: there is no policy file there")
    return side.snapshot.policy


_MAX_CACHED = 4096  # policies kept by digest; memory is bounded whatever the log holds


class _ByDigest:
    """Each record's own policy: its digest found in the history of the policy file, with the
    brakes it names as they were at the end of that version's life."""

    def __init__(self, fallback: GlobalPolicy, report: ReplayReport, file: str | None) -> None:
        self._fallback = fallback
        self._report = report
        self._file = file
        self._index: dict[str, tuple[str, bytes, str]] | None = None
        self._repo: GitRepo | None = None  # found once, with the index
        self._cache: dict[object, GlobalPolicy | None] = {}

    def __call__(self, record: dict[str, Any]) -> GlobalPolicy:
        digest, names = record.get("digest"), brakes_of(record)
        key: object = digest if type(digest) is str else None
        if names:  # a list of brake names, else the record's policy cannot be known
            good = type(names) is list and all(type(n) is str for n in names)
            key = (key, tuple(names)) if good else None
        found = self._cache.get(key, self)
        if found is self:
            if len(self._cache) >= _MAX_CACHED:  # distinct digests are the log's to choose
                self._cache.clear()
            found = self._cache[key] = self._find(key)
        if found is None:
            self._report.fallback += 1
            return self._fallback
        self._report.by_digest += 1
        return found  # type: ignore[return-value]

    def _build_index(self) -> dict[str, tuple[str, bytes, str]]:
        """digest -> (label, bytes, the revision at the end of its life), newest first wins."""
        repo = self._repo = GitRepo()
        policy = default_policy_path(self._file)
        relative = repo.relative(policy) if policy.is_absolute() else policy.as_posix()
        commits = repo.history(relative)
        blobs = repo.read_many([f"{c.sha}:{c.path}" for c in commits])
        modes = repo.path_modes(relative)
        index: dict[str, tuple[str, bytes, str]] = {}
        for i, (commit, data) in enumerate(zip(commits, blobs, strict=True)):
            mode = modes.get(commit.sha, ("", FILE_MODES[0]))[1]
            if data is None or mode not in FILE_MODES:
                continue  # a link's blob is its target's name: no policy a service served
            end = "HEAD" if i == 0 else f"{commits[i - 1].sha}^"
            index.setdefault(
                hashlib.sha256(data).hexdigest(), (f"{commit.short}:{commit.path}", data, end)
            )
        return index

    def _find(self, key: object) -> GlobalPolicy | None:
        if key is None:
            return None
        digest, names = key if isinstance(key, tuple) else (key, ())
        if self._index is None:
            try:
                self._index = self._build_index()
            except PolicyError:  # not a repository, no history: every record falls back
                self._index = {}
        entry = self._index.get(digest)
        if entry is None:
            return None
        label, data, end = entry
        try:
            policy = build_snapshot(data, Path(label), env={}).policy
            if not names:
                return policy
            assert self._repo is not None  # an entry was found: the index came from it
            return _with_brakes(self._repo, policy, label, end, names)
        except PolicyError:
            return None


def _with_brakes(
    repo: GitRepo, policy: GlobalPolicy, label: str, end: str, names: Sequence[str]
) -> GlobalPolicy | None:
    path = label.partition(":")[2]
    directory = posixpath.join(posixpath.dirname(path), BRAKES_DIR_NAME)
    files = {
        brake_name(p.name): (p, b) for p, b in repo.read_directory(repo.resolve(end), directory)
    }
    if not all(n in files for n in names):
        return None
    now = datetime.now(UTC)
    braked = [parse_brake(files[n][1], files[n][0], now) for n in names]
    return compose(policy, braked).policy


def _sample(name: str, line: int, record: dict[str, Any], confidence: Any) -> dict[str, Any]:
    """Where a flipped decision is, for a reader to look up (logged text kept short)."""
    time = record.get("time")
    if type(confidence) is float:
        shown: Any = confidence if math.isfinite(confidence) else str(confidence)
    else:  # as logged: an int, or what was refused for not being a number (kept short)
        shown = confidence if type(confidence) is int else json.dumps(confidence)[:40]
    return {
        "file": name,
        "line": line,
        "time": time[:40] if type(time) is str else None,
        "confidence": shown,
    }


def replay(
    logs: LogFiles,
    *,
    base: str | None = None,
    pin_base: bool = False,
    head: str | None = None,
    file: str | None = None,
    base_kind: SideKind = "auto",
    head_kind: SideKind = "auto",
) -> ReplayReport:
    """Replay every decision of ``logs`` under the base and the head policies.

    Args:
        logs: The decision logs (see `LogFiles`); iterated once, streaming.
        base: A revision or file: the base of the records whose own policy is not found in
            git (default ``HEAD``); with ``pin_base``, of every record.
        pin_base: Replay every record under ``base``, whatever policy it names (a review's
            question: what does this change do, beside the policy it changes).
        head: A revision or file; None: the working tree's policy file.
        file: The policy file in the repository, for revisions.
        base_kind: How to read ``base``, as for ``diff``.
        head_kind: How to read ``head``.

    Raises:
        PolicyError: A side cannot be read or is not a valid policy.
    """
    comparison = compare(base, head, file, base_kind=base_kind, head_kind=head_kind)
    head_policy = _policy(comparison.head, "head")
    head_codes, head_order = head_policy.signal_codes, head_policy.order_codes
    base_policy = _policy(comparison.base, "base")
    label = comparison.base.label if pin_base else f"per record, else {comparison.base.label}"
    report = ReplayReport(label, comparison.head.label)
    base_of: Callable[[dict[str, Any]], GlobalPolicy]
    base_of = (lambda _: base_policy) if pin_base else _ByDigest(base_policy, report, file)
    refused, allowed = report.newly_refused, report.newly_allowed
    risk_key, positions_key = ORDER_INPUTS
    for name, (line, record, symbol, strategy, confidence) in logs:
        if risk_key in record or positions_key in record:  # an order: every limit judged
            risk: Any = record.get(risk_key)  # the log's values, whatever they are: the rules
            positions: Any = record.get(positions_key)  # refuse what is not a number
            before = base_of(record).order_codes(symbol, strategy, confidence, risk, positions)
            after = head_order(symbol, strategy, confidence, risk, positions)
        else:
            before = base_of(record).signal_codes(symbol, strategy, confidence)
            after = head_codes(symbol, strategy, confidence)
        logged = record.get("allowed")
        if type(logged) is bool and logged is bool(before):  # e.g. logged allowed, now refused
            report.mismatched += 1
        if before == after:
            report.unchanged += 1
        elif before and after:
            report.reasons_changed += 1
        elif after:
            refused.add(after, symbol, strategy, _sample(name, line, record, confidence))
        else:
            allowed.add(before, symbol, strategy, _sample(name, line, record, confidence))
    report.records, report.skipped, report.torn = logs.records, logs.skipped, logs.torn
    report.problems = logs.problems
    return report
