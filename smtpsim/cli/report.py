"""``smtpsim report``: (re)build the report.html of a run from its results directory."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import EXIT_FAILURE, EXIT_USAGE, Subparsers, fail, read_results

NAME = "report"

_EPILOG = """\
Reads the tables and meta.json that 'smtpsim run' wrote to DIR, and writes
DIR/report.html (or --out): one self-contained page (figures embedded, no script;
it can be mailed alone) with the question the scenario asks (its header comments
and description), seed, scenario digest and versions, the summary, the five run
figures, tables per recipient domain, per host and of the incidents, the most
frequent failure replies, and the scenario's YAML (kept in DIR/scenario.yaml).
'smtpsim run' writes the same page unless --no-report.

Examples:
  smtpsim report results/quickstart-seed42
  smtpsim report results/quickstart-seed42 --out /tmp/qs.html

Exit status: 0 when the report was written, 1 for a bug of ours, 2 for a bad
command line or a directory that holds no readable results."""


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="(re)build the report.html of a run",
        description=__doc__,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("dir", metavar="DIR", help="a results directory of 'smtpsim run'")
    parser.add_argument(
        "--out", metavar="FILE", help="where to write the page (default: DIR/report.html)"
    )
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    directory = Path(args.dir)
    read = read_results(directory, parser.prog)
    if isinstance(read, int):
        return read  # the failure, reported
    result, info = read
    from ..reports.run import build_run_report

    out = Path(args.out) if args.out else directory / "report.html"
    try:
        page = build_run_report(result, directory)
    except Exception as error:  # a bug of ours: one line, not a traceback
        return fail(
            parser.prog, f"cannot build the report: {type(error).__name__}: {error}", EXIT_FAILURE
        )
    try:
        out.write_text(page, encoding="utf-8")
    except OSError as error:
        return fail(parser.prog, f"cannot write {out}: {error}", EXIT_USAGE)
    print(f"report of {info.describe()}: {out}")
    return 0
