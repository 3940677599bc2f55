"""Peak memory and time of ``smtpsim run`` with every output on (issue 8: the maillog in
bounded memory; ``smtpsim run scenarios/mx-outage.yaml`` under 600 MB).

Each repetition runs ``smtpsim run SCENARIO --out TMP --quiet`` in a fresh process,
which reports its own peak resident set size (``VmHWM``) as it exits. Prints the
medians of: peak RSS, total wall time, the simulation's wall time (``meta.json``
``wall_s``), the output stage's (the rest), and the maillog's size; exits 1 when the
median peak is above ``--limit-mb``.

    python benchmarks/bench_output.py                          # mx-outage, 1 run
    python benchmarks/bench_output.py scenarios/blacklisting-incident.yaml --reps 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CHILD = """
import sys
from smtpsim.cli.main import entry
status = entry()  # what the smtpsim command runs
with open("/proc/self/status") as f:
    peak = next(int(line.split()[1]) for line in f if line.startswith("VmHWM"))
print(f"PEAK_KB {peak}", file=sys.stderr)
sys.exit(status)
"""


def one_run(scenario: Path, extra: list[str]) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-output-") as tmp:
        out = Path(tmp) / "run"
        t0 = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                _CHILD,
                "run",
                str(scenario),
                "--out",
                str(out),
                "--quiet",
                *extra,
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        wall = time.perf_counter() - t0
        if done.returncode != 0:
            raise SystemExit(f"smtpsim run failed ({done.returncode}):\n{done.stderr}")
        peak = next(
            int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("PEAK_KB ")
        )
        meta = json.loads((out / "meta.json").read_text())
        maillog = out / "maillog"
        return {
            "peak_mb": peak / 1024,
            "wall_s": wall,
            "simulate_s": float(meta["wall_s"]),
            "output_s": wall - float(meta["wall_s"]),
            "maillog_mb": maillog.stat().st_size / 2**20 if maillog.exists() else 0.0,
        }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("scenario", nargs="?", default=str(ROOT / "scenarios" / "mx-outage.yaml"))
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument(
        "--limit-mb",
        type=float,
        default=600.0,
        help="fail when the median peak RSS is above this (default 600)",
    )
    parser.add_argument(
        "extra", nargs=argparse.REMAINDER, help="more options for smtpsim run, after --"
    )
    args = parser.parse_args()
    extra = [a for a in args.extra if a != "--"]
    runs = [one_run(Path(args.scenario), extra) for _ in range(args.reps)]
    median = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    print(
        f"smtpsim run {Path(args.scenario).name} {' '.join(extra)} "
        f"({args.reps} run{'s' if args.reps > 1 else ''}, medians)"
    )
    peaks = ", ".join(f"{r['peak_mb']:.0f}" for r in runs)
    print(
        f"  peak RSS        {median['peak_mb']:8.0f} MB   (limit {args.limit_mb:.0f} MB; "
        f"runs: {peaks})"
    )
    print(f"  wall, in all    {median['wall_s']:8.1f} s")
    print(f"  simulating      {median['simulate_s']:8.1f} s")
    print(
        f"  output stage    {median['output_s']:8.1f} s   (start-up, tables, maillog, "
        "plots, report)"
    )
    print(f"  maillog         {median['maillog_mb']:8.0f} MB")
    if median["peak_mb"] > args.limit_mb:
        print(f"peak RSS above {args.limit_mb:.0f} MB", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
