"""The server's process limit (``default_process_limit``, postconf(5)): when all
smtpd processes of a host are busy, a new client waits in the listen queue until one
frees up (up to its greeting timeout); it is not refused and its mail is not
deferred."""

from __future__ import annotations

import numpy as np
from engine_helpers import attempts_from, run_model, two_hosts

PROCESSES = 2
END_OF_DATA = 1.0
MESSAGES = 30

SCENARIO = two_hosts(
    "process-limit",
    # a new connection for every delivery: each one has to get a server process
    out={"postfix": {"smtp_connection_cache_on_demand": False}},
    mx={
        "postfix": {"default_process_limit": PROCESSES},
        "processing": {"end_of_data": f"{END_OF_DATA}s"},
    },
    traffic={"rate": 0, "bursts": [{"at": "10s", "messages": MESSAGES}]},
)


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
    assert len(att) == MESSAGES
    # nothing refused, nothing deferred: all sent at the first attempt
    assert (att["outcome"].astype(str) == "sent").all()
    assert (att["peer"].astype(str) == "mx").all()
    assert (result.recipients["status"].astype(str) == "delivered").all()
    # out runs up to 5 and more deliveries at once, but the MX serves 2 at a time
    sessions = result.attempts[result.attempts["peer"].astype(str) == "mx"]
    assert _max_overlap(sessions["t_start"].to_numpy(), sessions["t_end"].to_numpy()) == PROCESSES
    # a waiting client gets a process the moment another session ends (the listen
    # queue is served first come, first served, no process idles while one waits)
    served = att.sort_values("t_start", kind="stable")
    starts, ends = served["t_start"].to_numpy(), np.sort(served["t_end"].to_numpy())
    np.testing.assert_allclose(starts[PROCESSES:], ends[: MESSAGES - PROCESSES], rtol=0, atol=1e-9)
    # the wait shows up as connection set-up time. out keeps at least
    # initial_destination_concurrency (5) deliveries open while it has mail, more than
    # the MX's processes, so every session after the first PROCESSES was connected
    # before a process came free for it, waited at least one whole session (at least
    # END_OF_DATA), and only the first PROCESSES did not wait
    waited = att["conn_s"] > END_OF_DATA
    assert waited.sum() == MESSAGES - PROCESSES
    assert not waited[att["t_start"] < ends[0]].any()
    # and the whole burst takes as long as 15 rounds of two sessions
    assert att["t_end"].max() - 10 > MESSAGES / PROCESSES * END_OF_DATA
