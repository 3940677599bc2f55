"""MX preference order and fallback to the next MX (RFC 5321 section
5.1): the lowest preference first, whatever the order in the zone; on a connection
failure the next MX; equal preferences shared at random; when no MX answers, the
recipient is deferred once all of them have been tried."""

from __future__ import annotations

from engine_helpers import at_times, attempts_from, run_model, strings

CONNECT_TIMEOUT = 30.0

SCENARIO = """
name: mx-preference
duration: 20min
hosts:
  out: {role: mta, accepts: [corp.example]}
  mx1: {role: mx, accepts: [dest.example, even.example]}
  mx2: {role: mx, accepts: [dest.example, even.example]}
links:
  - {between: [out, internet], latency: 5ms}
  - {between: [mx1, internet], latency: 5ms}
  - {between: [mx2, internet], latency: 5ms}
dns:
  corp.example: {mx: {out: 10}}
  dest.example: {mx: {mx2: 20, mx1: 10}}   # the backup is listed first
  even.example: {mx: {mx1: 10, mx2: 10}}
traffic:
  t:
    submit_to: out
    rate: 0
    bursts:
      - {at: 10s, messages: 5}    # all up
      - {at: 100s, messages: 5}   # mx1 black-holed: connections time out
      - {at: 300s, messages: 5}   # mx1 refuses connections
      - {at: 500s, messages: 5}   # all up again
    size: 2KiB
    recipients: {per_message: {fixed: 1}, domains: {dest.example: 1}}
"""


def _mx1(model, state):
    return lambda: setattr(model.hosts["mx1"], "down", state)


def _link(model, host, up):
    """Take ``host``'s link to the internet down (connections time out) or up."""
    return lambda: setattr(model.link(host, "internet"), "up", up)


def test_lowest_preference_first_and_backup_when_primary_is_down() -> None:
    def setup(model):
        at_times(
            model,
            (50, _link(model, "mx1", False)),
            (250, _link(model, "mx1", True)),
            (250, _mx1(model, "refuse")),
            (450, _mx1(model, None)),
        )

    _, result = run_model(SCENARIO, setup=setup)
    att = attempts_from(result, "out")
    assert len(att) == 20
    assert (att["outcome"].astype(str) == "sent").all()  # nothing deferred
    t = att["t_start"]
    up = att[(t < 50) | (t > 450)]
    timeout = att[(t > 50) & (t < 250)]
    refused = att[(t > 250) & (t < 450)]
    assert len(up) == 10 and len(timeout) == 5 and len(refused) == 5
    assert strings(up["peer"]) == ["mx1"] * 10
    assert strings(timeout["peer"]) == ["mx2"] * 5
    assert strings(refused["peer"]) == ["mx2"] * 5
    # the backup's session began after the primary's connect timeout (connection
    # set-up time includes the failed connection), or after one round trip when refused
    assert (timeout["conn_s"] >= CONNECT_TIMEOUT).all()
    assert (timeout["conn_s"] < CONNECT_TIMEOUT + 1).all()
    assert (refused["conn_s"] < 1).all()
    assert (result.recipients["status"].astype(str) == "delivered").all()


def test_all_mx_down_defers_after_trying_each() -> None:
    def setup(model):
        at_times(model, (50, _link(model, "mx1", False)), (50, _link(model, "mx2", False)))

    _, result = run_model(SCENARIO, setup=setup, until=280)
    att = attempts_from(result, "out")
    down = att[att["t_start"] > 50]
    assert len(down) == 5
    assert strings(down["outcome"]) == ["deferred"] * 5
    assert strings(down["peer"]) == ["none"] * 5
    assert (down["dsn"].astype(str) == "4.4.1").all()


def test_all_mx_down_deferral_costs_both_connect_timeouts() -> None:
    """Two unanswered connections (30 s each) before the deferral is known."""

    def setup(model):
        at_times(model, (50, _link(model, "mx1", False)), (50, _link(model, "mx2", False)))

    _, result = run_model(SCENARIO, setup=setup, until=200)
    att = attempts_from(result, "out")
    down = att[att["t_start"] > 50]
    assert len(down) == 5
    took = (down["t_end"] - down["t_start"]).to_numpy()
    assert (took >= 2 * CONNECT_TIMEOUT).all(), took
    assert (took < 2 * CONNECT_TIMEOUT + 1).all(), took


def test_equal_preferences_share_the_load() -> None:
    _, result = run_model(
        SCENARIO,
        overrides=[
            "traffic.t.recipients.domains={even.example: 1}",
            "traffic.t.bursts=[{at: 10s, messages: 40}]",
        ],
    )
    att = attempts_from(result, "out")
    assert len(att) == 40 and (att["outcome"].astype(str) == "sent").all()
    peers = strings(att["peer"])
    # shuffled per delivery: P(either gets fewer than 8 of 40) is below 1e-4
    assert peers.count("mx1") >= 8 and peers.count("mx2") >= 8
