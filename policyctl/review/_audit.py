"""``policyctl audit``: the evidence a regulator asks for, from git history and the signed
statements kept of it: every change to a limit in a period with its direction, values, author,
approvers, lane and justification, when it was merged and when it was in force; every brake and
temporary adjustment with its window, who put it on and who lifted it, and whether it reverted
on time; what breaks the separation of duties, flagged; and totals.

What a statement does not say is said to be unknown, never guessed: without a verified
statement of a commit, its approvers and the moment it was in force are unknown, its lane is
computed from the change (the gate's own rule) and its justification is the commit message.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..errors import PolicyError
from ..model import ADJUSTABLE_FIELDS, BRAKES_DIR_NAME, MAX_ADJUSTMENT, GlobalPolicy
from ..pipeline import MAX_BRAKES, BrakeFile
from ._brake_diff import brake_changes, widenings
from ._diff import Change, diff_policies, plain_value
from ._git import FILE_MODES, Commit, GitRepo, mode_kind
from ._history import BrakeLogEntry, LogEntry, audit_log, brake_log
from ._lane import lane_of

if TYPE_CHECKING:
    from ..pipeline import Statement, TrustedKey

__all__ = [
    "Approval",
    "Audit",
    "LimitChange",
    "OverrideRecord",
    "ReviewRecord",
    "audit",
    "read_statements",
    "totals",
]

LIMITS = ADJUSTABLE_FIELDS
"""The limits an audit lists the changes of (the fields an adjustment may set)."""

_LIFT = timedelta(minutes=5)  # an until moved to within this of its commit: lifted then


@dataclass(frozen=True, slots=True)
class Approval:
    """One approval of a pull request, as its signed statement records it."""

    login: str
    at: str | None


@dataclass(frozen=True, slots=True)
class ReviewRecord:
    """What the verified statement of a commit says of its review; ``known`` False (with
    ``why``) when no statement of the commit verified, or it says it could not know."""

    known: bool
    why: str = ""
    pull_request: int | None = None
    author: str | None = None
    approvers: tuple[Approval, ...] = ()
    lane: str | None = None
    justification: str | None = None
    signed_at: datetime | None = None


_NONE = ReviewRecord(False, "no verified signed statement of this commit")


@dataclass(frozen=True, slots=True)
class LimitChange:
    """One change to a limit, merged in ``commit``.

    Attributes:
        author: The pull request's author (from its statement), else the commit's author.
        lane: The lane the statement records (``lane_from`` ``statement``), else the gate's
            rule applied to the commit (``computed``).
        justification: The pull request's description (``justification_from``
            ``pull request``), else the commit message (``commit message``).
        in_force_at: When its bundle was signed (the earliest any store served it); None:
            unknown, no statement of the commit.
        flags: What breaks the separation of duties, one sentence each.
    """

    commit: str
    merged_at: datetime
    author: str
    field: str
    path: str
    action: str
    before: Any
    after: Any
    direction: str
    lane: str
    lane_from: Literal["statement", "computed"]
    justification: str
    justification_from: Literal["pull request", "commit message"]
    in_force_at: datetime | None
    review: ReviewRecord
    flags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OverrideRecord:
    """One brake or temporary adjustment, from the commit that put it on to its end.

    Attributes:
        starts: Its ``from``, else when it was merged.
        until: Its ``until`` as last written; ``first_until`` as first written.
        ended: ``reverted at until``, ``lifted early``, ``in force`` or ``scheduled``.
        ended_at: When it ended (None while in force or scheduled).
        lifted_by: Who ended it early (the author of the commit that did).
        extended: How many commits moved its ``until`` later.
        on_time: Whether it ended by its ``until`` (None while it has not ended).
    """

    kind: str
    name: str
    reason: str
    ticket: str | None
    sets: Mapping[str, Any]
    starts: datetime
    until: datetime
    first_until: datetime
    put_on_by: str
    put_on_commit: str
    put_on_at: datetime
    ended: str
    ended_at: datetime | None
    lifted_by: str | None
    extended: int
    on_time: bool | None
    review: ReviewRecord
    flags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Audit:
    """An audit of ``since`` (inclusive) to ``until`` (exclusive); None: open-ended."""

    since: datetime | None
    until: datetime | None
    generated_at: datetime
    changes: tuple[LimitChange, ...]
    overrides: tuple[OverrideRecord, ...]
    statements: int
    refused: tuple[str, ...]
    risk_desk: tuple[str, ...]
    totals: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # what the history holds that no store applied, and how read


def read_statements(
    repo: GitRepo, source: str, trust: Mapping[str, TrustedKey]
) -> tuple[dict[str, Statement], list[str]]:
    """The statements of ``source`` (a directory of ``*.dsse.json``, or a git revision whose
    ``statements/`` holds them, e.g. ``origin/policy-evidence``) that verify with ``trust``,
    by the commit each names; and why each other one was refused."""
    from ..pipeline import read_statement  # noqa: PLC0415 - cryptography, only when asked

    directory = Path(source)
    if directory.is_dir():
        found = [(p, p.read_bytes()) for p in sorted(directory.glob("*.dsse.json")) if p.is_file()]
    else:
        sha = repo.resolve(source)
        found = [(Path(f"{source}:{p}"), b) for p, b in repo.read_directory(sha, "statements")]
    statements: dict[str, Statement] = {}
    refused = []
    for where, data in found:
        try:
            statement = read_statement(data, trust, where)
        except PolicyError as e:
            refused.append(str(e))
            continue
        if statement.commit is None:
            refused.append(f"{where}: the statement names no commit")
            continue
        kept = statements.get(statement.commit)
        if kept is None or statement.signed_at < kept.signed_at:
            statements[statement.commit] = statement  # its first signing: when it took effect
    return statements, refused


def _review(statement: Statement | None) -> ReviewRecord:
    if statement is None:
        return _NONE
    record = statement.review
    if not record.get("known"):
        why = str(record.get("why") or "the statement says the review is not known")
        return ReviewRecord(False, why, signed_at=statement.signed_at)
    approvers = tuple(
        Approval(str(a.get("login", "")), a.get("at"))
        for a in record.get("approvers", ())
        if isinstance(a, Mapping)
    )
    return ReviewRecord(
        True,
        pull_request=record.get("pull_request"),
        author=record.get("author"),
        approvers=approvers,
        lane=record.get("lane"),
        justification=record.get("justification"),
        signed_at=statement.signed_at,
    )


def _flags(review: ReviewRecord, loosens: bool, bot: str | None, desk: Sequence[str]) -> list[str]:
    """Separation of duties: an approval by the author; a loosening with no record, no
    approval but the author's or the bot's, or none from the risk desk (when it is named)."""
    out = []
    logins = {a.login for a in review.approvers}
    if review.known and review.author and review.author in logins:
        out.append("approved by its own author")
    if not loosens:
        return out
    if not review.known:
        out.append("loosened with no review record")
        return out
    others = logins - {review.author, bot}
    if not others:
        out.append("loosened with no approval but its author's or the bot's")
    elif desk and not others & set(desk):
        out.append("loosened without a risk-desk approval")
    return out


def _moment(commit: Commit) -> datetime:
    return datetime.fromtimestamp(commit.timestamp, UTC)


class _Walk:
    """The history oldest first: the policy and the override files as each commit left them."""

    def __init__(
        self,
        statements: Mapping[str, Statement],
        messages: Mapping[str, str],
        bot: str | None,
        desk: Sequence[str],
    ) -> None:
        self.statements, self.messages, self.bot, self.desk = statements, messages, bot, desk
        self.policy: GlobalPolicy | None = None
        self.files: dict[str, BrakeFile] = {}
        self.open: dict[str, OverrideRecord] = {}
        self.changes: list[LimitChange] = []
        self.overrides: list[OverrideRecord] = []
        self.notes: list[str] = []
        self.chains: dict[str, tuple[datetime, datetime]] = {}  # field -> (began, ended)

    def commit(
        self, commit: Commit, policy: LogEntry | None, events: Sequence[BrakeLogEntry]
    ) -> None:
        before_files = list(self.files.values())
        moment = _moment(commit)
        for name, record in sorted(self.open.items(), key=lambda item: item[1].until):
            if record.until <= moment:  # reverted by every store before this commit landed
                del self.open[name]
                self._end(record, record.until, None)
        changes = self._policy_changes(commit, policy)
        for event in events:
            self._override(commit, event)
        if events and len(self.files) > MAX_BRAKES:
            self.notes.append(
                f"{commit.short}: {len(self.files)} override files, over the limit of"
                f" {MAX_BRAKES}: every store refuses this state whole"
            )
        review = _review(self.statements.get(commit.sha))
        lane, lane_from = self._lane(commit, changes, before_files, review)
        message = self.messages.get(commit.sha, commit.subject).strip()
        justified_by: Literal["pull request", "commit message"] = "commit message"
        justification = message
        if review.known and review.justification:
            justification, justified_by = review.justification, "pull request"
        for change in changes:
            if change.field not in LIMITS:
                continue
            flags = _flags(review, change.direction == "loosens", self.bot, self.desk)
            self.changes.append(
                LimitChange(
                    commit.sha,
                    _moment(commit),
                    review.author if review.known and review.author else commit.author,
                    change.field,
                    change.path,
                    change.action,
                    plain_value(change.old),
                    plain_value(change.new),
                    change.direction,
                    lane,
                    lane_from,
                    justification,
                    justified_by,
                    review.signed_at,
                    review,
                    tuple(flags),
                )
            )

    def _policy_changes(self, commit: Commit, entry: LogEntry | None) -> list[Change]:
        """What ``commit`` changed of the policy in force: against the last valid policy when
        the one before it was not valid (no store applied that one); nothing when its own is
        not valid (no store applies it), said in the notes."""
        if entry is None:
            return []
        if entry.after is None:
            if entry.after_error is not None:
                self.notes.append(
                    f"{commit.short}: the policy file is not valid, so no store applied it"
                    f" ({entry.after_error.issues[0].message})"
                )
            return []
        last, self.policy = self.policy, entry.after.policy
        if entry.before is not None or last is None:
            return list(entry.changes)
        self.notes.append(
            f"{commit.short}: measured against the last valid policy (the one before it was"
            " not valid)"
        )
        return diff_policies(last, entry.after.policy)

    def _lane(
        self,
        commit: Commit,
        changes: Sequence[Change],
        before_files: Sequence[BrakeFile],
        review: ReviewRecord,
    ) -> tuple[str, Literal["statement", "computed"]]:
        if review.known and review.lane and review.lane != "unknown":
            return review.lane, "statement"
        braked = []
        if self.policy is not None and before_files != list(self.files.values()):
            braked = brake_changes(
                self.policy, before_files, list(self.files.values()), _moment(commit)
            )
        return lane_of(changes, braked).lane, "computed"

    def _override(self, commit: Commit, event: BrakeLogEntry) -> None:
        at = _moment(commit)
        name = event.name
        if event.action == "removed":
            self.files.pop(name, None)
            record = self.open.pop(name, None)
            if record is not None:
                self._end(record, at, commit.author)
            return
        if event.mode not in FILE_MODES:  # review refuses it; a store reads through it
            self.notes.append(
                f"{commit.short}: {name} is {mode_kind(event.mode)} (review refuses one): a store"
                " reads what it points to, which the history does not hold, so what was in force"
                " from it is not known"
            )
            return
        if event.brake is None:  # refused by every store: what was in force stays in force
            why = event.error.issues[0].message if event.error is not None else "unreadable"
            self.notes.append(
                f"{commit.short}: {name} is not a valid override file, so no store applied it"
                f" ({why})"
            )
            return
        brake = event.brake
        previous = self.files.get(name)
        self.files[name] = brake
        record = self.open.get(name)
        if record is not None and (record.kind != brake.kind or at >= record.until):
            # Another kind under the same name, or one that had ended written again: the old
            # one ends here, and what the file now says is a new one.
            self.open.pop(name)
            self._end(record, at, commit.author)
            record = previous = None
        if record is None:
            self.open[name] = self._opened(commit, brake)
            return
        if brake.ends < record.until and brake.ends <= at + _LIFT:
            # `brake lift`: until moved to about now. It ends when main stops carrying it (the
            # commit), early against the until it had; the row keeps that until.
            self.open.pop(name)
            self._end(record, max(at, brake.ends), commit.author)
            return
        flags = record.flags
        if widenings(previous, brake):  # extended or loosened: reviewed like its addition
            review = _review(self.statements.get(commit.sha))
            flags += tuple(
                f"{commit.sha[:12]} extends it: {flag}"
                for flag in _flags(review, True, self.bot, self.desk)
            )
        started = record.starts <= at
        self.open[name] = replace(
            record,
            flags=flags,
            starts=record.starts if started else (brake.starts or at),
            until=brake.ends,
            extended=record.extended + (brake.ends > record.until),
            reason=brake.reason,
            sets={k: plain_value(v) for k, v in brake.content.settings.given().items()},
        )

    def _opened(self, commit: Commit, brake: BrakeFile) -> OverrideRecord:
        at = _moment(commit)
        review = _review(self.statements.get(commit.sha))
        loosens = brake.kind == "adjustment"
        return OverrideRecord(
            brake.kind,
            brake.name,
            brake.reason,
            brake.ticket,
            {k: plain_value(v) for k, v in brake.content.settings.given().items()},
            max(brake.starts or at, at),
            brake.ends,
            brake.ends,
            review.author if review.known and review.author else commit.author,
            commit.sha,
            at,
            "in force",
            None,
            None,
            0,
            None,
            review,
            tuple(_flags(review, loosens, self.bot, self.desk)),
        )

    def _end(self, record: OverrideRecord, at: datetime, by: str | None) -> None:
        """It ends at ``at`` (a commit removed it, changed its kind, or ended it by its until):
        before it started (withdrawn), before its until (lifted early by ``by``), or after
        (it had reverted at its until by then)."""
        if at < record.starts:
            ended = replace(record, ended="withdrawn before it started", ended_at=at, lifted_by=by)
        elif at < record.until:
            ended = replace(record, ended="lifted early", ended_at=at, lifted_by=by, on_time=True)
        else:
            ended = replace(record, ended="reverted at until", ended_at=record.until, on_time=True)
        self._close(ended)

    def _close(self, record: OverrideRecord) -> None:
        """Keep a record. An adjustment is judged with those of its fields that ended within
        `_BACK_TO_BACK` before it began (another file, a rename, the same file written again):
        over 24 hours in a row is flagged, however many files it took."""
        if record.kind != "adjustment" or record.ended == "withdrawn before it started":
            self.overrides.append(record)
            return
        began = record.starts
        for name in record.sets:
            chain = self.chains.get(name)
            if chain is not None and chain[1] >= record.starts - _BACK_TO_BACK:
                began = min(began, chain[0])
        end = record.ended_at or record.until
        for name in record.sets:
            self.chains[name] = (began, end)
        span = end - began
        if span > MAX_ADJUSTMENT:
            hours = span.total_seconds() / 3600
            with_others = "" if began == record.starts else " with the adjustments just before it"
            text = f"in force {hours:.0f} hours in all{with_others}, over 24"
            record = replace(record, flags=(*record.flags, text))
        self.overrides.append(record)

    def finish(self, now: datetime) -> None:
        for record in sorted(self.open.values(), key=lambda r: r.starts):
            if now >= record.until:
                self._end(record, record.until, None)
            else:
                state = "scheduled" if now < record.starts else "in force"
                self._close(replace(record, ended=state))
        self.open = {}


_BACK_TO_BACK = timedelta(hours=1)
"""Adjustments of one field this close are one loosening in a row, for the 24-hour flag."""


def _moves(events: list[BrakeLogEntry]) -> list[BrakeLogEntry]:
    """A commit's override events with a file moved (removed from one directory, added to
    another, under one name) as one change of that file, not an end and a new start."""
    added = {e.name for e in events if e.action == "added"}
    moved = {e.name for e in events if e.action == "removed"} & added
    return [
        replace(e, action="changed") if e.name in moved else e
        for e in events
        if not (e.name in moved and e.action == "removed")
    ]


def _check_time(commit: Commit, previous: Commit | None, now: datetime, notes: list[str]) -> None:
    """A commit's time is what its committer's clock said, and anyone can set it: one before
    the commit before it on the main line, or in the future, is said (rows keep it as it is)."""
    at = _moment(commit)
    if at > now:
        notes.append(
            f"{commit.short}: committed at {at:%Y-%m-%dT%H:%M:%SZ}, in the future: its time was"
            " set by hand, and its rows are dated with it"
        )
    elif previous is not None and commit.timestamp < previous.timestamp:
        notes.append(
            f"{commit.short}: committed at {at:%Y-%m-%dT%H:%M:%SZ}, before {previous.short}"
            " which comes before it on the main line: its time was set by hand, and its rows"
            " are dated with it"
        )


def _in_period(moment: datetime, since: datetime | None, until: datetime | None) -> bool:
    return (since is None or moment >= since) and (until is None or moment < until)


def totals(changes: Sequence[LimitChange], overrides: Sequence[OverrideRecord]) -> dict[str, Any]:
    """The totals of an audit's rows (of all of them, or of those a reader kept)."""

    def count(values: Sequence[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for value in values:
            out[value] = out.get(value, 0) + 1
        return dict(sorted(out.items()))

    adjustments = [o for o in overrides if o.kind == "adjustment"]
    return {
        "changes": len(changes),
        "by_direction": count([c.direction for c in changes]),
        "by_lane": count([c.lane for c in changes]),
        "brakes": sum(o.kind == "brake" for o in overrides),
        "adjustments": len(adjustments),
        "adjustments_reverted_on_time": sum(o.on_time is True for o in adjustments),
        "adjustments_in_force": sum(o.ended == "in force" for o in adjustments),
        "adjustments_extended": sum(o.extended > 0 for o in adjustments),
        "flagged": sum(bool(c.flags) for c in changes) + sum(bool(o.flags) for o in overrides),
    }


def audit(
    repo: GitRepo,
    path: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    revisions: str | None = None,
    statements: Mapping[str, Statement] | None = None,
    refused: Sequence[str] = (),
    bot: str | None = None,
    risk_desk: Sequence[str] = (),
    now: datetime | None = None,
) -> Audit:
    """The audit of ``path`` (the policy file's repository path; its override files beside)
    over the history of ``revisions`` (default HEAD), limited to ``since``..``until``."""
    moment = now or datetime.now(UTC)
    # The main line: what landed, when it landed (a merge against its first parent), never a
    # branch's commits on their own.
    # git's work overlaps the reading of the policy's versions (threads: each waits on git).
    revision = revisions or "HEAD"
    directory = posixpath.join(posixpath.dirname(path), BRAKES_DIR_NAME)
    with ThreadPoolExecutor(3) as pool:
        overrides_read = pool.submit(brake_log, repo, path, None, revision, first_parent=True)
        order_read = pool.submit(repo.topo_order, revision)
        messages_read = pool.submit(repo.messages, revision, [path, f"{directory}/"])
        policy_log = audit_log(repo, path, revisions=revision, first_parent=True)
        override_log, order, messages = (
            overrides_read.result(),
            order_read.result(),
            messages_read.result(),
        )
        # The overrides' directory sits beside the policy file wherever it was: where the file
        # was moved, the directory's earlier history is read where it was then.
        earlier = {e.commit.parent_path for e in policy_log} - {path, ""}
        for old in sorted(earlier):
            override_log += brake_log(repo, old, None, revision, first_parent=True)
    commits: dict[str, Commit] = {e.commit.sha: e.commit for e in policy_log}
    for event in override_log:
        commits.setdefault(event.commit.sha, event.commit)
    rank = {sha: i for i, sha in enumerate(order)}
    ordered = sorted(commits.values(), key=lambda c: -rank.get(c.sha, -1))
    by_commit = {e.commit.sha: e for e in policy_log}
    events: dict[str, list[BrakeLogEntry]] = {}
    for event in reversed(override_log):
        events.setdefault(event.commit.sha, []).append(event)
    for sha, found in events.items():
        events[sha] = _moves(found)
    walk = _Walk(statements or {}, messages, bot, risk_desk)
    previous: Commit | None = None
    for commit in ordered:
        _check_time(commit, previous, moment, walk.notes)
        walk.commit(commit, by_commit.get(commit.sha), events.get(commit.sha, []))
        previous = commit
    walk.finish(moment)
    changes = [c for c in walk.changes if _in_period(c.merged_at, since, until)]
    overrides = [
        o
        for o in walk.overrides
        if (until is None or o.starts < until) and (since is None or (o.ended_at or moment) > since)
    ]
    overrides.sort(key=lambda o: (o.starts, o.name))
    return Audit(
        since,
        until,
        moment,
        tuple(changes),
        tuple(overrides),
        len(statements or {}),
        tuple(refused),
        tuple(risk_desk),
        totals(changes, overrides),
        tuple(walk.notes),
    )
