"""smtpsim against a hand-written SimPy model of the same 3-hop network.

``scenarios/bench-3hop.yaml`` is ``../shared/bench/smtp_hops_reference.py`` as a
scenario: the senders' clients -> msa -> out -> mx, 20 sessions per hop, lognormal
sizes (median 20 kB), the bottleneck hop loaded to 0.8. The reference ("naive")
spends one SimPy timeout per SMTP command and has no protocol logic at all; smtpsim
runs the full SMTP client and server machines, Postfix's queue manager and the
recorder.

Machines here are shared and noisy, so both run in the same job, alternately, each
in a fresh process, and the medians are compared. Prints, for each size:
message-hops per second of both, their ratio, SimPy events per message-hop, and
peak RSS; with ``--big`` also a 1M-message run: bytes per recipient row held by
the recorder, and the cost per message-hop relative to the 100k run.

    python benchmarks/bench_3hop.py                 # 100k messages, 3 repetitions
    python benchmarks/bench_3hop.py --n 20000 --reps 1
    python benchmarks/bench_3hop.py --big           # adds the 1M-message run
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "bench-3hop.yaml"
REFERENCE = ROOT.parent / "shared" / "bench" / "smtp_hops_reference.py"
HOPS = 3


def worker(n: int) -> dict[str, float]:
    """One smtpsim run of ``n`` messages in this process (called in a child)."""
    import smtpsim
    from smtpsim.model import build

    rate = smtpsim.load_scenario(SCENARIO).traffic["load"].rate.rate
    scenario = smtpsim.load_scenario(
        SCENARIO, overrides=[f"traffic.load.messages={n}", f"duration={n / rate + 300:.0f}"]
    )
    model = build(scenario)
    t0 = time.perf_counter()
    model.run()
    wall = time.perf_counter() - t0
    rec = model.recorder
    counts = rec.status_counts()
    rows = len(rec.r_msg)
    columns = [rec.r_msg, rec.r_status, rec.r_t_final, rec.r_attempts, rec.r_hops,
               rec.r_rcpt.codes, rec.r_domain.codes, rec.r_dsn.codes, rec.r_reply.codes]
    column_bytes = sum(c.itemsize * len(c) for c in columns)
    interned = sum(sys.getsizeof(v) + 8 for v in rec.r_rcpt.values)
    return {
        "wall": wall,
        "msg_hops_per_s": n * HOPS / wall,
        "events_per_msg_hop": next(model.env._eid) / (n * HOPS),
        "delivered": counts["delivered"],
        "pending": counts["pending"],
        "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "row_bytes": (column_bytes + interned) / rows,
        "recipient_rows": rows,
    }


def run_child(args: list[str]) -> dict[str, float]:
    out = subprocess.run(args, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(n: int, reps: int) -> dict[str, object]:
    ours, ref = [], []
    for _ in range(reps):  # alternate, so that drift hits both alike
        ref.append(run_child([sys.executable, str(REFERENCE), "naive", "--n", str(n)]))
        ours.append(run_child([sys.executable, __file__, "--worker", "--n", str(n)]))
    med = statistics.median
    ours_rate = med(r["msg_hops_per_s"] for r in ours)
    ref_rate = med(r["msg_hops_per_s"] for r in ref)
    return {
        "n": n,
        "reps": reps,
        "smtpsim_msg_hops_per_s": round(ours_rate),
        "naive_msg_hops_per_s": round(ref_rate),
        "ratio": round(ours_rate / ref_rate, 3),
        "ratios": [round(o["msg_hops_per_s"] / r["msg_hops_per_s"], 3)
                   for o, r in zip(ours, ref, strict=True)],
        "smtpsim_events_per_msg_hop": round(med(r["events_per_msg_hop"] for r in ours), 2),
        "naive_events_per_msg_hop": round(med(r["events_per_msg"] for r in ref) / HOPS, 2),
        "smtpsim_maxrss_mb": round(med(r["maxrss_kb"] for r in ours) / 1024, 1),
        "naive_maxrss_mb": round(med(r["maxrss_kb"] for r in ref) / 1024, 1),
        "recipient_row_bytes": round(med(r["row_bytes"] for r in ours), 1),
        "us_per_msg_hop": round(1e6 / ours_rate, 2),
        "delivered": ours[0]["delivered"],
        "pending": ours[0]["pending"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000, help="messages (default 100000)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (default 3)")
    parser.add_argument("--big", action="store_true", help="also run 1M messages, once")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.n)))
        return 0
    if not REFERENCE.exists():
        print(f"reference model not found: {REFERENCE}", file=sys.stderr)
        return 1
    print(f"cores: {os.cpu_count()}, python {sys.version.split()[0]}", flush=True)
    result = measure(args.n, args.reps)
    print(json.dumps(result), flush=True)
    if args.big:
        big = run_child([sys.executable, __file__, "--worker", "--n", "1000000"])
        per_hop_big = 1e6 / big["msg_hops_per_s"]
        print(json.dumps({
            "n": 1_000_000,
            "smtpsim_msg_hops_per_s": round(big["msg_hops_per_s"]),
            "recipient_row_bytes": round(big["row_bytes"], 1),
            "maxrss_mb": round(big["maxrss_kb"] / 1024, 1),
            "maxrss_bytes_per_recipient": round(big["maxrss_kb"] * 1024 / big["recipient_rows"]),
            "us_per_msg_hop": round(per_hop_big, 2),
            "cost_vs_small_run": round(per_hop_big / result["us_per_msg_hop"], 2),
        }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
