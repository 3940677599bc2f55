"""anvil-style per-client limits, through real sessions."""

from __future__ import annotations

import pytest
from mail_helpers import HOSTNAME, Session

from smtpsim.mail import LocalRecipients, RateLimit
from smtpsim.protocol import Hello, Mail, Rcpt, Reply, Rset, states

IP = "192.0.2.7"


def connect(limits: RateLimit, now: float, ip: str = IP) -> Session:
    return Session([limits], ip=ip, now=now)


def test_simultaneous_connections_over_the_limit_get_421_until_one_closes():
    limits = RateLimit(HOSTNAME, connection_count_limit=2)
    first, second = connect(limits, 0), connect(limits, 1)
    assert first.greeting.code == second.greeting.code == 220
    third = connect(limits, 2)
    assert third.greeting == Reply(
        421, "4.7.0", f"{HOSTNAME} Error: too many connections from {IP}"
    )
    assert third.conn.state == states.CLOSED
    assert connect(limits, 2, ip="192.0.2.8").greeting.code == 220  # per client address
    assert limits.open_connections(IP) == 3  # the refused one holds its slot ...
    third.close(3)  # ... until it is closed, as in Postfix
    fourth = connect(limits, 4)
    assert fourth.greeting.code == 421
    fourth.close(4)
    first.close(5)
    assert connect(limits, 6).greeting.code == 220


def test_default_is_postfix_fifty_simultaneous_connections():
    limits = RateLimit(HOSTNAME)
    sessions = [connect(limits, 0) for _ in range(50)]
    assert all(s.greeting.code == 220 for s in sessions)
    assert connect(limits, 0).greeting.code == 421


def test_connection_rate_window_resets_only_after_a_whole_time_unit():
    limits = RateLimit(HOSTNAME, connection_rate_limit=3)
    codes = []
    for t in (0.0, 30.0, 59.0, 60.0, 60.5):
        s = connect(limits, t)
        codes.append(s.greeting.code)
        s.close(t)
    # anvil: the window started at 0 is over only when start + 60 < now.
    assert codes == [220, 220, 220, 421, 220]


def test_message_rate_counts_every_mail_across_sessions_even_refused_ones():
    limits = RateLimit(HOSTNAME, message_rate_limit=2)
    s = connect(limits, 0)
    s.say(Hello("c.example"), 0)
    assert s.say(Mail("a@c.example"), 1).code == 250
    s.say(Rset(), 1)
    s.close(2)
    s = connect(limits, 3)
    s.say(Hello("c.example"), 3)
    assert s.say(Mail("a@c.example"), 4).code == 250
    s.say(Rset(), 4)
    assert s.say(Mail("a@c.example"), 5) == Reply(450, "4.7.1", f"Error: too much mail from {IP}")
    assert s.say(Mail("a@c.example"), 6).code == 450
    assert s.say(Mail("a@c.example"), 61).code == 250  # a new window


def test_recipient_rate_limit_refuses_the_recipients_over_it():
    limits = RateLimit(HOSTNAME, recipient_rate_limit=3)
    s = connect(limits, 0)
    replies = s.transaction("a@c.example", [f"u{i}@example.org" for i in range(5)], now=1)
    assert [r.code for r in replies] == [250, 250, 250, 250, 450, 450, 250]
    assert replies[4] == Reply(450, "4.7.1", f"Error: too many recipients from {IP}")
    assert s.stored[0].recipients == ("u0@example.org", "u1@example.org", "u2@example.org")


def test_mail_and_recipients_are_counted_only_while_their_limit_is_on():
    limits = RateLimit(HOSTNAME)
    s = connect(limits, 0)
    s.transaction("a@c.example", ["u@example.org"] * 3, now=1)
    limits.recipient_rate_limit = 2  # changed at run time
    replies = s.transaction("a@c.example", ["u@example.org"] * 3, now=2)
    assert [r.code for r in replies] == [250, 250, 250, 450, 250]


def test_exceptions_are_not_limited():
    limits = RateLimit(HOSTNAME, connection_count_limit=1, exceptions=["192.0.2.0/24"])
    assert [connect(limits, 0).greeting.code for _ in range(3)] == [220] * 3
    assert limits.open_connections(IP) == 0


def test_a_session_counted_before_the_policy_was_disabled_is_still_released():
    limits = RateLimit(HOSTNAME, connection_count_limit=1)
    s = connect(limits, 0)
    limits.enabled = False
    other = connect(limits, 1)  # not counted while disabled
    assert other.greeting.code == 220
    s.close(2)
    other.close(2)
    limits.enabled = True
    assert limits.open_connections(IP) == 0
    assert connect(limits, 3).greeting.code == 220


def test_an_idle_client_is_forgotten_one_time_unit_after_its_last_disconnect():
    limits = RateLimit(HOSTNAME, connection_rate_limit=2)
    a = connect(limits, 0)
    b = connect(limits, 10)
    a.close(11)
    b.close(20)
    # The window started at 0 would end at 60, but anvil drops the client at 20 + 60.
    assert connect(limits, 50).greeting.code == 421
    assert connect(limits, 81).greeting.code == 220


def test_ipv6_clients_are_counted_per_slash_84():
    limits = RateLimit(HOSTNAME, connection_count_limit=1)
    assert connect(limits, 0, ip="2001:db8::1").greeting.code == 220
    assert connect(limits, 0, ip="2001:db8::ffff:1").greeting.code == 421  # same /84
    assert connect(limits, 0, ip="2001:db8:0:1::1").greeting.code == 220


@pytest.mark.parametrize("bad", [{"connection_count_limit": -1}, {"time_unit": 0}])
def test_bad_limits_are_refused(bad):
    with pytest.raises(ValueError):
        RateLimit(HOSTNAME, **bad)


def test_rcpt_rate_applies_before_a_later_policy():
    # RateLimit first, as smtpd checks anvil before its restrictions.
    limits = RateLimit(HOSTNAME, recipient_rate_limit=1)
    s = Session([limits, LocalRecipients(["example.org"], ["a@example.org"])], ip=IP)
    s.say(Hello("c.example"))
    s.say(Mail("x@c.example"))
    assert s.say(Rcpt("nobody@example.org")).code == 550
    assert s.say(Rcpt("nobody@example.org")).code == 450  # the rate came first
