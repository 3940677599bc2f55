"""BDAT (RFC 3030) in the simulator: a host whose SMTP client sends chunks
(``postfix.smtp_chunking``) to servers that offer CHUNKING (``smtpd_chunking``, on by
default as in Postfix 3.4 and later).

The same sessions run on the fast path (events), on the wire (every line and chunk
written and parsed: ``simulation.wire``) and with the session memo in ``verify``
(which the chunking sessions leave to the machines): the tables must be identical.
With PIPELINING the chunks travel with the envelope, so a session saves the round trip
that DATA's 354 costs; without it each chunk waits for the previous one's reply.
"""

from __future__ import annotations

import pandas as pd
import pytest

import smtpsim
from smtpsim.simulation import simulate

TABLES = ("messages", "recipients", "attempts")
RTT = 2 * (0.005 + 0.020)  # the path's round trip: both links, both ways


def scenario(chunking: bool, *, pipelining: bool = True, chunk: str = "4KiB", offer=True) -> str:
    return f"""
name: chunking
duration: 20min
seed: 11
hosts:
  out:
    role: mta
    ip: 192.0.2.20
    accepts: [corp.example]
    postfix: {{smtp_chunking: {str(chunking).lower()}, smtp_chunk_size: {chunk},
               smtp_pipelining: {str(pipelining).lower()}}}
  mx1:
    role: mx
    accepts: [solo.example]
    mailboxes: 50
    postfix: {{smtpd_chunking: {str(offer).lower()}}}
links:
  - {{between: [out, internet], latency: 5ms}}
  - {{between: [mx1, internet], latency: 20ms}}
dns:
  corp.example: {{mx: {{out: 10}}}}
  solo.example: {{mx: {{mx1: 10}}}}
traffic:
  t:
    submit_to: out
    senders: 20
    rate: 0.5/s
    stop: 15min
    unknown_users: 0.1
    size: {{lognormal: {{median: 8KiB, sigma: 1.0}}}}
    recipients: {{per_message: {{fixed: 2}}, domains: {{solo.example: 1}}}}
"""


def run(text: str, *overrides: str) -> smtpsim.RunResult:
    return simulate(smtpsim.load_scenario(text, overrides=list(overrides)))


def same_tables(a: smtpsim.RunResult, b: smtpsim.RunResult) -> None:
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True)


def to_mx(result: smtpsim.RunResult) -> pd.DataFrame:
    attempts = result.attempts
    return attempts[attempts["peer"].astype(str).str.startswith("mx1")]


@pytest.mark.parametrize("pipelining", [True, False])
def test_chunked_sessions_are_the_same_on_the_fast_path_the_wire_and_verified(pipelining):
    text = scenario(True, pipelining=pipelining)
    fast = run(text)
    wire = run(text, "simulation.wire=true")
    verified = run(text, "simulation.session_memo=verify")
    same_tables(fast, wire)
    same_tables(fast, verified)
    # every recipient has a fate, and the known ones were delivered
    recipients = fast.recipients
    assert set(recipients["status"].astype(str)) <= {"delivered", "bounced"}
    assert (recipients["status"] == "delivered").sum() > 100


def sent_pairs(a: smtpsim.RunResult, b: smtpsim.RunResult) -> pd.DataFrame:
    """The out -> mx1 attempts of two runs of the same traffic, side by side (the first
    hop does not chunk, so the sessions to mx1 start at the same instants), where the
    first run's was sent."""
    merged = to_mx(a).merge(to_mx(b), on=["msg_id", "rcpt", "t_start"], suffixes=("_a", "_b"))
    return merged[merged["outcome_a"].astype(str) == "sent"]


COMMAND = 0.0002  # the server's processing of a command (processing.command's default)


def test_chunking_saves_the_round_trip_of_data_with_pipelining():
    """MAIL, RCPT, RCPT and one BDAT LAST in one group against MAIL, RCPT, RCPT, DATA
    then the content: the 354's round trip is saved, and the server reads the envelope
    while the chunk is on its way. With DATA the session ends at (after the group is
    sent) 4 commands + RTT + transfer + end of data; with one chunk at max(3 commands,
    transfer) + end of data: the saving lies between RTT + 1 and RTT + 4 commands."""
    pairs = sent_pairs(run(scenario(False)), run(scenario(True, chunk="1MiB")))
    assert len(pairs) > 500
    saved = pairs["t_end_a"] - pairs["t_end_b"]
    assert (pairs["outcome_b"].astype(str) == "sent").all()
    assert saved.min() >= RTT + COMMAND - 1e-9
    assert saved.max() <= RTT + 4 * COMMAND + 1e-9


def test_many_pipelined_chunks_cost_a_command_each():
    """With 4 KiB chunks each chunk but the last is a command for the server: a message
    of n chunks saves at least RTT + (2 - n) commands (and still at most RTT + 4)."""
    a, b = run(scenario(False)), run(scenario(True, chunk="4KiB"))
    pairs = sent_pairs(a, b)
    sizes = pairs["msg_id"].map(a.messages.set_index("msg_id")["size_bytes"])
    n = -(-sizes // 4096)
    assert (n > 3).sum() > 100
    saved = pairs["t_end_a"] - pairs["t_end_b"]
    assert (saved >= RTT + (2 - n) * COMMAND - 1e-9).all()
    assert saved.max() <= RTT + 4 * COMMAND + 1e-9


def test_no_chunking_without_the_server_offering_it():
    """A server that does not offer CHUNKING gets DATA: the same tables as a client
    that does not chunk."""
    same_tables(run(scenario(True, offer=False)), run(scenario(False, offer=False)))


def test_small_chunks_without_pipelining_cost_a_round_trip_each():
    """Without PIPELINING each chunk waits for the reply to the one before: a message
    cut in n chunks of 2 KiB ends n - 1 round trips (and commands) later than in one."""
    a = run(scenario(True, pipelining=False, chunk="1MiB"))
    b = run(scenario(True, pipelining=False, chunk="2KiB"))
    pairs = sent_pairs(a, b)
    sizes = pairs["msg_id"].map(a.messages.set_index("msg_id")["size_bytes"])
    n = -(-sizes // 2048)
    later = (pairs["t_end_b"] - pairs["t_end_a"])[n > 1] / (n[n > 1] - 1)
    assert len(later) > 300
    assert later.median() == pytest.approx(RTT + COMMAND, rel=1e-6)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("0", "hosts.out.postfix.smtp_chunk_size: must be at least 1, got 0"),
        ("lots", "hosts.out.postfix.smtp_chunk_size"),
    ],
)
def test_a_bad_chunk_size_is_refused_with_its_path(setting, message):
    with pytest.raises(smtpsim.ScenarioError, match=message):
        smtpsim.load_scenario(scenario(True, chunk=setting))
