"""DNS incidents (docs/scenario-format.md, "incidents"; RFC 5321 section 5.1; RFC 2308, RFC 9520):
``dns_failure`` makes MX lookups of a zone fail for now (4.4.3; ``servfail`` at once,
``timeout`` after the resolver's 10 s) while answers already cached still serve;
``dns_change`` gives a zone new records that resolvers see as their cached answers
expire; ``dnsbl_list``/``dnsbl_delist`` change a DNSBL's listings (no receiving policy
consults them yet, so only their timeline is checked here)."""

from __future__ import annotations

import math

import pytest
from engine_helpers import at_times, attempts_from, run_model, strings

import smtpsim

DNS_MISS = 0.02  # docs/model.md: a cache miss costs 20 ms
RESOLVER_TIMEOUT = 10.0  # 5 s per try, 2 tries
QUEUE_RUN_DELAY = 300.0
MINIMAL_BACKOFF = 300.0


def run(text: str, **kwargs) -> smtpsim.RunResult:
    return smtpsim.simulate(smtpsim.load_scenario(text), **kwargs)


def bursts(times: list[float]) -> str:
    return "[" + ", ".join(f"{{at: {t:g}s, messages: 1}}" for t in times) + "]"


# --- dns_failure --------------------------------------------------------------------------

FAILING = (300.0, 600.0)
# before the window; just before it (a fresh answer); inside, within that answer's
# 60 s; inside, after it expired; after the window
FAILURE_MESSAGES = [100.0, 280.0, 310.0, 400.0, 700.0]


def failure_scenario(mode: str, ttl: str) -> str:
    return f"""
name: dns-failure
duration: 30min
hosts:
  out: {{role: mta, accepts: [corp.example]}}
  mx: {{role: mx, accepts: [dest.example]}}
links:
  - {{between: [out, internet], latency: 5ms}}
  - {{between: [mx, internet], latency: 5ms}}
dns:
  corp.example: {{mx: {{out: 10}}}}
  dest.example: {{mx: {{mx: 10}}, ttl: {ttl}}}
traffic:
  t:
    submit_to: out
    rate: 0
    bursts: {bursts(FAILURE_MESSAGES)}
    size: 2KiB
    recipients: {{per_message: {{fixed: 1}}, domains: {{dest.example: 1}}}}
incidents:
  - {{dns_failure: {{zone: dest.example, mode: {mode}}},
     at: {FAILING[0]:g}s, until: {FAILING[1]:g}s}}
"""


@pytest.mark.parametrize(("mode", "cost"), [("servfail", DNS_MISS), ("timeout", RESOLVER_TIMEOUT)])
def test_dns_failure_defers_lookups_whose_answer_is_not_cached(mode: str, cost: float) -> None:
    result = run(failure_scenario(mode, "60s"))
    assert [(w["kind"], w["target"], w["start"], w["end"]) for w in result.meta["incidents"]] == [
        ("dns_failure", "dest.example", *FAILING)
    ]
    out = attempts_from(result, "out")
    failed = out[out["outcome"].astype(str) == "deferred"]
    # only the message of 400 s: the one of 310 s still had the answer fetched at 280 s
    assert len(failed) == 1
    row = failed.iloc[0]
    assert 400 < row["t_start"] < 401
    assert (row["code"], str(row["dsn"]), str(row["peer"]), str(row["phase"])) == (
        451,
        "4.4.3",
        "none",
        "dns",
    )
    assert row["t_end"] - row["t_start"] == pytest.approx(cost)
    # every other attempt got through
    sent = out[out["outcome"].astype(str) == "sent"]
    assert len(sent) == 5
    assert strings(sent["peer"]) == ["mx"] * 5
    inside = sent[(sent["t_start"] >= FAILING[0]) & (sent["t_start"] < FAILING[1])]
    assert len(inside) == 1 and 310 < inside.iloc[0]["t_start"] < 311
    # the deferred one is tried again at the first scan after its backoff
    retry = sent[sent["msg_id"] == row["msg_id"]].iloc[0]
    arrival = row["t_start"]
    due = row["t_end"] + max(row["t_end"] - arrival, MINIMAL_BACKOFF)
    scan = math.ceil(due / QUEUE_RUN_DELAY) * QUEUE_RUN_DELAY
    assert scan >= FAILING[1]
    assert retry["t_start"] == pytest.approx(scan + DNS_MISS)  # a fresh lookup
    assert (result.recipients["status"].astype(str) == "delivered").all()


@pytest.mark.parametrize("mode", ["servfail", "timeout"])
def test_dns_failure_spares_answers_cached_before_it(mode: str) -> None:
    # with a 1 h TTL the answer fetched at 100 s serves the whole window
    result = run(failure_scenario(mode, "1h"))
    out = attempts_from(result, "out")
    assert len(out) == 5
    assert strings(out["outcome"]) == ["sent"] * 5
    # one lookup only: the first attempt's connection set-up is 20 ms longer
    setup = out["conn_s"].to_numpy()
    assert setup[0] == pytest.approx(setup[1:].min() + DNS_MISS)
    assert (abs(setup[1:] - setup[1:].min()) < 1e-9).all()


# --- dns_change ------------------------------------------------------------------------------

CHANGE_AT = 400.0
TTL = 300.0
CHANGE_MESSAGES = [10.0 + 40.0 * k for k in range(30)]

