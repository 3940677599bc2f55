"""``ServerConnection``: limits, DATA, STARTTLS, AUTH, timers, end of input.

Most tests go through ``serve_both``: the same bytes fed whole and one byte at a time
to two fresh servers must give the same event log and the same reply bytes.
"""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest
from protocol_helpers import HOST, accept_password, serve, serve_both, server

from smtpsim.protocol import (
    NEED_DATA,
    Auth,
    AuthResponse,
    CommandError,
    ConnectionClosed,
    Credentials,
    Data,
    Hello,
    Help,
    IdleTimedOut,
    LocalProtocolError,
    Mail,
    Message,
    Noop,
    Quit,
    Rcpt,
    Reply,
    Rset,
    ServerConfig,
    ServerConnection,
    StartTLS,
    Vrfy,
    replies,
    states,
)
from smtpsim.protocol.syntax import filler

EHLO = b"EHLO client.example\r\n"
MAIL = b"MAIL FROM:<sender@example.org>\r\n"
RCPT = b"RCPT TO:<rcpt@example.net>\r\n"
ENVELOPE = EHLO + MAIL + RCPT
IN_DATA = ENVELOPE + b"DATA\r\n"
TOO_LONG = replies.command_too_long(HOST)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# --- a whole session, as one log -------------------------------------------------------------


def test_whole_session_log():
    data = IN_DATA + b"Subject: hi\r\n\r\n..dot\r\n.\r\n" + b"NOOP\r\nQUIT\r\n"
    events, out, conn = serve_both(data)
    assert events == [
        Hello("client.example"),
        Mail("sender@example.org"),
        Rcpt("rcpt@example.net"),
        Data(),
        Message.of(b"Subject: hi\r\n\r\n.dot\r\n"),
        Noop(),
        Quit(),
    ]
    assert out == (
        b"250-mx.example\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n"
        b"250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250 DSN\r\n"
        b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
        b"250 2.0.0 Ok: queued\r\n250 2.0.0 Ok\r\n221 2.0.0 Bye\r\n"
    )
    assert conn.state == states.CLOSED
    conn.receive_data(b"NOOP\r\n")
    assert conn.next_event() == ConnectionClosed()


def test_commands_before_hello_are_served():
    events, out, conn = serve_both(b"NOOP\r\nHELP\r\nVRFY u@example.org\r\nRSET\r\n")
    assert events == [Noop(), Help(), Vrfy("u@example.org"), Rset()]
    assert out.split(b"\r\n")[:-1] == [
        b"250 2.0.0 Ok",
        b"214 2.0.0 See https://www.rfc-editor.org/rfc/rfc5321",
        b"252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery",
        b"250 2.0.0 Ok",
    ]
    assert conn.state == states.GREETED


def test_mail_without_hello_is_accepted_unless_helo_required():
    events, _, conn = serve_both(MAIL)
    assert events == [Mail("sender@example.org")] and conn.state == states.MAIL
    events, out, conn = serve_both(MAIL, helo_required=True)
    assert events == [CommandError("MAIL", replies.NEED_HELO)]
    assert out == b"503 5.5.1 Error: send HELO/EHLO first\r\n"
    assert conn.state == states.GREETED


# --- command line limit -----------------------------------------------------------------------


def test_600_octet_command_line_is_refused_and_the_session_goes_on():
    line = b"NOOP " + b"x" * 593 + b"\r\n"
    assert len(line) == 600
    events, out, conn = serve_both(EHLO + line + b"NOOP\r\n", setup=b"")
    assert events[1:] == [CommandError("", TOO_LONG), Noop()]
    assert out.endswith(b"500 5.5.2 mx.example Error: command too long\r\n250 2.0.0 Ok\r\n")
    assert conn.state == states.READY


@pytest.mark.parametrize(
    ("length", "ok"), [(510, True), (511, True), (512, True), (513, False), (514, False)]
)
@pytest.mark.parametrize("ending", [b"\r\n", b"\n"], ids=["crlf", "lf"])
def test_command_line_limit_is_512_octets_with_crlf(length, ok, ending):
    body = b"NOOP " + b"y" * (length - 7)
    assert len(body) + 2 == length
    events, _, _ = serve_both(body + ending)
    assert events == ([Noop("y" * (length - 7))] if ok else [CommandError("", TOO_LONG)])


def test_endless_command_line_is_answered_once_it_ends():
    conn = server()
    for _ in range(200):
        conn.receive_data(b"z" * 1000)
        assert conn.next_event() is NEED_DATA
    events, _out = serve(conn, b"zzz\r\nQUIT\r\n")
    assert events == [CommandError("", TOO_LONG), Quit()]


