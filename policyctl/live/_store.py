"""`PolicyStore`: the pipeline on a loop — watch, re-read, swap one reference, notify.

Readers call `current()`, which reads one attribute: no lock, no copy, never a torn or invalid
policy, because a snapshot is immutable and is published by a single reference assignment.

One worker thread does every check. It wakes on a filesystem event (watchdog, behind
`_DirectoryWatcher`), on `refresh()`, or every ``reconcile_interval`` seconds (catching lost
inotify events); `Schedule` decides when, `settled` whether bytes can be trusted. A check reads
the file and the brake files whole at one moment (following symlinks, so the Kubernetes
ConfigMap ``..data`` swap is seen), and builds a snapshot only when their key changed. At a
brake's ``from`` or ``until`` the worker wakes by itself and composes the same bytes again. A
bad file is counted and reported once per distinct content; the last good snapshot stays.
`status()` is published like the snapshot, so it never waits on a check.

One class, in one module: the store's parts below (fork safety, subscribers, the status, what a
check decided, when bytes have settled) exist only for it. Its neighbours are the watch seam
(`_watch`), the schedule (`_schedule`), the inputs read at one moment (`_inputs`), the kept
last good state (`_last_good`) and the served commit (`_identity`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from time import time as now
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any, Generic, Protocol, Self, TypeVar

from ..decisions import DecisionLog, freeze_context, freeze_input
from ..errors import PolicyError, PolicyInternalError, printable
from ..model import SignalVerdict, as_count, as_number, as_text
from ..pipeline import (
    SIGNED_SUFFIX,
    BrakeFile,
    PolicySnapshot,
    build_snapshot,
    default_brakes_dir,
    default_policy_path,
    either_dir,
    inputs_digest,
    parse_brake,
)
from ._identity import source_commit
from ._inputs import Inputs, inputs_of, read_inputs
from ._last_good import Start, check_place, load, save, start
from ._schedule import WRITE_TIMEOUT, Schedule, Trigger, check_timings
from ._trust import Received, Trust, default_signed_brakes, default_trust
from ._watch import DirectoryWatcher as _DirectoryWatcher  # replaced by tests' scripted watcher
from ._watch import WatchTarget, note_if_linked, warn_if_mount_point

if TYPE_CHECKING:
    from ..pipeline import Statement

__all__ = ["DEFAULT_RECONCILE_INTERVAL", "PolicyStore", "StoreStatus", "Subscriber"]

log = logging.getLogger(__name__)


# --- stores in a forked child (gunicorn --preload) start their threads again ---------


class _Restartable(Protocol):
    def _restart_after_fork(self) -> None: ...


_live: weakref.WeakSet[_Restartable] = weakref.WeakSet()


def remember(store: _Restartable) -> None:
    _live.add(store)


def forget(store: _Restartable) -> None:
    _live.discard(store)


def _after_fork_in_child() -> None:
    for store in list(_live):
        store._restart_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)

C = TypeVar("C", bound=Callable[..., object])


# --- subscribers: added and removed under a lock, read as one immutable tuple ---------


class Subscribers(Generic[C]):
    """Callbacks, published as a tuple: an outcome carries the tuple as it was when decided."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.all: tuple[C, ...] = ()

    def add(self, callback: C) -> Callable[[], None]:
        """Add ``callback``; return the function that removes it."""
        with self._lock:
            self.all = (*self.all, callback)

        def remove() -> None:
            with self._lock:
                self.all = tuple(c for c in self.all if c is not callback)

        return remove

    def after_fork(self) -> None:
        """A lock held by a thread of the parent stays held forever in the child."""
        self._lock = threading.Lock()


# --- the status: read consistently, published like the snapshot ----------------------


