"""The oracle's experiments (issue 11), time-compressed so that each takes about a
minute of wall-clock time: backoffs of seconds instead of minutes, as in the issue's
first probe (``minimal_backoff_time = 10s``, ``maximal_backoff_time = 40s``,
``queue_run_delay = 5s``)."""

from __future__ import annotations

from .comparison import (
    Metric,
    attempts_per_recipient,
    bounce_notices,
    conn_uses,
    connections_per_message,
    count_attempts,
    count_status,
    deferral_phase,
    delays,
    drain_time,
    expired_text,
    expiry_ages,
    first_attempt_share,
    gaps,
    mean_of,
    nth_attempt_ages,
    quantile,
    share_below,
    share_reused,
)
from .experiment import Experiment

# Causes 1 to 4 of issue 11 are fixed in the model (each with its Postfix 3.7 source
# in smtpsim.mta and smtpsim.mail.retry); the causes below explain what still differs.
_SCAN_PHASE = (
    "scan phase: Postfix scans its deferred queue every queue_run_delay from the "
    "moment its qmgr started (qmgr.c, qmgr_deferred_run_event), at a phase against the "
    "first submission that its log does not show (anywhere within the 5 s); smtpsim "
    "scans at 5 s, 10 s, ... from it. A retry time near a scan moves by up to one "
    "queue_run_delay from run to run (real third attempts while the model was fixed: "
    "median 21.1 s and 26.9 s after submission in two runs)"
)
_SCAN_TIMING = (
    "real timing: whether a destination dies turns on moments the model does not "
    "reproduce. Postfix runs each deferred-queue scan anywhere within its whole second "
    "(events.c), drifting by up to 0.9 s from scan to scan (each seed scans at one "
    "phase, the seeds spread over the band the run's scans took); and a refused "
    "delivery occupies Postfix for 0 to 80 ms (waiting for an smtp process: delays b "
    "of 0.01 to 0.08 s in 53 of 194 refused deliveries of two runs), smtpsim for about "
    "0.2 ms, so refusals tens of ms apart overlap in Postfix and add up to a dead "
    "destination (three at 9.85 to 9.88 s in one run) where smtpsim's end one by one "
    "and the destination is forgotten between them (qmgr_entry.c). A branch no seed "
    "took is one death more or less, for minimal_backoff_time (10 s): of 12 real runs, "
    "3 made 60 suspensions, 6 made 71 and 3 made 97; 26 to 36 refusals, 2.4 to 3.1 "
    "attempts per recipient, a median delay of 13, 20 or 27 s, the last delivery after "
    "45.7, 49.8 or 55.8 s. On the same branch (3 runs of the 71 compared) every row "
    "agrees, within 3 suspensions, 3 refusals and 0.5 s"
)


def _retry_metrics(min_backoff: float, scan: float) -> tuple[Metric, ...]:
    """The metrics of a retry experiment; retry times within half a scan interval."""
    half = scan / 2
    return (
        Metric("delivered", "recipients delivered", count_status("delivered"), 3, 0.05),
        Metric("expired", "recipients expired", count_status("expired"), 3, 0.5),
        Metric("attempts", "attempts per recipient", attempts_per_recipient, 0.15, 0.08),
        Metric("deferrals", "deferred attempts", count_attempts("deferred"), 5, 0.15),
        Metric("gap_p10", "gap between attempts, p10 (s)", quantile(gaps, 0.1), half),
        Metric("gap_p50", "gap between attempts, median (s)", quantile(gaps, 0.5), half),
        Metric("gap_p90", "gap between attempts, p90 (s)", quantile(gaps, 0.9), half),
        Metric(
            "second_age",
            "2nd attempt, median time after submission (s)",
            quantile(nth_attempt_ages(2), 0.5),
            half,
            known=_SCAN_PHASE,
        ),
        Metric(
            "third_age",
            "3rd attempt, median time after submission (s)",
            quantile(nth_attempt_ages(3), 0.5),
            half,
            known=_SCAN_PHASE,
        ),
        Metric(
            "gap_below_min",
            f"share of gaps under minimal_backoff_time ({min_backoff:g} s)",
            share_below(gaps, min_backoff),
            0.05,
            known=_SCAN_PHASE,
        ),
        Metric(
            "gap_ks",
            "gaps: KS test p-value (agrees: p >= 0.01)",
            quantile(gaps, 0.5),  # shown nowhere: a KS row reports the test's p-value
            0.01,
            ks=gaps,
            known=_SCAN_PHASE,
        ),
        Metric("first_try", "share delivered at the first attempt", first_attempt_share, 0.1),
        Metric(
            "delay_mean", "delay of delivered, mean (s)", mean_of(delays), half, known=_SCAN_PHASE
        ),
    )


