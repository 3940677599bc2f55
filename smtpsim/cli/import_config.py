"""``smtpsim import postfix``: a Postfix configuration as a scenario host."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from .common import EXIT_USAGE, Subparsers, fail

NAME = "import"

_EPILOG = """\
CONFIG is what 'postconf -n' prints (save it to a file, or give '-' for stdin) or
the main.cf itself; --master adds master.cf (the smtp inet service's process limit
and its -o overrides). The output is a scenario 'hosts' entry: the host's name
(myhostname), local domains (mydestination, virtual_mailbox_domains), its postfix:
settings (queue and retries, concurrency, relayhost and smtp_fallback_relay,
connection cache and timeouts, TLS levels, size and recipient limits) and its
receiving policies (reject_rbl_client zones, anvil's smtpd_client_*_limit, postgrey
on port 10023). The report (stderr) lists every parameter: mapped, with the
scenario path and value, or not modelled, with the reason; none is ignored.

Examples:
  postconf -n > main.txt && smtpsim import postfix main.txt --out mta.yaml
  smtpsim import postfix /etc/postfix/main.cf --master /etc/postfix/master.cf
  postconf -n | smtpsim import postfix - --host relay --role relay

Exit status: 0 when imported, 2 for a bad command line, a file that cannot be read
or is not Postfix's syntax, or settings a scenario would refuse (for example
minimal_backoff_time above maximal_backoff_time), each with its path."""


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="a Postfix configuration as a scenario host",
        description=__doc__,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("kind", choices=("postfix",), help="what to import (postfix)")
    parser.add_argument(
        "config", metavar="CONFIG", help="postconf -n output or main.cf ('-': stdin)"
    )
    parser.add_argument("--master", metavar="FILE", help="master.cf")
    parser.add_argument("--host", default="mta", help="the host's key (default mta)")
    parser.add_argument(
        "--role",
        choices=("msa", "mta", "relay", "mx"),
        default="mta",
        help="its role (default mta)",
    )
    parser.add_argument("--out", metavar="FILE", help="write the host here (default: stdout)")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from ..fit.postfix_config import import_postfix
    from ..scenario import Host
    from ..scenario.load import validation_problems
    from ..scenario.problems import Problem

    try:
        main_cf = sys.stdin.read() if args.config == "-" else Path(args.config).read_text("utf-8")
        master = Path(args.master).read_text("utf-8") if args.master else None
    except (OSError, UnicodeDecodeError) as error:
        return fail(parser.prog, f"cannot read the configuration: {error}", EXIT_USAGE)
    try:
        imported = import_postfix(main_cf, master)
    except ValueError as error:
        return fail(parser.prog, f"{args.config}: {error}", EXIT_USAGE)
    host = imported.host_yaml(args.host)[args.host]
    host = {"role": args.role, **host}
    try:
        Host.model_validate(host, context={"skip_references": True})
    except ValueError as error:  # pydantic's ValidationError: the problems with paths
        from pydantic import ValidationError

        problems = (
            validation_problems(error, host)
            if isinstance(error, ValidationError)
            else [Problem("", str(error))]
        )
        print(f"{parser.prog}: {args.config}: {len(problems)} problem(s):", file=sys.stderr)
        for problem in problems:
            print(f"  hosts.{args.host}.{problem.path}: {problem.message}", file=sys.stderr)
        return EXIT_USAGE
    text = (
        f"# smtpsim import postfix {args.config}"
        + (f" --master {args.master}" if args.master else "")
        + "\n"
        + yaml.safe_dump({args.host: host}, sort_keys=False, width=100)
    )
    print(imported.report(), file=sys.stderr)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        print(text, end="")
    return 0