@dataclass(frozen=True, slots=True)
class StoreStatus:
    """A consistent view of the store's health.

    Attributes:
        current_version: ``version`` of the snapshot being served.
        digest: sha256 of the file content being served.
        source: The policy file.
        reloads: Snapshots applied after the first load.
        failures: Distinct refused contents (invalid, unreadable or missing file).
        failures_by_kind: ``failures`` split by the error's kind: ``source`` (unreadable or
            missing), ``syntax``, ``validation``, ``env``.
        last_error: Why the file on disk is refused now; None when it is being served.
        last_success: When the served snapshot was loaded.
        refused_since: When the refused content was first seen; None when healthy.
        mode: ``"inotify"``, ``"polling"`` or ``"off"`` (``watch=False``).
        brakes: The override files active in the served snapshot (name, reason, until):
            brakes and temporary adjustments, each with its ``kind`` (`adjustments`: these).
        next_change: When the next brake starts or lifts; None when none will.
        commit: The git commit the served file came from, where the layout says (git-sync's
            worktree, or a checkout's HEAD); None otherwise.
        serving_last_good: Started from the ``last_good`` file, the policy file being unusable;
            False once the file itself is applied.
        decisions_logged: Decisions written to the ``decision_log`` so far.
        decisions_dropped: Decisions not logged because the log's queue was full (or a write
            failed): counted, never silent.
        env: Field -> the ``QT_*`` variable that changed it in this process.
        env_directions: Field -> what that variable's value does to risk against the file's:
            a deployment's environment can loosen a limit the risk desk set, so it is shown.
        bundle: The verified signed statement of the served policy (version, commit, files,
            signer, expiry), when the store verifies bundles (``trust``); None otherwise.
        sent_brakes: The brakes in force that came from the signed brakes' directory (sent,
            not yet in git: ``brake ... --propose`` puts them there).
    """

    current_version: int
    digest: str
    source: Path
    reloads: int
    failures: int
    failures_by_kind: Mapping[str, int]
    last_error: PolicyError | None
    last_success: datetime
    refused_since: datetime | None
    mode: str
    brakes: tuple[BrakeFile, ...] = ()
    next_change: datetime | None = None
    commit: str | None = None
    serving_last_good: bool = False
    decisions_logged: int = 0
    decisions_dropped: int = 0
    env: Mapping[str, str] = field(default_factory=dict)
    env_directions: Mapping[str, str] = field(default_factory=dict)
    bundle: Statement | None = None
    sent_brakes: tuple[str, ...] = ()

    @property
    def adjustments(self) -> tuple[BrakeFile, ...]:
        """The temporary adjustments in force (they may loosen), of `brakes`."""
        return tuple(b for b in self.brakes if b.kind == "adjustment")

    @property
    def stale(self) -> bool:
        """The served bundle is past its expiry: still served, but no longer vouched for (the
        signer stopped renewing it, or this replica stopped receiving new ones)."""
        return self.bundle is not None and datetime.now(UTC) >= self.bundle.expires_at


Subscriber = Callable[[PolicySnapshot, PolicySnapshot], object]
ErrorSubscriber = Callable[[PolicyError], object]


# --- what one check decided, as small typed values ------------------------------------


@dataclass(frozen=True, slots=True)
class Applied:
    """A new snapshot was published; with ``refused``, built from the parts of a refused change
    that could be used (see `PolicyStore._salvage`), the refusal announced beside it."""

    old: PolicySnapshot
    new: PolicySnapshot
    subscribers: tuple[Subscriber, ...]
    refused: Refused | None = None


@dataclass(frozen=True, slots=True)
class Refusing:
    """The file is refused, unless it turns out to be still changing (see ``_settled``).

    ``key`` identifies the refused content (its key, or the read error); ``data`` is the key
    of the refused content as read again (`Inputs.key`), None when it could not be read.
    """

    error: PolicyError
    key: str
    data: str | None
    inputs: Inputs | None = None


@dataclass(frozen=True, slots=True)
class Refused:
    """A refusal was recorded: a distinct bad content, counted and reported once."""

    error: PolicyError
    subscribers: tuple[ErrorSubscriber, ...]


Outcome = Applied | Refused | None
"""What a check announces: nothing (no change, or a refusal already reported) is None."""


class Moved:
    """The content moved while the check waited for it to stay put: look again."""


def internal_error(error: Exception, path: Path) -> PolicyInternalError:
    """A failure no rule foresaw, as a refusal: counted, reported, health degraded."""
    return PolicyInternalError.single(
        f"internal error while checking the file: {type(error).__name__}: {error}"
        " (the last good policy stays; see the log for details)",
        source=str(path),
    )


def announce(outcome: Outcome, path: Path, kept_version: int) -> bool:
    """Log an outcome and call its subscribers (never under the store's lock); return whether
    a new snapshot was applied."""
    if outcome is None:
        return False
    if isinstance(outcome, Applied) and outcome.refused is not None:
        announce(outcome.refused, path, outcome.old.version)
    if isinstance(outcome, Refused):
        log.error(
            "refused a change to %s; keeping version %s:\n%s", path, kept_version, outcome.error
        )
        _call(outcome.subscribers, outcome.error)
        return False
    old, new = outcome.old, outcome.new
    if new.version < old.version:
        log.warning(
            "%s: version went down from %s to %s (a revert?); applied",
            path,
            old.version,
            new.version,
        )
    elif new.digest != old.digest:
        log.info("%s: applied version %s (sha256 %s)", path, new.version, new.digest[:12])
    before, after = {b.name for b in old.brakes}, {b.name for b in new.brakes}
    for brake in new.brakes:
        if brake.name not in before:
            log.info("brake %s is on until %s: %s", brake.name, brake.content.until, brake.reason)
    for brake in old.brakes:
        if brake.name not in after:
            log.info("brake %s lifted", brake.name)
    _call(outcome.subscribers, old, new)
    return True


