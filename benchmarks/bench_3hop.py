"""smtpsim against a hand-written SimPy model of the same 3-hop network.

``scenarios/bench-3hop.yaml`` is the team's reference model (``smtp_hops_reference.py``,
kept beside the repository in ``../shared/bench/``, which this script runs) as a
scenario: the senders' clients -> msa -> out -> mx, 20 sessions per hop, lognormal
sizes (median 20 kB), the bottleneck hop loaded to 0.8. The reference ("naive")
spends one SimPy timeout per SMTP command and has no protocol logic at all; smtpsim
runs the full SMTP client and server machines, Postfix's queue manager and the
recorder.

The two must describe the same network, or the ratio means nothing. The reference
gives every session the full bandwidth of its hop, so the scenario's links have a
capacity no load reaches (100 Gbit/s) and the reference's rate as each transfer's
own limit (``flow_bandwidth``). Each repetition r runs both with seed r; the
benchmark then compares the mean latency per hop (end to end / 3) and the mean wait
(end to end minus the time in sessions) of the delivered messages: when a difference
is outside its 95 % confidence interval (Welch's t over the repetitions), it says so
and reports no ratio (exit 2).

Machines here are shared and noisy, so the models run in the same job, alternately
(naive, smtpsim, collapsed), each in a fresh process, and the medians are compared.
Prints, for each size: message-hops per second of each, the ratios to ``naive`` and to
``collapsed`` (the same model with one event per session), SimPy events per
message-hop, and peak RSS; with ``--big`` also a 1M-message run: bytes per recipient
row held by the recorder, and the cost per message-hop relative to the 100k run.

    python benchmarks/bench_3hop.py                 # 100k messages, 3 repetitions
    python benchmarks/bench_3hop.py --n 20000 --reps 2
    python benchmarks/bench_3hop.py --big           # adds the 1M-message run
    python benchmarks/bench_3hop.py --routes        # adds smtpsim with session_memo off
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smtpsim.experiment.stats import mean_ci, t_quantile

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "bench-3hop.yaml"
# Beside the repository (../shared/bench), or beside a directory above it (a worktree).
REFERENCE = next(
    (
        p / "shared" / "bench" / "smtp_hops_reference.py"
        for p in ROOT.parents
        if (p / "shared" / "bench" / "smtp_hops_reference.py").exists()
    ),
    ROOT.parent / "shared" / "bench" / "smtp_hops_reference.py",
)
HOPS = 3


def t975(df: float) -> float:
    """The 97.5 % quantile of Student's t with ``df`` degrees of freedom, rounded down
    (Welch's df is fractional; fewer degrees give a wider interval)."""
    return t_quantile(0.975, max(int(df), 1))


@dataclass(frozen=True)
class Agreement:
    """Two samples of one measure (one value per repetition), and whether they agree:
    the difference of their means lies within its 95 % confidence interval (Welch)."""

    name: str
    ours: tuple[float, ...]
    theirs: tuple[float, ...]

    @staticmethod
    def _half(values: tuple[float, ...]) -> float:
        return mean_ci(values)[1]

    @property
    def difference(self) -> float:
        return statistics.fmean(self.ours) - statistics.fmean(self.theirs)

    @property
    def half_width(self) -> float:
        """Of the difference's interval (Welch-Satterthwaite degrees of freedom)."""
        va = statistics.variance(self.ours) / len(self.ours)
        vb = statistics.variance(self.theirs) / len(self.theirs)
        if va + vb == 0.0:
            return 0.0
        df = (va + vb) ** 2 / (
            (va**2 / (len(self.ours) - 1) if va else 0.0)
            + (vb**2 / (len(self.theirs) - 1) if vb else 0.0)
        )
        return t975(df) * math.sqrt(va + vb)

    @property
    def agrees(self) -> bool:
        return abs(self.difference) <= self.half_width

    def describe(self) -> str:
        ours, theirs = statistics.fmean(self.ours), statistics.fmean(self.theirs)
        return (
            f"{self.name}: smtpsim {1e3 * ours:.3f} ms +- {1e3 * self._half(self.ours):.3f}, "
            f"reference {1e3 * theirs:.3f} ms +- {1e3 * self._half(self.theirs):.3f}; "
            f"difference {1e3 * self.difference:+.3f} ms +- {1e3 * self.half_width:.3f} "
            f"({'agree' if self.agrees else 'DO NOT AGREE'})"
        )


def bench_model(n: int, seed: int, memo: str = "on") -> Any:
    """The benchmark network with ``n`` messages, built and ready to run."""
    import smtpsim
    from smtpsim.model import build

    rate = smtpsim.load_scenario(SCENARIO).traffic["load"].rate.rate
    scenario = smtpsim.load_scenario(
        SCENARIO,
        overrides=[
            f"traffic.load.messages={n}",
            f"duration={n / rate + 300:.0f}",
            f"simulation.session_memo={memo}",
        ],
    )
    return build(scenario, seed)


def worker(n: int, seed: int, memo: str = "on") -> dict[str, float]:
    """One smtpsim run of ``n`` messages in this process (called in a child)."""
    model = bench_model(n, seed, memo)
    t0 = time.perf_counter()
    model.run()
    wall = time.perf_counter() - t0
    rec = model.recorder
    counts = rec.status_counts()
    rows = len(rec.r_msg)
    # Everything a recipient row holds: its columns, the packed addresses, and the
    # interned columns' tables of distinct values (shared by the rows).
    columns = [
        rec.r_msg,
        rec.r_status,
        rec.r_t_final,
        rec.r_attempts,
        rec.r_hops,
        rec.r_domain.codes,
        rec.r_dsn.codes,
        rec.r_reply.codes,
        rec.r_custody.codes,
    ]
    column_bytes = sum(c.itemsize * len(c) for c in columns) + rec.r_rcpt.nbytes()
    interned = sum(
        sys.getsizeof(c.index) + sys.getsizeof(c.values) + sum(sys.getsizeof(v) for v in c.values)
        for c in (rec.r_domain, rec.r_dsn, rec.r_reply, rec.r_custody)
    )
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # before pandas and tables
    from smtpsim.metrics.result import RunResult

    latency, wait = latency_and_wait(RunResult.from_recorder(rec, {}))
    return {
        "wall": wall,
        "msg_hops_per_s": n * HOPS / wall,
        "events_per_msg_hop": next(model.env._eid) / (n * HOPS),
        "delivered": counts["delivered"],
        "pending": counts["pending"],
        "maxrss_kb": maxrss,
        "row_bytes": (column_bytes + interned) / rows,
        "recipient_rows": rows,
        "mean_latency": latency,
        "mean_wait": wait,
        "sessions_replayed": model.sessions()["replayed"],
    }


def latency_and_wait(result: Any) -> tuple[float, float]:
    """As the reference counts them, over delivered messages: the mean end-to-end
    delay, and the mean of that delay minus the time spent in SMTP sessions (waiting
    for a session slot, and between hops)."""
    recipients, attempts = result.recipients, result.attempts
    delivered = recipients[recipients["status"].astype(str) == "delivered"]
    in_sessions = (attempts["t_end"] - attempts["t_start"]).groupby(attempts["msg_id"]).sum()
    delay = delivered["delay_s"].to_numpy()
    sessions = in_sessions.reindex(delivered["msg_id"]).to_numpy()
    return float(delay.mean()), float((delay - sessions).mean())


def run_child(args: list[str]) -> dict[str, float]:
    out = subprocess.run(args, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(n: int, reps: int, routes: bool = False) -> dict[str, Any]:
    ours, ref, collapsed, machines = [], [], [], []
    for rep in range(reps):  # alternate, so that drift hits all alike; seed = rep + 1
        seed = str(rep + 1)
        ref.append(
            run_child([sys.executable, str(REFERENCE), "naive", "--n", str(n), "--seed", seed])
        )
        ours.append(
            run_child([sys.executable, __file__, "--worker", "--n", str(n), "--seed", seed])
        )
        collapsed.append(
            run_child([sys.executable, str(REFERENCE), "collapsed", "--n", str(n), "--seed", seed])
        )
        if routes:  # the session memo's own share: the machines run for every session
            machines.append(
                run_child(
                    [
                        sys.executable,
                        __file__,
                        "--worker",
                        "--n",
                        str(n),
                        "--seed",
                        seed,
                        "--memo",
                        "off",
                    ]
                )
            )
    checks = [
        Agreement(
            "latency per hop",
            tuple(r["mean_latency"] / HOPS for r in ours),
            tuple(r["mean_latency"] / HOPS for r in ref),
        ),
        Agreement("wait", tuple(r["mean_wait"] for r in ours), tuple(r["mean_wait"] for r in ref)),
    ]
    med = statistics.median
    ours_rate = med(r["msg_hops_per_s"] for r in ours)
    ref_rate = med(r["msg_hops_per_s"] for r in ref)
    collapsed_rate = med(r["msg_hops_per_s"] for r in collapsed)
    same = all(check.agrees for check in checks)
    by_route = {}
    if machines:
        off_rate = med(r["msg_hops_per_s"] for r in machines)
        by_route = {
            "smtpsim_memo_off_msg_hops_per_s": round(off_rate),
            "memo_speedup": round(ours_rate / off_rate, 3),
            "memo_off_ratio": round(off_rate / ref_rate, 3) if same else None,
        }
    return {
        "n": n,
        "reps": reps,
        "same_network": same,
        "checks": [check.describe() for check in checks],
        "smtpsim_msg_hops_per_s": round(ours_rate),
        "naive_msg_hops_per_s": round(ref_rate),
        "collapsed_msg_hops_per_s": round(collapsed_rate),
        "ratio": round(ours_rate / ref_rate, 3) if same else None,
        "ratios": [
            round(o["msg_hops_per_s"] / r["msg_hops_per_s"], 3)
            for o, r in zip(ours, ref, strict=True)
        ]
        if same
        else None,
        "ratio_collapsed": round(ours_rate / collapsed_rate, 3) if same else None,
        "smtpsim_events_per_msg_hop": round(med(r["events_per_msg_hop"] for r in ours), 2),
        "naive_events_per_msg_hop": round(med(r["events_per_msg"] for r in ref) / HOPS, 2),
        "smtpsim_maxrss_mb": round(med(r["maxrss_kb"] for r in ours) / 1024, 1),
        "naive_maxrss_mb": round(med(r["maxrss_kb"] for r in ref) / 1024, 1),
        "recipient_row_bytes": round(med(r["row_bytes"] for r in ours), 1),
        "us_per_msg_hop": round(1e6 / ours_rate, 2),
        "delivered": ours[0]["delivered"],
        "pending": ours[0]["pending"],
        "sessions_replayed": ours[0]["sessions_replayed"],
        **by_route,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000, help="messages (default 100000)")
    parser.add_argument(
        "--reps",
        type=int,
        default=3,
        help="repetitions, at least 2 for the agreement check (default 3)",
    )
    parser.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--big", action="store_true", help="also run 1M messages, once")
    parser.add_argument(
        "--routes",
        action="store_true",
        help="also run smtpsim with the session memo off, alternating, and "
        "report the memo's speed-up",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--memo", default="on", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.n, args.seed, args.memo)))
        return 0
    if args.reps < 2:
        parser.error("--reps: at least 2 (the agreement check needs a spread)")
    if not REFERENCE.exists():
        print(f"reference model not found: {REFERENCE}", file=sys.stderr)
        return 1
    print(f"cores: {os.cpu_count()}, python {sys.version.split()[0]}", flush=True)
    result = measure(args.n, args.reps, args.routes)
    for line in result["checks"]:
        print(line, flush=True)
    print(json.dumps(result), flush=True)
    if not result["same_network"]:
        print(
            "smtpsim and the reference do not model the same network here (see above): "
            "no speed ratio reported",
            file=sys.stderr,
        )
        return 2
    if args.big:
        big = run_child([sys.executable, __file__, "--worker", "--n", "1000000"])
        per_hop_big = 1e6 / big["msg_hops_per_s"]
        print(
            json.dumps(
                {
                    "n": 1_000_000,
                    "smtpsim_msg_hops_per_s": round(big["msg_hops_per_s"]),
                    "recipient_row_bytes": round(big["row_bytes"], 1),
                    "maxrss_mb": round(big["maxrss_kb"] / 1024, 1),
                    "maxrss_bytes_per_recipient": round(
                        big["maxrss_kb"] * 1024 / big["recipient_rows"]
                    ),
                    "us_per_msg_hop": round(per_hop_big, 2),
                    "cost_vs_small_run": round(per_hop_big / result["us_per_msg_hop"], 2),
                }
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
