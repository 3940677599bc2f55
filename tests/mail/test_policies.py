"""Server policies and ServerSession, driven through a real ServerConnection."""

from __future__ import annotations

import random

import pytest

from smtpsim.mail import (
    Client,
    Envelope,
    LocalRecipients,
    PasswordTable,
    RelayControl,
    ReplyInjection,
    ServerSession,
    parse_injection,
)
from smtpsim.protocol import (
    Auth,
    Data,
    Hello,
    Mail,
    Message,
    Rcpt,
    Reply,
    ServerConfig,
    ServerConnection,
    states,
)
from smtpsim.protocol.syntax import format_command

LOCAL = ["example.org"]


def make_session(policies, *, ip="192.0.2.7", auth=(), stored=None):
    conn = ServerConnection(ServerConfig(hostname="mx.example.org", auth_mechanisms=auth))

    def deliver(envelope: Envelope, message: Message, client: Client) -> str:
        stored.append((envelope, message.content))
        return f"Q{len(stored)}"

    session = ServerSession(conn, Client(ip), policies, deliver if stored is not None else None)
    conn.answer(session.greeting())
    return session


def say(session: ServerSession, command):
    """Feed one command as bytes, answer it, and return the reply."""
    conn = session.conn
    conn.receive_data(format_command(command))
    event = conn.next_event()
    reply = session.answer(event)
    conn.answer(reply)
    return reply


def test_unknown_user_of_local_domain_gets_550_511_and_only_valid_ones_are_stored():
    stored: list = []
    s = make_session(
        [RelayControl(LOCAL), LocalRecipients(LOCAL, ["bob@example.org", "amy@example.org"])],
        stored=stored,
    )
    say(s, Hello("client.example"))
    assert say(s, Mail("a@client.example")).code == 250
    codes = [say(s, Rcpt(r)) for r in ("bob@example.org", "nobody@example.org", "AMY@example.org")]
    assert [c.code for c in codes] == [250, 550, 250]
    assert codes[1].enhanced == "5.1.1" and "<nobody@example.org>" in codes[1].text
    assert say(s, Data()).code == 354
    reply = say(s, Message.of(b"Subject: x\r\n\r\nhi\r\n"))
    assert reply.code == 250 and reply.text == "Ok: queued as Q1"
    assert len(stored) == 1
    envelope, content = stored[0]
    assert envelope == Envelope("a@client.example", ("bob@example.org", "AMY@example.org"), 18)
    assert content == b"Subject: x\r\n\r\nhi\r\n"


def test_users_none_accepts_every_local_user():
    s = make_session([LocalRecipients(LOCAL, None)])
    say(s, Hello("c"))
    say(s, Mail("a@c.example"))
    assert say(s, Rcpt("anyone@example.org")).code == 250


@pytest.mark.parametrize("temporary,code,dsn", [(True, 454, "4.7.1"), (False, 554, "5.7.1")])
def test_relay_refused_for_foreign_domains(temporary, code, dsn):
    s = make_session([RelayControl(LOCAL, mynetworks=(), temporary=temporary)])
    say(s, Hello("c"))
    say(s, Mail("a@c.example"))
    reply = say(s, Rcpt("x@elsewhere.example"))
    assert (reply.code, reply.enhanced) == (code, dsn)
    assert reply.text == "<x@elsewhere.example>: Relay access denied"
    assert say(s, Rcpt("y@example.org")).code == 250


def test_relay_allowed_from_mynetworks_and_after_auth():
    s = make_session([RelayControl(LOCAL, mynetworks=["192.0.2.0/24"])], ip="192.0.2.99")
    say(s, Hello("c"))
    say(s, Mail("a@c.example"))
    assert say(s, Rcpt("x@elsewhere.example")).code == 250

    s = make_session(
        [RelayControl(LOCAL, mynetworks=()), PasswordTable({"u": "pw"})], auth=("PLAIN",)
    )
    say(s, Hello("c"))
    say(s, Mail("a@c.example"))
    assert say(s, Rcpt("x@elsewhere.example")).code == 454
    say(s, Rcpt("ok@example.org"))