def _call(callbacks: tuple[Callable[..., object], ...], *args: object) -> None:
    for callback in callbacks:
        try:
            callback(*args)
        except Exception:
            log.exception("policy subscriber %r raised; the others still run", callback)


_BARRIER_TIMEOUT = 0.5


# --- whether content on disk has settled: the two waits a check makes -----------------


def stays_put(
    schedule: Schedule, read: Callable[[], str], key: str, grace: float, *, barrier: bool
) -> bool:
    """With no event saying the writer is done: the same content (``read()`` gives its key)
    after ``grace``, and (with ``barrier``, i.e. inotify) no write reported up to the close of
    the policy file by that second read."""
    if not schedule.sleep(grace):
        return False
    reads_before = schedule.reads
    try:
        again = read()
    except PolicyError:
        return False
    if barrier:
        # A directory not watched yet (just swapped in) reports nothing: after the timeout the
        # stay-put rule alone decides, as with polling.
        schedule.reported_through(reads_before, _BARRIER_TIMEOUT)
    return again == key and not schedule.writing


def settled(schedule: Schedule, read: Callable[[], str], refused: str | None, grace: float) -> bool:
    """Whether the file still holds the refused bytes after ``grace``: an in-place write can
    be read between its truncate and its write, and that half-written state must not be
    counted and reported as a refused change. Valid content is applied without this wait."""
    if not schedule.sleep(grace):
        return False
    try:
        return read() == refused
    except PolicyError:
        return refused is None


_MAX_ROUNDS = 20  # looks per check before leaving a changing file to the next event


_MIN_GRACE = 0.02


DEFAULT_DEBOUNCE = 0.005
"""Quiet time after a write event before reading: coalesces truncate-then-write bursts. A rename
or a close-after-write ends the wait at once (see live/_schedule.py for what is then trusted)."""

DEFAULT_RECONCILE_INTERVAL = 30.0


# --- the store --------------------------------------------------------------------------


def _is_brake(path: Path, data: bytes, now: datetime) -> bool:
    """Whether a kept override file is a brake (a kept file parsed once already; a file that
    no longer does counts as not one)."""
    try:
        return parse_brake(data, path, now).kind == "brake"
    except PolicyError:
        return False


def _bounded_number(value: object) -> float | int | None:
    return as_number(value, bounded=True)


