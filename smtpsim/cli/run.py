"""``smtpsim run``: simulate a scenario, print its summary, write its results."""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import compiled
from ..progress import ProgressBar, StepBar
from ..text import format_percent
from . import background
from .common import EXIT_FAILURE, EXIT_USAGE, Subparsers, default_out, fail
from .common import seed as seed_number
from .scenario_args import add_scenario_arguments, load_or_report

if TYPE_CHECKING:  # pandas is loaded after the run, not for `smtpsim --help`
    from ..metrics.result import RunResult
    from ..metrics.run_dir import Stage
    from ..metrics.summary import Summary
    from ..scenario import Scenario

NAME = "run"

_EPILOG = """\
Writes to --out (default: results/NAME-seedSEED, NAME made one safe path segment:
letters, digits, . _ - only, never outside ./results): the tables messages, recipients,
attempts and levels (Parquet, or CSV with --format csv; columns in docs/results.md),
summary.json and meta.json (seed, scenario digest, versions, wall time, events),
maillog (the run as one Postfix log of all hosts, which pflogsumm reads; see
docs/results.md, "maillog") unless --no-maillog, and the figures in OUT/plots/
(PNG; see 'smtpsim plot --help') unless --no-plots, and report.html (one
self-contained page; see 'smtpsim report --help') unless --no-report.
The directory is replaced whole or not at all, with a manifest.json written last
(docs/results.md, "The directory, whole or not at all"): an --out that holds an
earlier run is refused unless --force (checked before simulating), and Ctrl-C
leaves it as it was.

Examples:
  smtpsim run scenarios/quickstart.yaml
  smtpsim run scenarios/quickstart.yaml --seed 7 --until 30min --out results/qs7
  smtpsim run scenarios/quickstart.yaml --seed 8 --until 30min --out results/qs7 --force
  smtpsim run scenarios/quickstart.yaml --set traffic.staff.unknown_users=5% --quiet
  smtpsim run scenarios/quickstart.yaml --out results/qs && pflogsumm results/qs/maillog
  smtpsim run scenarios/quickstart.yaml -v --set simulation.session_memo=verify

Exit status: 0 when the run completed, 1 when the simulation failed, 2 for a bad
command line or scenario (including a run stopped by simulation.max_events) or an
--out that cannot be written, 130 when interrupted."""


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="simulate a scenario",
        description=__doc__,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_scenario_arguments(parser)
    parser.add_argument(
        "--seed",
        type=seed_number,
        metavar="N",
        help="random seed, 0 to 2**64-1 (default: the scenario's)",
    )
    parser.add_argument(
        "--until",
        metavar="TIME",
        help="stop at this simulated time, e.g. 30min (default: duration)",
    )
    parser.add_argument(
        "--drain",
        action="store_true",
        help="after the traffic (at the duration or --until), run on until "
        "every queue is empty (bounded by simulation.drain_limit)",
    )
    parser.add_argument("--out", metavar="DIR", help="where to write the results")
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace the earlier run in --out (never a directory that does not hold a run)",
    )
    parser.add_argument(
        "--format",
        choices=("parquet", "csv"),
        default="parquet",
        help="table file format (default: parquet)",
    )
    parser.add_argument(
        "--no-plots", action="store_true", help="do not draw the figures (OUT/plots/*.png)"
    )
    parser.add_argument(
        "--no-report",
        dest="report",
        action="store_false",
        help="do not write OUT/report.html (see 'smtpsim report --help')",
    )
    parser.add_argument(
        "--no-maillog",
        dest="maillog",
        action="store_false",
        help="do not write the maillog (OUT/maillog, Postfix's log format)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar, no summary")
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also say how the run went: SMTP sessions replayed from the "
        "session memo or run through the protocol machines",
    )
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    # Starting up (pandas, networkx and pydantic's models imported, the scenario loaded)
    # makes some 200,000 objects that live to the end and no garbage: the cycle
    # collector is paused meanwhile, as each of its passes would scan them all again
    # (80 ms of the start-up); it runs again during the simulation (``_run``).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _run(args, parser, collecting)
    finally:
        gc.unfreeze()  # called in-process (tests, notebooks): the collector as it was
        if collecting:
            gc.enable()