@pytest.mark.parametrize(
    "word", ["X" * 497, "BODY=" + "y" * 492, "=" * 497], ids=["option", "value", "syntax"]
)
def test_replies_quoting_the_client_stay_within_512_octets(word):
    """RFC 5321 section 4.5.3.1.5: a reply line is at most 512 octets with its CRLF, even
    when it quotes a long parameter of a command line of 512 octets back."""
    line = f"MAIL FROM:<> {word}\r\n".encode()
    assert len(line) == 512
    events, out, _ = serve_both(line, setup=EHLO)
    assert isinstance(events[0], CommandError) and events[0].reply.code in (501, 555)
    assert len(out) <= 512 and out.endswith(b"\r\n") and out.count(b"\r\n") == 1


def test_command_line_limit_can_be_raised_but_not_lowered():
    events, _, _ = serve_both(b"NOOP " + b"x" * 595 + b"\r\n", max_command_line=1024)
    assert events == [Noop("x" * 595)]
    with pytest.raises(ValueError, match="max_command_line"):
        ServerConfig(max_command_line=511)


# --- DATA --------------------------------------------------------------------------------------


def data_events(content: bytes, **config):
    events, out, conn = serve_both(content, setup=IN_DATA, **config)
    return events, out, conn


@pytest.mark.parametrize(
    ("wire", "content"),
    [
        (b".\r\n", b""),
        (b"a\r\n.\r\n", b"a\r\n"),
        (b"..\r\n.\r\n", b".\r\n"),
        (b"...\r\n.\r\n", b"..\r\n"),
        (b"..a\r\nb.\r\n.b\r\n.\r\n", b".a\r\nb.\r\nb\r\n"),
        (b"a\n.\nb\r\n.\r\n", b"a\n.\nb\r\n"),
        (b"a\r.\rb\r\n.\r\n", b"a\r.\rb\r\n"),
        (b"a\r\n.\nb\r\n.\r\n", b"a\r\n\nb\r\n"),
        (b"a\n.\r\nb\r\n.\r\n", b"a\n.\r\nb\r\n"),
        (b"\r\n\r\n.\r\n", b"\r\n\r\n"),
    ],
)
def test_only_crlf_dot_crlf_ends_the_message(wire, content):
    """A bare LF before or after the dot does not end the message (SMTP smuggling);
    one leading dot is taken off every line (section 4.5.2)."""
    events, out, conn = data_events(wire + b"NOOP\r\n")
    assert events == [Message(len(content), content), Noop()]
    assert out == b"250 2.0.0 Ok: queued\r\n250 2.0.0 Ok\r\n"
    assert conn.state == states.READY


def test_smuggled_commands_stay_message_content():
    smuggled = b"hi\n.\nMAIL FROM:<evil@example.org>\nRCPT TO:<v@example.net>\nDATA\n"
    events, _, _ = data_events(smuggled + b"\r\n.\r\n")
    assert events == [Message(len(smuggled) + 2, smuggled + b"\r\n")]


@pytest.mark.parametrize(
    ("line", "ok"),
    [
        (b"x" * 998, True),  # 1000 octets with CRLF
        (b"x" * 999, False),
        (b"x" * 2500, False),
        (b"." + b"x" * 998, True),  # stuffed: the added dot does not count
        (b"." + b"x" * 999, False),
    ],
    ids=["998", "999", "2500", "stuffed-998", "stuffed-999"],
)
def test_text_line_limit_is_1000_octets(line, ok):
    events, out, conn = data_events(b"a\r\n" + line + b"\r\nb\r\n.\r\nNOOP\r\n")
    if ok:
        unstuffed = line[1:] if line.startswith(b".") else line
        assert events[0] == Message.of(b"a\r\n" + unstuffed + b"\r\nb\r\n")
        assert out.startswith(b"250 ")
    else:
        assert events[0] == CommandError(".", replies.LINE_TOO_LONG)
        assert out.startswith(b"500 5.5.2 Error: message line too long\r\n")
    assert events[1] == Noop()
    assert conn.state == states.READY


def test_over_long_line_does_not_hide_the_end_of_data():
    """After a line over the limit, the next CRLF.CRLF still ends the message."""
    events, _, _ = data_events(b"x" * 5000 + b"\r\n.\r\nQUIT\r\n")
    assert events == [CommandError(".", replies.LINE_TOO_LONG), Quit()]
    # a dot at the end of an over-long line is no end marker
    events, _, _ = data_events(b"x" * 1500 + b".\r\ny\r\n.\r\n")
    assert events == [CommandError(".", replies.LINE_TOO_LONG)]