class PolicyStore:
    """The live policy: loaded now, then kept current as the file changes.

    Args:
        path: The policy file; default ``$QT_POLICY_FILE`` or ``policy/policy.yaml``.
        env: Environment for ``QT_*`` overrides, re-read on every reload: None reads
            ``os.environ``, ``{}`` ignores it.
        watch: Watch the file; with False the store changes only on `refresh()`.
        poll_interval: Poll every this many seconds instead of using inotify (network
            filesystems, where inotify sees nothing).
        debounce: Seconds of quiet after a write event before the file is read.
        reconcile_interval: Seconds between checks made whatever the events say.
        brakes_dir: The brakes' directory; default ``$QT_OVERRIDES_DIR``, else
            ``overrides/`` next to the file. Watched like the file; a brake is applied at its
            ``from`` and lifted at its ``until`` by a timer, with no file event needed.
            ``overrides_dir``, its first name, is still accepted.
        last_good: A file where the inputs of every applied policy are kept (atomically). When
            the policy cannot be used at start, the store starts from what is kept there, if
            it is intact and valid, reports the error (status degraded), and applies the file
            as soon as it is valid.
        decision_log: A JSON Lines file where `decide` logs each decision (``decision_mask``:
            context keys whose values are replaced by ``***``).
        trust: A directory of trusted public keys (one PEM Ed25519 key per ``.pem`` file);
            default ``$QT_POLICY_TRUST``, else none. With it the store serves only signed
            bundles: the policy file, its brake files and the signed statement beside them
            (``policyctl bundle build``) verified as a whole, never older than a bundle
            already applied (see `live/_trust.py`); anything else is refused like a bad file.

    Raises:
        PolicyError: The first load failed (and nothing usable is kept in ``last_good``): a
            service must not start on a policy it cannot read.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        env: Mapping[str, str] | None = None,
        watch: bool = True,
        poll_interval: float | None = None,
        debounce: float = DEFAULT_DEBOUNCE,
        reconcile_interval: float = DEFAULT_RECONCILE_INTERVAL,
        brakes_dir: str | os.PathLike[str] | None = None,
        last_good: str | os.PathLike[str] | None = None,
        decision_log: str | os.PathLike[str] | None = None,
        decision_mask: Iterable[str] = (),
        overrides_dir: str | os.PathLike[str] | None = None,
        trust: str | os.PathLike[str] | None = None,
        signed_brakes: str | os.PathLike[str] | None = None,
    ) -> None:
        check_timings(debounce, reconcile_interval, poll_interval)
        brakes_dir = either_dir(brakes_dir, overrides_dir)
        self._env = env
        environ = os.environ if env is None else env
        # Made absolute once, here: a later os.chdir must not change which file is served.
        self._path = Path(default_policy_path(path, environ)).absolute()
        self._brakes_dir = default_brakes_dir(self._path, brakes_dir, environ).absolute()
        self._keep = None if last_good is None else Path(last_good).absolute()
        if self._keep is not None:
            check_place(self._keep, self._path, self._brakes_dir)
        self._trusted = default_trust(trust, environ)
        self._trust = None if self._trusted is None else Trust(self._trusted, environ)
        self._signed_dir = default_signed_brakes(signed_brakes, environ, self._trusted)
        first = self._start_trusted()
        self._log = None  # opened once the store has a policy: a failed start leaves no thread
        if decision_log is not None:
            self._log = DecisionLog(Path(decision_log).absolute(), mask=decision_mask)
        self._inputs: Inputs = first.inputs
        self._current: PolicySnapshot = first.snapshot
        self._commit = source_commit(self._path)
        self._target = WatchTarget(self._path, self._brakes_dir)
        self._watching = watch
        self._poll_interval = poll_interval
        self._debounce = debounce
        self._reconcile_interval = reconcile_interval
        self._subscribers: Subscribers[Subscriber] = Subscribers()
        self._error_subscribers: Subscribers[ErrorSubscriber] = Subscribers()
        self._reloads = 0
        self._failures: dict[str, int] = {first.error.kind: 1} if first.error else {}
        self._last_error: PolicyError | None = first.error
        self._refused_digest: str | None = first.refused
        self._refused_since = datetime.now(UTC) if first.error else None
        self._serving_last_good = first.error is not None
        if self._keep is not None and first.error is None:
            save(self._keep, self._inputs, self._path)
        self._watcher: _DirectoryWatcher | None = None
        self._thread: threading.Thread | None = None
        self._init_sync()
        self._publish_status()
        self._arm()
        note_if_linked(self._path)
        if watch:
            warn_if_mount_point(self._path)
            self._start()
        remember(self)

    def _start_trusted(self) -> Start:
        """The first load (see `start`), with the rollback floor from ``last_good`` before it
        and, for a store that takes sent brakes, what receiving needs made ready after it."""
        trust, signed_dir = self._trust, self._signed_dir
        if trust is not None and self._keep is not None:
            trust.seed(load(self._keep, self._brakes_dir, self._path, self._trusted), self._path)
        first = start(
            self._path, self._brakes_dir, self._keep, self._build, self._trusted, signed_dir
        )
        if trust is not None:
            trust.applied(first.snapshot.bundle)
            if signed_dir is not None:
                trust.ready()  # a sent brake must not pay for what loads on first use
                # Made now, not by the first brake: a directory appearing beside the policy's
                # is an event that sets a check (and its grace) going just when a brake lands.
                with contextlib.suppress(OSError):
                    signed_dir.mkdir(parents=True, exist_ok=True)
        return first

    def _init_sync(self) -> None:
        # (Re)created after a fork too: a lock held by a thread of the parent stays held forever.
        self._check_lock = threading.Lock()
        self._subscribers.after_fork()
        self._error_subscribers.after_fork()
        previous: Schedule | None = getattr(self, "_schedule", None)
        reconcile = self._reconcile_interval if self._watching else None
        self._schedule = Schedule(self._debounce, reconcile, self._grace())
        self._schedule.closed = previous is not None and previous.closed

    def _build(self, inputs: Inputs) -> PolicySnapshot:
        statement = None if self._trust is None else self._trust.verify(inputs, self._path)
        brakes = list(inputs.brakes)
        now = datetime.now(UTC)
        left_out: list[str] = []
        if self._trust is not None and statement is not None:
            sent, left_out = self._trust.signed_brakes(inputs, now)
            stale = self._trust.stale_brake(statement, now, self._path)
            brakes += sent + ([stale] if stale is not None else [])
        snap = build_snapshot(
            inputs.data, self._path, env=self._env, digest=inputs.digest, brakes=brakes, now=now
        )
        if left_out:  # said where brakes are explained (status, show --explain), and logged
            log.warning("%s", "; ".join(left_out))
            snap = dataclasses.replace(snap, brake_notes=(*snap.brake_notes, *left_out))
        if statement is None:
            return snap
        if self._trust is not None and self._trust.stale_set is not None:
            expiry = statement.expires_at  # composed again then: the stale brake starts
            if now < expiry and (snap.next_change is None or expiry < snap.next_change):
                snap = dataclasses.replace(snap, next_change=expiry)
        from ..pipeline import check_version  # noqa: PLC0415 - loads cryptography

        check_version(statement, snap.version, self._path)
        assert self._trust is not None
        self._trust.tightening_env(snap, os.environ if self._env is None else self._env)
        return dataclasses.replace(snap, bundle=statement)

    def _arm(self) -> None:
        """Wake the worker a millisecond after the next brake edge (the clock is then past it)."""
        edge = self._current.next_change
        deadline = None
        if edge is not None:
            deadline = time.monotonic() + (edge - datetime.now(UTC)).total_seconds() + 0.001
        self._schedule.wake_at(deadline)
        if deadline is not None and not self._watching and self._thread is None:
            self._start_worker()  # no watching, but brakes still start and lift on time

    # --- reading ------------------------------------------------------------------------------

    def current(self) -> PolicySnapshot:
        """The latest valid snapshot. One attribute read: safe from any thread, never torn."""
        return self._current

    def status(self) -> StoreStatus:
        """Counters and the pending error, if the file on disk is being refused.

        One attribute read, like `current()`: it answers at once whatever the file or the
        worker is doing (a health probe must never wait on a check).
        """
        status = self._status
        mode = self._watcher.mode if self._watcher else "off"
        if self._log is not None:  # counted on the signal path: read now
            status = dataclasses.replace(
                status, decisions_logged=self._log.written, decisions_dropped=self._log.dropped
            )
        return status if status.mode == mode else dataclasses.replace(status, mode=mode)

    def decide(
        self,
        *,
        symbol: str,
        strategy: str,
        confidence: float,
        risk_per_trade: float | None = None,
        open_positions: int | None = None,
        **context: Any,
    ) -> SignalVerdict:
        """Evaluate a signal against the current policy (`GlobalPolicy.evaluate_signal`), or,
        given an order's ``risk_per_trade`` and ``open_positions``, an order
        (`GlobalPolicy.evaluate_order`: one of them without the other is refused for the one
        missing); with ``decision_log``, log the decision and its inputs (off the signal path:
        see `decisions/_log.py`)."""
        snap = self._current
        if risk_per_trade is None and open_positions is None:
            verdict = snap.policy.evaluate_signal(
                symbol=symbol, strategy=strategy, confidence=confidence
            )
            order: tuple[Any, Any] | None = None
        else:
            verdict = snap.policy.evaluate_order(
                symbol=symbol,
                strategy=strategy,
                confidence=confidence,
                risk_per_trade=risk_per_trade,  # type: ignore[arg-type]
                open_positions=open_positions,  # type: ignore[arg-type]
            )
            order = (risk_per_trade, open_positions)
        log = self._log
        if log is not None:
            # DecisionLog.record inlined: a method call is a fifth of a decision's cost.
            if len(log.pending) < log.limit:
                context = freeze_context(context) if context else context
                # The inputs as the rules read them (a StrEnum as text, numpy's numbers as
                # numbers), so that the log replays to this verdict; anything else frozen now.
                if type(symbol) is not str or type(strategy) is not str:
                    symbol, strategy = (
                        freeze_input(symbol, as_text),
                        freeze_input(strategy, as_text),
                    )
                if type(confidence) is not float and type(confidence) is not int:
                    confidence = freeze_input(confidence, as_number)
                if order is not None and (
                    type(risk_per_trade) is not float or type(open_positions) is not int
                ):
                    order = (
                        freeze_input(risk_per_trade, _bounded_number),
                        freeze_input(open_positions, as_count),
                    )
                log.pending.append(
                    (now(), snap, verdict, symbol, strategy, confidence, context, order)
                )
            else:
                log.drop()
        return verdict

    def _publish_status(self, snap: PolicySnapshot | None = None) -> None:
        """Publish the status of the state just changed (under the check lock, or in the
        constructor) with one reference assignment; ``snap``: the snapshot about to be served
        (default: the one served)."""
        snap, failures = snap or self._current, self._failures
        self._status = StoreStatus(
            snap.version, snap.digest, self._path, self._reloads, sum(failures.values()),
            MappingProxyType(dict(failures)), self._last_error, snap.loaded_at,
            self._refused_since, self._watcher.mode if self._watcher else "off", snap.brakes,
            snap.next_change, self._commit, self._serving_last_good,
            env=snap.env, env_directions=snap.env_directions, bundle=snap.bundle,
            sent_brakes=tuple(
                b.name for b in snap.brakes
                if self._signed_dir is not None and b.path.parent == self._signed_dir
            ),
        )  # fmt: skip

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(old, new)`` after each swap (a file change, or a brake starting or
        lifting), on the watcher thread. A callback that raises is logged; the others still run.

        Returns:
            A function that unsubscribes ``callback``.
        """
        return self._subscribers.add(callback)

    def subscribe_errors(self, callback: ErrorSubscriber) -> Callable[[], None]:
        """Call ``callback(error)`` once for each distinct refused content of the file."""
        return self._error_subscribers.add(callback)

    # --- checking -----------------------------------------------------------------------------

    def receive_brake(self, envelope: bytes) -> Received:
        """Take a signed brake sent to this replica (the envelope ``policyctl brake
        --sign-with`` writes): verified with the trusted keys, kept in the signed brakes'
        directory, and applied at once. Nothing received this way can loosen anything or lift
        any brake: a brake only tightens. See `Received` for what it answers."""
        if self._trust is None or self._signed_dir is None:
            return Received(
                "not_accepted",
                "this replica takes no signed brakes (it needs trust and a signed brakes"
                " directory)",
            )
        reviewed = {path.name.rsplit(".", 1)[0] for path, _ in self._inputs.brakes}
        received = self._trust.receive(envelope, self._signed_dir, datetime.now(UTC), reviewed)
        if received.outcome != "applied" or received.name is None:
            return received
        name = received.name
        target = self._signed_dir / f"{name}{SIGNED_SUFFIX}"
        # Applied from what is served plus the brake just kept: nothing else is read again
        # (a later check reads the same files, finds the same key, and does nothing).
        with self._check_lock:
            served = self._inputs
            signed = sorted(
                [*(e for e in served.signed if e[0].name != target.name), (target, envelope)],
                key=lambda entry: entry[0].name,
            )
            inputs = inputs_of(
                served.data, served.brakes, served.statement, self._trusted, tuple(signed)
            )
            outcome = self._apply(inputs)
        if isinstance(outcome, Refusing):
            target.unlink(missing_ok=True)
            why = printable(str(outcome.error))[:200]
            return Received("not_a_brake", f"brake {name} was not applied: {why}", name)
        self._announce(outcome)
        snap = self._current
        if any(b.name == name and b.path.parent == self._signed_dir for b in snap.brakes):
            return Received("applied", f"brake {name} is in force", name)
        if any(b.name == name for b in snap.brake_files):
            return Received("scheduled", f"brake {name} is kept, and starts at its 'from'", name)
        # Kept, yet left out of what is served (see the brake notes): taken back, said.
        target.unlink(missing_ok=True)
        self.refresh()
        notes = [n for n in snap.brake_notes if name in n]
        reason = printable(notes[0] if notes else "it was left out of what is served")
        return Received("not_a_brake", f"brake {name} was not applied: {reason}"[:300], name)

    def refresh(self) -> bool:
        """Check the file now; return whether a new snapshot was applied.

        The caller vouches that any write it made is complete (the content is read once, as
        after a rename); a write seen open by the watcher still holds the check back.
        """
        with self._check_lock:
            outcome = self._check("atomic")
        return self._announce(outcome)

    def _announce(self, outcome: Outcome) -> bool:
        """Log and notify outside the lock, so a slow subscriber cannot block a check."""
        return announce(outcome, self._path, self._current.version)

    # --- watching -----------------------------------------------------------------------------

    def _start(self) -> None:
        self._watcher = _DirectoryWatcher(
            self._schedule.notify, self._target.classify, self._poll_interval
        )
        self._watcher.watch(*self._target.watched())
        self._publish_status()  # the watcher's mode
        self._start_worker()
        # A write between the first load and the watch being in place would otherwise wait
        # for the reconciler.
        self._schedule.notify("changed")

    def _start_worker(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"policyctl-store:{self._path.name}", daemon=True
        )
        self._thread.start()

    def _grace(self) -> float:
        """A short wait: how long content must stay put when no event says the writer is done,
        how long a refused file must stay put, and the delay of the follow-up look."""
        return max(4 * self._debounce, _MIN_GRACE)

    def _run(self) -> None:
        while (trigger := self._schedule.wait_for_work()) is not None:
            try:
                with self._check_lock:
                    outcome = self._check(trigger)
                if self._watcher is not None:  # before announcing: subscribers may act on it
                    self._watcher.watch(*self._target.watched())
                self._announce(outcome)
            except Exception as e:  # the watcher thread must survive anything, and say so
                log.exception("policy store check failed unexpectedly; will retry")
                with self._check_lock:
                    outcome = self._refuse(internal_error(e, self._path), f"internal:{e!r}")
                self._announce(outcome)

    def close(self) -> None:
        """Stop watching and join every thread the store started. Idempotent."""
        self._schedule.close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        if self._watcher is not None:
            self._watcher.stop()
        if self._log is not None:
            self._log.close()  # everything queued is written
        forget(self)

    def _restart_after_fork(self) -> None:
        """In a forked child the threads are gone (gunicorn --preload): start them again."""
        self._init_sync()
        if self._log is not None:
            self._log.after_fork()
        self._thread = None
        self._watcher = None
        if not self._schedule.closed:
            self._arm()
            if self._watching:
                self._start()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<PolicyStore {self._path} version={self._current.version}>"

    # --- checks: read the inputs, decide, publish or refuse (under the check lock) ---

    def _check(self, trigger: Trigger) -> Outcome:
        """Read and decide; the caller holds ``_check_lock`` and announces the outcome.

        Bounded: content that keeps changing is left for the next event or the reconciler, and
        a closing store stops at once, so neither a writer nor `close()` can keep it looping.
        """
        if trigger == "edge":
            return self._recompose() if self._edge_passed() else None
        for _ in range(_MAX_ROUNDS):
            if self._schedule.closed:
                return None
            outcome = self._check_once(trigger)
            if isinstance(outcome, Moved):
                continue
            if not isinstance(outcome, Refusing):
                return outcome
            if self._settled(outcome.data):
                refused = self._refuse(outcome.error, outcome.key)
                return self._salvage(outcome, refused) or refused
        return None

    def _check_once(self, trigger: Trigger) -> Applied | Refusing | Moved | None:
        if self._schedule.writing:
            return None  # a write is open: its close (or its timeout) brings us back
        try:
            inputs = read_inputs(self._path, self._brakes_dir, self._trusted, self._signed_dir)
        except PolicyError as e:
            return Refusing(e, f"unreadable:{e}", None)
        if inputs.key == self._inputs.key:
            self._clear_refusal()  # e.g. a bad change reverted by hand
            return self._recompose() if self._edge_passed() else None
        if trigger == "unconfirmed" and not self._stays_put(inputs.key):
            return Moved()
        if inputs.key == self._refused_digest and not self._time_may_change(self._last_error):
            return None  # already counted and reported
        return self._apply(inputs)

    def _apply(self, inputs: Inputs) -> Applied | Refusing:
        try:
            snap = self._build(inputs)
        except PolicyError as e:
            return Refusing(e, inputs.key, inputs.key, inputs)
        except Exception as e:  # a bug or a fault no rule foresaw: still a refusal, recorded
            log.debug("checking %s failed unexpectedly", self._path, exc_info=True)
            return Refusing(internal_error(e, self._path), inputs.key, inputs.key)
        self._commit = source_commit(self._path)
        if self._trust is not None:
            self._trust.applied(snap.bundle)
        kept, self._inputs, self._serving_last_good = self._inputs, inputs, False
        self._reloads += 1
        self._refused_digest = self._refused_since = self._last_error = None
        # The status first: a reader who sees the new snapshot then sees its status too.
        self._publish_status(snap)
        old, self._current = self._current, snap  # the one publication step
        if self._keep is not None and inputs.key != kept.key:
            save(self._keep, inputs, self._path)
        self._arm()
        return Applied(old, snap, self._subscribers.all)

    def _salvage(self, refusing: Refusing, refused: Refused | None) -> Applied | None:
        """What can still be applied of a refused change, since brakes only tighten: each
        valid brake file (a broken one keeps its last good version, a new broken one is left
        out, a removed one stays) over the new policy file if it is valid alone, else over the
        last good one. The
        refusal stays reported (status, failures, log); the disk's content is not read again
        until it changes. None when nothing new can be served."""
        inputs = refusing.inputs
        if inputs is None or self._trust is not None:
            return None  # under trust, nothing is served that a signature does not cover
        now = datetime.now(UTC)
        kept = {p.name: (p, b) for p, b in self._inputs.brakes}
        brakes = []
        for path, data in inputs.brakes:
            try:
                is_brake = parse_brake(data, path, now).kind == "brake"
            except PolicyError:
                is_brake = False
            if is_brake:
                brakes.append((path, data))
            elif path.name in kept:  # a broken file, or an adjustment: what was served
                brakes.append(kept[path.name])
        # A brake removed while something is refused stays until the change applies whole:
        # a salvage only ever tightens. An adjustment removed goes (it may loosen), and a new
        # or changed one waits for the change to apply whole.
        present = {p.name for p, _ in inputs.brakes}
        brakes += [
            kept[name] for name in kept if name not in present and _is_brake(*kept[name], now)
        ]
        brakes.sort(key=lambda brake: brake[0].name)
        policy = inputs.data
        try:
            build_snapshot(policy, self._path, env=self._env)
        except PolicyError:
            policy = self._inputs.data
        digest = hashlib.sha256(policy).hexdigest()
        key = inputs_digest(digest, brakes) or digest
        if key in (inputs.key, self._inputs.key):
            return None  # the change as it is, or nothing new
        since = self._refused_since  # counted and reported by _refuse: kept as it said
        try:
            applied = self._apply(Inputs(policy, tuple(brakes), digest, key))
        except Exception:  # a salvage never makes a refusal worse
            return None
        if not isinstance(applied, Applied):
            return None
        self._refused_digest, self._last_error = refusing.key, refusing.error
        self._refused_since = since
        self._publish_status()
        return dataclasses.replace(applied, refused=refused)

    def _edge_passed(self) -> bool:
        return (edge := self._current.next_change) is not None and datetime.now(UTC) >= edge

    def _recompose(self) -> Applied | None:
        """A brake starts or lifts: the same files, composed again at the new moment. A
        refusal of what is on disk stays reported: the kept inputs are not the disk's."""
        refusal = (self._refused_digest, self._refused_since, self._last_error)
        last_good = self._serving_last_good  # the same inputs: still the kept ones, if they were
        outcome = self._apply(self._inputs)
        if isinstance(outcome, Refusing):  # the environment changed meanwhile: keep serving
            self._refuse(outcome.error, outcome.key)
            self._arm()
            return None
        if refusal[2] is not None or last_good:
            self._refused_digest, self._refused_since, self._last_error = refusal
            self._serving_last_good = last_good
            self._publish_status()
        return outcome

    def _read_key(self) -> str:
        return read_inputs(self._path, self._brakes_dir, self._trusted, self._signed_dir).key

    def _stays_put(self, key: str) -> bool:
        w = self._watcher
        grace = self._grace()
        barrier = w is not None and w.mode == "inotify" and w.covers(self._path)
        if w is not None and w.mode == "inotify" and not barrier:
            # The file's directory was swapped in or made again since the last look: a writer
            # there may have begun unseen. Watched from now on, what was read must then stay
            # put as long as a silent writer is given before it counts as done.
            w.watch(*self._target.watched())
            barrier = w.covers(self._path)
            grace = max(grace, WRITE_TIMEOUT)
        return stays_put(self._schedule, self._read_key, key, grace, barrier=barrier)

    def _refuse(self, error: PolicyError, key: str) -> Refused | None:
        if key == self._refused_digest:
            return None
        self._refused_digest = key
        self._refused_since = datetime.now(UTC)
        self._last_error = error
        self._failures[error.kind] = self._failures.get(error.kind, 0) + 1
        self._publish_status()
        return Refused(error, self._error_subscribers.all)

    @staticmethod
    def _time_may_change(error: PolicyError | None) -> bool:
        """A refusal that time alone lifts (a bundle signed ahead of this machine's clock) is
        worth verifying again once its moment has come: at the next check after it."""
        retry_at = getattr(error, "retry_at", None)
        return retry_at is not None and datetime.now(UTC) >= retry_at

    def _clear_refusal(self) -> None:
        changed = self._refused_digest is not None or self._last_error is not None
        self._refused_digest = None
        self._refused_since = None
        self._last_error = None
        if changed or self._status.reloads != self._reloads:
            self._publish_status()

    def _settled(self, refused: str | None) -> bool:
        return settled(self._schedule, self._read_key, refused, self._grace())
