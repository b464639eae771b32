"""``policyctl serve``: the live policy, read-only over HTTP."""

from __future__ import annotations

import argparse
import signal
import sys

from ._arguments import FILE_HELP, brakes_option, env_for, now_utc
from ._escape import out as _out
from ._escape import printable
from ._exit import EXIT_OK, UsageError
from ._help import port

__all__ = ["add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", nargs="?", metavar="FILE", help=FILE_HELP)
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
        "--trust",
        metavar="KEYDIR",
        help="serve only signed bundles verified with the public keys in KEYDIR (default:"
        " $QT_POLICY_TRUST)",
    )
    p.add_argument(
        "--signed-brakes",
        metavar="DIR",
        help="with --trust: apply the signed brakes kept in DIR, and take new ones by POST"
        " /api/policy/brakes (default: $QT_SIGNED_BRAKES_DIR)",
    )
    p.add_argument(
        "--log-level",
        choices=("critical", "error", "warning", "info", "debug"),
        default="warning",
        help="server log level; info adds one access line per request (default warning)",
    )


def run(args: argparse.Namespace) -> int:
    try:
        from ..http import create_app, listen, serve  # noqa: PLC0415
    except ImportError as e:
        raise UsageError(
            f"serve needs the 'serve' extra ({e.name} is missing): pip install 'policyctl[serve]'"
        ) from None
    try:
        sock = listen(args.host, args.port)  # before the store: a usage error costs nothing
    except OSError as e:
        raise UsageError(str(e)) from None
    app = create_app(
        args.file,
        env=env_for(args),
        brakes_dir=args.brakes_dir,
        last_good=args.last_good,
        trust=args.trust,
        signed_brakes=args.signed_brakes,
    )
    host, port = sock.getsockname()[:2]
    version = app.state.policy_store.current().version  # create_app opened it
    _out(
        f"{now_utc()} serving http://{host}:{port} (policy {printable(str(args.file))},"
        f" version {version}); SIGTERM or Ctrl-C to stop"
    )
    sys.stdout.flush()
    # uvicorn handles SIGTERM and SIGINT: it stops accepting, runs the lifespan shutdown (which
    # closes the store), then re-raises the signal to whatever handler was there before it.
    # Ours records that the shutdown was clean, so a SIGTERM from Kubernetes exits 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: None)
    serve(app, sock, header_timeout=args.header_timeout, log_level=args.log_level)
    _out(f"{now_utc()} stopped")
    return EXIT_OK
