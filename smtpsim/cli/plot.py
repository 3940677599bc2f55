"""``smtpsim plot``: draw the figures of a run from its results directory."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from .common import EXIT_FAILURE, EXIT_USAGE, Subparsers, fail, read_results

if TYPE_CHECKING:
    from ..metrics.result import RunResult

NAME = "plot"

_EPILOG = """\
Reads the tables that 'smtpsim run' wrote to DIR (Parquet or CSV, with meta.json)
and writes these figures to --out (default: DIR/plots/):
  delay-cdf        share of recipients delivered within a delay (log delay axis)
  outcomes         delivered, deferred, bounced (and expired) per time interval
  queues           active and deferred queue of each host over time
  bounces-by-dsn   bounced and expired recipients by enhanced status code
  delay-breakdown  delay of delivered recipients split into queue wait, retry wait,
                   greylisting, connection (DNS included), transfer
Incident windows listed in meta.json ("incidents") are shaded on every time axis.
'smtpsim run' writes the same figures to OUT/plots/ unless --no-plots.

Examples:
  smtpsim plot results/quickstart-seed42
  smtpsim plot results/quickstart-seed42 --format svg --out figures/qs

Exit status: 0 when the figures were written, 2 for a bad command line or a
directory that holds no readable results."""


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="draw the figures of a run's results",
        description=__doc__,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("dir", metavar="DIR", help="a results directory of 'smtpsim run'")
    parser.add_argument(
        "--format", choices=("png", "svg"), default="png", help="image format (default: png)"
    )
    parser.add_argument("--out", metavar="DIR", help="where to write them (default: DIR/plots)")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    directory = Path(args.dir)
    read = read_results(directory, parser.prog)
    if isinstance(read, int):
        return read  # the failure, reported
    result, info = read
    out = Path(args.out) if args.out else directory / "plots"
    written, status = write_figures(result, out, args.format, parser.prog)
    if status:
        return status
    print(f"plots of {info.describe()}: {out}/ ({', '.join(p.name for p in written)})")
    return 0


def write_figures(result: RunResult, out: Path, fmt: str, prog: str) -> tuple[list[Path], int]:
    """``write_plots``; the files written and 0, or a failure reported on one line of
    stderr and its exit status (2 for a place that cannot be written, 1 for a bug)."""
    from ..plots import write_plots

    try:
        return write_plots(result, out, fmt=fmt), 0
    except OSError as error:
        return [], fail(prog, f"cannot write plots to {out}: {error}", EXIT_USAGE)
    except Exception as error:  # a bug of ours: one line, not a traceback
        return [], fail(
            prog, f"cannot draw the plots: {type(error).__name__}: {error}", EXIT_FAILURE
        )