_FAST = {
    "queue_run_delay": "5s",
    "minimal_backoff_time": "10s",
    "maximal_backoff_time": "20s",
}

RETRIES_4XX = Experiment(
    key="retries-4xx",
    title="Retries under random 4xx at RCPT (p = 0.5)",
    question=(
        "Half of all RCPT commands get 451 4.3.0: how many attempts does a message take, "
        "how far apart are they, how long are the delays, what expires?"
    ),
    messages=100,
    rate=8.0,
    postfix={**_FAST, "maximal_queue_lifetime": "50s", "bounce_queue_lifetime": "50s"},
    serve_args=("--inject", "rcpt:451 4.3.0 Try again later@0.5"),
    incidents_yaml=(
        "  - {server_errors: {host: mx, phase: rcpt, "
        'reply: "451 4.3.0 Try again later", probability: 0.5}, at: 0s}\n'
    ),
    limit_s=120.0,
    metrics=_retry_metrics(10.0, 5.0),
)

EXPIRY = Experiment(
    key="expiry",
    title="Expiry against a server that always answers 4xx",
    question=(
        "Every RCPT gets 451 4.3.0 and maximal_queue_lifetime is 30 s: when does each "
        "message expire, after how many attempts, with which DSN code and text?"
    ),
    messages=20,
    rate=4.0,
    postfix={**_FAST, "maximal_queue_lifetime": "30s", "bounce_queue_lifetime": "30s"},
    serve_args=("--inject", "rcpt:451 4.3.0 Try again later"),
    incidents_yaml=(
        "  - {server_errors: {host: mx, phase: rcpt, "
        'reply: "451 4.3.0 Try again later", probability: 1}, at: 0s}\n'
    ),
    limit_s=90.0,
    metrics=(
        Metric("expired", "recipients expired", count_status("expired"), 0),
        Metric("attempts", "attempts per recipient", attempts_per_recipient, 0.1),
        Metric(
            "age_p50",
            "expiry, median time after submission (s)",
            quantile(expiry_ages, 0.5),
            2.5,
            known=_SCAN_PHASE,
        ),
        Metric(
            "age_max",
            "expiry, latest time after submission (s)",
            quantile(expiry_ages, 1.0),
            2.5,
            known=_SCAN_PHASE,
        ),
        Metric("dsn", "DSN code of the expired", expired_text("dsn"), 0),
        Metric("reply", "reply recorded for the expired", expired_text("reply"), 0),
        Metric("notices", "non-delivery notices", bounce_notices, 0),
    ),
)

OUTAGE = Experiment(
    key="outage",
    title="A next hop that refuses connections for 30 s, then comes back",
    question=(
        "Connections are refused for the first 30 s: how many connection attempts, "
        "dead-destination suspensions, how long until the queue drains, what delays?"
    ),
    messages=60,
    rate=2.0,
    postfix={**_FAST, "maximal_queue_lifetime": "300s", "bounce_queue_lifetime": "300s"},
    outage_s=30.0,
    replay=True,
    notes=(
        "real runs while this was built: 26 to 36 refused connection attempts, 56 to 97 "
        "suspensions, a median delay of 13 to 27 s, the last delivery after 45.7 to "
        "55.8 s (which scan meets the next hop's return, whether the first scan's "
        "refusals kill the destination); smtpsim before the fixes of causes 3 and 4: 9 "
        "or 10 refused on every seed",
        "settled since: a dead destination's timer ends at a whole second of qmgr's "
        "clock and runs before that second's scan feeds its files (events.c, qmgr.c), "
        "and the simulated relay gets the real submissions at their times and scans "
        "where the real one did. Before, with its scans 0.0 s past each 5 s, the next "
        "hop back at 30.5 s and arrivals of its own, smtpsim made 106 suspensions [87, "
        "126], 3.4 attempts per recipient and its last delivery at 56.5 s [55.0, 60.0] "
        "against Postfix's 72, 2.8 and 49.7 s: its scan of 30 s found the next hop "
        "still down and killed it again for 10 s, and the timer of each death ended "
        "just after the scan it should have preceded",
        _SCAN_TIMING,
    ),
    limit_s=120.0,
    metrics=(
        Metric("delivered", "recipients delivered", count_status("delivered"), 0),
        Metric(
            "refused",
            "refused connection attempts",
            count_attempts("deferred", "connect"),
            3,
            0.2,
            known=_SCAN_TIMING,
        ),
        Metric(
            "suspended",
            "deferrals by suspension (dead destination)",
            count_attempts("deferred", "qmgr"),
            5,
            0.2,
            known=_SCAN_TIMING,
        ),
        Metric(
            "attempts",
            "attempts per recipient",
            attempts_per_recipient,
            0.2,
            0.1,
            known=_SCAN_TIMING,
        ),
        Metric(
            "delay_p50",
            "delay of delivered, median (s)",
            quantile(delays, 0.5),
            5,
            known=_SCAN_TIMING,
        ),
        Metric(
            "delay_p90", "delay of delivered, p90 (s)", quantile(delays, 0.9), 5, known=_SCAN_TIMING
        ),
        Metric("drain", "last delivery (s)", drain_time, 5, known=_SCAN_TIMING),
    ),
)

