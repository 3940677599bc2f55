"""``ClientConnection``: pipelining rules, sequence rules, reply reading, extensions,
timers. Replies are canned bytes, fed whole and one byte at a time."""

from __future__ import annotations

import pytest
from protocol_helpers import HELO, Pair, read_responses

from smtpsim.protocol import (
    NEED_DATA,
    Auth,
    AuthResponse,
    ClientConnection,
    ClientTimeouts,
    Command,
    ConnectionClosed,
    Data,
    Hello,
    Help,
    LocalProtocolError,
    Mail,
    Message,
    Noop,
    Quit,
    Rcpt,
    RemoteProtocolError,
    Reply,
    ReplyTimedOut,
    Response,
    Rset,
    StartTLS,
    Vrfy,
    replies,
    states,
)

GREETING = b"220 mx.example ESMTP\r\n"
EHLO_PIPELINING = (
    b"250-mx.example\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-STARTTLS\r\n"
    b"250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"
)
EHLO_NO_PIPELINING = b"250-mx.example\r\n250-SIZE\r\n250 8BITMIME\r\n"
OK = b"250 2.0.0 Ok\r\n"

MAIL = Mail("a@example.org")
RCPT = Rcpt("b@example.net")


def client(ehlo: bytes | None = EHLO_PIPELINING, **kw) -> ClientConnection:
    """A client that has read the greeting and, unless ``ehlo`` is None, an EHLO reply."""
    conn = ClientConnection(**kw)
    assert read_responses(conn, GREETING) == [Response(None, Reply(220, None, "mx.example ESMTP"))]
    if ehlo is not None:
        conn.send(Hello(HELO))
        [response] = read_responses(conn, ehlo)
        assert isinstance(response, Response) and response.reply.code == 250
    return conn


# --- pipelining (RFC 2920 section 3.1) -------------------------------------------------------


def test_without_pipelining_a_second_command_must_wait():
    conn = client(EHLO_NO_PIPELINING)
    assert not conn.offers("PIPELINING")
    conn.send(MAIL)
    with pytest.raises(LocalProtocolError, match="without PIPELINING"):
        conn.send(RCPT)
    assert conn.awaiting == 1
    read_responses(conn, OK)
    conn.send(RCPT)  # now it may


def test_before_the_greeting_nothing_may_be_sent():
    conn = ClientConnection()
    with pytest.raises(LocalProtocolError, match="greeting"):
        conn.send(Hello(HELO))
    assert conn.awaiting == 1


def test_with_pipelining_mail_rcpt_rset_may_be_followed():
    conn = client()
    group = [MAIL, RCPT, Rcpt("c@example.net"), Rset(), MAIL, RCPT, Data()]
    wire = b"".join(conn.send(c) for c in group)
    assert wire == (
        b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nRCPT TO:<c@example.net>\r\n"
        b"RSET\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n"
    )
    assert conn.awaiting == len(group)


GROUP_ENDERS = [
    ([MAIL, RCPT, Data()], Message.of(b"x")),
    ([MAIL, RCPT, Data()], Rset()),
    ([MAIL, RCPT, Data()], Quit()),
    ([Noop()], MAIL),
    ([Noop()], Noop()),
    ([Hello(HELO)], MAIL),
    ([Hello(HELO, extended=False)], Rset()),
    ([Vrfy("u")], MAIL),
    ([Help()], Quit()),
    ([MAIL, Quit()], Rset()),
    ([Rset(), Quit()], Noop()),
    ([Auth("LOGIN")], AuthResponse("dXNlcg==")),
    ([StartTLS()], Hello(HELO)),
]


@pytest.mark.parametrize(
    ("group", "after"),
    GROUP_ENDERS,
    ids=[f"{'+'.join(c.verb for c in g)}-then-{a.verb}" for g, a in GROUP_ENDERS],
)
def test_nothing_may_follow_a_group_ender(group, after):
    conn = client()
    for command in group:
        conn.send(command)
    with pytest.raises(LocalProtocolError):
        conn.send(after)
    assert conn.awaiting == len(group)