def _run(args: argparse.Namespace, parser: argparse.ArgumentParser, collecting: bool) -> int:
    from ..scenario.units import parse_duration

    until = None
    if args.until is not None:
        try:
            until = parse_duration(args.until)
        except ValueError as error:
            parser.error(f"--until: {error}")
    scenario, status = load_or_report(args, parser.prog)
    if scenario is None:
        return status
    from ..metrics.run_dir import OutNotEmptyError, RunDirError, Stage

    seed = scenario.seed if args.seed is None else args.seed
    out = Path(args.out) if args.out else default_out(f"{scenario.name}-seed{seed}")
    try:  # before simulating: a run that cannot be kept is refused at once
        stage = Stage(out, replace=args.force)
    except OutNotEmptyError as error:
        return fail(parser.prog, f"{error}; --force replaces it", EXIT_USAGE)
    except (RunDirError, OSError) as error:
        return fail(parser.prog, f"cannot write results to {out}: {error}", EXIT_USAGE)
    part = "simulating"
    from .. import simulation as _simulation  # noqa: F401  (loaded with the collector paused)

    # Everything alive now (the libraries, the scenario) lives until the end: out of
    # the cycle collector's reach, every collection scans only the run's own objects
    # (the one after simulating took 50 ms, mostly pandas' and pydantic's objects), and
    # the forked worker shares these pages instead of copying them as they are scanned.
    gc.freeze()
    if collecting:
        gc.enable()
    # the tables, figures and report: a worker forked now gets ready while this simulates
    worker = _figure_worker(args, parser, stage)
    try:
        result, status = _simulate(args, parser, scenario, seed, until)
        if result is None:
            return status
        gc.collect()  # the model's graph (SimPy processes hold cycles): free before writing
        part = "writing the results"
        summary = result.summary()  # once: summary.json, the report and the terminal
        status = _write(args, parser, result, stage, summary, worker)
        if status == 0:
            _print_summary(args, parser, result, out, summary)
        return status
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted while {part}; " + _kept(stage, out), file=sys.stderr)
        return 130
    finally:
        if worker is not None:
            worker.stop()  # on an error or Ctrl-C: no worker left writing into the stage
        stage.abort()  # nothing once committed; else the target is left as it was


def _kept(stage: Stage, out: Path) -> str:
    """What ``out`` holds after an interrupt, in words."""
    if stage.committed:
        return f"{out} holds this run, complete"
    if stage.previous is not None:
        return f"{out} unchanged: it still holds {stage.previous.describe()}"
    if out.is_dir() and any(out.iterdir()):  # an earlier run that was not whole
        return f"{out} unchanged"
    return f"nothing written to {out}"


def _simulate(
    args: argparse.Namespace,
    parser: argparse.ArgumentParser,
    scenario: Scenario,
    seed: int,
    until: float | None,
) -> tuple[RunResult | None, int]:
    from ..metrics.run_dir import checkpoint
    from ..simulation import EventLimitError, simulate

    bar = None if args.quiet or not sys.stderr.isatty() else ProgressBar(scenario.name)
    try:
        checkpoint("simulating")
        return simulate(
            scenario, seed=seed, until=until, drain=True if args.drain else None, progress=bar
        ), 0
    except EventLimitError as error:  # the scenario asks for too much: say which setting
        return None, fail(parser.prog, str(error), EXIT_USAGE)
    except Exception as error:  # the engine's own bug: report it, keep the trace in meta
        return None, fail(
            parser.prog, f"the simulation failed: {type(error).__name__}: {error}", EXIT_FAILURE
        )
    finally:
        if bar is not None:
            bar.close()


