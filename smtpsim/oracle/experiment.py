"""One oracle experiment, run for real (Postfix 3.7 relaying to ``smtpsim serve``) and
simulated (the same network as a scenario, several seeds).

The network of every experiment: a sender population submits one-recipient messages
to a relay (``relay``), which sends everything to one next hop (``relayhost``, no DNS)
that accepts ``dest.example``. For real, the relay is a private Postfix
(:mod:`.postfix_instance`) and the next hop ``smtpsim serve`` with the experiment's
faults (:mod:`.serve_process`); messages are submitted over SMTP on a Poisson schedule
in wall-clock time (:mod:`.submission`); the maillog is read by :mod:`smtpsim.logs.postfix_log`.
Simulated, the relay and the next hop are scenario hosts with the same Postfix
parameters, and the faults are the scenario's incidents and policies.

Postfix's bounces go to ``corp.example``, which the real relay discards
(``transport_maps``) and the simulated relay delivers to itself: either way they stay
out of the next hop, and the metrics count the original messages only.
"""

from __future__ import annotations

import contextlib
import json
import math
import signal
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
import pandas as pd

from ..logs.postfix_log import PostfixLog, read_postfix_log
from ..metrics.result import RunResult
from ..scenario import load_scenario
from ..scenario.units import parse_duration
from ..simulation import simulate
from .comparison import Metric
from .postfix_instance import PostfixInstance, free_port
from .serve_process import running_serve
from .submission import Submitted, poisson_times, submit


@dataclass(frozen=True)
class Experiment:
    """What to run: the workload, the relay's Postfix parameters, the next hop's faults
    for ``smtpsim serve`` and as scenario YAML, and the bounds."""

    key: str
    title: str
    question: str
    messages: int
    rate: float  # messages per second (Poisson); 0: all at once
    postfix: Mapping[str, str]  # main.cf and scenario ``postfix`` (same names, same values)
    serve_args: tuple[str, ...] = ()  # faults of smtpsim serve
    mx_yaml: str = ""  # extra lines of the scenario's next-hop host (policies)
    incidents_yaml: str = ""  # the scenario's incidents list items
    outage_s: float = 0.0  # the next hop refuses connections for this long from t = 0
    # the simulated relay gets the real run's submissions at their times (write_trace)
    # instead of drawing its own: where a few arrivals decide a branch (the outage:
    # how many retries the first scans feed). Elsewhere the seeds' own arrivals give
    # the spread that stands for the real runs' variation (with the real arrivals
    # the caching experiment's seeds were all alike, and one real run's mean conn_use
    # fell outside the bare tolerance)
    replay: bool = False
    limit_s: float = 180.0  # wall-clock bound of the real run
    seeds: int = 10
    seed: int = 1  # of the real run's arrival times and of serve's fault draws
    notes: tuple[str, ...] = ()
    metrics: tuple[Metric, ...] = ()


@dataclass
class RealRun:
    """The real side: the maillog read, what was submitted, how long it took."""

    log: PostfixLog
    submitted: list[Submitted]
    wall_s: float
    drained: bool
    maillog: Path
    back_at: float  # when smtpsim serve listened (after an outage), s since the start


@dataclass
class Outcome:
    """Both sides of an experiment."""

    experiment: Experiment
    real: RealRun
    simulated: list[RunResult] = field(default_factory=list)
    # per seed, when its traffic started (s): its relay's scans then fall where the
    # real relay's did (seed_phases); its tables are counted from then
    offsets: list[float] = field(default_factory=list)
    scan_phases: list[float] = field(default_factory=list)  # the real scans' (scan_phases)


class Interrupted(Exception):
    """SIGTERM or :data:`CANCEL` during an experiment (an exception, so that the
    ``finally`` blocks stop Postfix and smtpsim serve)."""


# Set to stop every experiment under way (Ctrl-C while they run side by side in
# threads: the main thread sets it, each experiment stops within 0.2 s).
CANCEL = threading.Event()


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Interrupted(f"signal {signum}")

    before = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def _serve_args(exp: Experiment, port: int) -> list[str]:
    return [
        "--listen",
        f"127.0.0.1:{port}",
        "--domain",
        "dest.example",
        "--hostname",
        "mx.dest.example",
        "--seed",
        str(exp.seed),
        *exp.serve_args,
    ]


