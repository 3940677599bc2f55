"""The session memo (``smtpsim.mta.session_memo``, issue 10 route 1) changes nothing
but the speed: every shipped scenario, and generated ones (policies, incidents,
connection caching, PIPELINING on and off, size limits, several recipients), gives
identical tables with the memo on, off and in ``verify``, and on the wire; ``verify``
names the first session where the memo and the machines part; and the memo is seen to
replay."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import smtpsim
from smtpsim.mta import session_memo
from smtpsim.simulation import simulate

SCENARIOS = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml"))
TABLES = ("messages", "recipients", "attempts", "levels")
# Long enough for each shipped scenario's incident to begin and mail to be retried.
UNTIL = {
    "bench-3hop": None,
    "mx-outage": 2.5 * 3600.0,
    "congested-relay-link": 1.5 * 3600.0,
    # TLS (issue 14): past the certificate's expiry at 1d, and into the stripping window
    "certificate-expiry": 1.1 * 86400.0,
    "starttls-stripping": 8 * 3600.0,
}
SHORTER = {"bench-3hop": ["traffic.load.messages=2000", "duration=360"]}


def run(
    source: object, memo: str, overrides: list[str] | None = None, until: float | None = None
) -> smtpsim.RunResult:
    scenario = smtpsim.load_scenario(
        source, overrides=[f"simulation.session_memo={memo}", *(overrides or [])]
    )
    return simulate(scenario, until=until)


def assert_same_tables(a: smtpsim.RunResult, b: smtpsim.RunResult) -> None:
    for name in TABLES:
        pd.testing.assert_frame_equal(
            getattr(a, name), getattr(b, name), check_exact=True, obj=name
        )
    assert (a.tls_report is None) == (b.tls_report is None)
    if a.tls_report is not None and b.tls_report is not None:
        pd.testing.assert_frame_equal(a.tls_report, b.tls_report, check_exact=True)


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_shipped_scenarios_give_identical_tables_with_the_memo_on_off_and_verified(path):
    overrides = SHORTER.get(path.stem, [])
    until = UNTIL.get(path.stem, 2 * 3600.0)
    off = run(path, "off", overrides, until)
    on = run(path, "on", overrides, until)
    verified = run(path, "verify", overrides, until)  # raises MemoMismatch at a difference
    assert_same_tables(off, on)
    assert_same_tables(off, verified)
    sessions = on.meta["sessions"]
    assert off.meta["sessions"]["replayed"] == 0
    assert sessions["replayed"] + sessions["ran_machines"] == off.meta["sessions"]["ran_machines"]
    # Most sessions are of a known shape: the memo replays them.
    assert sessions["replayed"] > sessions["ran_machines"]
    assert verified.meta["sessions"]["replayed"] == sessions["replayed"]


# On the wire every session serializes and parses every line (``simulation.wire``),
# several times slower: half an hour of each scenario, with the incidents of the two
# busiest moved to its tenth minute so that the wire meets them too.
WIRE_EARLY = {
    "mx-outage": [f"incidents[{i}].at=10min" for i in range(3)],
    "congested-relay-link": ["incidents[0].at=10min"],
    # TLS (issue 14): the certificate expires, and the attacker arrives, at 10 minutes
    "certificate-expiry": [
        "hosts.mx1.tls.certificate.not_after=10min",
        "incidents[0].at=20min",
        "incidents[1].at=20min",
    ],
    "starttls-stripping": ["incidents[0].at=10min"],
}


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_shipped_scenarios_give_identical_tables_on_the_wire(path):
    overrides = SHORTER.get(path.stem, []) + WIRE_EARLY.get(path.stem, [])
    until = None if path.stem == "bench-3hop" else 1800.0
    memo = run(path, "on", overrides, until)
    wire = run(path, "on", [*overrides, "simulation.wire=true"], until)
    assert_same_tables(memo, wire)
    assert wire.meta["sessions"]["replayed"] == 0  # the wire runs the machines
    assert wire.meta["sessions"]["ran_machines"] == (
        memo.meta["sessions"]["replayed"] + memo.meta["sessions"]["ran_machines"]
    )
    assert len(memo.attempts) > 0


def generated(
    pipelining: bool,
    caching: bool,
    recipients: int,
    unknown: float,
    size_limit: str,
    policies: list[str],
    incident: str,
    rate: float,
    seed: int,
    utf8: float = 0.0,
    utf8_offered: bool = True,
    chunking: bool = False,
) -> str:
    policy_lines = "".join(f"\n      - {p}" for p in policies) or " []"
    return f"""
name: memo-generated
duration: 30min
seed: {seed}
hosts:
  out:
    role: mta
    ip: 192.0.2.20
    accepts: [corp.example]
    postfix: {{smtp_pipelining: {str(pipelining).lower()},
               smtp_connection_cache_on_demand: {str(caching).lower()},
               smtp_chunking: {str(chunking).lower()}, smtp_chunk_size: 4KiB,
               maximal_queue_lifetime: 20min, bounce_queue_lifetime: 20min}}
  mx1:
    role: mx
    accepts: [solo.example]
    mailboxes: 50
    postfix: {{smtpd_pipelining: {str(pipelining).lower()}, message_size_limit: {size_limit},
               smtputf8_enable: {str(utf8_offered).lower()}}}
    policies:{policy_lines}
links:
  - {{between: [out, internet], latency: 5ms}}
  - {{between: [mx1, internet], latency: 20ms}}
dns:
  corp.example: {{mx: {{out: 10}}}}
  solo.example: {{mx: {{mx1: 10}}}}
  zen.dnsbl.example: {{dnsbl: true, ttl: 5min}}
