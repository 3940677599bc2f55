"""``default_destination_recipient_limit`` (postconf(5)): at most that many
recipients per delivery request, that is per SMTP transaction; a message with more
recipients for one destination is split, recipients kept in order."""

from __future__ import annotations

import math

from engine_helpers import attempts_from, run_model, two_hosts

SCENARIO = two_hosts(
    "recipient-limit",
    out={
        # one delivery at a time, so that each transaction has its own start time
        "postfix": {
            "default_destination_recipient_limit": 40,
            "initial_destination_concurrency": 1,
            "default_destination_concurrency_limit": 1,
        },
        # random end-of-data times: the submission sessions, which run in parallel,
        # end at different times
        "processing": {"end_of_data": {"exponential": {"mean": "1s"}}},
    },
    mx={"mailboxes": 100000},
    traffic={
        "rate": 0,
        "bursts": [{"at": "10s", "messages": 1}],
        "recipients": {"per_message": {"fixed": 120}, "domains": {"dest.example": 1}},
    },
)


def _transactions(att, key: str) -> list[list[str]]:
    return [list(group["rcpt"]) for _, group in att.groupby(key, sort=True)]


def test_120_recipients_are_split_into_transactions() -> None:
    _, result = run_model(SCENARIO)
    rcpts = result.recipients
    assert len(rcpts) == 120 and rcpts["rcpt"].is_unique
    assert (rcpts["status"].astype(str) == "delivered").all()
    order = list(rcpts["rcpt"])

    # the flow's client has Postfix's default limit, 50: 3 transactions, 50 + 50 + 20
    submitted = attempts_from(result, "traffic.t")
    assert submitted["t_end"].nunique() == 3
    chunks = sorted(_transactions(submitted, "t_end"), key=lambda c: order.index(c[0]))
    assert [len(c) for c in chunks] == [50, 50, 20]
    assert [r for c in chunks for r in c] == order  # in order, each recipient once

    # out (limit 40) splits each copy it received again: 50 -> 40 + 10, 20 -> 20
    relayed = attempts_from(result, "out")
    transactions = _transactions(relayed, "t_start")
    expected = sum(math.ceil(len(c) / 40) for c in chunks)
    assert len(transactions) == expected == 5
    assert sorted(len(t) for t in transactions) == [10, 10, 20, 40, 40]
    for t in transactions:
        copy = next(c for c in chunks if t[0] in c)
        start = copy.index(t[0])
        assert t == copy[start : start + len(t)]  # consecutive recipients of one copy