def _figure_worker(
    args: argparse.Namespace, parser: argparse.ArgumentParser, stage: Stage
) -> background.Worker | None:
    """A forked worker for the figures and the report (``background``), when any is
    wanted and this machine forks; it imports matplotlib now, and once ``_write``
    sends it the result writes the tables, then draws. (Without figures the tables
    alone are not worth a process: the parent writes them.)"""
    if args.no_plots and not args.report:
        return None

    def prepare() -> None:
        # what the figures and the report import when they are drawn (plot and
        # reports.run load matplotlib and smtpsim.plots only then)
        from .. import plots as _plots  # noqa: F401
        from ..reports import run as _report  # noqa: F401
        from . import plot as _plot  # noqa: F401

    def work(payload: tuple[RunResult, Summary]) -> int:
        result, summary = payload
        try:
            result.write_tables(stage.path, fmt=args.format)
        except OSError as error:
            return fail(parser.prog, f"cannot write results to {stage.target}: {error}", EXIT_USAGE)
        return _write_figures(args, parser, result, stage, summary)

    return background.start(prepare, work)


def _write(
    args: argparse.Namespace,
    parser: argparse.ArgumentParser,
    result: RunResult,
    stage: Stage,
    summary: Summary,
    worker: background.Worker | None = None,
) -> int:
    """Every file of the run into the stage, then the stage into place.

    With a ``worker``, the tables, the figures and the report are written there while
    this process writes ``summary.json``, ``meta.json`` and the maillog (they depend
    on the result only, not on each other; the two shares take about as long); else
    all here, the figures last. The stage is committed once both are done; a failure
    of either leaves the target as it was."""
    from ..metrics.run_dir import new_run_id

    figures = not args.no_plots or args.report
    parts = 1 + int(args.maillog and result.has_attempts) + 1  # summary, maillog, in place
    if worker is not None:
        parts += 1
    else:
        parts += len(result.table_names)
        if figures:
            parts += int(not args.no_plots) + int(args.report)
    bar = None if args.quiet or not sys.stderr.isatty() else StepBar("writing", parts)
    step = bar if bar is not None else _no_step
    result.meta.setdefault("run_id", new_run_id())  # before the worker gets the result
    try:
        if worker is not None:
            worker.send((result, summary))
        try:
            result.write_files(
                stage.path,
                fmt=args.format,
                maillog=args.maillog,
                step=step,
                summary=summary,
                tables=worker is None,
            )
        except OSError as error:
            return fail(parser.prog, f"cannot write results to {stage.target}: {error}", EXIT_USAGE)
        if worker is not None:
            step("tables, plots and report")
            status = worker.wait()
            if status > 128:  # killed (the OOM killer, kill -9): it could not say so itself
                return fail(
                    parser.prog,
                    f"cannot write the tables, the plots and the report: their process "
                    f"was killed (signal {status - 128})",
                    EXIT_FAILURE,
                )
        elif figures:
            status = _write_figures(args, parser, result, stage, summary, step)
        else:
            status = 0
        if status:
            return status
        step("in place")
        try:
            stage.commit(result.meta)
        except OSError as error:
            return fail(
                parser.prog, f"cannot put the results in {stage.target}: {error}", EXIT_USAGE
            )
        return 0
    finally:
        if bar is not None:
            bar.close()


def _no_step(part: str) -> None:
    pass


