"""``smtpsim compare``: run configurations over the same replications and compare them."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from .common import EXIT_FAILURE, EXIT_USAGE, Subparsers, default_out, fail, non_negative_int
from .common import seed as seed_number

if TYPE_CHECKING:
    import pandas as pd
    from pandas.core.frame import PandasNamedTuple  # a row of ``itertuples()``

    from ..experiment.compare import ConfigSource
    from ..experiment.options import RunOptions
    from ..scenario import Problem, Scenario

NAME = "compare"

E = TypeVar("E", bound="_Experiment")

_EPILOG = """\
A configuration is a scenario file, optionally followed by overrides of its own:
FILE::PATH=VALUE[::PATH=VALUE...], applied after the --set overrides common to all.
Every configuration runs the same replications with the same seeds (common random
numbers), so the paired differences to the first configuration have tight intervals.

Prints, per metric and configuration, the mean over replications with the half-width
of its 95 % Student-t confidence interval, then the paired difference of each
configuration to the first, marked * when its interval excludes 0. Writes to --out
(default: results/compare-NAME): the tables runs, table, differences, delays, queues
and errors (CSV and Parquet; columns in docs/experiments.md), report.html, the
figures plots/delay-cdf, plots/metrics and plots/queues, and each run in OUT/runs/
(a result store: running the same command again reuses them).

Metrics: delivery_ratio, bounce_rate, expired_rate, lost_rate, pending_rate,
deferral_rate, delay_p50, delay_p95, delay_p99, mean_queue, peak_queue,
attempts_per_recipient (SMTP attempts, all hops), retries_per_recipient (deferred
attempts) (after the scenario's warm-up: --set warmup=30min); split one by flow,
recipient domain or host: --metric delivery_ratio@domain=bigmail.example,
--metric deferral_rate@host=out, --metric delay_p95@flow=staff. pending_rate (mail
still queued when a run stopped) is always shown, with a warning above 2 %: then
--drain lets every run go on until its queues are empty. Shares get Wilson
intervals [low, high], within 0-100 %.

Examples:
  smtpsim compare scenarios/blacklisting-incident.yaml \\
      scenarios/blacklisting-incident.yaml::hosts.out.postfix.smtp_fallback_relay=none \\
      --label fallback --label no-fallback --replications 10 --jobs 4
  smtpsim compare scenarios/quickstart.yaml scenarios/greylisting.yaml --until 30min
  smtpsim compare scenarios/quickstart.yaml \\
      scenarios/quickstart.yaml::hosts.out.postfix.maximal_backoff_time=1h \\
      --target-ci 5% --metrics delay_p95,deferral_rate --out results/backoff
  smtpsim compare A.yaml B.yaml --scheduler tcp://10.0.0.5:8786

Exit status: 0 when every run completed, 1 when some run failed (they are listed,
and left out of the statistics), 2 for a bad command line or scenario, 130 when
interrupted (finished runs are kept: run the same command again to resume)."""


# --- what compare and sweep share ---------------------------------------------------------


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return int(text)


def fraction(text: str) -> float:
    """``5%`` or ``0.05``: a relative precision."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(
            f"expected a percentage such as 5% (or a fraction such as 0.05), got {text!r}"
        )
    return value


def scheduler_address(text: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9+.-]*://\S+", text):
        raise argparse.ArgumentTypeError(
            f"expected a Dask scheduler address such as tcp://HOST:8786, got {text!r}"
        )
    return text


def add_experiment_arguments(
    parser: argparse.ArgumentParser, replications: int, target_ci: bool = False
) -> None:
    """The options of compare and sweep that mean the same in both."""
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a value in every run, e.g. warmup=30min (repeatable)",
    )
    parser.add_argument(
        "--replications",
        "-r",
        type=positive_int,
        default=replications,
        metavar="R",
        help=f"replications of each (default: {replications})",
    )
    parser.add_argument(
        "--jobs",
        "-j",
        type=non_negative_int,
        default=1,
        metavar="J",
        help="local worker processes (default: 1; 0: one per CPU)",
    )
    parser.add_argument(
        "--scheduler",
        type=scheduler_address,
        metavar="tcp://HOST:PORT",
        help="run on this Dask distributed scheduler instead "
        '(needs pip install "smtpsim[distributed]")',
    )
    parser.add_argument(
        "--until",
        metavar="TIME",
        help="stop each run at this simulated time, e.g. 30min (default: the scenario's duration)",
    )
    parser.add_argument(
        "--seed",
        type=seed_number,
        metavar="N",
        help="base seed of the replications (default: the scenario's)",
    )
    parser.add_argument(
        "--metrics",
        metavar="NAME,NAME",
        help="metrics to show"
        + (" and to hold to --target-ci" if target_ci else "")
        + " (default: all)",
    )
    parser.add_argument(
        "--metric",
        dest="metric",
        action="append",
        default=[],
        metavar="NAME[@flow|domain|host=VALUE]",
        help="one more metric, possibly split, e.g. "
        "delivery_ratio@domain=bigmail.example (repeatable)",
    )
    parser.add_argument(
        "--drain",
        action="store_true",
        help="after the traffic, run on until the queues are empty "
        "(simulation.drain=true; bounded by simulation.drain_limit)",
    )
    parser.add_argument(
        "--retry-failed",
        action="store_true",
        help="run again the runs that failed before (default: reuse them "
        "from OUT/runs, like every finished run)",
    )
    parser.add_argument(
        "--format",
        choices=("png", "svg"),
        default="png",
        help="image format of the figures (default: png)",
    )
    parser.add_argument("--no-plots", action="store_true", help="do not draw the figures")
    parser.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        help="no progress bar and no tables (files are still written)",
    )