@pytest.mark.parametrize("password,code", [("pw", 235), ("wrong", 535)])
def test_password_table_decides_auth(password, code):
    import base64

    s = make_session(
        [RelayControl(LOCAL, mynetworks=()), PasswordTable({"u": "pw"})], auth=("PLAIN",)
    )
    say(s, Hello("c"))
    token = base64.b64encode(f"\0u\0{password}".encode()).decode()
    reply = say(s, Auth("PLAIN", token))
    assert reply.code == code
    if code == 535:
        assert reply.enhanced == "5.7.8"
        assert s.ctx.authenticated is None
        return
    assert s.ctx.authenticated == "u" and s.conn.authenticated == "u"
    say(s, Mail("a@c.example"))
    assert say(s, Rcpt("x@elsewhere.example")).code == 250  # authenticated clients relay


def test_auth_without_a_password_table_is_refused():
    import base64

    s = make_session([], auth=("PLAIN",))
    say(s, Hello("c"))
    token = base64.b64encode(b"\0u\0pw").decode()
    assert say(s, Auth("PLAIN", token)).code == 535


def test_injection_at_each_phase_answers_with_the_reply():
    reply = Reply(421, "4.7.0", "Try again later")
    s = make_session([ReplyInjection("connect", reply)])
    # the greeting was already answered by make_session: the connection is closed
    assert s.conn.state == states.CLOSED
    s = make_session([ReplyInjection("rcpt", Reply(451, "4.3.0", "Try later"))])
    say(s, Hello("c"))
    say(s, Mail("a@c.example"))
    assert say(s, Rcpt("x@example.org")) == Reply(451, "4.3.0", "Try later")
    s = make_session([ReplyInjection("end-of-data", Reply(554, "5.7.1", "No"))], stored=[])
    say(s, Hello("c"))
    say(s, Mail("a@c.example"))
    say(s, Rcpt("x@example.org"))
    say(s, Data())
    assert say(s, Message.of(b"x\r\n")).code == 554
    assert s.conn.state == states.READY


def test_injection_probability_uses_its_own_stream():
    def rejected_fraction(seed: int) -> float:
        inj = ReplyInjection("mail", Reply(451, "4.3.0", "x"), 0.3, random.Random(seed))
        s = make_session([inj])
        say(s, Hello("c"))
        n = 0
        for _ in range(2000):
            if say(s, Mail("a@c.example")).code == 451:
                n += 1
            else:
                say(s, Rcpt("x@example.org"))
                from smtpsim.protocol import Rset

                say(s, Rset())
        return n / 2000

    a, b = rejected_fraction(1), rejected_fraction(1)
    assert a == b  # same seed, same answers
    # binomial(2000, 0.3): sd = 0.0102; 4 sd
    assert abs(a - 0.3) < 0.041


@pytest.mark.parametrize(
    "text,phase,code,enhanced,text_out,p",
    [
        ("rcpt:451 4.3.0 Try again later@0.25", "rcpt", 451, "4.3.0", "Try again later", 0.25),
        ("end-of-data:554 5.7.1 Rejected", "end-of-data", 554, "5.7.1", "Rejected", 1.0),
        ("rcpt:550 5.1.1 <a@b> unknown", "rcpt", 550, "5.1.1", "<a@b> unknown", 1.0),
        ("CONNECT:421 Busy", "connect", 421, None, "Busy", 1.0),
    ],
)
def test_parse_injection(text, phase, code, enhanced, text_out, p):
    inj = parse_injection(text)
    assert (inj.phase, inj.reply, inj.probability) == (phase, Reply(code, enhanced, text_out), p)


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("rcpt", "PHASE:REPLY"),
        ("rcpt:42 oops", "expected a reply"),
        ("rcpt:451 4.3.0 x@1.5", "probability"),
        ("sometime:451 4.3.0 x", "phase must be one of"),
        ("rcpt:451 5.3.0 x", "does not fit"),
    ],
)
def test_parse_injection_errors_say_what_was_expected(text, fragment):
    with pytest.raises(ValueError, match=fragment):
        parse_injection(text)
