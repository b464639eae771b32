"""``python -m policyctl``: the same as the ``policyctl`` script."""

from .cli import main

raise SystemExit(main())