def common_options(
    args: argparse.Namespace, parser: argparse.ArgumentParser
) -> tuple[float | None, tuple[str, ...]]:
    """``--until`` in seconds and the ``--metrics`` asked for (usage errors exit 2)."""
    from ..experiment.metrics import METRICS, parse_metric
    from ..scenario.units import parse_duration

    until = None
    if args.until is not None:
        try:
            until = float(parse_duration(args.until))
        except ValueError as error:
            parser.error(f"--until: {error}")
        if not until > 0:
            parser.error(f"--until: expected a time > 0, got {args.until!r}")
    metrics: tuple[str, ...] = METRICS
    if args.metrics:
        metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip())
        if not metrics:
            parser.error("--metrics: no metric given")
    if args.metric:
        asked = tuple(m.strip() for m in args.metric)
        metrics = (*metrics, *asked) if args.metrics else asked
    for metric in metrics:
        try:
            parse_metric(metric)
        except ValueError as error:
            parser.error(f"--metric{'s' if args.metrics else ''}: {error}")
    if len(set(metrics)) != len(metrics):
        parser.error("--metrics/--metric: a metric is given twice")
    if args.drain:
        args.overrides = [*args.overrides, "simulation.drain=true"]
    return until, metrics


def run_options(
    args: argparse.Namespace, until: float | None, metrics: tuple[str, ...]
) -> RunOptions:
    """What the command line says of every run (``common_options`` first)."""
    from ..experiment.options import RunOptions

    return RunOptions(
        replications=args.replications,
        overrides=tuple(args.overrides),
        seed=args.seed,
        until=until,
        metrics=metrics,
        jobs=args.jobs,
        scheduler=args.scheduler,
        retry_failed=args.retry_failed,
        progress=show_progress(args),
    )


def check_splits(scenarios: Iterable[Scenario], metrics: Iterable[str]) -> None:
    from ..experiment.metrics import check_split

    for metric in metrics:
        for scenario in scenarios:
            check_split(scenario, metric)


def report_problems(prog: str, source: str, problems: Iterable[Problem]) -> int:
    """A scenario's problems, one per line, as ``smtpsim run`` reports them; 2."""
    listed = list(problems)
    print(f"{prog}: {source}: {len(listed)} problem(s):", file=sys.stderr)
    for problem in listed:
        print(f"  {problem.path}: {problem.message}", file=sys.stderr)
    return EXIT_USAGE


def show_progress(args: argparse.Namespace) -> bool:
    return not args.quiet and sys.stderr.isatty()


def execution_failure(prog: str, error: BaseException, scheduler: str | None) -> int:
    """A failure of the machinery (Dask missing or unreachable, a worker lost)."""
    if isinstance(error, ImportError):
        return fail(prog, str(error), EXIT_FAILURE)
    where = f" (scheduler {scheduler})" if scheduler else ""
    return fail(
        prog,
        f"the runs could not be executed{where}: {type(error).__name__}: {error}",
        EXIT_FAILURE,
    )


def interrupted(prog: str, out: Path) -> int:
    print(
        f"{prog}: interrupted; the runs that finished are kept in {out / 'runs'}/: "
        "run the same command again to run only the missing ones",
        file=sys.stderr,
    )
    return 130


def report_failures(
    prog: str,
    errors: pd.DataFrame,
    total: int,
    out: Path,
    describe: Callable[[PandasNamedTuple], str],
) -> None:
    """``N of M runs failed`` and the first few errors, on stderr."""
    n = len(errors)
    print(
        f"{prog}: {n} of {total} run(s) failed (left out of the statistics; "
        f"tracebacks in {out / 'errors.csv'}):",
        file=sys.stderr,
    )
    for row in list(errors.itertuples())[:5]:
        print(f"  {describe(row)}: {row.error}", file=sys.stderr)
    if n > 5:
        print(f"  ... and {n - 5} more", file=sys.stderr)


