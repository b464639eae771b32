"""A read-only HTTP view of the live store, for services that do not embed the library.

Public: `router`, `lifespan`, `create_app`, and `serve` (what ``policyctl serve`` runs); the
``serve`` extra: fastapi, uvicorn, prometheus-client. The core library never imports it.

May import: ``policyctl.live``, ``policyctl.pipeline``, ``policyctl.model``,
``policyctl.errors``. Never ``review`` or ``cli``. Modules with a leading underscore are private.
"""

from __future__ import annotations

from ._app import create_app, lifespan, router
from ._server import listen, serve

__all__ = ["create_app", "lifespan", "listen", "router", "serve"]
