"""The ``policyctl`` command: the table of commands, the parser, and ``main``.

Each command is one module here (its arguments in ``add_arguments``, its work in ``run``),
imported only when it runs: ``policyctl validate`` loads nothing of git, watchdog or the web
stack, and ``policyctl --help`` loads no command at all. `exit_status` maps errors to codes.

Exit status: 0 success; 1 the policy is invalid or a check failed; 2 a usage error, or a file
that cannot be read; 3 an internal error (a bug: rerun with ``--debug`` for the traceback).
"""

from __future__ import annotations

import argparse
import difflib
import gc
import importlib
import logging
import os
import re
import signal
import sys
import types
from collections.abc import Sequence
from typing import Any, Final, Protocol, cast

from .. import __version__
from ..errors import PolicyError, printable
from ._colour import configure as configure_colour
from ._escape import err, terminal
from ._escape import out as _out
from ._exit import EXIT_BUG, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, UsageError, exit_status
from ._help import EXAMPLES, GENERAL
from ._paths import locate

__all__ = ["main"]


# --- parser and main ------------------------------------------------------------------------


COMMANDS: Final = {
    # name: (module, one line of help)
    "validate": ("_validate", "check policy files against every rule"),
    "show": ("_show", "print the effective policy (file + environment)"),
    "get": ("_get", "print one value, e.g. risk_mode or model_versions.lstm"),
    "schema": ("_schema", "print, write or check the committed JSON Schema"),
    "set": ("_set", "edit one value in place: comments kept, version raised once per change"),
    "add": ("_add", "add one item at the end of a list: allowed_symbols, allowed_strategies"),
    "remove": ("_remove", "remove one item from a list"),
    "unset": ("_unset", "remove a map entry or a list item"),
    "reset": ("_reset", "put every field back to the built-in defaults, as a new version"),
    "diff": ("_diff", "semantic diff between two revisions or files, with risk direction"),
    "log": ("_log", "the audit trail: each commit that touched the policy"),
    "audit": ("_audit", "the evidence of a period: limit changes, approvals, brakes, adjustments"),
    "propose": ("_propose", "propose a change: a commit on a new branch, pushed"),
    "lane": ("_lane", "auto (may merge without the risk desk), review or invalid"),
    "rollout": ("_rollout", "wait until every replica serves the expected policy"),
    "bundle": ("_bundle", "bundle build: the policy and its brakes with a signed statement"),
    "verify": ("_verify", "check a signed bundle against trusted keys"),
    "replay": ("_replay", "what a change would do to logged decisions"),
    "doctor": ("_doctor", "what will go wrong for a service reading FILE here"),
    "brake": ("_brake", "put on, list, lift or prune an emergency brake"),
    "adjust": ("_adjust", "a temporary adjustment: loosen a limit for at most 24h, reviewed"),
    "watch": ("_watch", "follow the file: one line per applied or refused change"),
    "serve": ("_serve", "serve the live policy read-only over HTTP"),
    "completion": ("_completion", "print a shell completion script (bash or zsh)"),
    "env": ("_env", "list the QT_* variables, their values here and what they change"),
}
"""Every command, in the order ``--help`` lists them."""


class _Command(Protocol):
    def add_arguments(self, p: argparse.ArgumentParser) -> None: ...
    def run(self, args: argparse.Namespace) -> int: ...


def command_module(name: str) -> _Command:
    """The module of command ``name`` (imported now)."""
    module: Any = importlib.import_module(f".{COMMANDS[name][0]}", __package__)
    return cast(_Command, module)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would exit; we return 2 from main()
        choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if choice:
            options = re.findall(r"'([^']*)'", choice.group(2))
            close = difflib.get_close_matches(choice.group(1), options, n=1)
            message += f"; did you mean {close[0]!r}?" if close else ""
        raise UsageError(f"{message}\n{self.format_usage().rstrip()}")


def _common_parent() -> _Parser:
    # --debug also after the command (policyctl validate --debug): SUPPRESS keeps a subcommand
    # without it from resetting what was given before the command.
    common = _Parser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks"
    )
    common.add_argument(  # a global option, accepted after the command too
        "--color",
        choices=("auto", "always", "never"),
        default=argparse.SUPPRESS,
        help="colour loosening red and tightening green",
    )
    return common


def _global_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", action="version", version=f"policyctl {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour loosening red and tightening green (auto: on a terminal, unless NO_COLOR)",
    )


def parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; with ``only``, the arguments of that command alone are added
    (the others keep their name and help), so that only its module is imported."""
    top = _Parser(
        prog="policyctl",
        description="The trading system's GlobalPolicy, in git.",
        epilog=GENERAL,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _global_arguments(top)
    sub = top.add_subparsers(dest="command", required=True, parser_class=_Parser)
    common = _common_parent()
    for name, (_, text) in COMMANDS.items():
        if only is not None and name != only:
            sub.add_parser(name, help=text, add_help=False)
            continue
        module = command_module(name)
        epilog = getattr(module, "EPILOG", "")
        p = sub.add_parser(
            name,
            help=text,
            description=text,
            epilog="\n\n".join(t for t in (epilog, EXAMPLES.get(name, "")) if t) or None,
            parents=[common],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(p)
        # The positional list that also takes words given after options (`set a=1 --dry-run
        # FILE`, `rollout status --expect REV URL URL`): `words`, or the module's REST.
        p.set_defaults(func=module.run, usage=p.format_usage, rest=getattr(module, "REST", "words"))
    return top


def _unrecognized(args: argparse.Namespace, extra: list[str]) -> None:
    """Arguments the command does not take: said with the command's own usage."""
    shown = " ".join(printable(word) for word in extra)
    raise UsageError(f"unrecognized arguments: {shown}\n{args.usage().rstrip()}")


