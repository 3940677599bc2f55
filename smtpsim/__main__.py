"""``python -m smtpsim``: the same as the ``smtpsim`` command."""

from .cli.main import entry

raise SystemExit(entry())
