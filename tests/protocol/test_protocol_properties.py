"""Properties (hypothesis): any input gives events or a protocol error, never another
exception; how input is split does not matter; dot-stuffing is transparent; legal
command sequences round-trip, on the wire and on the fast path alike."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from protocol_helpers import HELO, HOST, read_responses, serve_chunks, server, split_at

from smtpsim.protocol import (
    NEED_DATA,
    ClientConnection,
    Command,
    CommandError,
    ConnectionClosed,
    Data,
    Event,
    Hello,
    Help,
    Mail,
    Message,
    Noop,
    Quit,
    Rcpt,
    RemoteProtocolError,
    Response,
    Rset,
    ServerConfig,
    ServerConnection,
    Vrfy,
    replies,
    states,
)
from smtpsim.protocol.states import ANYWHERE_IN_GROUP, ILLEGAL, NEXT
from smtpsim.protocol.syntax import normalize_newlines, parse_reply_line

PROPERTY = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- input that looks enough like SMTP to reach every state ----------------------------------

CLIENT_TOKENS = [
    b"EHLO x\r\n",
    b"HELO x\r\n",
    b"EHLO\r\n",
    b"MAIL FROM:<a@b.example>\r\n",
    b"MAIL FROM:<> SIZE=5\r\n",
    b"MAIL FROM:<a@b.example> SIZE=99999999999\r\n",
    b"MAIL FROM:<a@b.example> BODY=8BITMIME FOO\r\n",
    b"RCPT TO:<r@b.example>\r\n",
    b"RCPT TO:<postmaster>\r\n",
    b"RCPT TO:<>\r\n",
    b"DATA\r\n",
    b".\r\n",
    b"\r\n.\r\n",
    b"\n.\n",
    b"..\r\n",
    b"RSET\r\n",
    b"NOOP\r\n",
    b"QUIT\r\n",
    b"QUIT now\r\n",
    b"AUTH PLAIN\r\n",
    b"AUTH LOGIN\r\n",
    b"AUTH PLAIN AHUAcA==\r\n",
    b"AUTH LOGIN dQ==\r\n",
    b"AUTH CRAM-MD5\r\n",
    b"*\r\n",
    b"dXNlcg==\r\n",
    b"AHUAcA==\r\n",
    b"=\r\n",
    b"STARTTLS\r\n",
    b"VRFY u\r\n",
    b"HELP\r\n",
    b"EXPN x\r\n",
    b"BDAT 1 LAST\r\n",
    b"\r\n",
    b"\r",
    b"\n",
    b".",
    b" ",
    b"x" * 600,
    b"x" * 1100,
    b"Y" * 13000,
    b"\xff\x00\x80",
    b"\xc3\xa9",
    b"MAIL FROM:<> " + b"Z" * 497 + b"\r\n",
    b"MAIL FROM:<> =" + b"=" * 496 + b"\r\n",
]
# A start that brings the session into each state, then tokens, mostly well-formed.
PREFIXES = [
    b"",
    b"EHLO x\r\n",
    b"EHLO x\r\nMAIL FROM:<a@b.example>\r\n",
    b"EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<r@b.example>\r\n",
    b"EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<r@b.example>\r\nDATA\r\n",
    b"EHLO x\r\nAUTH LOGIN\r\n",
    b"EHLO x\r\nSTARTTLS\r\n",
]
token = st.sampled_from(CLIENT_TOKENS)
client_bytes = st.tuples(
    st.sampled_from(PREFIXES),
    st.lists(st.one_of(token, token, token, st.binary(max_size=12)), max_size=40).map(b"".join),
    st.sampled_from([b"", b"\r\n.\r\n", b"\r\n.\r\nNOOP\r\n"]),
).map(b"".join)

SERVER_CONFIGS = [
    {},
    {"starttls": True, "auth_mechanisms": ("PLAIN", "LOGIN")},
    {"max_errors": 3, "helo_required": True},
    {
        "enhanced_status_codes": False,
        "pipelining": False,
        "max_message_size": 50,
        "vrfy": False,
        "eightbitmime": False,
    },
]
GREETINGS = [replies.greeting(HOST), replies.no_service(HOST), replies.SERVICE_UNAVAILABLE]


def cuts_for(data: bytes):
    return st.lists(st.integers(0, max(len(data), 1)), max_size=12)


def drive_server(
    conn: ServerConnection, pieces: list[bytes], *, handshake: bool, out: bytearray
) -> list[Event]:
    """Feed ``pieces`` then EOF; answer every event with ``standard_reply()`` (its bytes
    go to ``out``); complete the TLS handshake when asked. Returns every event."""
    events: list[Event] = []
    for piece in [*pieces, b""]:
        conn.receive_data(piece)
        while True:
            if handshake and conn.state == states.TLS:
                conn.tls_established()
            event = conn.next_event()
            if event is NEED_DATA:
                break
            assert isinstance(event, Event)
            events.append(event)
            if isinstance(event, ConnectionClosed):
                return events
            out += conn.send(conn.standard_reply())
    return events


@PROPERTY
@given(
    data=st.one_of(client_bytes, st.binary(max_size=600)),
    config=st.sampled_from(SERVER_CONFIGS),
    greeting=st.sampled_from(GREETINGS),
    draw=st.data(),
)
def test_server_takes_any_bytes(data, config, greeting, draw):
    """Whatever the client sends, the server gives events, never an exception, ends
    with ConnectionClosed once the input ends, and writes nothing but valid replies."""
    pieces = split_at(data, draw.draw(cuts_for(data)))
    conn = server(greeting=greeting, **config)
    out = bytearray()
    events = drive_server(conn, pieces, handshake=True, out=out)
    assert events[-1] == ConnectionClosed()
    assert ConnectionClosed() not in events[:-1]
    assert conn.state == states.CLOSED
    lines = bytes(out).split(b"\r\n")
    assert lines[-1] == b""
    for line in lines[:-1]:
        assert len(line) + 2 <= 512  # RFC 5321 section 4.5.3.1.5
        parse_reply_line(line.decode("ascii", "surrogateescape"))


@PROPERTY
@given(
    data=client_bytes,
    config=st.sampled_from(SERVER_CONFIGS),
    greeting=st.sampled_from(GREETINGS),
    draw=st.data(),
)
def test_server_events_do_not_depend_on_how_input_is_split(data, config, greeting, draw):
    whole = server(greeting=greeting, **config)
    whole_events, whole_out = serve_chunks(whole, [data], eof=True)
    split = server(greeting=greeting, **config)
    pieces = split_at(data, draw.draw(cuts_for(data)))
    split_events, split_out = serve_chunks(split, pieces, eof=True)
    assert split_events == whole_events
    assert split_out == whole_out
    bytewise = server(greeting=greeting, **config)
    assert serve_chunks(bytewise, [data[i : i + 1] for i in range(len(data))], eof=True) == (
        whole_events,
        whole_out,
    )


# --- clients take any reply bytes -------------------------------------------------------------

SERVER_TOKENS = [
    b"220 mx ESMTP\r\n",
    b"250 ok\r\n",
    b"250-mx\r\n",
    b"250-PIPELINING\r\n",
    b"250 SIZE 10\r\n",
    b"250 2.1.0 Ok\r\n",
    b"354 go\r\n",
    b"334 \r\n",
    b"550 5.1.1 no\r\n",
    b"421 4.7.0 bye\r\n",
    b"221 bye\r\n",
    b"554 5.5.1 x\r\n",
    b"\r\n",
    b"\n",
    b"2",
    b"25",
    b"250",
    b"-",
    b" ",
    b"hello",
    b"x" * 5000,
    b"\xff",
]
server_bytes = st.lists(
    st.one_of(st.sampled_from(SERVER_TOKENS), st.binary(max_size=8)), max_size=30
).map(b"".join)


def fresh_client(group: bool) -> ClientConnection:
    """A client after greeting and EHLO (with PIPELINING), optionally with a group out."""
    conn = ClientConnection()
    read_responses(conn, b"220 mx\r\n")
    conn.send(Hello(HELO))
    read_responses(conn, b"250-mx\r\n250 PIPELINING\r\n")
    if group:
        for command in (Mail("a@b.example"), Rcpt("c@d.example"), Rcpt("e@f.example"), Data()):
            conn.send(command)
    return conn


def drive_client(conn: ClientConnection, pieces: list[bytes]) -> tuple[list[Event], str | None]:
    """The events, and the exception's type name if one ended the reading."""
    events: list[Event] = []
    try:
        for piece in [*pieces, b""]:
            conn.receive_data(piece)
            while (event := conn.next_event()) is not NEED_DATA:
                assert isinstance(event, Response | ConnectionClosed)
                events.append(event)
                if isinstance(event, ConnectionClosed):
                    return events, None
    except RemoteProtocolError:
        return events, "RemoteProtocolError"
    return events, None