def test_group_ends_when_every_reply_is_in():
    conn = client()
    conn.send(MAIL)
    conn.send(RCPT)
    conn.send(Data())
    events = read_responses(conn, b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n")
    assert [e.command for e in events] == [MAIL, RCPT, Data()]
    assert conn.state == states.DATA and conn.awaiting == 0
    conn.send(Message.of(b"hi"))


def test_helo_and_tls_forget_pipelining():
    conn = client(EHLO_PIPELINING)
    conn.send(Hello(HELO, extended=False))
    read_responses(conn, b"250 mx.example\r\n")
    assert conn.extensions == {}
    conn.send(MAIL)
    with pytest.raises(LocalProtocolError):
        conn.send(RCPT)

    conn = client(EHLO_PIPELINING)
    conn.send(StartTLS())
    read_responses(conn, b"220 2.0.0 Ready to start TLS\r\n")
    assert conn.state == states.TLS
    with pytest.raises(LocalProtocolError):
        conn.send(Hello(HELO))  # the handshake comes first
    conn.tls_established()
    assert (conn.state, conn.extensions, conn.tls_active) == (states.GREETED, {}, True)
    conn.send(Hello(HELO))
    with pytest.raises(LocalProtocolError):
        conn.send(Noop())


# --- illegal sequences ---------------------------------------------------------------------------

ILLEGAL_SEQUENCES = [
    ([], Rcpt("b@example.net")),
    ([], Data()),
    ([], Message.of(b"x")),
    ([], AuthResponse("dXNlcg==")),
    ([MAIL], Data()),
    ([MAIL], MAIL),
    ([MAIL], Auth("PLAIN")),
    ([MAIL], StartTLS()),
    ([MAIL, RCPT], MAIL),
    ([MAIL, RCPT], Message.of(b"x")),
]


@pytest.mark.parametrize(
    ("before", "command"),
    ILLEGAL_SEQUENCES,
    ids=[f"{'+'.join(c.verb for c in b) or 'ready'}-then-{a.verb}" for b, a in ILLEGAL_SEQUENCES],
)
@pytest.mark.parametrize("pipelined", [False, True], ids=["answered", "pipelined"])
def test_illegal_sequences_raise(before, command, pipelined):
    """Out of sequence whether the earlier commands were answered or are still pending
    (then the client assumes they succeed)."""
    conn = client()
    for earlier in before:
        conn.send(earlier)
        if not pipelined:
            read_responses(conn, OK)
    state, awaiting = conn.state, conn.awaiting
    with pytest.raises(LocalProtocolError):
        conn.send(command)
    assert (conn.state, conn.awaiting) == (state, awaiting)


def test_closed_connection_refuses_everything():
    conn = client()
    conn.send(Quit())
    read_responses(conn, b"221 2.0.0 Bye\r\n")
    assert conn.state == states.CLOSED
    for command in (Noop(), Quit(), Rset(), Hello(HELO)):
        with pytest.raises(LocalProtocolError, match="closed"):
            conn.send(command)


def test_unwritable_command_leaves_the_connection_as_it_was():
    conn = client()
    with pytest.raises(LocalProtocolError):
        conn.send(Rcpt(""))
    with pytest.raises(LocalProtocolError):
        conn.send(Mail("josé@example.org"))
    assert conn.awaiting == 0
    conn.send(MAIL)  # nothing phantom is pending, so this is still the first of a group
    assert [e.command for e in read_responses(conn, OK)] == [MAIL]


# --- reading replies ---------------------------------------------------------------------------

PIPELINED_REPLIES = (
    b"250 2.1.0 Ok\r\n"
    b"550-5.1.1 <b@example.net>: Recipient address rejected:\r\n"
    b"550 5.1.1 User unknown in local recipient table\r\n"
    b"250 2.1.5 Ok\n"  # a bare LF ends a reply line too
    b"354 End data with <CR><LF>.<CR><LF>\r\n"
)


@pytest.mark.parametrize("bytewise", [False, True], ids=["whole", "bytewise"])
def test_pipelined_replies_pair_with_their_commands(bytewise):
    conn = client()
    group = [MAIL, RCPT, Rcpt("c@example.net"), Data()]
    for command in group:
        conn.send(command)
    events = read_responses(conn, PIPELINED_REPLIES, bytewise=bytewise)
    assert events == [
        Response(MAIL, replies.MAIL_OK),
        Response(
            RCPT,
            Reply(
                550,
                "5.1.1",
                "<b@example.net>: Recipient address rejected:\n"
                "User unknown in local recipient table",
            ),
        ),
        Response(Rcpt("c@example.net"), replies.RCPT_OK),
        Response(Data(), replies.START_DATA),
    ]
    assert conn.state == states.DATA


def test_partial_reply_gives_need_data():
    conn = client()
    conn.send(Noop())
    conn.receive_data(b"250-first\r\n250 sec")
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"ond\r\n")
    assert conn.next_event() == Response(Noop(), Reply(250, None, "first\nsecond"))
    assert conn.next_event() is NEED_DATA