@pytest.mark.parametrize(("size", "code"), [(1000, 250), (1001, 552), (999_999, 552)])
def test_size_parameter_over_the_limit_gets_552_at_mail(size, code):
    line = f"MAIL FROM:<s@example.org> SIZE={size}\r\n".encode()
    events, out, conn = serve_both(line, setup=EHLO, max_message_size=1000)
    if code == 552:
        assert events == [CommandError("MAIL", replies.SIZE_EXCEEDED)]
        assert out == b"552 5.3.4 Message size exceeds fixed limit\r\n"
        assert conn.state == states.READY
        assert conn.errors == 0  # not a protocol error
    else:
        assert out == b"250 2.1.0 Ok\r\n"
        assert conn.state == states.MAIL


@pytest.mark.parametrize("size", [998, 1000, 1001, 1500, 5000])
def test_content_over_the_limit_gets_552_at_end_of_data(size):
    body = filler(size)
    data = body + b".\r\nRCPT TO:<x@example.net>\r\n"
    events, out, conn = data_events(data, max_message_size=1000)
    if size <= 1000:
        assert events[0] == Message(size, body)
        assert out.startswith(b"250 2.0.0 Ok: queued\r\n")
    else:
        assert events[0] == CommandError(".", replies.SIZE_EXCEEDED)
        assert out.startswith(b"552 5.3.4 Message size exceeds fixed limit\r\n")
    # the transaction is over either way
    assert events[1] == CommandError("RCPT", replies.NEED_MAIL)
    assert conn.state == states.READY
    assert conn.sender is None


def test_refused_end_of_data_ends_the_transaction():
    def refuse(event, conn):
        return Reply(554, "5.7.1", "Spam") if isinstance(event, Message) else None

    _events, out, conn = serve_both(IN_DATA + b"hi\r\n.\r\n", policy=refuse)
    assert out.endswith(b"554 5.7.1 Spam\r\n")
    assert conn.state == states.READY
    assert (conn.sender, conn.recipients_accepted, conn.recipients_tried) == (None, 0, 0)


def test_unlimited_size():
    events, _, _ = serve_both(EHLO + b"MAIL FROM:<> SIZE=99999999999999\r\n", max_message_size=0)
    assert events[1] == Mail("", (("SIZE", "99999999999999"),))


# --- recipients ------------------------------------------------------------------------------


def test_max_recipients_below_100_is_refused():
    with pytest.raises(ValueError, match="at least 100"):
        ServerConfig(max_recipients=99)
    ServerConfig(max_recipients=100)


def test_recipients_over_the_limit_get_452():
    rcpts = b"".join(f"RCPT TO:<r{i}@example.net>\r\n".encode() for i in range(102))
    events, out, conn = serve_both(EHLO + MAIL + rcpts + b"DATA\r\n", max_recipients=100)
    assert events[2:102] == [Rcpt(f"r{i}@example.net") for i in range(100)]
    assert events[102:104] == [CommandError("RCPT", replies.TOO_MANY_RECIPIENTS)] * 2
    assert events[104] == Data()
    assert out.count(b"452 4.5.3 Error: too many recipients\r\n") == 2
    assert conn.recipients_accepted == 100 and conn.recipients_tried == 102
    assert conn.state == states.DATA


def test_data_before_rcpt_gets_503_and_after_refused_rcpts_554():
    events, out, _ = serve_both(EHLO + MAIL + b"DATA\r\n")
    assert events[-1] == CommandError("DATA", replies.NEED_RCPT)
    assert out.endswith(b"503 5.5.1 Error: need RCPT command\r\n")

    def unknown(event, conn):
        return replies.user_unknown(event.recipient) if isinstance(event, Rcpt) else None

    events, out, conn = serve_both(ENVELOPE + RCPT + b"DATA\r\n", policy=unknown)
    assert events[-1] == CommandError("DATA", replies.NO_VALID_RCPT)
    assert out.endswith(b"554 5.5.1 Error: no valid recipients\r\n")
    assert conn.state == states.MAIL
    assert (conn.recipients_tried, conn.recipients_accepted) == (2, 0)


# --- error limit -----------------------------------------------------------------------------


