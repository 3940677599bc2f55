"""Dead destinations (Postfix SCHEDULER_README, qmgr_queue.c): one pseudo-cohort of
consecutive connection failures makes a destination dead; for
``minimal_backoff_time`` its mail is deferred without any connection ("delivery
temporarily suspended", logged by qmgr with relay=none), then it is tried again."""

from __future__ import annotations

from engine_helpers import at_times, attempts_from, run_model, strings, two_hosts

MINIMAL_BACKOFF = 300.0
INITIAL_CONCURRENCY = 5

SCENARIO = two_hosts(
    "dead-destination", duration="20min", traffic={"rate": "0.2/s", "stop": "10min"}
)


def failures_until_dead(concurrency: int, cohort_limit: float = 1.0) -> int:
    """``qmgr_queue_throttle`` with the default feedback (constant 1): each failure
    adds 1/concurrency to fail_cohorts, the destination is dead when that reaches
    the limit, otherwise ``failure -= 1`` and the window drops while
    ``failure - 1/2 < 0`` (Postfix's rounding margin: from ``failure == 0`` the
    first failure lowers the window by 2, later ones by 1), never below 1."""
    fail_cohorts = failure = 0.0
    failures = 0
    while True:
        failures += 1
        fail_cohorts += 1.0 / concurrency
        if fail_cohorts >= cohort_limit:
            return failures
        failure -= 1.0
        while failure - 0.5 < 0:
            concurrency -= 1
            failure += 1.0
        concurrency = max(concurrency, 1)


def _mx_down_until(t: float):
    """The MX cannot be reached (its link is down): connections time out (4.4.1)."""

    def setup(model):
        link = model.link("mx", "internet")
        at_times(
            model, (0, lambda: setattr(link, "up", False)), (t, lambda: setattr(link, "up", True))
        )

    return setup


def test_failures_until_dead_helper() -> None:
    assert failures_until_dead(1) == 1
    assert failures_until_dead(2) == 2  # 1/2 + 1/1
    assert failures_until_dead(5) == 3  # windows 5, 3, 2: 1/5 + 1/3 + 1/2 >= 1


def test_dead_destination_is_suspended_then_revived() -> None:
    _, result = run_model(SCENARIO, setup=_mx_down_until(100.0))
    att = attempts_from(result, "out")
    phase = att["phase"].astype(str)
    suspended = att[phase == "qmgr"]
    connecting = att[phase != "qmgr"]
    assert len(suspended) >= 10

    # dead after one pseudo-cohort of connection failures: the k-th one, not before
    failed = connecting[connecting["outcome"].astype(str) == "deferred"]
    assert strings(failed["phase"]) == ["connect"] * len(failed)
    k = failures_until_dead(INITIAL_CONCURRENCY)
    assert len(failed) >= k
    t_dead = failed["t_end"].sort_values().iloc[k - 1]
    assert suspended["t_start"].min() >= t_dead

    # suspended: deferred by the queue manager without a connection, for
    # minimal_backoff_time: whatever is tried then is deferred at once
    assert strings(suspended["outcome"]) == ["deferred"] * len(suspended)
    assert strings(suspended["peer"]) == ["none"] * len(suspended)
    assert (suspended["t_end"] == suspended["t_start"]).all()
    assert (suspended["dsn"].astype(str) == "4.4.1").all()
    window = att[(att["t_start"] > t_dead) & (att["t_start"] < t_dead + MINIMAL_BACKOFF)]
    assert len(window) >= 10
    assert strings(window["phase"]) == ["qmgr"] * len(window)
    assert (suspended["t_start"] < t_dead + MINIMAL_BACKOFF).all()

    # revived: the MX is back since t = 100 s, so every later attempt gets through
    later = att[att["t_start"] >= t_dead + MINIMAL_BACKOFF]
    assert len(later) > 20
    assert (later["outcome"].astype(str) == "sent").all()
    assert strings(later["peer"]) == ["mx"] * len(later)
    # mail that arrived while it was dead waited for the deferred-queue scans
    assert (result.recipients["status"].astype(str) == "delivered").all()


