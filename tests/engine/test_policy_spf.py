"""SPF with DMARC at the receiver (docs/scenario-format.md, "policies";
RFC 7208, RFC 7489): a sender domain publishing ``v=spf1 ip4:<its MSA's /24> -all`` and ``dmarc:
reject`` has mail that reaches the receiver from another address refused at the
end of data (after the transfer), 550 5.7.1 ``Email rejected per DMARC policy for
DOMAIN``; mail from an authorised address passes; without ``dmarc: reject`` an
SPF fail alone is not refused, unless the policy has ``reject_fail`` (550 5.7.1
at RCPT)."""

from __future__ import annotations

import pytest

import smtpsim


def scenario(spf: str) -> str:
    """Staff of corp.example submit to the msa (192.0.2.10), which relays through out
    (192.0.2.20, the same /24); an ESP smarthost (203.0.113.5) sends for corp.example
    and for lax.example (same SPF record, no DMARC reject) too."""
    return f"""
name: spf-dmarc
duration: 30min
hosts:
  msa: {{role: msa, ip: 192.0.2.10, postfix: {{relayhost: out}}}}
  out: {{role: mta, ip: 192.0.2.20, accepts: [corp.example, lax.example]}}
  smarthost: {{role: relay, ip: 203.0.113.5}}
  mx1: {{role: mx, accepts: [dest.example], policies: [{{spf: {spf}}}]}}
links:
  - {{between: [msa, out], latency: 1ms}}
  - {{between: [out, internet], latency: 5ms}}
  - {{between: [smarthost, internet], latency: 5ms}}
  - {{between: [mx1, internet], latency: 5ms}}
dns:
  corp.example: {{mx: {{out: 10}}, txt: ["v=spf1 ip4:192.0.2.0/24 -all"], dmarc: reject}}
  lax.example: {{mx: {{out: 10}}, txt: ["v=spf1 ip4:192.0.2.0/24 -all"]}}
  dest.example: {{mx: {{mx1: 10}}}}
traffic:
  staff:
    submit_to: msa
    sender_domain: corp.example
    bursts: [{{at: 10s, messages: 20, over: 1min}}]
    size: 20KiB
    recipients: {{per_message: {{fixed: 1}}, domains: {{dest.example: 1}}}}
  esp:
    submit_to: smarthost
    sender_domain: corp.example
    bursts: [{{at: 10s, messages: 20, over: 1min}}]
    size: 20KiB
    recipients: {{per_message: {{fixed: 1}}, domains: {{dest.example: 1}}}}
  lax:
    submit_to: smarthost
    sender_domain: lax.example
    bursts: [{{at: 10s, messages: 20, over: 1min}}]
    size: 20KiB
    recipients: {{per_message: {{fixed: 1}}, domains: {{dest.example: 1}}}}
"""


def by_flow(result: smtpsim.RunResult):
    messages = result.messages.set_index("msg_id")
    return result.recipients.join(messages[["origin", "sender"]], on="msg_id")


def mx_sessions(result: smtpsim.RunResult, host: str):
    a = result.attempts
    return a[(a["host"].astype(str) == host) & (a["peer"].astype(str) == "mx1")]


def test_dmarc_reject_refuses_mail_from_outside_the_spf_range_at_end_of_data() -> None:
    result = smtpsim.simulate(smtpsim.load_scenario(scenario("{dmarc: true}")))
    rcpts = by_flow(result)
    origin = rcpts["origin"].astype(str)
    status = rcpts["status"].astype(str)
    # from the authorised /24 (out relays the msa's mail): delivered
    assert (status[origin == "staff"] == "delivered").all()
    # corp.example's mail from the smarthost: SPF fails, DMARC says reject
    esp = rcpts[origin == "esp"]
    assert len(esp) == 20 and (esp["status"].astype(str) == "bounced").all()
    assert (esp["dsn"].astype(str) == "5.7.1").all()
    assert (esp["reply"] == "550 5.7.1 Email rejected per DMARC policy for corp.example").all()
    # SPF fails for lax.example too, but its domain asks for no rejection
    assert (status[origin == "lax"] == "delivered").all()
    # refused at the end of data, after the whole message was sent
    smart = mx_sessions(result, "smarthost")
    refused = smart[smart["outcome"].astype(str) != "sent"]
    assert set(refused["msg_id"]) == set(esp["msg_id"])
    assert set(
        zip(
            refused["outcome"].astype(str),
            refused["code"],
            refused["dsn"].astype(str),
            refused["phase"].astype(str),
            strict=True,
        )
    ) == {("bounced", 550, "5.7.1", "content")}
    passed = smart[smart["outcome"].astype(str) == "sent"]
    assert refused["xfer_s"].min() >= 0.9 * passed["xfer_s"].median()
    out = mx_sessions(result, "out")
    assert len(out) == 20 and (out["outcome"].astype(str) == "sent").all()
    # the smarthost returns the refused mail to its senders, at corp.example's MX
    bounces = rcpts[origin == "bounce"]
    assert sorted(bounces["rcpt"]) == sorted(esp["sender"])
    assert (bounces["status"].astype(str) == "delivered").all()


@pytest.mark.parametrize("spf", ["{dmarc: false}", "{dmarc: false, reject_fail: true}"])
def test_without_dmarc_enforcement_only_reject_fail_refuses_and_at_rcpt(spf: str) -> None:
    result = smtpsim.simulate(smtpsim.load_scenario(scenario(spf)))
    rcpts = by_flow(result)
    origin = rcpts["origin"].astype(str)
    status = rcpts["status"].astype(str)
    assert (status[origin == "staff"] == "delivered").all()
    failing = rcpts[origin.isin(["esp", "lax"])]
    if "reject_fail" not in spf:
        assert (failing["status"].astype(str) == "delivered").all()
        return
    assert (failing["status"].astype(str) == "bounced").all()
    assert (
        failing["reply"]
        == "550 5.7.1 <" + failing["sender"] + ">: Sender address rejected: SPF fail"
    ).all()
    smart = mx_sessions(result, "smarthost")
    assert set(smart["phase"].astype(str)) == {"rcpt"}  # at RCPT, before the message
    assert set(zip(smart["outcome"].astype(str), smart["code"], strict=True)) == {("bounced", 550)}