def test_bogus_commands_end_with_421_at_max_errors():
    data = b"FOO\r\nMAIL FROM:<broken\r\nRCPT TO:<a@b.example>\r\nNOOP\r\n"
    events, out, conn = serve_both(data, max_errors=3)
    assert events == [
        CommandError("FOO", replies.UNKNOWN_COMMAND),
        CommandError("MAIL", replies.SYNTAX_MAIL),
        CommandError("RCPT", replies.too_many_errors(HOST), closes=True),
    ]
    assert out.endswith(b"421 4.7.0 mx.example Error: too many errors\r\n")
    assert conn.state == states.CLOSED


def test_default_error_limit_is_20():
    events, _out, conn = serve_both(b"FOO\r\n" * 25)
    assert len(events) == 20
    assert events[18] == CommandError("FOO", replies.UNKNOWN_COMMAND)
    assert events[19].closes
    assert conn.state == states.CLOSED


def test_refusals_that_are_not_errors_do_not_count():
    def refuse(event, conn):
        return replies.user_unknown("x") if isinstance(event, Rcpt) else None

    events, _, conn = serve_both(EHLO + MAIL + RCPT * 5 + b"NOOP\r\n", policy=refuse, max_errors=2)
    assert events[-1] == Noop() and conn.errors == 0


# --- STARTTLS ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "keywords"),
    [
        ({}, ["PIPELINING", "SIZE 10240000", "VRFY", "ENHANCEDSTATUSCODES", "8BITMIME", "DSN"]),
        (
            {"starttls": True, "auth_mechanisms": ("PLAIN", "LOGIN")},
            [
                "PIPELINING",
                "SIZE 10240000",
                "VRFY",
                "STARTTLS",
                "AUTH PLAIN LOGIN",
                "ENHANCEDSTATUSCODES",
                "8BITMIME",
                "DSN",
            ],
        ),
        (
            {
                "pipelining": False,
                "max_message_size": 0,
                "vrfy": False,
                "eightbitmime": False,
                "enhanced_status_codes": False,
                "dsn": False,
            },
            ["SIZE"],
        ),
    ],
)
def test_ehlo_keywords(config, keywords):
    _events, out, _ = serve_both(EHLO, **config)
    assert out == b"".join(
        f"250{'-' if i < len(keywords) else ' '}{text}\r\n".encode()
        for i, text in enumerate([HOST, *keywords])
    )


def test_helo_reply_is_one_line():
    _, out, conn = serve_both(b"HELO client.example\r\n")
    assert out == b"250 mx.example\r\n"
    assert conn.esmtp is False and conn.helo == "client.example"


def test_starttls_then_handshake_starts_the_session_over():
    conn = server(starttls=True, auth_mechanisms=("PLAIN",))
    events, out = serve(conn, EHLO + b"STARTTLS\r\n")
    assert events[-1] == StartTLS()
    assert out.endswith(b"220 2.0.0 Ready to start TLS\r\n")
    assert (conn.state, conn.helo, conn.esmtp) == (states.TLS, "client.example", True)
    assert conn.next_event() is NEED_DATA
    assert conn.get_timer() is None
    conn.tls_established()
    assert (conn.state, conn.helo, conn.esmtp, conn.tls_active) == (
        states.GREETED,
        None,
        False,
        True,
    )
    events, out = serve(conn, EHLO)
    assert b"STARTTLS" not in out and b"AUTH PLAIN" in out
    events, out = serve(conn, b"STARTTLS\r\n")
    assert events == [CommandError("STARTTLS", replies.TLS_ALREADY)]


def test_starttls_forgets_authentication():
    conn = server(starttls=True, auth_mechanisms=("PLAIN",))
    serve(
        conn,
        EHLO + f"AUTH PLAIN {b64(chr(0) + 'u' + chr(0) + 'pw')}\r\n".encode(),
        policy=accept_password("pw"),
    )
    assert conn.authenticated == "u"
    serve(conn, b"STARTTLS\r\n")
    conn.tls_established()
    assert conn.authenticated is None


def test_bytes_pipelined_after_starttls_are_discarded():
    """CVE-2011-0411: nothing sent in the clear after STARTTLS survives the handshake."""
    conn = server(starttls=True)
    events, _ = serve(conn, EHLO + b"STARTTLS\r\nMAIL FROM:<evil@example.org>\r\n")
    assert events[-1] == StartTLS()
    conn.receive_data(b"RCPT TO:<victim@example.net>\r\n")  # still before the handshake
    conn.tls_established()
    assert conn.next_event() is NEED_DATA
    events, _out = serve(conn, EHLO + b"NOOP\r\n")
    assert events == [Hello("client.example"), Noop()]


