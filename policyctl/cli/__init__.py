"""The ``policyctl`` command: argument parsing, commands and output formats, no logic of its own.

May import: everything else in ``policyctl`` (``review``, ``live`` and ``http`` lazily, so a
command loads only what it uses). Nothing imports this package but ``__main__`` and the console
script. Modules with a leading underscore are private; the public name is `main`.
"""

from __future__ import annotations

from ._main import main

__all__ = ["main"]
