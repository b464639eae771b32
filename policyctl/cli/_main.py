"""The ``policyctl`` command: argument parsing and output only; the work is in the library.

Exit status: 0 success; 1 the policy is invalid or a check failed; 2 a usage error, or a file
that cannot be read; 3 an internal error (a bug: rerun with ``--debug`` for the traceback).
"""

from __future__ import annotations

import argparse
import difflib
import logging
import os
import re
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .. import __version__
from ..errors import PolicyError
from ..pipeline import POLICY_FILE_VARIABLE
from ._brakes import add_brake_arguments, cmd_brake
from ._colour import configure as configure_colour
from ._commands import (
    cmd_diff,
    cmd_env,
    cmd_get,
    cmd_log,
    cmd_schema,
    cmd_show,
    cmd_validate,
)
from ._editing import cmd_add, cmd_remove, cmd_reset, cmd_set, cmd_unset
from ._escape import err, terminal
from ._escape import out as _out
from ._exit import EXIT_BUG, EXIT_OK, EXIT_USAGE, UsageError, exit_status
from ._help import EXAMPLES, GENERAL, port, positive, seconds
from ._paths import locate
from ._propose import add_lane_arguments, add_propose_arguments, cmd_lane, cmd_propose
from ._replay import add_replay_arguments, cmd_replay
from ._rollout import add_rollout_arguments, cmd_doctor, cmd_rollout
from ._running import cmd_serve, cmd_watch

__all__ = ["main"]


# --- parser and main ------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would exit; we return 2 from main()
        choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if choice:
            options = re.findall(r"'([^']*)'", choice.group(2))
            close = difflib.get_close_matches(choice.group(1), options, n=1)
            message += f"; did you mean {close[0]!r}?" if close else ""
        raise UsageError(f"{message}\n{self.format_usage().rstrip()}")


_DIFF_EPILOG = (
    "A name that is both an existing path and a git revision is refused (exit 2). As with"
    " git, arguments before `--` are revisions and arguments after it are files:"
    " `policyctl diff HEAD^1 HEAD --`."
)


def _completion(args: argparse.Namespace) -> int:
    """The completion script, generated from this very parser (shtab), so it never drifts."""
    import shtab  # noqa: PLC0415 (only this command needs it)

    sys.stdout.write(shtab.complete(_parser(), shell=args.shell))
    return EXIT_OK


def _collection_commands(command: Callable[..., Any]) -> None:
    dry_run = "print the change, write nothing"
    for name, func, text in (
        ("add", cmd_add, "add one item at the end of a list: allowed_symbols, allowed_strategies"),
        ("remove", cmd_remove, "remove one item from a list"),
    ):
        p = command(name, func, text)
        p.add_argument("path", metavar="FIELD", help="allowed_symbols or allowed_strategies")
        p.add_argument("item", metavar="ITEM")
        p.add_argument("file", nargs="?", metavar="FILE", help=_FILE_HELP)
        p.add_argument("--dry-run", action="store_true", help=dry_run)
    p = command("unset", cmd_unset, "remove a map entry or a list item")
    p.add_argument("path", metavar="PATH", help="model_versions.lstm, allowed_symbols[1], ...")
    p.add_argument("file", nargs="?", metavar="FILE", help=_FILE_HELP)
    p.add_argument("--dry-run", action="store_true", help=dry_run)


def _common_parent() -> _Parser:
    # --debug also after the command (policyctl validate --debug): SUPPRESS keeps a subcommand
    # without it from resetting what was given before the command.
    common = _Parser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks"
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


def brakes_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--brakes-dir",
        "--overrides-dir",  # its first name, kept for existing scripts
        dest="brakes_dir",
        metavar="DIR",
        help="the brake files' directory; default: $QT_OVERRIDES_DIR, else overrides/ next to"
        " the policy file",
    )