traffic:
  t:
    submit_to: out
    senders: 20
    rate: {rate}/s
    stop: 20min
    unknown_users: {unknown}
    smtputf8: {utf8}
    size: {{lognormal: {{median: 8KiB, sigma: 1.0}}}}
    recipients: {{per_message: {{fixed: {recipients}}}, domains: {{solo.example: 1}}}}
incidents: {incident}
"""


POLICIES = st.lists(
    st.sampled_from(
        [
            "greylisting: {delay: 2min, auto_whitelist: 3}",
            "rate_limit: {connections: 2, message_rate: 30, time_unit: 60s}",
            "dnsbl: {zones: [zen.dnsbl.example], at: rcpt}",
            "dnsbl: {zones: [zen.dnsbl.example], at: connect}",
            "mailbox_full: {share: 0.2}",
        ]
    ),
    max_size=3,
    unique=True,
)
INCIDENTS = st.sampled_from(
    [
        "[]",
        "[{server_errors: {host: mx1, phase: rcpt, reply: '451 4.3.0 try later', "
        "probability: 0.3}, at: 5min, for: 10min}]",
        "[{server_errors: {host: mx1, phase: data, reply: '250 2.0.0 ok'}, at: 3min, for: 4min}]",
        "[{server_errors: {host: mx1, phase: connect, reply: '421 4.7.0 busy', "
        "probability: 0.5}, at: 2min, for: 10min}]",
        "[{host_down: mx1, at: 4min, for: 6min}]",
        "[{dnsbl_list: {zone: zen.dnsbl.example, ip: 192.0.2.20}, at: 2min, for: 10min}]",
    ]
)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pipelining=st.booleans(),
    caching=st.booleans(),
    recipients=st.integers(1, 3),
    unknown=st.sampled_from([0, 0.1]),
    size_limit=st.sampled_from(["0", "12KiB"]),
    policies=POLICIES,
    incident=INCIDENTS,
    rate=st.sampled_from([0.2, 1.0]),
    seed=st.integers(1, 1000),
    utf8=st.sampled_from([0.0, 0.3]),
    utf8_offered=st.booleans(),
    chunking=st.booleans(),
)
def test_generated_scenarios_give_identical_tables_with_the_memo_on_off_and_verified(
    pipelining,
    caching,
    recipients,
    unknown,
    size_limit,
    policies,
    incident,
    rate,
    seed,
    utf8,
    utf8_offered,
    chunking,
):
    text = generated(
        pipelining,
        caching,
        recipients,
        unknown,
        size_limit,
        policies,
        incident,
        rate,
        seed,
        utf8,
        utf8_offered,
        chunking,
    )
    off, on, verified = run(text, "off"), run(text, "on"), run(text, "verify")
    assert_same_tables(off, on)
    assert_same_tables(off, verified)
    assert on.meta["sessions"]["replayed"] > 0


QUICK = generated(True, False, 2, 0.1, "0", ["greylisting: {delay: 2min}"], "[]", 0.5, 7)


@pytest.mark.interpreted  # patches SessionMemo._learn, which compiled code calls directly
def test_verify_names_the_first_session_where_memo_and_machines_part(monkeypatch):
    """A memo that remembers a result wrongly (here: every leaf's phase) is caught at
    the first replayed session, which the error names."""
    learn = session_memo.SessionMemo._learn

    def wrong_leaf(self, root, tape, result, request, kept=None):
        made = learn(self, root, tape, result, request, kept)
        stack = [root]
        while stack:
            node = stack.pop()
            stack.extend(node.children.values())
            if isinstance(node.leaf, session_memo._Leaf):
                node.leaf = session_memo._Leaf(
                    node.leaf.finals, "wrong", node.leaf.error, node.leaf.kept
                )
        return made

    monkeypatch.setattr(session_memo.SessionMemo, "_learn", wrong_leaf)
    with pytest.raises(
        session_memo.MemoMismatch,
        match=r"session \d+ of this client "
        r"\(.* -> .*, \d recipient\(s\), from t=.*\): result is",
    ):
        run(QUICK, "verify")
    run(QUICK, "off")  # the machines alone never consult the memo


def test_yaml_reads_on_and_off_as_words() -> None:
    """YAML 1.1 turns a bare on/off into true/false; the setting takes them as meant."""
    for word, mode in (("on", "on"), ("off", "off"), ("verify", "verify")):
        text = QUICK + f"simulation: {{session_memo: {word}}}\n"
        assert smtpsim.load_scenario(text).simulation.session_memo == mode
    with pytest.raises(smtpsim.ScenarioError, match=r"simulation\.session_memo"):
        smtpsim.load_scenario(QUICK + "simulation: {session_memo: sometimes}\n")


def test_run_verbose_says_how_many_sessions_were_replayed(tmp_path) -> None:
    scenario = tmp_path / "quick.yaml"
    scenario.write_text(QUICK)
    out = tmp_path / "out"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "smtpsim",
            "run",
            str(scenario),
            "-v",
            "--out",
            str(out),
            "--no-plots",
            "--no-report",
            "--no-maillog",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    sessions = json.loads((out / "meta.json").read_text())["sessions"]
    line = next(x for x in done.stdout.splitlines() if "SMTP sessions" in x)
    numbers = [int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", line)]
    assert numbers == [
        sessions["replayed"] + sessions["ran_machines"],
        sessions["replayed"],
        sessions["shapes"],
        sessions["ran_machines"],
    ]
    assert sessions["replayed"] > sessions["ran_machines"] > 0
    quiet = subprocess.run(
        [
            sys.executable,
            "-m",
            "smtpsim",
            "run",
            str(scenario),
            "--out",
            str(out),
            "--force",
            "--no-plots",
            "--no-report",
            "--no-maillog",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert "SMTP sessions" not in quiet.stdout
