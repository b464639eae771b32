"""``policyctl watch``: a store on the file, one line per applied or refused change."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import TYPE_CHECKING

from ..errors import PolicyEnvError, PolicyError
from ..live import PolicyStore
from ..model import FIELD_NAMES
from ..pipeline import PolicySnapshot
from ._escape import out as _out
from ._escape import printable
from ._exit import EXIT_OK

if TYPE_CHECKING:
    from ..live import PolicyStore
from ._arguments import FILE_HELP, brakes_option, env_for, now_utc
from ._help import seconds

__all__ = ["add_arguments", "run"]


# --- watch --------------------------------------------------------------------------------


def _changed_fields(old: PolicySnapshot, new: PolicySnapshot) -> list[str]:
    return [name for name in FIELD_NAMES if getattr(old.policy, name) != getattr(new.policy, name)]


def _open_store_when_valid(args: argparse.Namespace, stop: threading.Event) -> PolicyStore | None:
    """Like ``tail -F``: a missing or invalid file at start is waited for, said once per
    distinct problem, not a reason to exit. None when stopped while waiting."""

    said = ""
    while not stop.is_set():
        try:
            return PolicyStore(
                args.file,
                env=env_for(args),
                poll_interval=args.poll,
                brakes_dir=args.brakes_dir,
            )
        except PolicyError as e:
            if isinstance(e, PolicyEnvError):
                raise  # the environment will not change under us: waiting cannot help
            if str(e) != said:
                said = str(e)
                _out(f"{now_utc()} waiting for a valid policy: {e.issues[0]}")
                sys.stdout.flush()
            stop.wait(_WATCH_RETRY)
    return None


_WATCH_RETRY = 0.25


class _NoRefusalLog(logging.Filter):
    # watch prints each refusal on stdout itself; the store's log line would repeat it.
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("refused a change")


def run(args: argparse.Namespace) -> int:
    refusing = threading.Event()  # set by a refusal, cleared by an applied version

    def applied(old: PolicySnapshot, new: PolicySnapshot) -> None:
        refusing.clear()
        changed = ", ".join(_changed_fields(old, new)) or "no field (formatting only)"
        before = {b.name for b in old.brakes}
        for brake in new.brakes:
            if brake.name not in before:
                _out(
                    f"{now_utc()} {brake.kind} {printable(brake.name)} on until"
                    f" {brake.content.until}:"
                    f" {printable(brake.reason)}"
                )
        for brake in old.brakes:
            if brake.name not in {b.name for b in new.brakes}:
                ended = "reverted" if brake.kind == "adjustment" else "lifted"
                _out(f"{now_utc()} {brake.kind} {printable(brake.name)} {ended}")
        files_before = {b.name: b.digest for b in old.brake_files}
        files_after = {b.name: b.digest for b in new.brake_files}
        if (
            new.digest == old.digest
            and files_before != files_after
            and not _changed_fields(old, new)
        ):  # a brake file added, changed or removed (a prune) with no effect now: name it
            what = [
                f"{verb} {', '.join(printable(n) for n in sorted(names))}"
                for verb, names in (
                    ("removed", files_before.keys() - files_after.keys()),
                    ("added", files_after.keys() - files_before.keys()),
                    ("changed", {n for n in files_before.keys() & files_after.keys()
                                 if files_before[n] != files_after[n]}),
                )
                if names
            ]  # fmt: skip
            _out(f"{now_utc()} brake files {'; '.join(what)}: no field changed")
        elif new.digest != old.digest or not (before ^ {b.name for b in new.brakes}):
            _out(f"{now_utc()} applied version {new.version} (sha256 {new.digest[:12]}): {changed}")
        else:
            fields = ", ".join(_changed_fields(old, new)) or "no field changed"
            _out(f"{now_utc()} effective policy changed: {fields}")
        sys.stdout.flush()

    def refused(error: PolicyError) -> None:
        refusing.set()
        for issue in error.issues:
            _out(f"{now_utc()} refused: {issue}")
        sys.stdout.flush()

    quiet = _NoRefusalLog()
    handlers = logging.getLogger("policyctl").handlers  # filters on handlers see child loggers
    for handler in handlers:
        handler.addFilter(quiet)
    stop = _stop_on_signals()
    try:
        store = _open_store_when_valid(args, stop)
        if store is None:
            _out(f"{now_utc()} stopped")
            return EXIT_OK
        with store:
            # Subscribe before reading the version shown: a change in between is then printed,
            # never lost (the first line is what a user waits for before editing the file).
            store.subscribe(applied)
            store.subscribe_errors(refused)
            snap = store.current()
            _out(
                f"{now_utc()} watching {printable(str(snap.source))}: version {snap.version}"
                f" (sha256 {snap.digest[:12]}) [{store.status().mode}]; Ctrl-C to stop"
            )
            sys.stdout.flush()
            _follow_recoveries(store, refusing, stop)
            _out(f"{now_utc()} stopped")
    finally:
        for handler in handlers:
            handler.removeFilter(quiet)
    return EXIT_OK


def _stop_on_signals() -> threading.Event:
    """Ctrl-C and SIGTERM set an event the main loop waits on: a KeyboardInterrupt raised at
    an arbitrary point could land inside the store's or the logger's code."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: stop.set())
    return stop


def _follow_recoveries(
    store: PolicyStore, refusing: threading.Event, stop: threading.Event
) -> None:
    """A refused change reverted by hand applies nothing new, so no subscriber hears of it:
    say when the file is back to the version served. Returns when ``stop`` is set."""
    while not stop.wait(_WATCH_RETRY):
        if refusing.is_set() and store.status().last_error is None:
            refusing.clear()
            version = store.current().version
            _out(f"{now_utc()} back to version {version}: the refused change is gone")
            sys.stdout.flush()


def add_arguments(p: argparse.ArgumentParser) -> None:
    """This command's arguments."""
    p.add_argument("file", nargs="?", metavar="FILE", help=FILE_HELP)
    p.add_argument("--poll", type=seconds, metavar="SECONDS", help="poll instead of inotify")
    brakes_option(p)
    p.add_argument("--no-env", action="store_true", help="ignore QT_* variables: the file alone")
