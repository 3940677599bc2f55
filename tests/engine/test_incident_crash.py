"""Host crashes (docs/scenario-format.md, "incidents"): the host stops, connections to
it time out, its sessions under way are cut (their clients see a lost connection,
4.4.2, and retry), nothing leaves it; with ``queue: lost`` every recipient in its
queue is recorded ``lost`` (docs/results.md), with ``kept`` its mail is tried again
at the restart. Each run is a tiny scenario with an ``incidents:`` section."""

from __future__ import annotations

import pytest
from engine_helpers import attempts_from, strings, two_hosts
from model_runs import check_conservation

import smtpsim

CONNECT_TIMEOUT = 30.0
CRASH = (600.0, 700.0)
LINK_BACK = 1500.0


# out's next hop is unreachable from 200 s, so a queue builds up at out; out crashes
# at 600 s and restarts at 700 s; the link comes back at 1500 s.
def queued(queue: str) -> str:
    """out's next hop is unreachable from 200 s, so a queue builds up at out; out
    crashes at 600 s (``queue``: lost or kept) and restarts at 700 s; the link comes
    back at 1500 s."""
    return two_hosts(
        "crash",
        duration="2h",
        traffic={
            "rate": "0.1/s",
            "stop": "20min",
            "recipients": {"per_message": {"mean": 1.5}, "domains": {"dest.example": 1}},
        },
        incidents=[
            {"link_down": ["mx", "internet"], "at": "200s", "until": f"{LINK_BACK:g}s"},
            {
                "host_crash": {"host": "out", "queue": queue},
                "at": f"{CRASH[0]:g}s",
                "until": f"{CRASH[1]:g}s",
            },
        ],
    )


def run(text: str) -> smtpsim.RunResult:
    return smtpsim.simulate(smtpsim.load_scenario(text))


def held_at_crash(result, host: str, t: float) -> set[tuple[int, str]]:
    """The recipients ``host`` held at ``t``, from the attempts table alone: handed to
    it (a session into it that ended by ``t`` with the message accepted), and not
    passed on by it (a session of its own that ended by ``t`` with it accepted)."""
    att = result.attempts
    sent = att[att["outcome"].astype(str) == "sent"]
    came = sent[(sent["peer"].astype(str) == host) & (sent["t_end"] <= t)]
    left = sent[(sent["host"].astype(str) == host) & (sent["t_end"] <= t)]
    return set(zip(came["msg_id"], came["rcpt"], strict=True)) - set(
        zip(left["msg_id"], left["rcpt"], strict=True)
    )


def keys(frame) -> set[tuple[int, str]]:
    return set(zip(frame["msg_id"], frame["rcpt"], strict=True))


def test_crash_with_queue_lost_loses_exactly_what_was_queued() -> None:
    result = run(queued("lost"))
    assert [(w["kind"], w["start"], w["end"]) for w in result.meta["incidents"]] == [
        ("link_down", 200.0, LINK_BACK),
        ("host_crash", *CRASH),
    ]
    held = held_at_crash(result, "out", CRASH[0])
    assert len(held) > 40
    # the queue at out: recipients deferred there before the crash (and not yet
    # delivered) are all in it; the others were in an attempt under way
    out = attempts_from(result, "out")
    deferred_before = keys(
        out[(out["outcome"].astype(str) == "deferred") & (out["t_end"] <= CRASH[0])]
    )
    assert deferred_before <= held
    assert len(held - deferred_before) <= 5  # arrived in the last connect timeout

    rcpts = result.recipients
    status = rcpts["status"].astype(str)
    lost = rcpts[status == "lost"]
    assert keys(lost) == held  # exactly those, nothing else
    assert (lost["t_final"] == CRASH[0]).all()
    assert (lost["reply"] == "lost in the crash of out").all()
    # nothing more was tried for them after the crash
    later = out[(out["t_start"] >= CRASH[0])]
    assert not keys(later) & held

    counts = check_conservation(result)
    assert counts["lost"] == len(held)
    assert counts["delivered"] == len(rcpts) - len(held)  # everyone else, once back
    others = rcpts[status == "delivered"]
    assert not keys(others) & held


def test_crash_with_queue_kept_delivers_the_queue_after_the_restart() -> None:
    result = run(queued("kept"))
    held = held_at_crash(result, "out", CRASH[0])
    assert len(held) > 40
    counts = check_conservation(result)
    assert counts["lost"] == 0
    assert counts["delivered"] == len(result.recipients)
    rcpts = result.recipients.set_index(["msg_id", "rcpt"])
    t_final = rcpts.loc[sorted(held), "t_final"]
    assert (t_final >= LINK_BACK).all()  # after the restart and the link's return
    # out tried them again after the restart (the link was still down: 4.4.1)
    out = attempts_from(result, "out")
    again = out[(out["t_start"] >= CRASH[1]) & (out["t_start"] < LINK_BACK)]
    assert held <= keys(again) | keys(out[out["t_start"] >= LINK_BACK])
    assert held & keys(again)
    assert (again["dsn"].astype(str) == "4.4.1").all()
    # while out was down nothing left it
    assert not ((out["t_start"] >= CRASH[0]) & (out["t_start"] < CRASH[1])).any()