MALFORMED = [
    b"hello\r\n",
    b"25 ok\r\n",
    b"2500 ok\r\n",
    b"600 ok\r\n",
    b"250-one\r\n251 two\r\n",
    b"250_ok\r\n",
    b"\r\n",
    b"250 " + b"x" * 5000 + b"\r\n",
    b"250-x\r\n" * 1001 + b"250 x\r\n",
]


@pytest.mark.parametrize("data", MALFORMED, ids=[repr(m[:16]) for m in MALFORMED])
@pytest.mark.parametrize("bytewise", [False, True], ids=["whole", "bytewise"])
def test_malformed_reply_raises_remote_protocol_error(data, bytewise):
    conn = client()
    conn.send(Noop())
    with pytest.raises(RemoteProtocolError):
        read_responses(conn, data, bytewise=bytewise)


def test_long_but_bounded_reply_line_is_accepted():
    line = b"250 " + b"x" * 4000 + b"\r\n"
    for bytewise in (False, True):
        conn = client()
        conn.send(Noop())
        assert read_responses(conn, line, bytewise=bytewise) == [
            Response(Noop(), Reply(250, None, "x" * 4000))
        ]


def test_reply_without_a_command_raises():
    conn = client()
    with pytest.raises(RemoteProtocolError, match="no command pending"):
        read_responses(conn, OK)


def test_eof_gives_connection_closed_and_closes():
    conn = client()
    conn.send(MAIL)
    assert read_responses(conn, b"250 2.1", eof=True) == [ConnectionClosed()]
    assert conn.state == states.CLOSED
    assert conn.get_timer() is None
    with pytest.raises(LocalProtocolError):
        conn.send(Noop())


def test_replies_are_read_before_eof():
    conn = client()
    conn.send(Quit())
    events = read_responses(conn, b"221 2.0.0 Bye\r\n", eof=True)
    assert events == [Response(Quit(), replies.BYE), ConnectionClosed()]


@pytest.mark.parametrize("code", [421, 221])
def test_closing_reply_drops_what_was_pending(code):
    conn = client()
    for command in (MAIL, RCPT, Rcpt("c@example.net"), Data()):
        conn.send(command)
    reply = b"421 4.7.0 Try again later\r\n" if code == 421 else b"221 Bye\r\n"
    if code == 221:
        conn = client()
        conn.send(Quit())
    [event] = read_responses(conn, reply)
    assert isinstance(event, Response) and event.reply.code == code
    assert conn.state == states.CLOSED and conn.awaiting == 0


# --- extensions ------------------------------------------------------------------------------


def test_extensions_from_ehlo():
    conn = client(
        b"250-mx.example says hi\r\n250-pipelining\r\n250-SIZE 1000\r\n"
        b"250-AUTH plain LOGIN\r\n250-X-EXPERIMENT  a  b \r\n250 8BITMIME\r\n"
    )
    assert conn.extensions == {
        "PIPELINING": "",
        "SIZE": "1000",
        "AUTH": "plain LOGIN",
        "X-EXPERIMENT": "a  b",
        "8BITMIME": "",
    }
    assert conn.offers("PIPELINING") and not conn.offers("STARTTLS")
    assert conn.size_limit == 1000
    assert conn.auth_mechanisms == ("PLAIN", "LOGIN")