def _command_in(argv: list[str]) -> str | None:
    """The command word: the first argument that names one (global options come before it)."""
    return next((word for word in argv if word in COMMANDS), None)


def _drop_watchdog_stop_race(record: logging.LogRecord) -> bool:
    # watchdog 7 logs this at ERROR when an inotify emitter thread makes one more read after
    # being told to stop (a race inside its own stop sequence, harmless): on every Ctrl-C of
    # `watch` and SIGTERM of `serve` it would look like a failure.
    return not record.getMessage().startswith("InotifyEmitter.queue_events() called when")


class _EscapingFormatter(logging.Formatter):
    """Log records carry file names and refused values: escaped like every other output."""

    def format(self, record: logging.LogRecord) -> str:
        return terminal(super().format(record))


def _setup_logging(debug: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_EscapingFormatter("policyctl: %(levelname)s: %(message)s"))
    root = logging.getLogger("policyctl")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
    root.propagate = False
    logging.getLogger("watchdog.observers.inotify").addFilter(_drop_watchdog_stop_race)


def _locate_files(args: argparse.Namespace) -> None:
    """Every command finds its files by one rule (cli/_paths.py); diff and log apply the same
    rule through git, to a path inside the repository."""
    if args.command in ("diff", "log", "lane", "rollout", "replay", "verify"):
        return
    if args.command == "validate" and args.rev is not None:
        return  # paths in the repository, read from git (validate --rev)
    if args.command == "validate":
        files = [f if f == "-" else str(locate(f)) for f in args.files]
        args.files = files or [str(locate(None))]
    elif args.command == "schema":
        args.path = str(locate(args.path)) if args.path else None
    elif hasattr(args, "file"):
        args.file = str(locate(args.file))


def _closed_pipe() -> int:
    """The reader went away (``policyctl env | head -1``): stop quietly, as Unix tools do, and
    keep Python from reporting the failed flush at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 128 + signal.SIGPIPE


def _refuse_non_utf8(argv: list[str]) -> None:
    """An argument that is not UTF-8 (Python keeps its bytes as lone surrogates) can be
    neither a value nor a name: say which, before anything tries to write it."""
    for word in argv:
        try:
            word.encode("utf-8")
        except UnicodeEncodeError:
            shown = word.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            raise UsageError(f"{printable(shown)!r} is not UTF-8 text") from None


def _split_at_dashdash(argv: list[str]) -> tuple[list[str], list[str] | None]:
    """``diff``'s arguments around ``--``, read as git reads them: revisions before, files
    after. argparse would drop the ``--`` and with it the caller's disambiguation."""
    if "--" in argv and _command_in(argv[: argv.index("--")]) == "diff":
        at = argv.index("--")
        return argv[:at], argv[at + 1 :]
    return argv, None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    if argv is not None:
        return _run(list(argv), whole_process=False)
    # The process's own command line (the console script, ``python -m policyctl``).
    _no_pydantic_plugins()
    # A garbage collection while the modules load finds nothing to free (they are kept to the
    # end), and the full collection at exit only delays it: none until the command runs, and
    # none of what is loaded at exit.
    gc.disable()
    try:
        return _run(sys.argv[1:], whole_process=True)
    finally:
        gc.freeze()
        gc.enable()


def _no_pydantic_plugins() -> None:
    """A command line runs no pydantic plugins (they are for services: tracing, metrics), unless
    the environment asks for them. pydantic's loader then answers "none", but imports
    importlib.metadata (email, zipfile, csv: ~15 ms) and scans every installed package's entry
    points to find that out: stand in for it with the same answer (tests/cli/test_start.py
    holds the stand-in to pydantic's own answer)."""
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    if os.environ["PYDANTIC_DISABLE_PLUGINS"] in ("__all__", "1", "true"):
        loader = types.ModuleType("pydantic.plugin._loader")
        loader.get_plugins = tuple  # type: ignore[attr-defined]
        sys.modules.setdefault("pydantic.plugin._loader", loader)


def _run(argv: list[str], *, whole_process: bool) -> int:
    if not argv:  # a bare `policyctl`: the whole help, not one usage line (still exit 2, as git)
        _out(parser("").format_help())
        return EXIT_USAGE
    debug = "--debug" in argv
    try:
        _refuse_non_utf8(argv)
        argv, after_dashdash = _split_at_dashdash(argv)
        parser_ = parser(_command_in(argv) or "")
        args, extra = parser_.parse_known_args(argv)
        # `set a=1 --dry-run FILE`, `brake x=1 --for 1h FILE`: words after an option belong to
        # the command's word list; anything else left over is the usual error.
        rest = getattr(args, getattr(args, "rest", "words"), None)
        if extra and isinstance(rest, list):
            if any(word.startswith("-") for word in extra):
                _unrecognized(args, extra)
            rest += extra
        elif extra:
            _unrecognized(args, extra)
        args.after_dashdash = after_dashdash
        _locate_files(args)
        configure_colour(args.color)
        _setup_logging(args.debug)
        if whole_process:
            gc.freeze()  # what is loaded by now stays: no collection needs to look at it
            gc.enable()
        status = int(args.func(args))
        sys.stdout.flush()  # a closed pipe shows here, inside the handler, not at exit
        return status
    except SystemExit as e:  # --help and --version
        return e.code if isinstance(e.code, int) else EXIT_OK
    except UsageError as e:
        err(f"error: {e}")
        return EXIT_USAGE
    except PolicyError as e:
        err(str(e))
        return exit_status(e)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return _closed_pipe()
    except Exception as e:
        if debug:
            raise
        err(f"policyctl: internal error: {e!r}; rerun with --debug for details")
        return EXIT_BUG