def test_suspended_mail_reports_the_reason() -> None:
    # with maximal_queue_lifetime 0 a deferral is final, so its reason shows up
    _, result = run_model(
        SCENARIO,
        setup=_mx_down_until(100.0),
        overrides=["hosts.out.postfix.maximal_queue_lifetime=0s"],
    )
    att = attempts_from(result, "out")
    suspended = att[att["phase"].astype(str) == "qmgr"]
    assert len(suspended) >= 10
    rows = suspended[["msg_id", "rcpt"]].merge(result.recipients, on=["msg_id", "rcpt"])
    assert len(rows) == len(suspended)
    assert (rows["status"].astype(str) == "expired").all()
    assert (rows["dsn"].astype(str) == "4.4.1").all()
    assert rows["reply"].str.contains("delivery temporarily suspended: ").all()
    assert rows["reply"].str.contains("Connection timed out").all()


def test_many_messages_due_while_the_destination_is_dead() -> None:
    """A long outage with steady traffic: at each deferred-queue scan hundreds of
    messages for the dead destination are due at once, and each is deferred again
    without a connection. The run must go on, and deliver all once the MX is back."""
    _, result = run_model(
        SCENARIO,
        setup=_mx_down_until(2400.0),
        overrides=["traffic.t.rate=1/s", "traffic.t.stop=20min", "duration=2h"],
    )
    rcpts = result.recipients
    assert len(rcpts) > 1000
    assert (rcpts["status"].astype(str) == "delivered").all()
    att = attempts_from(result, "out")
    assert (att["phase"].astype(str) == "qmgr").sum() > 1000


ANVIL = two_hosts(
    "dead-by-421",
    out={"postfix": {"maximal_queue_lifetime": 0, "default_destination_recipient_limit": 2}},
    mx={
        "mailboxes": 100000,
        "processing": {"end_of_data": "5s"},
        "policies": [{"rate_limit": {"connections": 1}}],
    },
    traffic={
        "rate": 0,
        "bursts": [{"at": "10s", "messages": 1}, {"at": "60s", "messages": 1}],
        "recipients": {"per_message": {"fixed": 100}, "domains": {"dest.example": 1}},
    },
)


def test_421_greetings_are_site_failures_that_kill_the_destination() -> None:
    """anvil allows one connection: of the first five deliveries one is served and
    the other four are greeted with 421 (a handshake failure: negative feedback, as
    smtp_site_fail in Postfix); three in a row make dest.example dead, and its other
    requests are suspended with the reason Postfix gives. The delivery under way then
    succeeds and brings it back at once (qmgr_queue_unthrottle), long before
    minimal_backoff_time."""
    _, result = run_model(ANVIL)
    att = attempts_from(result, "out")
    refused = att[att["phase"].astype(str) == "greeting"]
    assert set(zip(refused["code"], refused["dsn"].astype(str), strict=True)) == {(421, "4.7.0")}
    suspended = att[att["phase"].astype(str) == "qmgr"]
    assert len(suspended) > 0
    assert (suspended["dsn"].astype(str) == "4.7.0").all()
    t_dead = suspended["t_start"].min()
    # the four refused deliveries (2 recipients each) started together with the one
    # served; the third of them to end made the destination dead (windows 5, 3, 2)
    assert len(refused[refused["t_end"] <= t_dead]) == 4 * 2
    sent = att[att["outcome"].astype(str) == "sent"]
    first_success = sent["t_end"].min()
    assert t_dead < first_success < 60
    # back at once after that success, not minimal_backoff_time later: the message
    # of 60 s is tried (one served, the rest refused or suspended anew), not deferred
    # before any connection
    second = att[att["msg_id"] == att["msg_id"].max()]
    first_try = second.sort_values("t_start").iloc[0]
    assert str(first_try["phase"]) != "qmgr" and first_try["t_start"] < 61
    assert (second["outcome"].astype(str) == "sent").any()
    reasons = result.recipients[result.recipients["status"].astype(str) == "expired"]["reply"]
    assert reasons.str.contains(
        "delivery temporarily suspended: host mx.sim.example"
        r"\[[0-9.]+\] refused to talk to me: 421 4.7.0"
    ).any()
