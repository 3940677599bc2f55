"""``python -m smtpsim``: the same as the ``smtpsim`` command."""

from .cli.main import main

raise SystemExit(main())
