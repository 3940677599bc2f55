"""``smtpsim validate``: check a scenario file and report every problem at once."""

from __future__ import annotations

import argparse

from .common import Subparsers
from .scenario_args import add_scenario_arguments, load_or_report

NAME = "validate"

_EPILOG = """\
Every problem is reported on its own line with its path in the file, for example
  hosts.mx1.postfix.maximal_backoff_time: expected a duration such as '20ms', got 'fast'
and the exit status is 2; a valid scenario prints one line and exits 0.

Examples:
  smtpsim validate scenarios/quickstart.yaml
  smtpsim validate scenarios/quickstart.yaml --set traffic.staff.rate=5/s"""


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="check a scenario file",
        description=__doc__,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_scenario_arguments(parser)
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    scenario, status = load_or_report(args, parser.prog)
    if scenario is None:
        return status
    print(
        f"{args.scenario}: ok: {scenario.name}: {len(scenario.hosts)} hosts, "
        f"{len(scenario.links)} links, {len(scenario.dns)} DNS zones, "
        f"{len(scenario.traffic)} traffic flows, {scenario.duration:g} s"
    )
    return 0
