"""A server's listen queue (``listen_backlog`` on a host; docs/model.md): while all its
``default_process_limit`` processes are busy, a connection waits for one; with a
backlog limit, a connection that finds the queue full gets no answer and the client
gives up after ``smtp_connect_timeout`` (4.4.1 "Connection timed out"), as the
SCHEDULER_README's FreeBSD measurements saw; without one it waits for its greeting."""

from __future__ import annotations

import pytest
from engine_helpers import attempts_from, run_model, strings, two_hosts

CONNECT_TIMEOUT = 30.0


def scenario(mx: dict) -> str:
    """Three messages at once; out opens a connection for each; mx has one process
    that takes 10 s per message, and ``mx`` adds its listen queue's settings."""
    return two_hosts(
        "listen-backlog",
        duration="30min",
        out={"postfix": {"smtp_connection_cache_on_demand": False}},
        mx={"postfix": {"default_process_limit": 1}, "processing": {"end_of_data": "10s"}, **mx},
        traffic={"rate": 0, "bursts": [{"at": "10s", "messages": 3}]},
    )


def first_attempts(backlog: dict):
    _, result = run_model(scenario(backlog))
    out = attempts_from(result, "out")
    return out.groupby("msg_id", sort=True).head(1).sort_values("msg_id").reset_index(
        drop=True
    ), result


def test_a_full_listen_queue_makes_the_connect_time_out() -> None:
    # one process, one place in the queue: of three connections at once, the first is
    # served, the second waits, the third finds the queue full
    first, result = first_attempts({"listen_backlog": 1})
    assert strings(first["outcome"]) == ["sent", "sent", "deferred"]
    dropped = first.iloc[2]
    assert (str(dropped["phase"]), str(dropped["dsn"]), str(dropped["peer"])) == (
        "connect",
        "4.4.1",
        "none",
    )
    assert dropped["t_end"] - dropped["t_start"] == pytest.approx(CONNECT_TIMEOUT, abs=0.1)
    # the waiting one started its session when the process became free
    waited = first.iloc[1]
    assert waited["t_start"] == pytest.approx(first.iloc[0]["t_end"], abs=0.1)
    assert (result.recipients["status"].astype(str) == "delivered").all()  # retried later


@pytest.mark.parametrize("backlog", [{}, {"listen_backlog": 5}])
def test_with_room_in_the_listen_queue_everyone_waits_for_a_process(backlog: dict) -> None:
    first, _ = first_attempts(backlog)
    assert strings(first["outcome"]) == ["sent"] * 3
    # served one after the other, each when the previous session ended
    starts, ends = first["t_start"].tolist(), first["t_end"].tolist()
    assert starts[1] == pytest.approx(ends[0], abs=0.1)
    assert starts[2] == pytest.approx(ends[1], abs=0.1)