@PROPERTY
@given(data=server_bytes, group=st.booleans(), draw=st.data())
def test_client_takes_any_bytes(data, group, draw):
    """Responses, ConnectionClosed, or RemoteProtocolError: nothing else, and the same
    whether the bytes come whole, split anywhere, or one at a time."""
    whole = drive_client(fresh_client(group), [data])
    pieces = split_at(data, draw.draw(cuts_for(data)))
    assert drive_client(fresh_client(group), pieces) == whole
    bytewise = [data[i : i + 1] for i in range(len(data))]
    assert drive_client(fresh_client(group), bytewise) == whole
    events, error = whole
    if error is None:
        assert events[-1] == ConnectionClosed()
    responses = [e for e in events if isinstance(e, Response)]
    expected = [Mail("a@b.example"), Rcpt("c@d.example"), Rcpt("e@f.example"), Data()]
    if group:
        assert [r.command for r in responses] == expected[: len(responses)]
    else:
        assert responses == []  # no command is pending: any reply is a protocol error


# --- dot-stuffing is transparent -----------------------------------------------------------------

CONTENT_TOKENS = [
    b".",
    b"..",
    b"\r",
    b"\n",
    b"\r\n",
    b"\r\n.",
    b"\n.\n",
    b"\r\n.\r\n",
    b"x",
    b"From: a\r\n",
    b"\x00",
    b"\xff",
    b"x" * 997,
    b"x" * 998,
    b"x" * 999,
]
contents = st.lists(
    st.one_of(st.sampled_from(CONTENT_TOKENS), st.binary(max_size=30)), max_size=30
).map(b"".join)