def _reading_commands(command: Callable[..., Any]) -> None:
    p = command("validate", cmd_validate, "check policy files against every rule")
    p.add_argument("files", nargs="*", metavar="FILE", help=_FILE_HELP + "; - reads stdin")
    p.add_argument("--with-env", action="store_true", help="also apply this QT_* environment")
    brakes_option(p)
    p.add_argument("--format", choices=("text", "json", "github"), default="text")

    p = command("show", cmd_show, "print the effective policy (file + environment)")
    p.add_argument("file", nargs="?", metavar="FILE", help=_FILE_HELP)
    p.add_argument("--format", choices=("yaml", "json"), default="yaml")
    p.add_argument("--explain", action="store_true", help="say where each value came from")
    brakes_option(p)
    p.add_argument("--no-env", action="store_true", help="ignore QT_* variables: the file alone")

    p = command("get", cmd_get, "print one value, e.g. risk_mode or model_versions.lstm")
    p.add_argument("path", metavar="PATH")
    p.add_argument("file", nargs="?", metavar="FILE", help=_FILE_HELP)
    p.add_argument("--no-env", action="store_true", help="ignore QT_* variables: the file alone")
    brakes_option(p)

    p = command("schema", cmd_schema, "print, write or check the committed JSON Schema")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="write the schema file")
    mode.add_argument("--check", action="store_true", help="exit 1 if the file is out of date")
    p.add_argument(
        "--kind",
        choices=("policy", "override"),
        help="which schema: the policy's (default) or an override file's; --write and --check"
        " without --kind or --path cover both",
    )
    p.add_argument("--path", help="schema file (default: schemas/ in the repository)")