# Issue 11, cause 5, and how it was settled: with the server's time per command
# constant (0), every delivery of a round took exactly as long, the 421 greetings of a
# round all came back before any of its deliveries succeeded, and their negative
# feedback added up to a dead destination that no success reset (fail_cohorts,
# qmgr_queue.c): 18 of 100 expired on every seed. A real server's times vary, and
# Postfix's successes come between the refusals (qmgr_queue_unthrottle resets the
# failed cohorts). The scenario's next hop therefore gets the time per command that
# the real runs show: Postfix's delays c + d of the delivered messages average 17.5 ms
# (logged to 10 ms); a lognormal per command with median 2 ms and sigma 1 gives
# 18.1 ms over the ~6 commands of a delivery.
_SERVE_TIMING = "    processing: {command: {lognormal: {median: 2ms, sigma: 1}}}\n"

_RACE = (
    "a race of real timing: one real run against smtpsim's seeds. Real runs while this "
    "was built ranged from 0 to 55 deferrals by a 421 greeting, 0 to 131 suspensions, "
    "1 to 2.6 attempts per recipient, and the last delivery after 0.3 to 63 s; "
    "smtpsim's seeds fall within those ranges (tests/oracle checks it) but never reach "
    "the fast end. Its cause, measured in a fast run (no refusal, all delivered in "
    "0.53 s): the 100 messages 'at once' reach Postfix one SMTP submission after "
    "another, over 0.5 s, and its deliveries took 1.4 ms of connection and transfer "
    "(delays c + d) against 17.5 ms in the runs the next hop's time per command was "
    "set from; only 5 smtp processes ever ran, 19 deliveries on a cached connection: "
    "deliveries kept pace with submissions, at most 5 under way, and the window never "
    "met the server's 5 sessions. smtpsim's burst arrives in one instant and its next "
    "hop takes about 18 ms per delivery, so its window always meets the limit. "
    "Submitted as the real ones were, 100 over 0.5 s, its seeds met 1 to 12 refusals "
    "(one none) instead of 45 to 50; but another real run (29 refusals, deliveries of "
    "5.3 ms) replayed so gave 36 to 74: the next hop's speed, which varies with the "
    "machine's load (1.4, 5.3 and 17.5 ms per delivery in three runs), decides as "
    "much, so the burst stays at one instant (the cause measured, not modelled)"
)

CONCURRENCY = Experiment(
    key="concurrency",
    title="Concurrency feedback: a server that takes 5 sessions, a client limit of 20",
    question=(
        "100 messages at once to a server that answers 421 past 5 simultaneous sessions "
        "(`--max-connections 5`); Postfix starts at 5 parallel deliveries and may go to "
        "20: how many deliveries are deferred, how many suspended, how long does it take?"
    ),
    messages=100,
    rate=0.0,
    postfix={**_FAST, "maximal_queue_lifetime": "60s", "bounce_queue_lifetime": "60s"},
    serve_args=("--max-connections", "5"),
    mx_yaml="    policies: [{rate_limit: {connections: 5}}]\n" + _SERVE_TIMING,
    limit_s=120.0,
    notes=(
        "the real run varies much from run to run: in the runs while this was built, 0 "
        "to 55 deferrals by a 421 greeting, 0 to 131 suspensions, all 100 delivered "
        "after 0.3 to 63 s (how the client's window meets the server's 5 sessions is a "
        "race of real timing); smtpsim's seeds vary too, since the next hop's time per "
        "command varies as the real server's does (issue 11, cause 5: with constant "
        "times 18 of 100 expired on every seed)",
    ),
    metrics=(
        Metric("delivered", "recipients delivered", count_status("delivered"), 2),
        Metric("expired", "recipients expired", count_status("expired"), 2),
        Metric(
            "greeting",
            "deferrals by a 421 greeting",
            count_attempts("deferred", "greeting"),
            3,
            0.25,
            known=_RACE,
        ),
        Metric(
            "suspended",
            "deferrals by suspension (dead destination)",
            count_attempts("deferred", "qmgr"),
            3,
            0.25,
            known=_RACE,
        ),
        Metric("attempts", "attempts per recipient", attempts_per_recipient, 0.1, 0.1, known=_RACE),
        Metric("drain", "last final status (s)", drain_time, 5, known=_RACE),
    ),
)

