"""The client believes only what RFC 5321 allows (issue 9, item 3).

A property test plays a ``ClientSession`` against arbitrary server behaviour: any
sequence of replies (any code, any EHLO keywords), garbage lines, lines without an
end, a closed connection, a timeout; on the wire (bytes, whole) and on the fast path
(``Reply`` values). Whatever the server does:

- no recipient is reported delivered unless its RCPT got a 2xx, DATA got 354, the
  content was sent, and the reply to the end of data was a 2xx;
- nothing but ``RemoteProtocolError`` comes out of the core for what the peer did
  (never ``LocalProtocolError``, which means a bug on our side), and once the caller
  hands it to ``protocol_error`` the session is over;
- the session ends, every recipient has a final reply, and no final reply is a 3xx.

Then examples of each impossible reply, one by one: the table (``states.POSSIBLE``),
the ``ERROR`` state, and the deferral's Postfix wording.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from protocol_helpers import read_responses

from smtpsim.protocol import (
    NEED_DATA,
    ClientConnection,
    ClientSession,
    Data,
    Event,
    Hello,
    LocalProtocolError,
    Mail,
    Message,
    Rcpt,
    RemoteProtocolError,
    Reply,
    Response,
    replies,
    states,
)
from smtpsim.protocol.syntax import format_reply

SERVER = "mx.example[192.0.2.1]"
RECIPIENTS = ("a@example.org", "b@example.org", "c@example.org")

PROPERTY = settings(
    max_examples=400,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Codes a server could send, likely and unlikely, plus any other three-digit code.
CODES = [
    220,
    221,
    235,
    250,
    251,
    252,
    334,
    354,
    421,
    450,
    451,
    452,
    454,
    500,
    501,
    502,
    503,
    504,
    521,
    530,
    535,
    550,
    552,
    554,
]
KEYWORDS = [
    "PIPELINING",
    "STARTTLS",
    "AUTH PLAIN LOGIN",
    "AUTH LOGIN",
    "SIZE 1000",
    "8BITMIME",
    "ENHANCEDSTATUSCODES",
]
GARBAGE = [
    b"garbage\r\n",
    b"HTTP/1.1 400 Bad Request\r\n",
    b"25 x\r\n",
    b"2500 x\r\n",
    b"250-a\r\n251 b\r\n",
    b"\r\n",
    b"250",
    b"x" * 5000,
    b"354\r\n250 ok\r\n",
    b"250 ok\r\n250 ok\r\n",
]


@st.composite
def replies_st(draw: st.DrawFn) -> Reply:
    code = draw(st.one_of(st.sampled_from(CODES), st.integers(200, 599)))
    lines = ["mx.example", *draw(st.lists(st.sampled_from(KEYWORDS), max_size=4, unique=True))]
    enhanced = f"{code // 100}.0.0" if code // 100 != 3 and draw(st.booleans()) else None
    return Reply(code, enhanced, "\n".join(lines))


# One step of the server: a reply, raw bytes, closing, or going silent.
steps = st.one_of(
    replies_st(),
    replies_st(),
    replies_st(),
    st.sampled_from(GARBAGE),
    st.binary(max_size=20),
    st.just("close"),
    st.just("timeout"),
)


@dataclass
class Seen:
    """What the client was told, as the events it handled show it."""

    rcpt_ok: set[str] = field(default_factory=set)
    data_354: bool = False
    content_sent: bool = False
    content_2xx: bool = False
    protocol_errors: int = 0


def play(
    script: list[object], *, wire: bool, starttls: str, auth: bool, pipelining: bool
) -> tuple[ClientSession, Seen]:
    """Drive a session as the drivers do, the server's part read from ``script``."""
    conn = ClientConnection()
    session = ClientSession(
        conn,
        helo="client.example",
        sender="s@example.net",
        recipients=RECIPIENTS,
        message=Message.of(b"Subject: t\r\n\r\nhi\r\n"),
        starttls=starttls,
        auth=("u", "p") if auth else None,
        pipelining=pipelining,
    )
    seen = Seen()
    todo = iter(script)

    def handle(event: Event) -> None:
        if isinstance(event, Response):
            cmd, code = event.command, event.reply.code
            if isinstance(cmd, Rcpt) and code // 100 == 2:
                seen.rcpt_ok.add(cmd.recipient)
            elif isinstance(cmd, Data) and code == 354:
                seen.data_354 = True
            elif isinstance(cmd, Message) and code // 100 == 2 and seen.content_sent:
                seen.content_2xx = True
        session.handle(event)

    for _ in range(400):
        if session.done:
            break
        commands = session.next_commands()
        if commands:
            for command in commands:
                if isinstance(command, Message):
                    assert seen.data_354, "content sent without a 354"
                    seen.content_sent = True
                if wire:
                    conn.send(command)
                else:
                    conn.submit(command)
            continue
        if session.wants_tls:
            session.tls_established()
            continue
        assert conn.awaiting, "the session stalled: nothing to send, nothing awaited"
        step = next(todo, "close")
        try:
            if step == "timeout":
                deadline = conn.get_timer()
                assert deadline is not None
                timed_out = conn.handle_timer(deadline)
                assert timed_out is not None
                handle(timed_out)
            elif step == "close":
                conn.receive_data(b"")
                while conn.awaiting and (event := conn.next_event()) is not NEED_DATA:
                    handle(event)  # a ConnectionClosed, or replies read before it
            elif isinstance(step, Reply) and not wire:
                handle(conn.receive_reply(step))
            else:
                data = format_reply(step) if isinstance(step, Reply) else step
                assert isinstance(data, bytes)
                if data:
                    conn.receive_data(data)
                while conn.awaiting and (event := conn.next_event()) is not NEED_DATA:
                    handle(event)
        except RemoteProtocolError as exc:
            seen.protocol_errors += 1
            assert conn.state == states.ERROR
            session.protocol_error(exc, SERVER)
    return session, seen


