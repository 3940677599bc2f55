"""``smtpsim sweep``: run a scenario over a design of parameter values, resumably."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from .common import Subparsers
from .compare import (
    add_experiment_arguments,
    check_splits,
    common_options,
    report_problems,
    run_and_write,
    run_options,
)

if TYPE_CHECKING:
    from pandas.core.frame import PandasNamedTuple  # a row of ``itertuples()``

NAME = "sweep"

_EPILOG = """\
The design: the full factorial of the --vary values (PATH=V1,V2,...; commas inside
[...], {...} or quotes do not split), or the explicit --point list (PATH=V,PATH=V
per point), or each --point crossed with the --vary factorial. Each point runs
--replications times; replication r has the same seed at every point (common random
numbers).

Each finished run is stored in OUT/runs/ as it finishes, keyed by the scenario, its
overrides, the seed and --until: running the same command again runs only the runs
that are missing (none once the sweep is complete), so an interrupted sweep resumes.
A run that fails (say, a value the scenario rejects) is recorded with its error and
the others go on; it is reused like the others next time, unless --retry-failed.

Prints how many runs were run, reused and failed, and per point each metric's mean
with the half-width of its 95 % confidence interval. Writes to OUT: the tables runs,
table and errors (CSV and Parquet; one column per varied parameter; columns in
docs/experiments.md), report.html, and a figure of each metric against each varied
parameter, plots/METRIC-vs-PATH.png.

Examples:
  smtpsim sweep scenarios/quickstart.yaml --vary traffic.staff.rate=1/s,2/s,4/s \\
      --replications 5 --until 30min --out results/rate
  smtpsim sweep scenarios/blacklisting-incident.yaml \\
      --vary hosts.out.postfix.maximal_queue_lifetime=1h,2h,5d \\
      --vary hosts.out.postfix.smtp_fallback_relay=smarthost,none -j 4 --out results/bl
  smtpsim sweep scenarios/quickstart.yaml --point traffic.staff.rate=1/s,links[1].latency=10ms \\
      --point traffic.staff.rate=2/s,links[1].latency=50ms --out results/points

Exit status: 0 when every run completed, 1 when some run failed (they are listed),
2 for a bad command line or scenario, 130 when interrupted (finished runs are kept:
run the same command again to resume)."""


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="run a scenario over a design of parameter values, resumably",
        description=__doc__,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("scenario", metavar="SCENARIO", help="a scenario file (YAML)")
    parser.add_argument(
        "--vary",
        action="append",
        default=[],
        metavar="PATH=V1,V2,...",
        help="a parameter and its values; several --vary give their full factorial (repeatable)",
    )
    parser.add_argument(
        "--point",
        action="append",
        default=[],
        metavar="PATH=VALUE[,PATH=VALUE...]",
        help="one point of an explicit design (repeatable)",
    )
    add_experiment_arguments(parser, replications=3)
    parser.add_argument(
        "--out",
        metavar="DIR",
        required=True,
        help="where to store the runs and write the results (required)",
    )
    parser.set_defaults(run=run)
    return parser


def _design(
    args: argparse.Namespace, parser: argparse.ArgumentParser
) -> tuple[dict[str, list[str]], list[dict[str, str]] | None]:
    from ..experiment.sweep import split_values

    if not args.vary and not args.point:
        parser.error("give at least one --vary PATH=V1,V2 or --point PATH=VALUE")
    vary: dict[str, list[str]] = {}
    for text in args.vary:
        path, sep, values = text.partition("=")
        path = path.strip()
        if not sep or not path or not values.strip():
            parser.error(f"--vary: expected PATH=V1,V2,..., got {text!r}")
        if path in vary:
            parser.error(f"--vary: {path} is given twice; list all its values in one --vary")
        parts = split_values(values)
        if any(p == "" for p in parts):
            parser.error(f"--vary: an empty value in {text!r}")
        vary[path] = parts
    points: list[dict[str, str]] | None = None
    if args.point:
        points = []
        for text in args.point:
            point: dict[str, str] = {}
            for part in split_values(text):
                path, sep, value = part.partition("=")
                if not sep or not path.strip():
                    parser.error(f"--point: expected PATH=VALUE[,PATH=VALUE...], got {text!r}")
                if path.strip() in point:
                    parser.error(f"--point: {path.strip()} is given twice in {text!r}")
                point[path.strip()] = value.strip()
            points.append(point)
    return vary, points


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    until, metrics = common_options(args, parser)
    vary, points = _design(args, parser)
    from ..experiment.sweep import (
        SweepResult,
        check_paths,
        design_points,
        read_scenario,
        sweep,
    )
    from ..scenario import ScenarioError

    try:
        parameters, design = design_points(vary, points)
    except ValueError as error:
        parser.error(str(error))
    try:
        text, _name = read_scenario(args.scenario)
        check_paths(text, args.overrides, parameters, design)
    except ScenarioError as error:
        return report_problems(parser.prog, args.scenario, error.problems)
    try:
        from ..scenario import load_scenario

        check_splits([load_scenario(text, overrides=args.overrides)], metrics)
    except ValueError as error:
        parser.error(f"--metric: {error}")
    out = Path(args.out)

    def start() -> SweepResult:
        return sweep(
            args.scenario, run_options(args, until, metrics), vary=vary, points=points, out=out
        )

    def show(result: SweepResult, written: list[Path]) -> None:
        from ..experiment.report import interval_caption

        print(result.summary_line())
        print()
        print(interval_caption(result.confidence) + ":")
        print(result.format())
        print()
        print(
            f"results: {out}/ (runs, table, errors .csv/.parquet; report.html; "
            "runs/ keeps each run)"
        )
        figures = [p for p in written if p.parent.name == "plots"]
        if figures:
            print(f"plots: {out / 'plots'}/ ({len(figures)} figures, METRIC-vs-PATH.{args.format})")

    def describe(result: SweepResult, row: PandasNamedTuple) -> str:
        index = row.point
        assert isinstance(index, int)  # the point column: design point numbers
        point = ", ".join(f"{k}={v}" for k, v in result.points[index].items())
        return f"{point}, replication {row.replication}"

    return run_and_write(parser.prog, args, out, start, show, describe)