def run_real(exp: Experiment, workdir: Path | None = None) -> RealRun:
    """Run ``exp`` through a private Postfix and ``smtpsim serve``; both are stopped on
    every path (errors, Ctrl-C, SIGTERM). Ends when Postfix's queue is empty after the
    last submission, or at ``exp.limit_s``."""
    root = Path(workdir or tempfile.mkdtemp(prefix=f"oracle-{exp.key}-"))
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    settings = {
        "transport_maps": "inline:{corp.example=discard:}",
        **exp.postfix,
    }
    postfix = PostfixInstance(root / "postfix", f"[127.0.0.1]:{port}", settings)
    times = poisson_times(exp.messages, exp.rate, exp.seed)
    rcpts = [f"user{i}@dest.example" for i in range(exp.messages)]
    args = _serve_args(exp, port)
    # smtpsim serve's --listen is given twice: the later one (the reserved port) wins
    with _sigterm_raises(), contextlib.ExitStack() as stack:
        stack.callback(postfix.stop)
        postfix.start()
        submitted: list[Submitted] = []
        failure: list[BaseException] = []
        serving = False
        back_at = 0.0
        if exp.outage_s <= 0:  # the next hop is up before the first message
            stack.enter_context(running_serve(args, root / "serve.log"))
            serving = True

        def submitter() -> None:
            try:
                submitted.extend(
                    submit(postfix.smtpd_port, times, rcpts, start=start, cancel=CANCEL)
                )
            except BaseException as exc:  # reported by the main thread
                failure.append(exc)

        origin = datetime.now(UTC).replace(tzinfo=None)
        start = time.monotonic()
        thread = threading.Thread(target=submitter, daemon=True)
        thread.start()
        drained = False
        while time.monotonic() - start < exp.limit_s:
            now = time.monotonic() - start
            if not serving and now >= exp.outage_s:
                stack.enter_context(running_serve(args, root / "serve.log"))
                serving = True
                back_at = time.monotonic() - start
            if failure:
                raise RuntimeError(f"submission failed: {failure[0]}")
            if CANCEL.is_set():
                raise Interrupted("cancelled")
            if not thread.is_alive() and serving and postfix.queue_empty():
                drained = True
                break
            time.sleep(0.2)
        thread.join(timeout=5)
        wall = time.monotonic() - start
        time.sleep(0.5)  # the last lines reach the log
    arrivals = {s.queue_id: s.t_submit for s in submitted}
    log = read_postfix_log(postfix.maillog, origin=origin, arrivals=arrivals)
    return RealRun(log, submitted, wall, drained, postfix.maillog, back_at)


def scenario_yaml(
    exp: Experiment,
    outage_s: float | None = None,
    start: float = 0.0,
    trace: tuple[Path, float] | None = None,
) -> str:
    """The experiment as a scenario: the relay, the next hop, the flow, the faults;
    ``outage_s`` (default ``exp.outage_s``): when the next hop comes back, as measured
    in the real run (smtpsim serve takes a moment to start); ``start``: when the
    traffic (and the outage) begin, so that the relay's scans, every
    ``queue_run_delay`` from time 0, fall where the real relay's did (``seed_phases``);
    ``trace``: a CSV of the real run's submissions (``write_trace``) and the first
    one's time, replayed instead of drawing arrivals."""
    outage = exp.outage_s if outage_s is None else outage_s
    postfix = "".join(f"      {k}: {v}\n" for k, v in exp.postfix.items() if k in _SCENARIO_KEYS)
    recipients = "    recipients: {per_message: {fixed: 1}, domains: {dest.example: 1}}\n"
    if trace is not None:
        path, first = trace
        arrivals = (
            f"    start: {start + first:.6f}s\n"
            f"    replay: {{file: {json.dumps(str(path))}, align: first}}\n"
        )
        recipients = ""  # the trace's
    elif exp.rate > 0:
        arrivals = (
            f"    start: {start:.3f}s\n    rate: {exp.rate}/s\n    messages: {exp.messages}\n"
        )
    else:
        arrivals = f"    bursts: [{{at: {start:.3f}s, messages: {exp.messages}}}]\n"
    incidents = exp.incidents_yaml
    if exp.outage_s > 0:
        incidents += (
            f"  - {{host_down: {{host: mx, mode: refuse}}, at: {start:.3f}s, for: {outage:.3f}s}}\n"
        )
    return (
        f"name: oracle-{exp.key}\n"
        f"description: {json.dumps(exp.title)}\n"
        f"duration: {exp.limit_s + start:g}s\n"
        "hosts:\n"
        "  relay:\n"
        "    role: relay\n"
        "    name: relay.corp.example\n"
        "    accepts: [corp.example]\n"
        "    postfix:\n"
        "      relayhost: mx\n"
        f"{postfix}"
        "  mx:\n"
        "    role: mx\n"
        "    name: mx.dest.example\n"
        "    accepts: [dest.example]\n"
        "    mailboxes: 1000000\n"
        f"{exp.mx_yaml}"
        "links:\n"
        "  - {between: [relay, mx], latency: 0.1ms}\n"
        "dns:\n"
        "  corp.example: {mx: {relay: 10}}\n"
        "  dest.example: {mx: {mx: 10}}\n"
        "traffic:\n"
        "  submit:\n"
        "    submit_to: relay\n"
        f"{arrivals}"
        "    size: 400B\n"
        f"{recipients}"
        "    link: {latency: 0.1ms}\n"
        + (f"incidents:\n{incidents}" if incidents else "")
        + "simulation: {drain: true}\n"
    )


