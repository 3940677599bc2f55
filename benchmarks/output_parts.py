"""Seconds per part of the output stage of ``smtpsim run``, on the tables of a run
already written (issue 10, route 4).

Reads the results directory DIR (``RunResult.read``), then does what ``smtpsim run``
does after simulating, timing each part: the four tables (Parquet), ``summary.json``
and ``meta.json``, the maillog, the five figures, ``report.html`` (with the scenario
file, when given) and the commit (manifest, fsync, the directory put in place). The
output goes to a temporary directory; matplotlib is imported before the clock starts
(``smtpsim run`` imports it in its plots step: about 0.5 s more there). Run it from
two checkouts, alternating, to compare them on the same tables:

    python benchmarks/output_parts.py results/blacklisting-incident-seed42 \\
        --scenario scenarios/blacklisting-incident.yaml --reps 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from smtpsim.metrics.result import RunResult
from smtpsim.metrics.run_dir import Stage
from smtpsim.plots import write_plots
from smtpsim.reports.run import write_run_report


def one_pass(source: Path, scenario: Path | None) -> dict[str, float]:
    """Each part's wall time, in seconds, writing the run read from ``source``."""
    result = RunResult.read(source)
    result.meta.pop("run_id", None)  # a new run id, as a new run has
    times: dict[str, float] = {}
    last: list[tuple[str, float]] = []

    def step(part: str | None) -> None:
        now = time.perf_counter()
        if last:
            name, start = last.pop()
            times[name] = times.get(name, 0.0) + now - start
        if part is not None:
            last.append((part, now))

    with tempfile.TemporaryDirectory(prefix="output-parts-") as tmp:
        stage = Stage(Path(tmp) / "run")
        step("tables, summary, maillog")
        result.write_files(stage.path, step=step)
        step("plots")
        write_plots(result, stage.path / "plots", "png")
        step("report")
        text = scenario.read_text(encoding="utf-8") if scenario is not None else None
        write_run_report(
            result, stage.path, scenario_text=text, source=str(scenario) if scenario else None
        )
        step("commit")
        stage.commit(result.meta)
        step(None)
    times.pop("tables, summary, maillog", None)  # nothing between it and the first table
    times["output stage"] = sum(times.values())
    return times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("dir", type=Path, help="a results directory of 'smtpsim run'")
    parser.add_argument("--scenario", type=Path, help="its scenario file, for the report")
    parser.add_argument("--reps", type=int, default=1)
    args = parser.parse_args()
    runs = [one_pass(args.dir, args.scenario) for _ in range(args.reps)]
    print("| part | seconds (median) | runs |")
    print("| --- | ---: | --- |")
    for part in runs[0]:
        values = [run[part] for run in runs]
        shown = ", ".join(f"{v:.2f}" for v in values)
        print(f"| {part} | {statistics.median(values):.2f} | {shown} |")


if __name__ == "__main__":
    main()