def _write_figures(
    args: argparse.Namespace,
    parser: argparse.ArgumentParser,
    result: RunResult,
    stage: Stage,
    summary: Summary,
    step: Callable[[str], None] = _no_step,
) -> int:
    """The figures (OUT/plots/) and report.html into the stage; 0, or the exit status
    of a failure reported on stderr."""
    from ..metrics.run_dir import checkpoint

    if not args.no_plots:
        from .plot import write_figures  # matplotlib only now: `smtpsim --help` stays fast

        step("plots")
        _, status = write_figures(result, stage.path / "plots", "png", parser.prog)
        if status:
            return status
        checkpoint("plots")
    if args.report:  # one self-contained page; the figures above are reused
        from ..reports.run import write_run_report

        step("report")
        try:
            source = Path(args.scenario)
            text = source.read_text(encoding="utf-8") if source.is_file() else None
            write_run_report(
                result,
                stage.path,
                scenario_text=text,
                source=args.scenario,
                overrides=args.overrides,
                summary=summary,
            )
        except OSError as error:
            return fail(
                parser.prog, f"cannot write the report to {stage.target}: {error}", EXIT_USAGE
            )
        checkpoint("report")
    return 0


def _print_summary(
    args: argparse.Namespace,
    parser: argparse.ArgumentParser,
    result: RunResult,
    out: Path,
    summary: Summary,
) -> None:
    for warning in summary["warnings"]:  # even with --quiet: the shares are censored
        print(f"{parser.prog}: warning: {warning}", file=sys.stderr)
    if args.quiet:
        return
    print(format_summary(summary, result.meta, verbose=args.verbose))
    maillog = "; maillog" if args.maillog and (out / "maillog").exists() else ""
    tls = ", tls_report" if result.tls_report is not None else ""
    print(
        f"results: {out}/ (run {result.meta.get('run_id')}: messages, recipients, attempts, "
        f"levels{tls} .{args.format}; summary.json, meta.json{maillog}; manifest.json)"
    )
    plots = sorted((out / "plots").glob("*.png")) if not args.no_plots else []
    if plots:
        print(f"plots: {out / 'plots'}/ ({', '.join(p.stem for p in plots)} .png)")


def format_summary(s: Summary, meta: dict[str, Any], *, verbose: bool = False) -> str:
    """The summary as a small table for a terminal; ``verbose`` adds how the SMTP
    sessions ran (``simulation.session_memo``)."""
    r = s["recipients"]
    n = r["submitted"] or 1
    d = s["delay_s"]
    lines = [
        f"{meta.get('scenario')} (seed {meta.get('seed')}): {meta.get('sim_time_s', 0):,.0f} s "
        f"simulated in {meta.get('wall_s', 0):.1f} s, {meta.get('events', 0):,} events",
        f"  messages submitted      {s['messages']:>10,}",
        f"  recipients              {r['submitted']:>10,}",
    ]
    for status in ("delivered", "bounced", "expired", "lost", "pending", "unsent"):
        lines.append(f"    {status:<20}  {r[status]:>10,}  {format_percent(r[status], n):>8}")
    # Why mail clients could not submit (issue 13): the reply each one saw.
    for reason, count in s.get("unsent_by_reason", {}).items():
        lines.append(f"      {count:>10,}  {reason}")
    if d["p50"] is not None:
        lines.append(
            "  delay of delivered      p50 {}  p95 {}  p99 {}  max {}".format(
                *(_seconds(d[k]) for k in ("p50", "p95", "p99", "max"))
            )
        )
    lines += _retrieval_lines(s)
    lines += _tls_lines(s)
    if s["deferral_rate"] is not None:
        lines.append(f"  deferral rate           {100 * s['deferral_rate']:>9.2f} % of attempts")
    if s["attempts_per_recipient"] is not None:
        lines.append(
            f"  SMTP attempts per recipient (all hops)      {s['attempts_per_recipient']:>8.2f}"
        )
    if s.get("retries_per_recipient") is not None:
        lines.append(
            f"  retries (deferred attempts) per recipient   {s['retries_per_recipient']:>8.2f}"
        )
    run = s.get("run", {})
    if run.get("drain"):
        lines.append(
            "  drained: traffic stopped at "
            f"{_seconds(run.get('traffic_end_s'))}, "
            + (
                f"queues empty at {_seconds(run.get('drained_at_s'))}"
                if run.get("drained")
                else f"limit reached at {_seconds(run.get('end_s'))} with mail still queued"
            )
        )
    b = s["bounce_messages"]
    lines.append(f"  bounce messages         {b['sent']:>10,}  ({b['delivered']:,} delivered)")
    kinds = s.get("notices", {})
    if kinds.get("delay") or kinds.get("success"):  # only with DSN or delay warnings
        lines.append(
            f"    by kind               {kinds['failure']:,} failure, {kinds['delay']:,} delay, "
            f"{kinds['success']:,} success"
        )
    for host, peaks in sorted(s["peak_queue"].items()):
        shown = ", ".join(f"{k} {v}" for k, v in sorted(peaks.items()))
        lines.append(f"  peak {host:<18} {shown}")
    sessions = meta.get("sessions")
    if verbose and sessions:
        total = sessions["replayed"] + sessions["ran_machines"]
        lines.append(
            f"  SMTP sessions           {total:>10,}  ({sessions['replayed']:,} replayed "
            f"from the session memo of {sessions['shapes']:,} shapes, "
            f"{sessions['ran_machines']:,} ran the protocol machines; "
            f"session_memo: {sessions['memo']})"
        )
    if verbose:  # which code ran: the same sources, compiled or not (smtpsim.compiled)
        lines.append(f"  smtpsim build           {compiled.build()}")
    return "\n".join(lines)