_SCENARIO_KEYS = frozenset(
    {
        "queue_run_delay",
        "minimal_backoff_time",
        "maximal_backoff_time",
        "maximal_queue_lifetime",
        "bounce_queue_lifetime",
        "initial_destination_concurrency",
        "default_destination_concurrency_limit",
        "default_destination_recipient_limit",
        "default_destination_concurrency_failed_cohort_limit",
        "smtp_connection_cache_on_demand",
        "smtp_connection_cache_time_limit",
        "smtp_connection_reuse_time_limit",
        "smtp_connect_timeout",
    }
)


def run_simulated(
    exp: Experiment,
    outage_s: float | None = None,
    start: float | list[float] = 0.0,
    trace: tuple[Path, float] | None = None,
) -> list[RunResult]:
    """``exp.seeds`` runs of the scenario, seeds 1, 2, ... (``start``, one for all or
    one per seed, and ``trace``: ``scenario_yaml``)."""
    starts = start if isinstance(start, list) else [start] * exp.seeds
    results = []
    for seed, begin in enumerate(starts, 1):
        results.append(
            simulate(load_scenario(scenario_yaml(exp, outage_s, begin, trace)), seed=seed)
        )
    return results


def write_trace(path: Path, submitted: list[Submitted]) -> float:
    """The real run's submissions as a replay CSV (``time,sender,recipients,size``,
    docs/scenario-format.md, "replay"); returns the first one's time. The simulated
    relay so gets its messages when the real one got them: the outage experiment
    turns on how many retries each of the first scans feeds (in one run, two messages
    in the first 0.7 s, then none until 3.4 s: the first scan's two refusals did not
    kill the destination, where three would have)."""
    rows = sorted(submitted, key=lambda s: s.t_submit)
    with path.open("w", encoding="utf-8") as out:
        out.write("time,sender,recipients,size\n")
        for s in rows:
            out.write(f"{s.t_submit:.6f},{s.sender},{s.rcpt},400\n")
    return rows[0].t_submit if rows else 0.0


def scan_phases(attempts: pd.DataFrame, queue_run_delay: float) -> list[float]:
    """When the real relay's deferred-queue scans came, each in [0,
    ``queue_run_delay``) past a multiple of it from the start, in time order; empty
    without a retry to tell.

    Postfix's qmgr scans its deferred queue at its own start and then every
    ``queue_run_delay`` (qmgr.c, ``qmgr_post_init`` and ``qmgr_deferred_run_event``),
    due at whole seconds of its clock, each run at the event loop's first pass in its
    second (events.c), so anywhere within it; its log names no scan. A retry starts a
    few milliseconds after the scan that fed it (qmgr.c, ``qmgr_active_feed``): the
    first retry of each scan gives its moment. Retries logged with a ``delay=`` under
    10 s are known to 0.1 s (two significant digits, ``format_tv.c``); when there are
    such, they alone are used. One real run's scans came at 9.58, 14.83, 20.17,
    24.27, 29.39, 34.54 and 39.69 s: 0.9 s apart within their seconds."""
    if attempts.empty:
        return []
    att = attempts.sort_values(["msg_id", "rcpt", "t_start"])
    retries = att[att.groupby(["msg_id", "rcpt"], observed=True).cumcount().to_numpy() > 0]
    if "delay_s" in retries:
        precise = retries[retries["delay_s"].to_numpy(float) < 10.0]
        if len(precise):
            retries = precise
    starts = np.sort(retries["t_start"].to_numpy(float))
    if not len(starts):
        return []
    # a scan feeds its files within a second; the next comes queue_run_delay later
    firsts = starts[np.concatenate([[True], np.diff(starts) > 1.0])]
    return [float(t % queue_run_delay) for t in firsts]


