"""``smtpsim fit``: a scenario fitted from Postfix logs, and a report of the fit."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import EXIT_USAGE, Subparsers, fail, non_negative_int

NAME = "fit"

_EPILOG = """\
MAILLOG is what Postfix 3.x logs: /var/log/mail.log (syslog; classic or RFC 3339
time stamps) or its maillog_file, plain or gzip (mail.log.2.gz), or the maillog of
'smtpsim run'. Several files (rotated logs, or several hosts' logs) are merged in
time order.

The scenario has one host, 'mta' (the log's Postfix, with Postfix's defaults: see
'smtpsim import postfix'), that the flows submit to; an 'mx' host per destination
domain kept by name (--top-domains; the rest are one destination,
other-domains.example), whose deferrals and bounces become server_errors
incidents with the replies and rates the log shows, and whose refused or timed-out
connections become host_down windows. Per flow (--flows-by): a
Poisson rate, or a rate per hour when the hourly counts are not Poisson (or
--rate hourly); sizes as a fitted lognormal when the Kolmogorov-Smirnov test
accepts it, else as empirical quantiles; recipients per message as the observed
table; the destination mix; the share of unknown recipients (5.1.1 bounces).
Simulated time 0 is midnight of the log's first day.

The report (stdout, or --report FILE) gives each estimate with its confidence
interval, the fit's quality, what could not be fitted and why, and the lines the
reader did not understand (counted, with the first few). --figures DIR draws
observed against fitted (rates by hour, size CDF, recipients, destinations).

Examples:
  smtpsim fit /var/log/mail.log --out ours.yaml
  smtpsim fit mail.log mail.log.1 mail.log.2.gz --year 2026 --out ours.yaml --report fit.txt
  smtpsim fit mail.log --flows-by client-network --top-domains 5 --figures fit-figures
  smtpsim fit mail.log --postconf main.txt --out ours.yaml   # main.txt: postconf -n
  smtpsim run ours.yaml --set hosts.mta.postfix.maximal_backoff_time=1h

Exit status: 0 when fitted, 1 for a bug of ours (a fitted scenario that does not
validate), 2 for a bad command line, a log that cannot be read or holds no
submitted message."""


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="fit a scenario to Postfix logs",
        description=__doc__,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("logs", metavar="MAILLOG", nargs="+", help="Postfix logs (plain or gzip)")
    parser.add_argument(
        "--out", metavar="FILE", required=True, help="where to write the scenario (YAML)"
    )
    parser.add_argument("--report", metavar="FILE", help="write the fit report here, not stdout")
    parser.add_argument(
        "--figures", metavar="DIR", help="also draw observed against fitted (PNG files in DIR)"
    )
    parser.add_argument(
        "--flows-by",
        choices=("sender-domain", "client-network"),
        default="sender-domain",
        help="one flow per sender domain (default) or per client network (/24, /64)",
    )
    parser.add_argument(
        "--rate",
        choices=("auto", "constant", "hourly"),
        default="auto",
        help="a flow's rate: one Poisson rate, one per hour, or chosen by a dispersion "
        "test (auto, the default)",
    )
    parser.add_argument(
        "--sizes",
        choices=("auto", "empirical", "lognormal"),
        default="auto",
        help="message sizes: quantiles, a lognormal, or a lognormal when it fits (auto)",
    )
    parser.add_argument(
        "--top-domains",
        metavar="N",
        type=non_negative_int,
        default=10,
        help="destination domains kept by name (default 10); the rest are grouped",
    )
    parser.add_argument(
        "--max-flows",
        metavar="N",
        type=non_negative_int,
        default=10,
        help="the largest N flows are fitted (default 10); the others are reported",
    )
    parser.add_argument(
        "--confidence",
        metavar="C",
        type=_confidence,
        default=0.95,
        help="confidence of the report's intervals (default 0.95)",
    )
    parser.add_argument(
        "--year",
        metavar="YEAR",
        type=non_negative_int,
        help="the year of time stamps that have none (syslog's; default: this year)",
    )
    parser.add_argument("--name", default="fitted", help="the scenario's name (default fitted)")
    parser.add_argument(
        "--postconf",
        metavar="FILE",
        help="the logging host's 'postconf -n' output (or main.cf): its settings become "
        "the mta's (as 'smtpsim import postfix' maps them)",
    )
    parser.set_defaults(run=run)
    return parser


def _confidence(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}")
    return value


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from ..fit import FitOptions, fit_logs
    from ..fit.report import fit_report
    from ..scenario import ScenarioError, load_scenario

    for log in args.logs:
        if not Path(log).is_file():
            return fail(parser.prog, f"cannot read {log!r}: no such file", EXIT_USAGE)
    options = FitOptions(
        flows_by=args.flows_by,
        rate=args.rate,
        sizes=args.sizes,
        top_domains=max(1, args.top_domains),
        max_flows=max(1, args.max_flows),
        confidence=args.confidence,
        year=args.year,
        name=args.name,
    )
    try:
        fit = fit_logs(args.logs, options)
    except (OSError, EOFError, ValueError) as error:  # unreadable, or a broken gzip
        return fail(parser.prog, f"cannot read the logs: {error}", EXIT_USAGE)
    report = fit_report(fit, settings_given=bool(args.postconf))
    if args.postconf and fit.flows:
        from ..fit.postfix_config import import_postfix

        try:
            imported = import_postfix(Path(args.postconf).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as error:
            return fail(parser.prog, f"--postconf {args.postconf}: {error}", EXIT_USAGE)
        # the settings, not the name or domains: those the log has shown already
        fit.scenario["hosts"]["mta"]["postfix"] = imported.postfix
        if imported.policies:
            fit.scenario["hosts"]["mta"]["policies"] = imported.policies
        report += "\n\nsettings of the mta from " + args.postconf + ":\n" + imported.report()
    if not fit.flows:
        print(report)
        return fail(parser.prog, "the logs show no submitted message: nothing to fit", EXIT_USAGE)
    text = fit.yaml()
    try:
        load_scenario(text)
    except ScenarioError as error:
        return fail(parser.prog, f"the fitted scenario does not validate (a bug): {error}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    if args.figures:
        from ..fit.figures import draw_fit

        written = draw_fit(fit, Path(args.figures))
        report += "\n\nfigures: " + ", ".join(str(p) for p in written)
    if args.report:
        Path(args.report).write_text(report + "\n", encoding="utf-8")
    else:
        print(report)
    print(f"scenario: {out} ({len(fit.flows)} flows, {len(fit.destinations)} destinations)")
    return 0