def _tls_lines(s: Summary) -> list[str]:
    """TLS between servers (runs that model it): the sessions' TLS results, and the
    recipients sent in the clear, read by an attacker, or deferred by a TLS policy."""
    t = s.get("tls")
    if t is None:
        return []
    n = t["sent"] or 1
    lines = [
        f"  TLS sessions            {t['sessions']:>10,}  ({t['successful_sessions']:,} "
        "successful)",
    ]
    for result, count in t["failed_sessions"].items():
        lines.append(f"    {result:<28}{count:>8,}")
    lines += [
        f"  sent in the clear       {t['sent_clear']:>10,}  {format_percent(t['sent_clear'], n):>8}"
        " of recipients sent",
        f"    read by an attacker   {t['exposed']:>10,}  {format_percent(t['exposed'], n):>8}",
        f"  deferred by TLS policy  {t['blocked']:>10,}  (recipient-sessions)",
    ]
    return lines


def _retrieval_lines(s: Summary) -> list[str]:
    """Delivered to read (runs with an access service): how many were fetched, and
    the delays of the fetched ones from submission to mailbox and to the client."""
    r = s.get("retrieval")
    if r is None:
        return []
    n = r["delivered"] or 1
    lines = [
        f"  fetched by mail clients {r['fetched']:>10,}  {format_percent(r['fetched'], n):>8}"
        " of delivered",
        f"    not fetched at the end  {r['not_fetched']:>8,}  "
        f"{format_percent(r['not_fetched'], n):>8}",
    ]
    for label, d in (
        ("submitted to delivered", r["delivery_s"]),
        ("submitted to fetched  ", r["end_to_end_s"]),
        ("delivered to fetched  ", r["fetch_wait_s"]),
    ):
        if d["p50"] is not None:
            lines.append(
                f"  {label}  p50 {{}}  p95 {{}}  p99 {{}}  max {{}}".format(
                    *(_seconds(d[k]) for k in ("p50", "p95", "p99", "max"))
                )
            )
    domains = r["by_domain"]
    if len(domains) > 1:  # where the clients differ: mailbox hosts serve domains
        lines.append("  submitted to fetched, by recipient domain:")
        for domain, row in sorted(domains.items()):
            p50, p95 = row["end_to_end_p50"], row["end_to_end_p95"]
            waiting = f", {row['not_fetched']:,} not fetched" if row["not_fetched"] else ""
            lines.append(
                f"    {domain:<22} p50 {_seconds(_float(p50))}  p95 {_seconds(_float(p95))}"
                f"{waiting}"
            )
    return lines


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 120:
        return f"{value:.2f} s"
    if value < 7200:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.1f} h"