GREYLISTING = Experiment(
    key="greylisting",
    title="Greylisting at the receiver (5 s)",
    question=(
        "The next hop greylists every new (client, sender, recipient) triplet for 5 s: "
        "how many attempts, when is the retry, what delays?"
    ),
    messages=40,
    rate=2.0,
    postfix={**_FAST, "maximal_queue_lifetime": "300s", "bounce_queue_lifetime": "300s"},
    serve_args=("--greylist", "5s"),
    mx_yaml="    policies: [{greylisting: {delay: 5s}}]\n",
    limit_s=90.0,
    metrics=(
        Metric("delivered", "recipients delivered", count_status("delivered"), 0),
        Metric("attempts", "attempts per recipient", attempts_per_recipient, 0.05),
        Metric("deferrals", "deferred attempts (450 4.2.0)", count_attempts("deferred"), 0),
        Metric("phase", "phase of the deferrals", deferral_phase, 0),
        Metric(
            "second_age",
            "2nd attempt, median time after submission (s)",
            quantile(nth_attempt_ages(2), 0.5),
            2.5,
            known=_SCAN_PHASE,
        ),
        Metric(
            "delay_p50",
            "delay of delivered, median (s)",
            quantile(delays, 0.5),
            2.5,
            known=_SCAN_PHASE,
        ),
        Metric(
            "delay_max",
            "delay of delivered, max (s)",
            quantile(delays, 1.0),
            2.5,
            known=_SCAN_PHASE,
        ),
    ),
)

CACHING = Experiment(
    key="caching",
    title="Connection caching on demand: a next hop that takes 200 ms per message",
    question=(
        "Messages arrive at 10/s and the next hop answers the end of data after 200 ms, "
        "so deliveries overlap: how often does the client reuse a connection "
        "(`conn_use`), how many connections does it open per message?"
    ),
    messages=150,
    rate=10.0,
    postfix={**_FAST, "maximal_queue_lifetime": "300s", "bounce_queue_lifetime": "300s"},
    serve_args=("--end-of-data-delay", "200ms"),
    mx_yaml="    processing: {end_of_data: 200ms}\n",
    limit_s=90.0,
    notes=(
        "Postfix switches caching on for a destination when a delivery to it is selected "
        "back to back (another finished in this second or the one before) and keeps it "
        "while deliveries are concurrent; the state goes with the in-memory queue, "
        "discarded at each pause (qmgr_entry.c). smtpsim follows that rule "
        "(smtpsim/mta/caching.py); before, it cached only while deliveries waited in "
        "the queue and reused no connection here (0 % against Postfix's 44 %)",
        "real runs while this was built: 43 to 50 % of sessions on a cached connection "
        "(six runs), conn_use up to 7 to 21; smtpsim's seeds 34 to 65 %",
        "tolerances: a share of about 150 sessions near 0.5 has a binomial standard "
        "error of 0.04, so 0.1 (2.5 of them); conn_use's mean and p90 are heavy-tailed "
        "counts of one run, within the seeds' prediction interval; delays within half "
        "the 200 ms processing time. conn_use is not compared by a KS test: the uses of "
        "one connection are the sequence 1, 2, ..., N, not independent draws, and the "
        "test's p-value can come out far too small (0.0003, 0.86 and 0.99 in three "
        "real runs against the same seeds)",
    ),
    metrics=(
        Metric("delivered", "recipients delivered", count_status("delivered"), 0),
        Metric("attempts", "attempts per recipient", attempts_per_recipient, 0),
        Metric("reused", "share of sessions on a cached connection", share_reused, 0.1),
        Metric("connections", "new connections per message", connections_per_message, 0.1),
        Metric("use_mean", "conn_use, mean", mean_of(conn_uses), 0.5, 0.25),
        Metric("use_p90", "conn_use, p90", quantile(conn_uses, 0.9), 1, 0.25),
        Metric("use_max", "conn_use, max", quantile(conn_uses, 1.0), 2, 0.5),
        Metric("delay_p50", "delay of delivered, median (s)", quantile(delays, 0.5), 0.1),
        Metric("delay_p90", "delay of delivered, p90 (s)", quantile(delays, 0.9), 0.1),
    ),
)

ALL = (RETRIES_4XX, EXPIRY, OUTAGE, CONCURRENCY, GREYLISTING, CACHING)
BY_KEY = {exp.key: exp for exp in ALL}