def _serve_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", nargs="?", metavar="FILE", help=_FILE_HELP)
    brakes_option(p)
    p.add_argument(
        "--last-good",
        metavar="PATH",
        help="keep every applied policy here, and start from it when the file is unusable",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    p.add_argument("--port", type=port, default=8000)
    p.add_argument(
        "--header-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="close a connection whose request headers take longer (default 10)",
    )
    p.add_argument("--no-env", action="store_true", help="ignore QT_* variables: the file alone")
    p.add_argument(
        "--log-level",
        choices=("critical", "error", "warning", "info", "debug"),
        default="warning",
        help="server log level; info adds one access line per request (default warning)",
    )


def _diff_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("base", nargs="?", metavar="BASE", help="file or git revision (default HEAD)")
    p.add_argument(
        "head", nargs="?", metavar="HEAD", help="file or revision (default: working tree)"
    )
    p.add_argument("--base-file", metavar="PATH", help="read the base from this file")
    p.add_argument("--head-file", metavar="PATH", help="read the head from this file")
    p.add_argument("--file", help="the policy file in the repository, for revisions")
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    p.add_argument("--require-bump", action="store_true", help="exit 1 unless version rose")


_FILE_HELP = f"policy file (default: ${POLICY_FILE_VARIABLE} or policy/policy.yaml)"


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="policyctl",
        description="The trading system's GlobalPolicy, in git.",
        epilog=GENERAL,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _global_arguments(parser)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    common = _common_parent()

    def command(
        name: str, func: Callable[[argparse.Namespace], int], text: str, epilog: str = ""
    ) -> Any:
        p = sub.add_parser(
            name,
            help=text,
            description=text,
            epilog="\n\n".join(t for t in (epilog, EXAMPLES.get(name, "")) if t) or None,
            parents=[common],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.set_defaults(func=func)
        return p

    _reading_commands(command)

    p = command(
        "set", cmd_set, "edit one value in place: comments kept, version raised once per change"
    )
    p.add_argument(
        "words",
        nargs="+",
        metavar="PATH VALUE [FILE] | PATH=VALUE... [FILE]",
        help="a field (max_positions), a map entry (model_versions.lstm) or a list item"
        " (allowed_symbols[0]) and its value; several PATH=VALUE make one change",
    )
    p.add_argument("--dry-run", action="store_true", help="print the change, write nothing")

    _collection_commands(command)

    p = command(
        "reset", cmd_reset, "put every field back to the built-in defaults, as a new version"
    )
    p.add_argument("file", nargs="?", metavar="FILE", help=_FILE_HELP)
    p.add_argument("--yes", action="store_true", help="confirm: nothing may trade afterwards")
    p.add_argument("--dry-run", action="store_true", help="print the change, write nothing")

    p = command(
        "diff",
        cmd_diff,
        "semantic diff between two revisions or files, with risk direction",
        _DIFF_EPILOG,
    )
    _diff_arguments(p)

    p = command("log", cmd_log, "the audit trail: each commit that touched the policy")
    p.add_argument("file", nargs="?", metavar="FILE", help=_FILE_HELP)
    p.add_argument("-n", type=positive, metavar="N", help="at most N commits")
    p.add_argument(
        "--brakes", action="store_true", help="the brakes' history instead: each override file"
    )
    p.add_argument("--format", choices=("text", "json"), default="text")

    add_propose_arguments(
        command("propose", cmd_propose, "propose a change: a commit on a new branch, pushed")
    )
    add_lane_arguments(
        command("lane", cmd_lane, "auto (may merge without the risk desk), review or invalid")
    )
    add_rollout_arguments(
        command("rollout", cmd_rollout, "wait until every replica serves the expected policy")
    )
    add_replay_arguments(
        command("replay", cmd_replay, "what a change would do to logged decisions")
    )
    p = command("doctor", cmd_doctor, "what will go wrong for a service reading FILE here")
    p.add_argument("file", nargs="?", metavar="FILE", help=_FILE_HELP)
    brakes_option(p)
    p = command("brake", cmd_brake, "put on, list, lift or prune an emergency brake")
    add_brake_arguments(p)
    brakes_option(p)
    p = command("watch", cmd_watch, "follow the file: one line per applied or refused change")
    p.add_argument("file", nargs="?", metavar="FILE", help=_FILE_HELP)
    p.add_argument("--poll", type=seconds, metavar="SECONDS", help="poll instead of inotify")
    brakes_option(p)
    p.add_argument("--no-env", action="store_true", help="ignore QT_* variables: the file alone")

    _serve_arguments(command("serve", cmd_serve, "serve the live policy read-only over HTTP"))

    completion = "print a shell completion script (bash or zsh)"
    command("completion", _completion, completion).add_argument("shell", choices=("bash", "zsh"))

    p = command("env", cmd_env, "list the QT_* variables, their values here and what they change")
    p.add_argument("--format", choices=("text", "json"), default="text")
    return parser


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
    if args.command in ("diff", "log", "lane", "rollout", "replay"):
        return
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


def _split_at_dashdash(argv: list[str]) -> tuple[list[str], list[str] | None]:
    """``diff``'s arguments around ``--``, read as git reads them: revisions before, files
    after. argparse would drop the ``--`` and with it the caller's disambiguation."""
    if "--" in argv and "diff" in argv[: argv.index("--")]:
        at = argv.index("--")
        return argv[:at], argv[at + 1 :]
    return argv, None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:  # a bare `policyctl`: the whole help, not one usage line (still exit 2, as git)
        _out(_parser().format_help())
        return EXIT_USAGE
    debug = "--debug" in argv
    try:
        argv, after_dashdash = _split_at_dashdash(argv)
        parser = _parser()
        args, extra = parser.parse_known_args(argv)
        # `set a=1 --dry-run FILE`, `brake x=1 --for 1h FILE`: words after an option belong to
        # the command's word list; anything else left over is the usual error.
        if extra and isinstance(getattr(args, "words", None), list):
            if any(word.startswith("-") for word in extra):
                parser.parse_args(argv)  # exits with argparse's own message
            args.words += extra
        elif extra:
            parser.parse_args(argv)
        args.after_dashdash = after_dashdash
        _locate_files(args)
        configure_colour(args.color)
        _setup_logging(args.debug)
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
        return 130
    except BrokenPipeError:
        return _closed_pipe()
    except Exception as e:
        if debug:
            raise
        err(f"policyctl: internal error: {e!r}; rerun with --debug for details")
        return EXIT_BUG
