"""``smtpsim report``: (re)build the report.html of a run from its results directory."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .common import EXIT_FAILURE, EXIT_USAGE, fail

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


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME, help="(re)build the report.html of a run", description=__doc__,
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("dir", metavar="DIR", help="a results directory of 'smtpsim run'")
    parser.add_argument("--out", metavar="FILE",
                        help="where to write the page (default: DIR/report.html)")
    parser.set_defaults(run=run)
    return parser


def read_results(directory: Path, prog: str) -> tuple[Any, int]:
    """The ``RunResult`` in ``directory`` and 0, or None and the exit status of a
    failure reported on one line."""
    if not directory.is_dir():
        return None, fail(prog, f"no results directory {str(directory)!r}", EXIT_USAGE)
    missing = [name for name in ("messages", "recipients", "attempts", "levels")
               if not (directory / f"{name}.parquet").exists()
               and not (directory / f"{name}.csv").exists()]
    if not (directory / "meta.json").exists():
        missing.append("meta")
    if missing:
        return None, fail(prog, f"{directory} is not a results directory of 'smtpsim run': "
                          f"no {', '.join(missing)} file", EXIT_USAGE)
    from ..metrics.result import RunResult

    try:
        return RunResult.read(directory), 0
    except Exception as error:  # damaged files: pyarrow, pandas and json raise many types
        return None, fail(prog, f"cannot read the results in {directory}: "
                          f"{type(error).__name__}: {error}", EXIT_USAGE)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    directory = Path(args.dir)
    result, status = read_results(directory, parser.prog)
    if result is None:
        return status
    from ..reports.run import build_run_report

    out = Path(args.out) if args.out else directory / "report.html"
    try:
        page = build_run_report(result, directory)
    except Exception as error:  # a bug of ours: one line, not a traceback
        return fail(parser.prog, f"cannot build the report: {type(error).__name__}: {error}",
                    EXIT_FAILURE)
    try:
        out.write_text(page, encoding="utf-8")
    except OSError as error:
        return fail(parser.prog, f"cannot write {out}: {error}", EXIT_USAGE)
    print(f"report: {out}")
    return 0
