"""The server behind ``policyctl serve``: uvicorn, bounded against slow and crowding clients.

uvicorn times out idle keep-alive connections but never a client that stops halfway through
its request headers: fifty such clients used to stay connected indefinitely. Here every
connection must finish its headers within ``header_timeout`` seconds (and again for each next
request on a kept-alive connection), and at most ``max_connections`` are served at once (the
rest get 503, so a flood cannot exhaust file descriptors). The routes themselves never wait
on the store, so ``/healthz`` answers at once under that load.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["DEFAULT_HEADER_TIMEOUT", "DEFAULT_MAX_CONNECTIONS", "listen", "serve"]

DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_MAX_CONNECTIONS = 512


def _protocol(header_timeout: float) -> type[H11Protocol]:
    class HeaderTimeoutProtocol(H11Protocol):
        """H11Protocol that closes a connection whose request headers do not arrive in time."""

        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def _arm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
            self._header_timer = self.loop.call_later(header_timeout, self._headers_too_slow)

        def _headers_too_slow(self) -> None:
            waiting_for_headers = self.cycle is None or self.cycle.response_complete
            if waiting_for_headers and not self.transport.is_closing():
                self.transport.close()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()  # the next request on this connection gets its own deadline

        def connection_lost(self, exc: Exception | None) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
            super().connection_lost(exc)

    return HeaderTimeoutProtocol


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound before the server starts, so that a bad host or a port in
    use is an ordinary error (`OSError` with the reason), not a server log line."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as e:
        raise OSError(f"cannot listen on {host}:{port}: unknown host ({e.strerror})") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as e:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    sock.set_inheritable(True)
    return sock


def serve(
    app: FastAPI,
    sock: socket.socket,
    *,
    header_timeout: float = DEFAULT_HEADER_TIMEOUT,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    log_level: str = "warning",
    **options: Any,
) -> None:
    """Run ``app`` on the listening socket ``sock`` until SIGTERM or SIGINT."""
    config = uvicorn.Config(
        app,
        http=_protocol(header_timeout),
        limit_concurrency=max_connections,
        timeout_keep_alive=5,
        log_level=log_level,
        **options,
    )
    uvicorn.Server(config).run(sockets=[sock])