class _Experiment(Protocol):
    """What ``compare()`` and ``sweep()`` return, as far as the commands use it."""

    failed: int
    errors: pd.DataFrame
    runs: pd.DataFrame

    def write(self, out: Path, *, fmt: str, plots: bool) -> list[Path]: ...


def run_and_write(
    prog: str,
    args: argparse.Namespace,
    out: Path,
    start: Callable[[], E],
    show: Callable[[E, list[Path]], None],
    describe: Callable[[E, PandasNamedTuple], str],
) -> int:
    """Run the experiment (``start()``), write its results to ``out``, ``show`` them
    unless ``--quiet`` and list the runs that failed (``describe(result, row)``
    names one). Returns the exit status: 130 when interrupted (finished runs are
    kept), 1 when the runs could not be executed or some failed, 2 when the results
    cannot be written."""
    try:
        result = start()
    except KeyboardInterrupt:
        return interrupted(prog, out)
    except (ImportError, OSError, RuntimeError) as error:
        return execution_failure(prog, error, args.scheduler)
    try:
        written = result.write(out, fmt=args.format, plots=not args.no_plots)
    except OSError as error:
        return fail(prog, f"cannot write results to {out}: {error}", EXIT_USAGE)
    if not args.quiet:
        show(result, written)
    if result.failed:
        report_failures(
            prog, result.errors, len(result.runs), out, lambda row: describe(result, row)
        )
        return EXIT_FAILURE
    return 0


# --- compare -----------------------------------------------------------------------------


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="compare configurations over replications, with confidence intervals",
        description=__doc__,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "configs",
        nargs="+",
        metavar="SCENARIO[::PATH=VALUE...]",
        help="configurations: scenario files, each with overrides of its own after '::'",
    )
    parser.add_argument(
        "--label",
        dest="labels",
        action="append",
        metavar="NAME",
        help="name of each configuration, in order (repeat once per "
        "configuration; default: the file name)",
    )
    add_experiment_arguments(parser, replications=10, target_ci=True)
    parser.add_argument(
        "--target-ci",
        type=fraction,
        metavar="PCT",
        help="add replications until every metric's confidence half-width "
        "is within PCT of its mean, e.g. 5%% (Law & Kelton's "
        "sequential procedure)",
    )
    parser.add_argument(
        "--max-replications",
        type=positive_int,
        default=100,
        metavar="N",
        help="stop --target-ci at this many replications (default: 100)",
    )
    parser.add_argument(
        "--out", metavar="DIR", help="where to write the results (default: results/compare-NAME)"
    )
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    until, metrics = common_options(args, parser)
    from ..experiment.compare import (
        Comparison,
        ConfigError,
        check_config,
        compare,
        make_configs,
    )

    if args.labels is not None and len(args.labels) != len(args.configs):
        parser.error(
            f"{len(args.labels)} --label for {len(args.configs)} configuration(s): "
            "give one per configuration, in order"
        )
    try:
        configs = make_configs(args.configs, args.labels)
    except ConfigError as error:
        return report_problems(parser.prog, error.source, error.problems)
    except ValueError as error:
        parser.error(str(error))
    status = 0
    for config in configs:
        try:
            check_config(config, args.overrides)
        except ConfigError as error:
            status = report_problems(parser.prog, f"{error.source} ({error.label})", error.problems)
    if status:
        return status
    default = default_out(f"compare-{Path(configs[0].source).stem}")
    out = Path(args.out) if args.out else default
    sources: list[ConfigSource] = [
        (c.source if c.source != "<text>" else c.text, c.overrides) for c in configs
    ]
    try:
        check_splits([check_config(c, args.overrides) for c in configs], metrics)
    except ValueError as error:
        parser.error(f"--metric: {error}")

    def start() -> Comparison:
        return compare(
            sources,
            run_options(args, until, metrics),
            labels=[c.label for c in configs],
            target_ci=args.target_ci,
            max_replications=args.max_replications,
            out=out,
        )

    def show(result: Comparison, written: list[Path]) -> None:
        print(result.format())
        print()
        print(
            f"results: {out}/ (runs, table, differences, delays, queues, errors "
            f".csv/.parquet; report.html; runs/ keeps each run)"
        )
        figures = [p for p in written if p.parent.name == "plots"]
        if figures:
            print(f"plots: {out / 'plots'}/ ({', '.join(p.stem for p in figures)} .{args.format})")

    return run_and_write(
        parser.prog,
        args,
        out,
        start,
        show,
        lambda _result, row: f"{row.config}, replication {row.replication}",
    )