@pytest.mark.parametrize(
    ("setup", "config", "reply"),
    [
        (b"", {"starttls": True}, replies.NEED_HELO),
        (b"HELO client.example\r\n", {"starttls": True}, replies.NOT_IMPLEMENTED),
        (EHLO, {}, replies.NOT_IMPLEMENTED),
        (EHLO + MAIL, {"starttls": True}, replies.IN_TRANSACTION),
        (ENVELOPE, {"starttls": True}, replies.IN_TRANSACTION),
    ],
    ids=["before-ehlo", "after-helo", "not-offered", "in-mail", "in-rcpt"],
)
def test_starttls_refused(setup, config, reply):
    events, out, conn = serve_both(b"STARTTLS\r\n", setup=setup, **config)
    assert events == [CommandError("STARTTLS", reply)]
    assert out == f"{reply.code} {reply.enhanced} {reply.text}\r\n".encode()
    assert conn.state != states.TLS


def test_starttls_refused_by_policy_stays_in_the_clear():
    conn = server(starttls=True)
    events, out = serve(
        conn,
        EHLO + b"STARTTLS\r\nNOOP\r\n",
        policy=lambda e, c: replies.TLS_NOT_AVAILABLE if isinstance(e, StartTLS) else None,
    )
    assert events[-1] == Noop()
    assert out.endswith(b"454 4.7.0 TLS not available due to local problem\r\n250 2.0.0 Ok\r\n")
    assert not conn.tls_active


def test_tls_established_outside_the_handshake_is_a_local_error():
    with pytest.raises(LocalProtocolError):
        server(starttls=True).tls_established()


# --- AUTH -------------------------------------------------------------------------------------

AUTH_CONFIG = {"auth_mechanisms": ("PLAIN", "LOGIN")}
PLAIN = b64("\0user\0secret")


def auth_server() -> ServerConnection:
    conn = server(**AUTH_CONFIG)
    serve(conn, EHLO)
    return conn


def step(conn: ServerConnection, line: bytes):
    """Feed one line; the event, with ``credentials`` as they are before the reply."""
    conn.receive_data(line + b"\r\n")
    event = conn.next_event()
    return event, conn.credentials


@pytest.mark.parametrize(
    ("lines", "challenges"),
    [
        ([f"AUTH PLAIN {PLAIN}"], []),
        (["AUTH PLAIN", PLAIN], [b""]),
        ([f"AUTH LOGIN {b64('user')}", b64("secret")], [b"Password:"]),
        (["AUTH LOGIN", b64("user"), b64("secret")], [b"Username:", b"Password:"]),
    ],
    ids=["plain-initial", "plain-empty-challenge", "login-initial", "login"],
)
def test_auth_sets_credentials_and_235_authenticates(lines, challenges):
    conn = auth_server()
    seen = []
    for i, line in enumerate(lines):
        event, creds = step(conn, line.encode())
        assert isinstance(event, Auth if i == 0 else AuthResponse)
        if i < len(lines) - 1:
            assert creds is None
            reply = conn.standard_reply()
            assert reply.code == 334
            seen.append(base64.b64decode(reply.text))
            conn.send(reply)
            assert conn.state == states.AUTH
    assert seen == challenges
    assert creds == Credentials(lines[0].split()[1], "user", "secret")
    assert conn.send(replies.AUTH_OK) == b"235 2.7.0 Authentication successful\r\n"
    assert conn.authenticated == "user"
    assert conn.state == states.READY
    events, _ = serve(conn, f"AUTH PLAIN {PLAIN}\r\n".encode())
    assert events == [CommandError("AUTH", replies.AUTH_ALREADY)]


def test_auth_plain_with_authzid():
    conn = auth_server()
    _, creds = step(conn, f"AUTH PLAIN {b64('admin' + chr(0) + 'u' + chr(0) + 'p')}".encode())
    assert creds == Credentials("PLAIN", "u", "p", "admin")


def test_auth_without_policy_fails_with_535():
    events, out, conn = serve_both(f"AUTH PLAIN {PLAIN}\r\n".encode(), setup=EHLO, **AUTH_CONFIG)
    assert events == [Auth("PLAIN", PLAIN)]
    assert out == b"535 5.7.8 Error: authentication failed: authentication failure\r\n"
    assert conn.authenticated is None and conn.credentials is None
    assert conn.state == states.READY


def test_auth_through_policy_on_the_wire():
    data = b"AUTH LOGIN\r\n" + b64("user").encode() + b"\r\n" + b64("secret").encode() + b"\r\n"
    events, out, conn = serve_both(
        data, setup=EHLO, policy=accept_password("secret"), **AUTH_CONFIG
    )
    assert events == [Auth("LOGIN"), AuthResponse(b64("user")), AuthResponse(b64("secret"))]
    assert out == (
        b"334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n235 2.7.0 Authentication successful\r\n"
    )
    assert conn.authenticated == "user"


