"""``smtpsim schema``: print the JSON Schema of scenario files (for editors)."""

from __future__ import annotations

import argparse
import json

from .common import Subparsers

NAME = "schema"

_EPILOG = """\
Editors with YAML language support complete and check scenario files from it, e.g.
with a first line '# yaml-language-server: $schema=smtpsim-scenario.json'.

Examples:
  smtpsim schema > smtpsim-scenario.json"""


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="print the JSON Schema of scenario files",
        description=__doc__,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from ..scenario import scenario_json_schema

    print(json.dumps(scenario_json_schema(), indent=2))
    return 0
