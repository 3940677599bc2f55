"""A null MX (RFC 7505, RFC 5321 section 5.1): mail to the domain fails at once, without a
connection, with Postfix's own status 5.1.0 (``smtp_addr.c``: DNS_NULLMX; RFC 7505's
556 5.1.10 is what a receiving server answers), ``peer`` none, phase ``dns``; the
sender gets a bounce."""

from __future__ import annotations

import pytest
from engine_helpers import attempts_from, run_model, strings, two_hosts

SCENARIO = two_hosts(
    "null-mx",
    dns={"parked.example": {"mx": "null"}},
    traffic={
        "rate": 0,
        "bursts": [{"at": "10s", "messages": 1}, {"at": "20s", "messages": 12}],
        "recipients": {
            "per_message": {"fixed": 1},
            "domains": {"parked.example": 1, "dest.example": 1},
        },
    },
)


def test_null_mx_bounces_at_once_without_a_session() -> None:
    _, result = run_model(SCENARIO)
    rcpts = result.recipients
    parked = rcpts[rcpts["domain"].astype(str) == "parked.example"]
    others = rcpts[rcpts["domain"].astype(str) == "dest.example"]
    assert len(parked) >= 3 and len(others) >= 3
    assert (parked["status"].astype(str) == "bounced").all()
    assert (parked["dsn"].astype(str) == "5.1.0").all()
    assert (
        parked["reply"]
        .str.startswith("550 5.1.0 Domain parked.example does not accept mail (nullMX)")
        .all()
    )
    assert parked["reply"].str.contains("nullMX").all()
    assert (others["status"].astype(str) == "delivered").all()

    att = attempts_from(result, "out")
    nulled = att[att["rcpt"].isin(parked["rcpt"])]
    assert len(nulled) == len(parked)  # one attempt each: no retry
    assert strings(nulled["peer"]) == ["none"] * len(nulled)
    assert strings(nulled["phase"]) == ["dns"] * len(nulled)
    assert strings(nulled["outcome"]) == ["bounced"] * len(nulled)
    assert (nulled["code"] == 550).all()
    assert (nulled["xfer_s"] == 0).all()
    # at once: well under a second after the message reached out
    entered = attempts_from(result, "traffic.t").set_index("msg_id")["t_end"]
    delay = parked.set_index("msg_id")["t_final"] - entered.loc[parked["msg_id"]]
    assert (delay >= 0).all() and (delay < 1).all()

    # one bounce per message with a null-MX recipient, delivered to the sender at out
    bounces = result.messages[result.messages["origin"].astype(str) == "bounce"]
    assert len(bounces) == len(parked)
    notices = rcpts[rcpts["msg_id"].isin(bounces["msg_id"])]
    assert (notices["status"].astype(str) == "delivered").all()


def test_null_mx_attempt_ends_when_its_outcome_is_known() -> None:
    """``t_end`` is when the outcome was known and ``conn_s`` includes DNS lookups
    (docs/results.md). The first message's MX lookup is a resolver cache miss that
    takes time; its recipient is the message's only one, so the recipient's final
    status is reached exactly when that attempt's outcome is known."""
    _, result = run_model(SCENARIO, overrides=["traffic.t.recipients.domains={parked.example: 1}"])
    att = attempts_from(result, "out")
    first = att.iloc[0]
    rcpt = result.recipients.set_index("rcpt").loc[first["rcpt"]]
    assert rcpt["t_final"] > first["t_start"]  # the lookup took time
    assert first["t_end"] == pytest.approx(rcpt["t_final"], abs=1e-9), (
        f"attempt {first['t_start']:.6f}-{first['t_end']:.6f}, final at {rcpt['t_final']:.6f}"
    )
    assert first["conn_s"] == pytest.approx(first["t_end"] - first["t_start"], abs=1e-9)
