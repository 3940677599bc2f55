"""The server's process limit (``default_process_limit``, postconf(5)): when all
smtpd processes of a host are busy, a new client waits in the listen queue until one
frees up (up to its greeting timeout); it is not refused and its mail is not
deferred."""

from __future__ import annotations

import numpy as np
from engine_helpers import attempts_from, run_model

PROCESSES = 2
END_OF_DATA = 1.0

SCENARIO = f"""
name: process-limit
duration: 10min
hosts:
  out:
    role: mta
    accepts: [corp.example]
    # a new connection for every delivery: each one has to get a server process
    postfix: {{smtp_connection_cache_on_demand: false}}
  mx:
    role: mx
    accepts: [dest.example]
    postfix: {{default_process_limit: {PROCESSES}}}
    processing: {{end_of_data: {END_OF_DATA}s}}
links:
  - {{between: [out, internet], latency: 5ms}}
  - {{between: [mx, internet], latency: 5ms}}
dns:
  corp.example: {{mx: {{out: 10}}}}
  dest.example: {{mx: {{mx: 10}}}}
traffic:
  t:
    submit_to: out
    rate: 0
    bursts: [{{at: 10s, messages: 30}}]
    size: 2KiB
    recipients: {{per_message: {{fixed: 1}}, domains: {{dest.example: 1}}}}
"""


def _max_overlap(starts: np.ndarray, ends: np.ndarray) -> int:
    events = sorted([(t, 1) for t in starts] + [(t, -1) for t in ends], key=lambda e: (e[0], e[1]))
    level = peak = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    return peak


def test_sessions_wait_for_a_server_process() -> None:
    _, result = run_model(SCENARIO)
    att = attempts_from(result, "out")
    assert len(att) == 30
    # nothing refused, nothing deferred: all sent at the first attempt
    assert (att["outcome"].astype(str) == "sent").all()
    assert (att["peer"].astype(str) == "mx").all()
    assert (result.recipients["status"].astype(str) == "delivered").all()
    # out runs up to 5 and more deliveries at once, but the MX serves 2 at a time
    sessions = result.attempts[result.attempts["peer"].astype(str) == "mx"]
    assert _max_overlap(sessions["t_start"].to_numpy(), sessions["t_end"].to_numpy()) == PROCESSES
    # the waiting shows up as connection set-up time (it includes the wait in the
    # listen queue), longer than a whole session for many of them
    assert (att["conn_s"] > END_OF_DATA).sum() >= 10
    # and the whole burst takes as long as 15 rounds of two sessions
    assert att["t_end"].max() - 10 > 30 / PROCESSES * END_OF_DATA