@pytest.mark.parametrize(
    ("data", "reply"),
    [
        (b"AUTH LOGIN\r\n*\r\n", replies.AUTH_ABORTED),
        (b"AUTH LOGIN\r\n" + b64("user").encode() + b"\r\n*\r\n", replies.AUTH_ABORTED),
        (b"AUTH PLAIN\r\n*\r\n", replies.AUTH_ABORTED),
        (b"AUTH PLAIN\r\n!!notbase64\r\n", replies.AUTH_BAD_RESPONSE),
        (b"AUTH LOGIN\r\nabc\r\n", replies.AUTH_BAD_RESPONSE),
        (b"AUTH PLAIN\r\n" + b64("no-nul").encode() + b"\r\n", replies.AUTH_BAD_RESPONSE),
        (b"AUTH PLAIN\r\n" + b64("\0a\0b\0c").encode() + b"\r\n", replies.AUTH_BAD_RESPONSE),
        (b"AUTH LOGIN\r\n" + base64.b64encode(b"\xff\xfe") + b"\r\n", replies.AUTH_BAD_RESPONSE),
    ],
    ids=[
        "abort-user",
        "abort-password",
        "abort-plain",
        "bad-base64",
        "bad-padding",
        "plain-one-part",
        "plain-four-parts",
        "not-utf8",
    ],
)
def test_auth_exchange_aborted_or_malformed_gets_501(data, reply):
    events, out, conn = serve_both(data + b"NOOP\r\n", setup=EHLO, **AUTH_CONFIG)
    assert events[-2:] == [CommandError("AUTH-RESPONSE", reply), Noop()]
    assert out.endswith(f"501 {reply.enhanced} {reply.text}\r\n250 2.0.0 Ok\r\n".encode())
    assert conn.state == states.READY
    assert conn.credentials is None and conn.authenticated is None


def test_auth_initial_response_malformed_gets_501():
    events, _out, conn = serve_both(b"AUTH PLAIN %%%\r\n", setup=EHLO, **AUTH_CONFIG)
    assert events == [CommandError("AUTH", replies.AUTH_BAD_RESPONSE)]
    assert conn.state == states.READY


def test_auth_response_line_too_long_ends_the_exchange():
    """RFC 4954: 500 5.5.6 to an over-long response, and the exchange is over."""
    data = b"AUTH LOGIN\r\n" + b"QUFB" * 4000 + b"\r\nNOOP\r\n"
    events, out, conn = serve_both(data, setup=EHLO, **AUTH_CONFIG)
    assert events[1:] == [CommandError("AUTH-RESPONSE", replies.AUTH_LINE_TOO_LONG), Noop()]
    assert b"500 5.5.6 " in out
    assert out.endswith(b"250 2.0.0 Ok\r\n")
    assert conn.state == states.READY


def test_auth_response_may_be_longer_than_a_command():
    long_user = "u" * 3000
    data = b"AUTH LOGIN\r\n" + b64(long_user).encode() + b"\r\n"
    events, _out, conn = serve_both(data, setup=EHLO, **AUTH_CONFIG)
    assert events[-1] == AuthResponse(b64(long_user))
    assert conn.state == states.AUTH


@pytest.mark.parametrize(
    ("setup", "config", "line", "reply"),
    [
        (EHLO, {}, b"AUTH PLAIN", replies.AUTH_NOT_ENABLED),
        (b"HELO client.example\r\n", AUTH_CONFIG, b"AUTH PLAIN", replies.AUTH_NOT_ENABLED),
        (b"", AUTH_CONFIG, b"AUTH PLAIN", replies.NEED_HELO),
        (EHLO + MAIL, AUTH_CONFIG, b"AUTH PLAIN", replies.IN_TRANSACTION),
        (ENVELOPE, AUTH_CONFIG, b"AUTH LOGIN", replies.IN_TRANSACTION),
        (EHLO, {"auth_mechanisms": ("PLAIN",)}, b"AUTH LOGIN", replies.AUTH_UNKNOWN_MECHANISM),
        (EHLO, AUTH_CONFIG, b"AUTH CRAM-MD5", replies.AUTH_UNKNOWN_MECHANISM),
    ],
    ids=[
        "not-enabled",
        "after-helo",
        "before-ehlo",
        "in-mail",
        "in-rcpt",
        "not-offered",
        "unknown",
    ],
)
def test_auth_refused(setup, config, line, reply):
    events, out, conn = serve_both(line + b"\r\n", setup=setup, **config)
    assert events == [CommandError("AUTH", reply)]
    assert out.startswith(f"{reply.code} 5.5.".encode())
    assert conn.state not in (states.AUTH, states.CLOSED)