def data_pair(**config) -> tuple[ClientConnection, ServerConnection]:
    """A client and a server both in the DATA state."""
    conn, srv = ClientConnection(), server(**config)
    read_responses(conn, b"220 mx\r\n")
    for command in (Hello(HELO), Mail("a@b.example"), Rcpt("c@d.example"), Data()):
        events, out = serve_chunks(srv, [conn.send(command)])
        assert events == [command]
        read_responses(conn, out)
    assert conn.state == srv.state == states.DATA
    return conn, srv


@PROPERTY
@given(content=contents, limit=st.sampled_from([1000, 10**6]), draw=st.data())
def test_dot_stuffing_is_transparent(content, limit, draw):
    conn, srv = data_pair(max_text_line=limit, max_message_size=0)
    wire = conn.send(Message.of(content))
    pieces = split_at(wire, draw.draw(cuts_for(wire)))
    events, out = serve_chunks(srv, pieces)
    normal = normalize_newlines(content)
    too_long = any(len(line) > limit - 2 for line in normal.split(b"\r\n"))
    if too_long:
        assert events == [CommandError(".", replies.LINE_TOO_LONG)]
    else:
        assert events == [Message.of(normal)]
    [response] = read_responses(conn, out)
    assert isinstance(response, Response) and response.command == Message.of(content)
    assert conn.state == srv.state == states.READY


# --- legal sequences round-trip, on the wire and on the fast path ---------------------------------

VERBS = ("EHLO", "HELO", "MAIL", "RCPT", "DATA", "RSET", "NOOP", "VRFY", "HELP", "QUIT")
words = st.sampled_from(["x", "postmaster", "John.Smith", "<u@example.org>", "a b"])
lines = st.lists(
    st.one_of(
        st.sampled_from([b".", b"..", b"", b"From: a@b.example", b".x", b" "]),
        st.binary(max_size=60).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
    ),
    max_size=6,
).map(lambda parts: normalize_newlines(b"\r\n".join(parts)))