def seed_phases(phases: list[float], seeds: int, queue_run_delay: float) -> list[float]:
    """A scan phase per simulated seed: spread evenly over the band the real scans'
    phases took (around their circular mean, so that 4.9 and 0.1 are 0.2 s apart).

    smtpsim scans at one phase; Postfix's scans wander within their second from scan
    to scan with its event loop's activity. Where an event falls within that band of
    a scan (a new message, the next hop's return), which comes first decides whether
    a destination dies: in one run the first scan came at 9.85 s, just with a new
    message, and the three refusals killed it; at the run's mean phase, 0.3 s later,
    the new message was refused alone and the destination forgotten. The seeds so
    cover the real timing that the model does not reproduce."""
    if not phases:
        return []
    q = queue_run_delay
    angle = 2 * math.pi * np.asarray(phases) / q
    mean = math.atan2(float(np.sin(angle).mean()), float(np.cos(angle).mean())) / (2 * math.pi) * q
    deviations = (np.asarray(phases) - mean + q / 2) % q - q / 2
    low, high = float(deviations.min()), float(deviations.max())
    return [(mean + low + (high - low) * (k + 0.5) / seeds) % q for k in range(seeds)]


def run_experiment(exp: Experiment, workdir: Path | None = None) -> Outcome:
    """Both sides of ``exp``. With ``exp.replay`` the simulated relay gets the real
    run's submissions at their times (``write_trace``; a burst is at 0 on both
    sides), and each seed's
    traffic starts where its scans (every ``queue_run_delay`` from time 0) fall within
    the band of the real relay's (``scan_phases``, ``seed_phases``)."""
    load_scenario(scenario_yaml(exp))  # a broken scenario fails before the real run
    real = run_real(exp, workdir)
    delay = parse_duration(exp.postfix.get("queue_run_delay", "300s"))
    phases = scan_phases(real.log.attempts, delay)
    starts = [(delay - p) % delay for p in seed_phases(phases, exp.seeds, delay)]
    starts = starts or [0.0] * exp.seeds
    outage = real.back_at if exp.outage_s > 0 else None
    if not exp.replay or exp.rate <= 0 or not real.submitted:
        return Outcome(exp, real, run_simulated(exp, outage, starts), starts, phases)
    with tempfile.TemporaryDirectory(prefix=f"oracle-{exp.key}-trace-") as folder:
        path = Path(folder) / "submitted.csv"
        first = write_trace(path, real.submitted)
        simulated = run_simulated(exp, outage, starts, (path, first))
    return Outcome(exp, real, simulated, starts, phases)


def tables_of(outcome: Outcome) -> list[tuple[str, dict[str, pd.DataFrame]]]:
    """``("real", tables)`` then ``("seed N", tables)``: each side's recipients and
    attempts of the original messages (bounces apart) at the relay."""
    sides: list[tuple[str, dict[str, pd.DataFrame]]] = []
    log = outcome.real.log
    sides.append(("real", _restrict(log.messages, log.recipients, log.attempts, "relay")))
    for seed, result in enumerate(outcome.simulated, 1):
        sides.append(
            (
                f"seed {seed}",
                _restrict(
                    result.messages,
                    result.recipients,
                    result.attempts,
                    "relay",
                    outcome.offsets[seed - 1] if outcome.offsets else 0.0,
                ),
            )
        )
    return sides


def _restrict(
    messages: pd.DataFrame,
    recipients: pd.DataFrame,
    attempts: pd.DataFrame,
    host: str,
    offset: float = 0.0,
) -> dict[str, Any]:
    """The original messages' tables at ``host``, times counted from ``offset`` (when
    the simulated traffic started)."""
    original = set(messages.loc[messages["origin"].astype(str) != "bounce", "msg_id"])
    rec = recipients[recipients["msg_id"].isin(original)].copy()
    att = attempts[attempts["msg_id"].isin(original) & (attempts["host"].astype(str) == host)]
    att = att.copy()
    t_submit = messages.set_index("msg_id")["t_submit"]
    rec["t_submit"] = rec["msg_id"].map(t_submit)
    if offset:
        rec["t_submit"] = rec["t_submit"] - offset
        rec["t_final"] = rec["t_final"] - offset
        att["t_start"] = att["t_start"] - offset
        att["t_end"] = att["t_end"] - offset
    bounces = messages[messages["origin"].astype(str) == "bounce"]
    return {"recipients": rec, "attempts": att, "bounces": bounces}