def test_only_plain_and_login_can_be_configured():
    with pytest.raises(ValueError, match="CRAM-MD5"):
        ServerConfig(auth_mechanisms=("PLAIN", "CRAM-MD5"))


def test_auth_response_outside_an_exchange_is_unknown_on_the_fast_path():
    conn = auth_server()
    assert conn.receive_command(AuthResponse("dXNlcg==")) == CommandError(
        "AUTH-RESPONSE", replies.UNKNOWN_COMMAND
    )


# --- enhanced status codes, VRFY ---------------------------------------------------------------


def test_enhanced_codes_omitted_when_not_offered():
    data = ENVELOPE + b"DATA\r\nhi\r\n.\r\nFOO\r\nQUIT\r\n"
    _, out, _ = serve_both(data, enhanced_status_codes=False)
    lines = out.split(b"\r\n")
    assert b"250-8BITMIME" in lines and b"250-ENHANCEDSTATUSCODES" not in lines
    assert lines[-7:] == [
        b"250 Ok",
        b"250 Ok",
        b"354 End data with <CR><LF>.<CR><LF>",
        b"250 Ok: queued",
        b"500 Error: command not recognized",
        b"221 Bye",
        b"",
    ]


def test_vrfy_can_be_disabled():
    events, out, _ = serve_both(b"VRFY postmaster\r\n", vrfy=False)
    assert events == [CommandError("VRFY", replies.NOT_IMPLEMENTED)]
    assert out == b"502 5.5.1 Error: command not implemented\r\n"


# --- timers -------------------------------------------------------------------------------------


def test_idle_timeout_sends_421_and_closes():
    conn = ServerConnection(ServerConfig(hostname=HOST, idle_timeout=300), now=10.0)
    assert conn.get_timer() is None  # the greeting is ours to send
    conn.send(conn.standard_reply(), now=10.0)
    assert conn.get_timer() == 310.0
    assert conn.handle_timer(309.9) is None
    event = conn.handle_timer(310.0)
    assert event == IdleTimedOut(reply=replies.idle_timeout(HOST))
    assert conn.get_timer() is None
    assert conn.state == states.GREETED  # not closed before the 421 is sent
    reply = conn.standard_reply()
    assert conn.send(reply, now=310.0) == b"421 4.4.2 mx.example Error: timeout exceeded\r\n"
    assert conn.state == states.CLOSED
    assert conn.next_event(311.0) == ConnectionClosed()


def test_idle_timer_restarts_with_each_command_and_stops_while_answering():
    conn = server(idle_timeout=60)
    conn.receive_data(b"NOOP\r\n")
    event = conn.next_event(now=50.0)
    assert event == Noop()
    assert conn.get_timer() is None and conn.handle_timer(1e9) is None
    conn.send(conn.standard_reply(), now=51.0)
    assert conn.get_timer() == 111.0
    conn.receive_data(b"NOOP")  # half a command does not count
    assert conn.next_event(now=100.0) is NEED_DATA
    assert conn.get_timer() == 111.0
    assert isinstance(conn.handle_timer(111.0), IdleTimedOut)


def test_idle_timeout_in_the_middle_of_data():
    conn = server(idle_timeout=30)
    serve(conn, IN_DATA + b"partial content")
    assert conn.state == states.DATA
    assert isinstance(conn.handle_timer(1e6), IdleTimedOut)
    conn.send(conn.standard_reply())
    assert conn.state == states.CLOSED


# --- end of input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b"", EHLO, EHLO + b"NOO", IN_DATA + b"half a message\r\n", b"AUTH LOGIN\r\n"],
    ids=["greeted", "ready", "half-command", "in-data", "in-auth"],
)
def test_eof_gives_connection_closed(data):
    setup = EHLO if data.startswith(b"AUTH") else b""
    events, _out, conn = serve_both(data, setup=setup, eof=True, **AUTH_CONFIG)
    assert events[-1] == ConnectionClosed()
    assert not any(isinstance(e, ConnectionClosed) for e in events[:-1])
    assert conn.state == states.CLOSED
    assert conn.next_event() == ConnectionClosed()