@pytest.mark.parametrize(
    ("size", "limit"), [(b"SIZE 0", None), (b"SIZE", None), (b"SIZE abc", None), (b"SIZE 7", 7)]
)
def test_size_limit(size, limit):
    conn = client(b"250-mx.example\r\n250 " + size + b"\r\n")
    assert conn.size_limit == limit


def test_extensions_come_from_a_real_server():
    pair = Pair(starttls=True, auth_mechanisms=("LOGIN",), max_message_size=5000)
    pair.replies(Hello(HELO))
    assert pair.client.extensions == {
        "PIPELINING": "",
        "SIZE": "5000",
        "VRFY": "",
        "STARTTLS": "",
        "AUTH": "LOGIN",
        "ENHANCEDSTATUSCODES": "",
        "8BITMIME": "",
        "DSN": "",
    }


# --- timers ----------------------------------------------------------------------------------

TIMED = [
    ([], Hello(HELO), 300.0),
    ([], MAIL, 300.0),
    ([MAIL], RCPT, 300.0),
    ([MAIL, RCPT], Data(), 120.0),
    ([MAIL, RCPT, Data()], Message.of(b"x"), 600.0),
    ([], Quit(), 300.0),
    ([], Rset(), 20.0),
    ([], StartTLS(), 300.0),
    ([], Noop(), 300.0),
    ([], Vrfy("u"), 300.0),
    ([], Auth("LOGIN"), 300.0),
]


@pytest.mark.parametrize(("before", "command", "seconds"), TIMED, ids=[c.verb for _, c, _ in TIMED])
def test_reply_timer_per_command(before, command, seconds):
    conn = client()
    for earlier in before:
        conn.send(earlier, now=0.0)
        read_responses(conn, b"354 go\r\n" if isinstance(earlier, Data) else OK)
    assert conn.get_timer() is None  # nothing awaited
    conn.send(command, now=1000.0)
    assert conn.get_timer() == 1000.0 + seconds
    assert conn.handle_timer(1000.0 + seconds - 0.001) is None
    assert conn.state != states.CLOSED
    assert conn.handle_timer(1000.0 + seconds) == ReplyTimedOut(command=command)
    assert conn.state == states.CLOSED
    assert conn.get_timer() is None and conn.awaiting == 0
    with pytest.raises(LocalProtocolError):
        conn.send(Noop())


def test_greeting_timer_counts_from_the_connection():
    conn = ClientConnection(now=5.0)
    assert conn.get_timer() == 305.0
    assert conn.handle_timer(305.0) == ReplyTimedOut(command=None)
    assert conn.state == states.CLOSED


def test_custom_timeouts_and_timer_restart_on_each_reply():
    conn = client(timeouts=ClientTimeouts(mail=10, rcpt=20, data_init=7))
    conn.send(MAIL, now=100.0)
    conn.send(RCPT, now=100.0)
    conn.send(Data(), now=100.0)
    assert conn.get_timer() == 110.0  # the MAIL reply is awaited first
    conn.receive_data(OK)
    conn.next_event(now=105.0)
    assert conn.get_timer() == 125.0  # RCPT, from the last reply
    conn.receive_data(OK)
    conn.next_event(now=106.0)
    assert conn.get_timer() == 113.0  # DATA: data_init
    assert conn.handle_timer(113.0) == ReplyTimedOut(command=Data())


def test_tls_established_outside_the_handshake_is_a_local_error():
    with pytest.raises(LocalProtocolError):
        client().tls_established()


def _commands(events) -> list[Command | None]:
    return [e.command for e in events if isinstance(e, Response)]


def test_responses_on_the_wire_match_the_fast_path():
    """receive_reply (fast path) and bytes give the same Response for each command."""
    group = [MAIL, RCPT, Data()]
    wire_conn, fast_conn = client(), client()
    for command in group:
        wire_conn.send(command)
        fast_conn.submit(command)
    wire = read_responses(wire_conn, b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n")
    fast = [
        fast_conn.receive_reply(r)
        for r in (replies.MAIL_OK, replies.RCPT_OK, Reply(354, None, "go"))
    ]
    assert wire == fast
    assert _commands(wire) == group
    assert wire_conn.state == fast_conn.state == states.DATA
