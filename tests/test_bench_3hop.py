"""The speed benchmark compares like with like: ``scenarios/bench-3hop.yaml`` is the
reference model's network (``smtp_hops_reference.py``, which the benchmark runs: every
session has the full rate of its hop), and the benchmark refuses a ratio when the two
models' mean latency or wait differ beyond their confidence intervals (issue 10)."""

from __future__ import annotations

import importlib.util
import math
import random
import sys
from pathlib import Path

import pytest

import smtpsim
from smtpsim.metrics.result import RunResult
from smtpsim.model import build

ROOT = Path(__file__).resolve().parents[1]

# The reference's hops (name in smtpsim, round trip s, bytes/s per session, greeting s,
# end-of-data processing s), as in its HOPS table; a session lasts
# 7.5 round trips + greeting + processing + size / rate (connect, greeting, EHLO, MAIL,
# RCPT, DATA, the transfer, the final dot, QUIT).
REFERENCE_HOPS = {
    "traffic.load": (0.020, 10e6 / 8, 0.001, 0.005),
    "msa": (0.0005, 1e9 / 8, 0.0005, 0.002),
    "out": (0.050, 20e6 / 8, 0.001, 0.010),
}


def _bench() -> object:
    spec = importlib.util.spec_from_file_location(
        "bench_3hop", ROOT / "benchmarks" / "bench_3hop.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_3hop"] = module
    spec.loader.exec_module(module)
    return module


def test_each_session_lasts_what_the_reference_says_at_full_load() -> None:
    """With 20 sessions busy per hop (the bottleneck at 0.8), every transfer still moves
    at its hop's full rate: nothing is shared, as in the reference."""
    scenario = smtpsim.load_scenario(
        ROOT / "scenarios" / "bench-3hop.yaml",
        overrides=["traffic.load.messages=3000", "duration=400"],
    )
    model = build(scenario, 3)
    model.run()
    result = RunResult.from_recorder(model.recorder, {})
    attempts, messages = result.attempts, result.messages
    assert (result.recipients["status"].astype(str) == "delivered").all()
    size = messages.set_index("msg_id")["size_bytes"]
    for host, (rtt, rate, greet, proc) in REFERENCE_HOPS.items():
        mine = attempts[attempts["host"].astype(str) == host]
        assert len(mine) == 3000
        session = (mine["t_end"] - mine["t_start"]).to_numpy()
        expected = (7.5 * rtt + greet + proc + size.loc[mine["msg_id"]] / rate).to_numpy()
        assert abs(session - expected).max() < 1e-9, host


def test_the_agreement_check_tells_same_from_different() -> None:
    bench = _bench()
    rng = random.Random(1)
    same = bench.Agreement(
        "latency",
        tuple(rng.gauss(0.2, 0.001) for _ in range(5)),
        tuple(rng.gauss(0.2, 0.001) for _ in range(5)),
    )
    assert same.agrees and abs(same.difference) <= same.half_width
    # the interval is Welch's: t(df) * sqrt(va/na + vb/nb)
    va = sum((x - sum(same.ours) / 5) ** 2 for x in same.ours) / 4 / 5
    vb = sum((x - sum(same.theirs) / 5) ** 2 for x in same.theirs) / 4 / 5
    assert same.half_width == pytest.approx(
        bench.t975((va + vb) ** 2 / (va**2 / 4 + vb**2 / 4)) * math.sqrt(va + vb)
    )
    # the shared 10 Mbit/s client link of the old scenario: 3.3 s against 0.6 s
    apart = bench.Agreement("latency", (3.35, 3.41, 3.29), (0.603, 0.602, 0.603))
    assert not apart.agrees and "DO NOT AGREE" in apart.describe()
    slightly = bench.Agreement("wait", (0.0140, 0.0141, 0.0139), (0.0150, 0.0151, 0.0149))
    assert not slightly.agrees  # 1 ms apart, with a spread of 0.1 ms: told apart
    assert bench.t975(2) == pytest.approx(4.303, abs=5e-4)  # published tables
    assert bench.t975(2.9) == bench.t975(2) and bench.t975(100) == pytest.approx(1.984, abs=5e-4)
