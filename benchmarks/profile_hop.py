"""Microseconds per message-hop, by component, for ``scenarios/bench-3hop.yaml``.

Each setting (the session memo on and off) is run twice in fresh processes, with the
same seed: once plainly, for the wall time per message-hop, and once under cProfile,
for each function's own time. The profile's shares by component (the package of the
function's module, below) are then scaled to the plain run's time, since the
profiler's overhead per call would otherwise inflate the components that make many
small calls. Prints a Markdown table.

    python benchmarks/profile_hop.py                # 20,000 messages
    python benchmarks/profile_hop.py --n 50000
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_3hop import HOPS, bench_model  # beside this file: the benchmark's network

# Component of a function, by the path of its module (first match wins).
COMPONENTS = (
    ("session memo", ("smtpsim/mta/session_memo.py",)),
    ("session: protocol machines", ("smtpsim/protocol/", "smtpsim/mta/session.py")),
    ("session: server policies", ("smtpsim/mail/",)),
    (
        "queue manager",
        ("smtpsim/mta/queue_manager.py", "smtpsim/mta/message.py", "smtpsim/mta/host.py"),
    ),
    ("delivery agent", ("smtpsim/mta/delivery.py", "smtpsim/net/", "smtpsim/dns/")),
    ("recorder", ("smtpsim/metrics/", "smtpsim/sim/trace.py")),
    ("workload", ("smtpsim/workload/",)),
    ("SimPy and the event loop", ("simpy/", "smtpsim/sim/")),
)


def component(filename: str) -> str:
    path = filename.replace("\\", "/")
    for name, parts in COMPONENTS:
        if any(part in path for part in parts):
            return name
    return "other (numpy draws, builtins)"


def worker(n: int, memo: str, profile: str | None) -> dict[str, float]:
    model = bench_model(n, 1, memo)
    if profile:
        cProfile.runctx("model.run()", globals(), {"model": model}, profile)
        return {}
    t0 = time.perf_counter()
    model.run()
    return {
        "us_per_hop": (time.perf_counter() - t0) * 1e6 / (n * HOPS),
        "events_per_hop": next(model.env._eid) / (n * HOPS),
    }


def child(args: list[str]) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def shares(profile: str) -> dict[str, float]:
    stats = pstats.Stats(profile)
    own: dict[str, float] = {}
    for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        key = component(filename)
        own[key] = own.get(key, 0.0) + tottime
    total = sum(own.values())
    return {key: value / total for key, value in own.items()}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=20_000, help="messages (default 20000)")
    parser.add_argument("--worker", choices=("on", "off"), help=argparse.SUPPRESS)
    parser.add_argument("--profile", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.n, args.worker, args.profile)))
        return 0
    columns = {}
    with tempfile.TemporaryDirectory() as scratch:
        for memo in ("off", "on"):
            plain = child(["--n", str(args.n), "--worker", memo])
            profile = str(Path(scratch) / f"{memo}.prof")
            child(["--n", str(args.n), "--worker", memo, "--profile", profile])
            columns[memo] = (plain, shares(profile))
    names = [name for name, _ in COMPONENTS] + ["other (numpy draws, builtins)"]
    print(
        f"bench-3hop, {args.n:,} messages, seed 1: microseconds per message-hop "
        "(profile shares scaled to the plain run)\n"
    )
    print("| component | memo off (machines every session) | memo on | speed-up |")
    print("| --- | ---: | ---: | ---: |")
    for name in names:
        off = columns["off"][0]["us_per_hop"] * columns["off"][1].get(name, 0.0)
        on = columns["on"][0]["us_per_hop"] * columns["on"][1].get(name, 0.0)
        ratio = f"{off / on:.2f}x" if on > 0.05 else "-"
        print(f"| {name} | {off:.1f} | {on:.1f} | {ratio} |")
    off_total, on_total = columns["off"][0]["us_per_hop"], columns["on"][0]["us_per_hop"]
    print(
        f"| **total** | **{off_total:.1f}** | **{on_total:.1f}** | "
        f"**{off_total / on_total:.2f}x** |"
    )
    print(f"\nSimPy events per message-hop: {columns['on'][0]['events_per_hop']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