@pytest.mark.parametrize("end", ["eof", "timeout", "errors"])
def test_closing_cancels_an_open_transaction(end):
    """RFC 5321 section 4.1.1.10: a session that ends without QUIT cancels the
    transaction; nothing of it is left on the connection."""
    conn = server(max_errors=1)
    serve(conn, ENVELOPE)
    assert (conn.sender, conn.recipients_accepted) == ("sender@example.org", 1)
    if end == "eof":
        assert serve(conn, b"", eof=True)[0] == [ConnectionClosed()]
    elif end == "timeout":
        conn.send(conn.handle_timer(1e9).reply)
    else:
        serve(conn, b"BOGUS\r\n")
    assert conn.state == states.CLOSED
    assert (conn.sender, conn.recipients_accepted, conn.recipients_tried) == (None, 0, 0)


def test_eof_after_complete_commands_serves_them_first():
    events, _, _ = serve_both(b"NOOP\r\nRSET\r\n", eof=True)
    assert events == [Noop(), Rset(), ConnectionClosed()]


# --- misuse is a local error -------------------------------------------------------------------


def test_misuse_raises_local_protocol_error():
    conn = ServerConnection(ServerConfig(hostname=HOST))
    with pytest.raises(LocalProtocolError):
        conn.next_event()  # greeting not sent
    conn.send(conn.standard_reply())
    with pytest.raises(LocalProtocolError):
        conn.standard_reply()  # nothing to answer
    with pytest.raises(LocalProtocolError):
        conn.answer(replies.OK)
    conn.receive_data(b"NOOP\r\nNOOP\r\n")
    assert conn.next_event() == Noop()
    with pytest.raises(LocalProtocolError):
        conn.next_event()  # the NOOP is not answered yet
    with pytest.raises(LocalProtocolError):
        conn.receive_command(Noop())


def test_fast_path_refuses_commands_in_data_state():
    conn = server()
    serve(conn, IN_DATA)
    with pytest.raises(LocalProtocolError):
        conn.receive_command(Noop())
    assert conn.receive_command(Message(5, b"hi\r\n")) == Message(5, b"hi\r\n")


# --- fixed replies: built once per configuration, one named set per TLS state -------------


def test_fixed_replies_are_built_once_per_config_and_shared():
    config = ServerConfig(hostname=HOST, starttls=True)
    first, second = ServerConnection(config), ServerConnection(config)
    for conn in (first, second):
        assert conn.standard_reply() is config.fixed.greeting
        conn.send(conn.standard_reply())
        conn.receive_data(b"EHLO client.example\r\n")
        assert conn.next_event() == Hello("client.example")
        assert conn.standard_reply() is config.fixed.ehlo
        conn.send(conn.standard_reply())
    assert "STARTTLS" in config.fixed.ehlo.ehlo_extensions()
    assert config.fixed.ehlo == replies.ehlo(HOST, config.ehlo_keywords(tls_active=False))
    assert config.fixed.helo == replies.helo(HOST)


def test_over_tls_the_server_answers_from_the_tls_set():
    config = ServerConfig(hostname=HOST, starttls=True)
    conn = server(starttls=True)
    serve(conn, b"EHLO c.example\r\nSTARTTLS\r\n")
    conn.tls_established()
    for line, name in ((b"EHLO c.example\r\n", "ehlo"), (b"HELO c.example\r\n", "helo")):
        conn.receive_data(line)
        conn.next_event()
        assert conn.standard_reply() == getattr(config.fixed_tls, name)
        conn.send(conn.standard_reply())
    assert "STARTTLS" not in conn.config.fixed_tls.ehlo.ehlo_extensions()  # RFC 3207 4.2


def test_a_changed_config_gets_its_own_fixed_replies():
    config = ServerConfig(hostname=HOST)
    other = replace(config, hostname="mx2.example", pipelining=False)
    assert other.fixed.greeting == replies.greeting("mx2.example")
    assert "PIPELINING" not in other.fixed.ehlo.ehlo_extensions()
    assert config == ServerConfig(hostname=HOST)  # the derived sets are not settings
    assert hash(config) == hash(ServerConfig(hostname=HOST))


def test_ehlo_extensions_are_parsed_once_per_reply_and_do_not_change_its_value():
    reply = replies.ehlo(HOST, ("PIPELINING", "SIZE 1000", "auth plain"))
    parsed = reply.ehlo_extensions()
    assert parsed == {"PIPELINING": "", "SIZE": "1000", "AUTH": "plain"}
    assert reply.ehlo_extensions() is parsed
    fresh = replies.ehlo(HOST, ("PIPELINING", "SIZE 1000", "auth plain"))
    assert reply == fresh and hash(reply) == hash(fresh)