def command_strategy(verb: str, esmtp: bool) -> st.SearchStrategy[Command]:
    if verb in ("EHLO", "HELO"):
        return st.sampled_from(["client.example", "[192.0.2.1]"]).map(
            lambda d: Hello(d, extended=verb == "EHLO")
        )
    if verb == "MAIL":
        params = (
            st.sampled_from(
                [(), (("SIZE", "0"),), (("SIZE", "123"), ("BODY", "8BITMIME")), (("BODY", "7BIT"),)]
            )
            if esmtp
            else st.just(())
        )
        sender = st.sampled_from(["", "a@example.org", '"x y"@example.org', "b@[192.0.2.7]"])
        return st.builds(Mail, sender, params)
    if verb == "RCPT":
        return st.sampled_from(["b@example.net", "postmaster", "c+d@sub.example.net"]).map(Rcpt)
    if verb == "NOOP":
        return st.one_of(st.just(Noop()), words.map(Noop))
    if verb == "HELP":
        return st.one_of(st.just(Help()), words.map(Help))
    if verb == "VRFY":
        return words.map(Vrfy)
    return st.just({"DATA": Data(), "RSET": Rset(), "QUIT": Quit()}[verb])


def draw_group(draw, state: str, pipelining: bool, esmtp: bool) -> list[Command]:
    """One group of commands legal in ``state`` if each earlier one succeeds."""
    group: list[Command] = []
    while True:
        if state == states.DATA:
            command: Command = Message.of(draw.draw(lines))
        else:
            legal = [v for v in VERBS if (state, v) not in ILLEGAL]
            command = draw.draw(
                st.sampled_from(legal).flatmap(lambda v: command_strategy(v, esmtp))
            )
        group.append(command)
        klass = 3 if command.verb == "DATA" else 2
        state = NEXT.get((state, command.verb, klass), state)
        if not pipelining or command.verb not in ANYWHERE_IN_GROUP or not draw.draw(st.booleans()):
            return group


@settings(PROPERTY, max_examples=100)
@given(draw=st.data(), pipelining=st.booleans(), split=st.booleans())
def test_legal_sequences_round_trip(draw, pipelining, split):
    config = ServerConfig(hostname=HOST, pipelining=pipelining)
    wire_client, wire_server = ClientConnection(), ServerConnection(config)
    fast_client, fast_server = ClientConnection(), ServerConnection(config)
    greeting = wire_server.standard_reply()
    read_responses(wire_client, wire_server.send(greeting))
    fast_server.answer(greeting)
    fast_client.receive_reply(greeting)

    for _ in range(12):
        if wire_client.state == states.CLOSED:
            break
        group = draw_group(
            draw, wire_client.state, wire_client.offers("PIPELINING"), wire_server.esmtp
        )
        # on the wire
        data = b"".join(wire_client.send(c) for c in group)
        pieces = split_at(data, draw.draw(cuts_for(data))) if split else [data]
        events, out = serve_chunks(wire_server, pieces)
        assert events == group
        reply_pieces = split_at(out, draw.draw(cuts_for(out))) if split else [out]
        responses = [e for piece in reply_pieces for e in read_responses(wire_client, piece)]
        assert [r.command for r in responses] == group
        assert all(r.reply.is_positive for r in responses)
        # on the fast path
        for command in group:
            fast_client.submit(command)
        fast = []
        for command in group:
            assert fast_server.receive_command(command) == command
            reply = fast_server.standard_reply()
            fast_server.answer(reply)
            fast.append(fast_client.receive_reply(reply))
        assert fast == responses
        assert (fast_client.state, fast_server.state) == (wire_client.state, wire_server.state)
        assert wire_client.state == wire_server.state
        assert (fast_server.sender, fast_server.recipients_accepted) == (
            wire_server.sender,
            wire_server.recipients_accepted,
        )
