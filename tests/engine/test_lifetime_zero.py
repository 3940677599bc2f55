"""``maximal_queue_lifetime = 0`` (postconf(5)): try once; a temporary failure at
that attempt returns the mail to the sender at once, with the failure's reason."""

from __future__ import annotations

from engine_helpers import at_times, attempts_from, run_model, strings, two_hosts

SCENARIO = two_hosts(
    "lifetime-zero",
    duration="2h",
    out={"postfix": {"maximal_queue_lifetime": "0s"}},
    traffic={"rate": 0, "bursts": [{"at": "10s", "messages": 1}, {"at": "1000s", "messages": 1}]},
)


def test_one_try_then_expire() -> None:
    def setup(model):
        link = model.link("mx", "internet")
        at_times(
            model, (0, lambda: setattr(link, "up", False)), (500, lambda: setattr(link, "up", True))
        )

    _, result = run_model(SCENARIO, setup=setup)
    att = attempts_from(result, "out")
    messages, rcpts = result.messages, result.recipients
    first, second = messages[messages["origin"].astype(str) == "t"]["msg_id"]
    # the first message: one attempt while the MX is unreachable, then expired
    tried = att[att["msg_id"] == first]
    assert len(tried) == 1
    assert strings(tried["outcome"]) == ["deferred"]
    row = rcpts[rcpts["msg_id"] == first].iloc[0]
    assert row["status"] == "expired"
    assert row["dsn"] == "4.4.1"
    assert row["t_final"] == tried["t_end"].iloc[0]
    # the second, sent at its first attempt, is unaffected by the lifetime
    assert strings(att.loc[att["msg_id"] == second, "outcome"]) == ["sent"]
    assert rcpts.loc[rcpts["msg_id"] == second, "status"].astype(str).tolist() == ["delivered"]
    # one bounce, for the first message, to its sender, delivered
    bounces = messages[messages["origin"].astype(str) == "bounce"]
    assert len(bounces) == 1
    notice = rcpts[rcpts["msg_id"] == bounces["msg_id"].iloc[0]].iloc[0]
    assert notice["rcpt"] == messages.loc[messages["msg_id"] == first, "sender"].iloc[0]
    assert notice["status"] == "delivered"
