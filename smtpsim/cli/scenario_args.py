"""Loading a scenario named on the command line, the same way for every command:
``--set`` overrides, and every problem reported with its path, exit status 2."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from .common import EXIT_USAGE

if TYPE_CHECKING:
    from ..scenario import Scenario

__all__ = ["add_scenario_arguments", "load_or_report"]


def add_scenario_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", metavar="SCENARIO", help="a scenario file (YAML)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a value, e.g. hosts.out.postfix.maximal_backoff_time=2h (repeatable)",
    )


def load_or_report(args: argparse.Namespace, prog: str) -> tuple[Scenario | None, int]:
    """``(scenario, 0)``, or ``(None, 2)`` after printing one line per problem.
    Warnings (legal settings that do not do what they seem to) go to stderr too, and
    the scenario is returned."""
    from ..scenario import ScenarioError, load_scenario, tls_warnings

    try:
        scenario = load_scenario(args.scenario, overrides=args.overrides)
        _check_traces(scenario)
        for warning in tls_warnings(scenario):
            print(f"{prog}: {args.scenario}: warning: {warning}", file=sys.stderr)
        return scenario, 0
    except ScenarioError as error:
        print(f"{prog}: {args.scenario}: {len(error.problems)} problem(s):", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem.path}: {problem.message}", file=sys.stderr)
        return None, EXIT_USAGE


def _check_traces(scenario: Scenario) -> None:
    """The traces that flows replay, read now (the scenario layer is pure data and does
    not read them), so that a bad one is a problem with its path, not a failed run."""
    from ..scenario import Problem, ScenarioError

    problems = []
    for name, flow in scenario.traffic.items():
        if flow.replay is None:
            continue
        from ..logs.trace import TraceError, read_trace

        try:
            read_trace(flow.replay.file, flow.replay.format)
        except TraceError as error:
            problems.append(Problem(f"traffic.{name}.replay.file", str(error)))
    if problems:
        raise ScenarioError(problems)