@PROPERTY
@given(
    script=st.lists(steps, max_size=30),
    wire=st.booleans(),
    starttls=st.sampled_from(["no", "may", "require"]),
    auth=st.booleans(),
    pipelining=st.booleans(),
)
def test_no_delivery_without_a_2xx_to_the_content(script, wire, starttls, auth, pipelining):
    session, seen = play(script, wire=wire, starttls=starttls, auth=auth, pipelining=pipelining)
    assert session.done
    result = session.result()
    assert [r for r, _ in result.replies] == list(RECIPIENTS)  # every one settled
    assert all(reply.code // 100 in (2, 4, 5) for _, reply in result.replies)
    for rcpt in result.delivered:
        assert rcpt in seen.rcpt_ok and seen.data_354 and seen.content_2xx, (rcpt, seen)
    if seen.protocol_errors:
        assert seen.protocol_errors == 1  # the session stopped reading at the first
    if result.error is not None:
        assert result.error in {str(reply) for _, reply in result.replies}
        assert not result.delivered or len(result.delivered) < len(RECIPIENTS)


# --- the table, reply by reply -----------------------------------------------------------


def greeted(pipelining: bool = True) -> ClientConnection:
    conn = ClientConnection()
    read_responses(conn, b"220 mx.example ESMTP\r\n")
    conn.send(Hello("client.example"))
    read_responses(
        conn, b"250-mx.example\r\n250 PIPELINING\r\n" if pipelining else b"250 mx.example\r\n"
    )
    return conn


def test_the_table_is_rfc_5321_section_4_3_2():
    possible = states.possible
    assert possible(states.GREETING, 220) and possible(states.GREETING, 554)
    assert possible(states.GREETING, 421)
    assert not possible(states.GREETING, 354)
    assert possible("DATA", 354) and possible("DATA", 554) and possible("DATA", 451)
    assert not possible("DATA", 250) and not possible("DATA", 334) and not possible("DATA", 350)
    assert possible(".", 250) and not possible(".", 354)
    for verb in ("EHLO", "HELO", "MAIL", "RCPT", "RSET", "QUIT", "NOOP", "STARTTLS"):
        assert not possible(verb, 354) and not possible(verb, 334), verb
        assert possible(verb, 250) and possible(verb, 421) and possible(verb, 550), verb
    assert possible("AUTH", 334) and possible("AUTH-RESPONSE", 235)
    # 3xx is never a class: only 354 after DATA and 334 in SASL
    assert all(3 not in allowed for allowed in states.POSSIBLE.values())


IMPOSSIBLE = [
    ("354 greeting", None, b"354 go ahead\r\n", states.GREETING),
    ("334 greeting", None, b"334 \r\n", states.GREETING),
    ("354 to EHLO", "ehlo", b"354 go ahead\r\n", "EHLO"),
    ("354 to MAIL", "mail", b"354 go ahead\r\n", "MAIL"),
    ("250 to DATA", "data", b"250 2.0.0 ok\r\n", "DATA"),
    ("334 to DATA", "data", b"334 \r\n", "DATA"),
    ("354 to end of data", "content", b"354 again\r\n", "."),
]


def conn_awaiting(what: str | None) -> ClientConnection:
    if what is None:
        return ClientConnection()
    if what == "ehlo":
        conn = ClientConnection()
        read_responses(conn, b"220 mx.example\r\n")
        conn.send(Hello("client.example"))
        return conn
    conn = greeted(pipelining=False)
    conn.send(Mail("s@example.net"))
    if what == "mail":
        return conn
    read_responses(conn, b"250 ok\r\n")
    conn.send(Rcpt("a@example.org"))
    read_responses(conn, b"250 ok\r\n")
    conn.send(Data())
    if what == "data":
        return conn
    read_responses(conn, b"354 go\r\n")
    conn.send(Message.of(b"hi\r\n"))
    return conn


@pytest.mark.parametrize(
    ("what", "awaiting", "data", "verb"), IMPOSSIBLE, ids=[case[0] for case in IMPOSSIBLE]
)
def test_impossible_reply_is_a_remote_error_and_breaks_the_connection(what, awaiting, data, verb):
    conn = conn_awaiting(awaiting)
    with pytest.raises(RemoteProtocolError, match="impossible reply") as caught:
        read_responses(conn, data)
    assert caught.value.verb == verb
    assert caught.value.reply is not None and caught.value.reply.code == int(data[:3])
    assert conn.state == states.ERROR and conn.awaiting == 0 and conn.get_timer() is None
    with pytest.raises(RemoteProtocolError):  # it stays broken: nothing more is read
        read_responses(conn, b"250 ok\r\n")
    with pytest.raises(LocalProtocolError):  # sending on it is our bug
        conn.send(Hello("client.example"))


def converse(session: ClientSession, chunks: list[bytes]) -> None:
    """Send what the session wants, then give it each chunk of server bytes, as a
    driver does: a ``RemoteProtocolError`` goes to ``protocol_error``."""
    conn = session.conn
    for chunk in chunks:
        for command in session.next_commands():
            conn.send(command)
        conn.receive_data(chunk)
        try:
            while conn.awaiting and (event := conn.next_event()) is not NEED_DATA:
                session.handle(event)
        except RemoteProtocolError as exc:
            session.protocol_error(exc, SERVER)
        if session.done:
            return


def session_to(data_reply: bytes, *, pipelining: bool) -> ClientSession:
    """A session whose server accepts the envelope and answers DATA with ``data_reply``."""
    session = ClientSession(
        ClientConnection(),
        helo="client.example",
        sender="s@example.net",
        recipients=RECIPIENTS[:2],
        message=Message.of(b"hi\r\n"),
        pipelining=pipelining,
    )
    script = [b"220 mx.example\r\n", b"250-mx.example\r\n250 PIPELINING\r\n"]
    if pipelining:
        script.append(b"250 ok\r\n" * 3 + data_reply)
    else:
        script += [b"250 ok\r\n"] * 3 + [data_reply]
    converse(session, script)
    return session


@pytest.mark.parametrize("pipelining", [True, False])
def test_250_to_data_is_a_deferral_in_postfix_words_not_a_delivery(pipelining):
    session = session_to(b"250 2.0.0 ok\r\n", pipelining=pipelining)
    assert session.done and session.conn.state == states.ERROR
    result = session.result()
    assert result.delivered == ()
    expected = (
        "451 4.5.0 Protocol error: host mx.example[192.0.2.1] said: 250 2.0.0 ok "
        "(in reply to DATA command)"
    )
    assert [str(reply) for _, reply in result.replies] == [expected, expected]
    assert result.error == expected
    assert session.next_commands() == []  # no QUIT on a broken connection


def test_garbage_in_reply_to_data_is_a_deferral():
    session = session_to(b"HTTP/1.1 400 Bad Request\r\n", pipelining=True)
    reply = session.result().reply_for(RECIPIENTS[0])
    assert str(reply) == (
        "451 4.5.0 Protocol error: host mx.example[192.0.2.1] sent a "
        "malformed reply line: 'HTTP/1.1 400 Bad Request' "
        "(in reply to DATA command)"
    )


def test_protocol_error_wording_per_command():
    said = Reply(354, None, "go ahead")
    assert str(replies.protocol_error(SERVER, states.GREETING, said, "")) == (
        "451 4.5.0 Protocol error: host mx.example[192.0.2.1] refused to talk to me: 354 go ahead"
    )
    assert replies.protocol_error(SERVER, "MAIL", said, "").text.endswith(
        "said: 354 go ahead (in reply to MAIL FROM command)"
    )
    assert replies.protocol_error(SERVER, ".", said, "").text.endswith(
        "(in reply to end of DATA command)"
    )
    assert replies.protocol_error(
        SERVER, states.GREETING, None, "sent a malformed reply line: 'x'"
    ).text.endswith("sent a malformed reply line: 'x' while receiving the initial server greeting")


def test_a_refused_recipient_keeps_its_own_reply_after_a_protocol_error():
    session = ClientSession(
        ClientConnection(),
        helo="client.example",
        sender="s@example.net",
        recipients=RECIPIENTS[:2],
        message=Message.of(b"hi\r\n"),
    )
    converse(
        session,
        [
            b"220 mx.example\r\n",
            b"250-mx.example\r\n250 PIPELINING\r\n",
            b"250 ok\r\n550 5.1.1 no such user\r\n250 ok\r\n250 ok\r\n",
        ],
    )
    assert session.done
    result = session.result()
    assert str(result.reply_for(RECIPIENTS[0])) == "550 5.1.1 no such user"
    assert str(result.reply_for(RECIPIENTS[1])).startswith("451 4.5.0 Protocol error: ")
    assert result.delivered == ()


@pytest.mark.parametrize("mail", [b"250 ok\r\n", b"550 5.7.1 no\r\n"])
def test_354_after_every_recipient_was_refused_is_followed_but_delivers_nothing(mail):
    """RFC 2920 section 1: some servers accept DATA although every RCPT failed; the
    client then ends the (empty) data (``states.TOLERATED``) and trusts nothing."""
    session = ClientSession(
        ClientConnection(),
        helo="client.example",
        sender="s@example.net",
        recipients=RECIPIENTS[:2],
        message=Message.of(b"hi\r\n"),
    )
    refused = b"550 5.1.1 no such user\r\n"
    converse(
        session,
        [
            b"220 mx.example\r\n",
            b"250-mx.example\r\n250 PIPELINING\r\n",
            mail + refused * 2 + b"354 go ahead\r\n",
            b"250 2.0.0 queued as X\r\n",
            b"221 bye\r\n",
        ],
    )
    assert session.done and session.conn.state == states.CLOSED
    result = session.result()
    assert result.delivered == () and result.error is None
    assert {reply.code for _, reply in result.replies} == {550}  # MAIL's or RCPT's


@pytest.mark.parametrize("path", ["wire", "fast"])
def test_error_state_refuses_every_further_use(path):
    """After a ``RemoteProtocolError`` the client connection is in ``ERROR`` for good,
    as h11's: sending is refused as our bug (``LocalProtocolError``, saying why),
    reading as the peer's (``RemoteProtocolError``); bytes that still arrive are
    dropped, and no timer runs."""
    conn = conn_awaiting("mail")
    bad = Reply(354, None, "go ahead")  # no server may answer MAIL with 354
    with pytest.raises(RemoteProtocolError, match="impossible reply"):
        if path == "wire":
            read_responses(conn, format_reply(bad))
        else:
            conn.receive_reply(bad)
    assert conn.state == states.ERROR
    for command in (Rcpt("a@example.org"), Data(), Hello("client.example")):
        with pytest.raises(LocalProtocolError, match="ERROR"):
            conn.submit(command)
        with pytest.raises(LocalProtocolError, match="ERROR"):
            conn.send(command)
    with pytest.raises(LocalProtocolError):
        conn.tls_established()
    conn.receive_data(b"250 2.1.0 Ok\r\n")  # dropped: nothing more is read
    with pytest.raises(RemoteProtocolError, match="ERROR"):
        conn.next_event()
    with pytest.raises(RemoteProtocolError, match="ERROR"):
        conn.receive_reply(replies.MAIL_OK)
    assert conn.state == states.ERROR and conn.awaiting == 0
    assert conn.get_timer() is None and conn.handle_timer(1e9) is None
