"""``smtpsim``: the entry point; each subcommand lives in its own module.

A subcommand module has ``add_parser(subparsers)``, which declares its options and
returns its parser, and ``run(args, parser) -> int``, which does the work and
returns the exit status. This module only dispatches, and makes sure that no input
ends in a traceback (see ``common`` for how errors are reported).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence

from .. import __version__, compiled
from . import (
    compare,
    demo,
    fit,
    import_config,
    plot,
    report,
    run,
    schema,
    send,
    serve,
    sweep,
    trace,
    validate,
)
from .common import CliParser

__all__ = ["build_parser", "entry", "main"]

_COMMANDS = (
    run,
    compare,
    sweep,
    plot,
    report,
    trace,
    validate,
    schema,
    fit,
    import_config,
    demo,
    serve,
    send,
)

_DESCRIPTION = """\
smtpsim simulates networks of mail servers on a real SMTP protocol core: 'run'
simulates a scenario file, 'compare' compares configurations over replications
with confidence intervals, 'sweep' runs a scenario over a design of parameter
values (resumably), 'plot' draws the figures of a run's results, 'report'
(re)builds its report.html, 'trace' follows one message hop by hop, 'validate'
checks a scenario file, 'schema' prints their JSON Schema, 'fit' makes a scenario
from Postfix logs and 'import postfix' a host from a Postfix configuration.
The same core also talks to real mail software over TCP: 'serve' runs an SMTP
server, 'send' sends one message, and 'demo' shows both at work on this machine."""

_EPILOG = """\
Examples:
  smtpsim run scenarios/quickstart.yaml
  smtpsim compare scenarios/quickstart.yaml scenarios/greylisting.yaml --until 30min
  smtpsim sweep scenarios/quickstart.yaml --vary traffic.staff.rate=1/s,2/s --out results/rate
  smtpsim plot results/quickstart-seed42 --format svg
  smtpsim trace results/quickstart-seed42 alice@corp.example
  smtpsim validate scenarios/quickstart.yaml
  smtpsim fit /var/log/mail.log --out ours.yaml
  postconf -n > main.txt && smtpsim import postfix main.txt --out mta.yaml
  smtpsim demo
  smtpsim serve --listen 127.0.0.1:2525 --domain example.org --maildir ./mail
  smtpsim send --server 127.0.0.1:2525 --from alice@example.net --to bob@example.org -v

Run 'smtpsim COMMAND --help' for the options of each command."""


def build_parser() -> tuple[CliParser, dict[str, CliParser]]:
    """The top-level parser and the parser of each subcommand, by name."""
    parser = CliParser(
        prog="smtpsim",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"smtpsim {__version__}, {compiled.build()}"
    )
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, title="commands"
    )
    commands = {module.NAME: module.add_parser(subparsers) for module in _COMMANDS}
    return parser, commands


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``smtpsim`` with ``argv`` (default: the process's arguments)."""
    parser, commands = build_parser()
    args, extras = parser.parse_known_args(argv)
    command_parser = commands[args.command]
    if extras:
        # argparse would blame the top-level parser; name the subcommand instead.
        command_parser.error(f"unrecognized arguments: {' '.join(extras)}")
    try:
        status: int = args.run(args, command_parser)
        sys.stdout.flush()
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (``smtpsim run ... | head``): stop quietly, as Unix
        # tools do, and keep Python from complaining again when it flushes at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    return status


def entry() -> int:
    """The ``smtpsim`` console script (and ``python -m smtpsim``): ``main()``, then
    ready to exit.

    Everything the process holds is about to go, and Python's last cycle collection
    at exit would free the imported libraries (pandas, matplotlib) one object at a
    time: 0.16 s of ``smtpsim run``'s 4.5 s (issue 10). ``gc.freeze()`` moves every
    object out of the collector's reach, so that collection finds nothing and the
    operating system reclaims the memory at once. Files are not affected: every one
    ``main`` writes is closed before it returns. Called in-process (tests,
    notebooks), use ``main``, which leaves the collector as it was."""
    status = main()
    gc.freeze()
    return status