def test_connections_into_a_crashed_host_time_out() -> None:
    # the flow's client keeps submitting to out during the crash: its sessions get no
    # connection (timed out, 4.4.1), and the mail is submitted after the restart
    result = run(queued("lost"))
    client = attempts_from(result, "traffic.t")
    during = client[(client["t_start"] >= CRASH[0]) & (client["t_start"] < CRASH[1])]
    connecting = during[during["phase"].astype(str) == "connect"]
    assert len(connecting) > 3
    assert strings(connecting["outcome"]) == ["deferred"] * len(connecting)
    assert strings(connecting["dsn"]) == ["4.4.1"] * len(connecting)
    took = connecting["t_end"] - connecting["t_start"]
    assert (took >= CONNECT_TIMEOUT).all() and (took < CONNECT_TIMEOUT + 0.1).all()
    assert (during["outcome"].astype(str) == "deferred").all()
    rcpts = result.recipients.set_index(["msg_id", "rcpt"])
    assert (rcpts.loc[sorted(keys(during)), "status"].astype(str) == "delivered").all()


def cut_sessions(queue: str) -> str:
    """mx takes 20 s after the final dot and crashes (``queue``: lost or kept) from
    600 s to 700 s, while sessions are under way."""
    return two_hosts(
        "crash-cut",
        duration="1h",
        mx={"processing": {"end_of_data": "20s"}},
        traffic={
            "rate": 0,
            "bursts": [
                {"at": "550s", "messages": 1},
                {"at": "590s", "messages": 3},
                {"at": "620s", "messages": 1},
                {"at": "800s", "messages": 1},
            ],
            "recipients": {"per_message": {"fixed": 2}, "domains": {"dest.example": 1}},
        },
        incidents=[{"host_crash": {"host": "mx", "queue": queue}, "at": "600s", "until": "700s"}],
    )


@pytest.mark.parametrize("queue", ["lost", "kept"])
def test_sessions_into_a_crashing_server_are_cut_and_retried(queue: str) -> None:
    """Sessions take 20 s at mx (its end-of-data processing): those under way at the
    crash are cut; the client sees a lost connection (4.4.2), nothing was accepted,
    the destination is declared dead, and it delivers later. mx delivers into its
    mailboxes at once, so it held no queue: nothing is lost."""
    result = run(cut_sessions(queue))
    out = attempts_from(result, "out")
    cut = out[(out["t_start"] < CRASH[0]) & (out["t_end"] > CRASH[0])]
    assert len(cut) == 6  # 3 messages of 2 recipients
    assert strings(cut["outcome"]) == ["deferred"] * 6
    assert strings(cut["dsn"]) == ["4.4.2"] * 6
    assert (cut["code"] == 451).all()
    assert strings(cut["peer"]) == ["mx"] * 6
    # three lost connections in a row are a failed pseudo-cohort (1/5 + 1/3 + 1/2 >= 1,
    # qmgr_queue_throttle): the destination is dead, so the message of 620 s is
    # deferred by qmgr without a connection, with the reason it died
    refused = out[(out["t_start"] >= CRASH[0]) & (out["t_start"] < CRASH[1])]
    assert len(refused) == 2
    assert strings(refused["phase"]) == ["qmgr"] * 2
    assert strings(refused["peer"]) == ["none"] * 2
    assert strings(refused["dsn"]) == ["4.4.2"] * 2
    assert (refused["t_end"] == refused["t_start"]).all()
    # while dead (minimal_backoff_time from the third cut), later mail waits too
    t_dead = cut["t_end"].max()
    suspended = out[out["phase"].astype(str) == "qmgr"]
    assert len(suspended) == 4  # the messages of 620 s and 800 s
    assert ((suspended["t_start"] >= t_dead) & (suspended["t_start"] < t_dead + 300)).all()
    # sessions that ended before the crash, or began after the restart, are untouched
    fine = out[
        ((out["t_end"] <= CRASH[0]) | (out["t_start"] >= CRASH[1]))
        & (out["phase"].astype(str) != "qmgr")
    ]
    assert (fine["outcome"].astype(str) == "sent").all()
    # every recipient cut or refused was retried after the restart and delivered
    retried = out[out["t_start"] >= CRASH[1]]
    assert keys(cut) | keys(refused) <= keys(retried[retried["outcome"].astype(str) == "sent"])
    counts = check_conservation(result)
    assert counts == {
        "delivered": 12,
        "bounced": 0,
        "expired": 0,
        "lost": 0,
        "pending": 0,
        "unsent": 0,
    }
    rcpts = result.recipients.set_index(["msg_id", "rcpt"])
    assert (rcpts.loc[sorted(keys(cut)), "t_final"] > CRASH[1]).all()