DNS_CHANGE = f"""
name: dns-change
duration: 30min
hosts:
  out: {{role: mta, accepts: [corp.example]}}
  mx1: {{role: mx, accepts: [dest.example]}}
  mx2: {{role: mx, accepts: [dest.example]}}
links:
  - {{between: [out, internet], latency: 5ms}}
  - {{between: [mx1, internet], latency: 5ms}}
  - {{between: [mx2, internet], latency: 5ms}}
dns:
  corp.example: {{mx: {{out: 10}}}}
  dest.example: {{mx: {{mx1: 10}}, ttl: {TTL:g}s}}
traffic:
  t:
    submit_to: out
    rate: 0
    bursts: {bursts(CHANGE_MESSAGES)}
    size: 2KiB
    recipients: {{per_message: {{fixed: 1}}, domains: {{dest.example: 1}}}}
incidents:
  - {{dns_change: {{zone: dest.example, mx: {{mx2: 10}}}}, at: {CHANGE_AT:g}s}}
"""


def test_dns_change_is_seen_when_the_cached_answer_expires() -> None:
    result = run(DNS_CHANGE)
    assert [(w["kind"], w["start"], w["end"]) for w in result.meta["incidents"]] == [
        ("dns_change", CHANGE_AT, 1800.0)
    ]
    out = attempts_from(result, "out")
    assert len(out) == len(CHANGE_MESSAGES)
    assert (out["outcome"].astype(str) == "sent").all()
    peers = strings(out["peer"])
    t = out["t_start"].to_numpy()

    # a resolver as docs/model.md describes it: an answer lives for the zone's TTL
    # from its arrival; a miss asks the zone as it is at that moment
    expected = []
    expires = -math.inf
    answer = None
    for start in t:
        lookup = start - DNS_MISS if start - DNS_MISS >= expires else start
        if lookup >= expires:
            answer = "mx2" if lookup >= CHANGE_AT else "mx1"
            expires = lookup + DNS_MISS + TTL
        expected.append(answer)
    assert peers == expected

    switch = t[peers.index("mx2")]
    assert (t[: peers.index("mx2")] < switch).all() and "mx1" not in peers[peers.index("mx2") :]
    assert all(p == "mx1" for p, s in zip(peers, t, strict=True) if s < CHANGE_AT)
    # the old answer kept serving after the change, for at most its TTL: the answer
    # fetched at 330 s serves until 630 s, the lookup at 650 s sees mx2
    kept = [s for p, s in zip(peers, t, strict=True) if p == "mx1" and s >= CHANGE_AT]
    assert len(kept) == 6, "the cached answer was not used after the change"
    assert max(kept) < CHANGE_AT + TTL
    assert 650 < switch < 651
    assert all(p == "mx2" for p, s in zip(peers, t, strict=True) if s > CHANGE_AT + TTL + DNS_MISS)
    assert (result.recipients["status"].astype(str) == "delivered").all()


# --- dnsbl_list and dnsbl_delist: the timeline ---------------------------------------------

DNSBL = """
name: dnsbl-timeline
duration: 10min
hosts:
  out: {role: mta, accepts: [corp.example], ip: 192.0.2.20}
  mx: {role: mx, accepts: [dest.example], ip: 198.51.100.7}
links:
  - {between: [out, internet], latency: 5ms}
  - {between: [mx, internet], latency: 5ms}
dns:
  corp.example: {mx: {out: 10}}
  dest.example: {mx: {mx: 10}}
  zen.dnsbl.example: {dnsbl: true}
traffic:
  t:
    submit_to: out
    rate: 0.05/s
    size: 2KiB
    recipients: {per_message: {fixed: 1}, domains: {dest.example: 1}}
incidents:
  - {dnsbl_list: {zone: zen.dnsbl.example, ip: 192.0.2.0/24}, at: 100s, for: 200s}
  - {dnsbl_delist: {zone: zen.dnsbl.example, ip: 192.0.2.0/24}, at: 150s, for: 50s}
  - {dnsbl_list: {zone: zen.dnsbl.example, ip: 198.51.100.7}, every: 120s, for: 30s}
"""


def test_dnsbl_listings_follow_their_windows() -> None:
    result = run(DNSBL)
    assert [(w["kind"], w["target"], w["start"], w["end"]) for w in result.meta["incidents"]] == [
        ("dnsbl_list", "zen.dnsbl.example", 100.0, 300.0),
        ("dnsbl_delist", "zen.dnsbl.example", 150.0, 200.0),
        *[("dnsbl_list", "zen.dnsbl.example", 120.0 * k, 120.0 * k + 30) for k in range(5)],
    ]

    seen: list[tuple[float, bool, bool, bool]] = []

    def probe(model, t):
        zones = model.zones
        return lambda: seen.append(
            (
                t,
                zones.dnsbl_listed("zen.dnsbl.example", "192.0.2.20"),
                zones.dnsbl_listed("zen.dnsbl.example", "198.51.100.7"),
                zones.dnsbl_listed("zen.dnsbl.example", "203.0.113.1"),
            )
        )

    times = [50.0, 120.5, 170.0, 250.0, 350.0, 245.0, 500.0]
    _, _ = run_model(DNSBL, setup=lambda m: at_times(m, *[(t, probe(m, t)) for t in sorted(times)]))
    listed = {t: (a, b, c) for t, a, b, c in seen}
    assert listed == {
        50.0: (False, False, False),
        120.5: (True, True, False),  # listed at 100 s; the other one at 120 s
        170.0: (False, False, False),  # delisted from 150 to 200 s
        245.0: (True, True, False),
        250.0: (True, True, False),
        350.0: (False, False, False),  # the listing ended at 300 s
        500.0: (False, True, False),  # 480-510 s
    }
