"""The grammar (``syntax``), reply values (``replies``) and timeouts.

One table of (line, event) pairs drives both ``parse_command`` and ``format_command``;
one table of (reply, bytes) pairs drives ``format_reply`` and a client's reply reader,
whole and one byte at a time.
"""

from __future__ import annotations

import re

import pytest
from protocol_helpers import read_responses, serve_both

from smtpsim.protocol import (
    Auth,
    AuthResponse,
    ClientConnection,
    ClientTimeouts,
    Command,
    CommandError,
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
    Response,
    Rset,
    StartTLS,
    Vrfy,
    replies,
    syntax,
)
from smtpsim.protocol.replies import enhanced_from_code
from smtpsim.protocol.syntax import (
    build_reply,
    dot_stuff,
    filler,
    format_command,
    format_reply,
    message_bytes,
    normalize_newlines,
    parse_address,
    parse_command,
    parse_reply_line,
)

# --- commands: one table, both directions -------------------------------------------------

ROUND_TRIP = [
    ("EHLO client.example", Hello("client.example")),
    ("HELO client.example", Hello("client.example", extended=False)),
    ("EHLO [192.0.2.7]", Hello("[192.0.2.7]")),
    ("MAIL FROM:<a@example.org>", Mail("a@example.org")),
    ("MAIL FROM:<>", Mail("")),
    (
        "MAIL FROM:<a@example.org> SIZE=1000 BODY=8BITMIME",
        Mail("a@example.org", (("SIZE", "1000"), ("BODY", "8BITMIME"))),
    ),
    ("MAIL FROM:<> SMTPUTF8", Mail("", (("SMTPUTF8", None),))),
    ('MAIL FROM:<"john doe"@example.org>', Mail('"john doe"@example.org')),
    ('MAIL FROM:<"a\\"b"@example.org>', Mail('"a\\"b"@example.org')),
    ("MAIL FROM:<a+tag@sub.example.org> AUTH=<>", Mail("a+tag@sub.example.org", (("AUTH", "<>"),))),
    ("RCPT TO:<b@example.net>", Rcpt("b@example.net")),
    ("RCPT TO:<postmaster>", Rcpt("postmaster")),
    ("RCPT TO:<b@[192.0.2.1]>", Rcpt("b@[192.0.2.1]")),
    ("RCPT TO:<b@[IPv6:2001:db8::1]>", Rcpt("b@[IPv6:2001:db8::1]")),
    (
        "RCPT TO:<b@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@example.net",
        Rcpt("b@example.net", (("NOTIFY", "SUCCESS,FAILURE"), ("ORCPT", "rfc822;b@example.net"))),
    ),
    ("DATA", Data()),
    ("RSET", Rset()),
    ("QUIT", Quit()),
    ("STARTTLS", StartTLS()),
    ("NOOP", Noop()),
    ("NOOP are you there", Noop("are you there")),
    ("VRFY postmaster", Vrfy("postmaster")),
    ("VRFY John Smith", Vrfy("John Smith")),
    ("HELP", Help()),
    ("HELP MAIL", Help("MAIL")),
    ("AUTH LOGIN", Auth("LOGIN")),
    ("AUTH PLAIN AHVzZXIAcGFzcw==", Auth("PLAIN", "AHVzZXIAcGFzcw==")),
    ("AUTH PLAIN =", Auth("PLAIN", "=")),
]


@pytest.mark.parametrize(("line", "event"), ROUND_TRIP, ids=[x for x, _ in ROUND_TRIP])
def test_parse_command(line, event):
    assert parse_command(line) == event


@pytest.mark.parametrize(("line", "event"), ROUND_TRIP, ids=[x for x, _ in ROUND_TRIP])
def test_format_command(line, event):
    assert format_command(event) == line.encode() + b"\r\n"


# What a server that offers STARTTLS and AUTH makes of the same lines, in a state where
# the command is legal: the event itself, except for these.
SERVER_VERDICT = {
    "MAIL FROM:<> SMTPUTF8": CommandError("MAIL", replies.unsupported_option("SMTPUTF8")),
    "AUTH PLAIN =": CommandError("AUTH", replies.AUTH_BAD_RESPONSE),
}
SETUP_FOR_VERB = {
    "MAIL": b"EHLO c.example\r\n",
    "RCPT": b"EHLO c.example\r\nMAIL FROM:<>\r\n",
    "DATA": b"EHLO c.example\r\nMAIL FROM:<>\r\nRCPT TO:<r@example.net>\r\n",
    "AUTH": b"EHLO c.example\r\n",
    "STARTTLS": b"EHLO c.example\r\n",
}


@pytest.mark.parametrize(("line", "event"), ROUND_TRIP, ids=[x for x, _ in ROUND_TRIP])
def test_every_command_type_survives_a_server(line, event):
    """The same lines read by a server (whole and bytewise) give the same events."""
    events, _, _ = serve_both(
        line.encode() + b"\r\n",
        setup=SETUP_FOR_VERB.get(event.verb, b""),
        starttls=True,
        auth_mechanisms=("PLAIN", "LOGIN"),
    )
    assert events == [SERVER_VERDICT.get(line, event)]


PARSE_ONLY = [
    ("mail from:<a@example.org>", Mail("a@example.org")),
    ("MAIL FROM: <a@example.org>", Mail("a@example.org")),
    ("MAIL FROM:a@example.org", Mail("a@example.org")),
    ("MAIL FROM:<a@example.org>  size=10 ", Mail("a@example.org", (("SIZE", "10"),))),
    ("RCPT TO:<@relay.example,@r2.example:b@example.net>", Rcpt("b@example.net")),
    ("RCPT TO:<@relay.example:b@example.net>", Rcpt("b@example.net")),
    ("RCPT TO:<Postmaster>", Rcpt("Postmaster")),
    ("RCPT TO:b@example.net", Rcpt("b@example.net")),
    ("rcpt to:<b@example.net>", Rcpt("b@example.net")),
    ("ehlo  client.example ", Hello("client.example")),
    ("auth plain AHUAcA==", Auth("PLAIN", "AHUAcA==")),
    ("NOOP   hi", Noop("hi")),
    ("quit", Quit()),
    ("QUIT ", Quit()),
]


@pytest.mark.parametrize(("line", "event"), PARSE_ONLY, ids=[x for x, _ in PARSE_ONLY])
def test_parse_command_leniency(line, event):
    assert parse_command(line) == event


def bad_param(word: str) -> Reply:
    return Reply(501, "5.5.4", f"Bad parameter syntax: {word}")


PARSE_ERRORS = [
    ("", "", replies.UNKNOWN_COMMAND),
    ("FOO bar", "FOO", replies.UNKNOWN_COMMAND),
    ("MAILFROM:<a@example.org>", "MAILFROM:<A@EXAMPLE.ORG>", replies.UNKNOWN_COMMAND),
    ("EXPN staff", "EXPN", replies.NOT_IMPLEMENTED),
    ("ETRN example.org", "ETRN", replies.NOT_IMPLEMENTED),
    ("TURN", "TURN", replies.NOT_IMPLEMENTED),
    ("MAIL", "MAIL", replies.SYNTAX_MAIL),
    ("MAIL FROM:", "MAIL", replies.SYNTAX_MAIL),
    ("MAIL TO:<a@example.org>", "MAIL", replies.SYNTAX_MAIL),
    ("MAIL FROM:<a@example.org", "MAIL", replies.SYNTAX_MAIL),
    ("MAIL FROM:<a@example.org>SIZE=1", "MAIL", replies.SYNTAX_MAIL),
    ("MAIL FROM:<<a@example.org>>", "MAIL", replies.SYNTAX_MAIL),
    ("MAIL FROM:<postmaster>", "MAIL", replies.BAD_SENDER),
    ("MAIL FROM:<a b@example.org>", "MAIL", replies.BAD_SENDER),
    ("MAIL FROM:<a..b@example.org>", "MAIL", replies.BAD_SENDER),
    ("MAIL FROM:<@relay.example:>", "MAIL", replies.BAD_SENDER),
    ("MAIL FROM:<a@example.org> SIZE=", "MAIL", bad_param("SIZE=")),
    ("MAIL FROM:<a@example.org> =1", "MAIL", bad_param("=1")),
    ("MAIL FROM:<a@example.org> -X", "MAIL", bad_param("-X")),
    ("RCPT", "RCPT", replies.SYNTAX_RCPT),
    ("RCPT FROM:<b@example.net>", "RCPT", replies.SYNTAX_RCPT),
    ("RCPT TO:<>", "RCPT", replies.BAD_RECIPIENT),
    ("RCPT TO:<b@-example.net>", "RCPT", replies.BAD_RECIPIENT),
    ("RCPT TO:<b@example.net> NOTIFY=A=B", "RCPT", bad_param("NOTIFY=A=B")),
    ("DATA now", "DATA", replies.SYNTAX_NO_ARGS),
    ("RSET all", "RSET", replies.SYNTAX_NO_ARGS),
    ("QUIT now", "QUIT", replies.SYNTAX_NO_ARGS),
    ("STARTTLS please", "STARTTLS", replies.SYNTAX_NO_ARGS),
    ("EHLO", "EHLO", replies.SYNTAX_HELO),
    ("HELO  ", "HELO", replies.SYNTAX_HELO),
    ("EHLO two words", "EHLO", replies.SYNTAX_HELO),
    ("VRFY", "VRFY", Reply(501, "5.5.4", "Syntax: VRFY address")),
    ("AUTH", "AUTH", replies.SYNTAX_AUTH),
    ("AUTH PLAIN a b", "AUTH", replies.SYNTAX_AUTH),
]


@pytest.mark.parametrize(("line", "verb", "reply"), PARSE_ERRORS, ids=[x for x, *_ in PARSE_ERRORS])
def test_parse_command_errors(line, verb, reply):
    assert parse_command(line) == CommandError(verb, reply)


@pytest.mark.parametrize(("line", "verb", "reply"), PARSE_ERRORS, ids=[x for x, *_ in PARSE_ERRORS])
def test_command_errors_on_the_wire(line, verb, reply):
    """The error reply is what a server sends, and the session goes on."""
    events, out, conn = serve_both(line.encode() + b"\r\nNOOP\r\n", setup=b"EHLO c.example\r\n")
    assert events == [CommandError(verb, reply), Noop()]
    assert out == format_reply(reply) + b"250 2.0.0 Ok\r\n"
    assert conn.errors == 1


# --- addresses -----------------------------------------------------------------------------

LOCAL_64 = "l" * 64
ADDRESSES = [
    ("<>", True, ""),
    ("<>", False, None),
    ("<postmaster>", False, "postmaster"),
    ("<PostMaster>", False, "PostMaster"),
    ("<postmaster>", True, None),
    ("postmaster", False, "postmaster"),
    ("<@a.example,@b.example:u@d.example>", False, "u@d.example"),
    ("<@a.example:u@d.example>", True, "u@d.example"),
    ("<@a.example;u@d.example>", False, None),
    ("u@d.example", False, "u@d.example"),
    ("<u@d.example", False, None),
    ("u@d.example>", False, None),
    ('<"john doe"@example.org>', False, '"john doe"@example.org'),
    ('<"a\\"b"@example.org>', False, '"a\\"b"@example.org'),
    ('<"unterminated@example.org>', False, None),
    ("<a.b.c@example.org>", False, "a.b.c@example.org"),
    ("<.a@example.org>", False, None),
    ("<a.@example.org>", False, None),
    ("<a@example.org.>", False, "a@example.org."),
    ("<a@example..org>", False, None),
    ("<a@-example.org>", False, None),
    ("<a@example-.org>", False, None),
    ("<a@[192.0.2.1]>", False, "a@[192.0.2.1]"),
    ("<a@>", False, None),
    ("<@example.org>", False, None),
    ("<example.org>", False, None),
    ("<a@b@example.org>", False, None),
    (f"<{LOCAL_64}@example.org>", False, f"{LOCAL_64}@example.org"),
    (f"<{LOCAL_64}l@example.org>", False, None),
    (f'<"{"q" * 62}"@example.org>', False, f'"{"q" * 62}"@example.org'),
    (f'<"{"q" * 63}"@example.org>', False, None),
]


@pytest.mark.parametrize(("path", "null_ok", "expected"), ADDRESSES)
def test_parse_address(path, null_ok, expected):
    assert parse_address(path, null_ok=null_ok) == expected


def _domain(length: int) -> str:
    """A valid domain name of exactly ``length`` octets (labels of up to 63)."""
    labels, left = [], length
    while left > 0:
        take = min(63, left)
        if left - take == 1:  # a 1-octet remainder cannot be ".x"
            take -= 2
        labels.append("d" * take)
        left -= take + 1
    name = ".".join(labels)
    assert len(name) == length
    return name


@pytest.mark.parametrize(("inner", "ok"), [(252, True), (253, True), (254, True), (255, False)])
def test_path_limit_256_octets_with_brackets(inner, ok):
    """RFC 5321 section 4.5.3.1.3: 256 octets including the angle brackets."""
    address = "a@" + _domain(inner - 2)
    path = f"<{address}>"
    assert len(path) == inner + 2
    assert parse_address(path, null_ok=False) == (address if ok else None)


@pytest.mark.parametrize(
    ("ascii_chars", "written_out"),
    [
        (syntax._ATEXT_CHARS, r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"),  # atext
        (syntax._LET_DIG, r"[A-Za-z0-9]"),  # the first and last octet of a label
        (syntax._LET_DIG + "-", r"[A-Za-z0-9-]"),  # the octets between
    ],
)
def test_utf8_classes_are_the_rfc_6531_sets(ascii_chars, written_out):
    """The address classes are written as what they exclude (a compile-time matter,
    ``syntax._with_utf8``); over every code point they hold exactly the ASCII set of
    RFC 5321/5322 and RFC 6531's UTF8-non-ascii, lone surrogates excluded."""
    every = "".join(map(chr, range(0x110000)))
    ascii_set, utf8 = re.compile(written_out), re.compile("[\u0080-\ud7ff\ue000-\U0010ffff]")
    held = {m.start() for m in re.finditer(syntax._with_utf8(ascii_chars), every)}
    expected = {m.start() for m in ascii_set.finditer(every)}
    expected |= {m.start() for m in utf8.finditer(every)}
    assert held == expected
    assert len(held) == len(ascii_chars) + 0x110000 - 128 - 2048


def test_domain_of_255_octets_is_too_long_for_a_path():
    """The 255-octet domain limit can never be reached inside a 256-octet path."""
    assert parse_address(f"<a@{_domain(255)}>", null_ok=False) is None
    assert parse_address(f"<{LOCAL_64}@{_domain(254 - 65)}>", null_ok=False) is not None


# --- parameters checked by a server: 501 / 555 ----------------------------------------------

PARAM_CASES = [
    ("MAIL FROM:<a@example.org> SIZE=100", None),
    ("MAIL FROM:<a@example.org> SIZE=0", None),
    ("MAIL FROM:<a@example.org> BODY=7BIT", None),
    ("MAIL FROM:<a@example.org> body=8bitmime", None),
    ("MAIL FROM:<a@example.org> SIZE=abc", replies.BAD_SIZE),
    ("MAIL FROM:<a@example.org> SIZE", replies.BAD_SIZE),
    ("MAIL FROM:<a@example.org> SIZE=-1", replies.BAD_SIZE),
    ("MAIL FROM:<a@example.org> SIZE=99999999999", replies.SIZE_EXCEEDED),
    ("MAIL FROM:<a@example.org> BODY=BINARYMIME", replies.unsupported_option("BODY")),
    ("MAIL FROM:<a@example.org> RET=FULL", None),
    ("MAIL FROM:<a@example.org> XDSN=FULL", replies.unsupported_option("XDSN")),
    ("MAIL FROM:<a@example.org> AUTH=<>", replies.unsupported_option("AUTH")),
    ("RCPT TO:<b@example.net> NOTIFY=NEVER", None),
    ("RCPT TO:<b@example.net> XNOTIFY=NEVER", replies.unsupported_option("XNOTIFY")),
]


@pytest.mark.parametrize(("line", "reply"), PARAM_CASES, ids=[x for x, _ in PARAM_CASES])
def test_parameters_on_a_server(line, reply):
    setup = b"EHLO c.example\r\n"
    if line.startswith("RCPT"):
        setup += b"MAIL FROM:<>\r\n"
    events, out, _ = serve_both(line.encode() + b"\r\n", setup=setup)
    if reply is None:
        assert events == [parse_command(line)]
        assert out.startswith(b"250 ")
    else:
        assert events == [CommandError(line[:4], reply)]
        assert out == format_reply(reply)


def test_mail_parameters_after_helo_are_refused_with_555():
    events, out, _ = serve_both(
        b"MAIL FROM:<a@example.org> SIZE=10\r\n", setup=b"HELO c.example\r\n"
    )
    assert events == [CommandError("MAIL", replies.unsupported_option("SIZE"))]
    assert out == b"555 5.5.4 Unsupported option: SIZE\r\n"


def test_auth_parameter_is_accepted_when_auth_is_offered():
    events, _, _ = serve_both(
        b"MAIL FROM:<a@example.org> AUTH=<>\r\n",
        setup=b"EHLO c.example\r\n",
        auth_mechanisms=("PLAIN",),
    )
    assert events == [Mail("a@example.org", (("AUTH", "<>"),))]


def test_mail_size_property():
    assert Mail("a@b.example", (("BODY", "7BIT"), ("SIZE", "12"))).size == 12
    assert Mail("a@b.example").size is None
    assert Mail("a@b.example", (("SIZE", "x1"),)).size is None
    assert Mail("a@b.example", (("SIZE", None),)).size is None


# --- commands that cannot be written ---------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        Rcpt(""),
        Noop("hi\r\nRSET"),
        Hello("evil.example\nMAIL FROM:<x@y.example>"),
        AuthResponse("abc\r"),
        Vrfy("a\rb"),
        Noop("héllo"),  # UTF-8 only in addresses (RFC 6531 section 3.3)
        Help("ünicode"),
    ],
)
def test_format_command_refuses_what_cannot_be_sent(command):
    with pytest.raises(LocalProtocolError):
        format_command(command)


def test_auth_response_is_written_as_is():
    assert format_command(AuthResponse("dXNlcg==")) == b"dXNlcg==\r\n"
    assert format_command(AuthResponse("*")) == b"*\r\n"
    assert format_command(AuthResponse("")) == b"\r\n"


# --- replies ----------------------------------------------------------------------------------

EHLO_REPLY = replies.ehlo("mx.example", ("PIPELINING", "SIZE 1000", "8BITMIME"))
REPLY_BYTES = [
    (replies.MAIL_OK, True, b"250 2.1.0 Ok\r\n"),
    (replies.MAIL_OK, False, b"250 Ok\r\n"),
    (replies.greeting("mx.example"), True, b"220 mx.example ESMTP smtpsim\r\n"),
    (replies.START_DATA, True, b"354 End data with <CR><LF>.<CR><LF>\r\n"),
    (replies.auth_challenge(""), True, b"334 \r\n"),
    (replies.auth_challenge("VXNlcm5hbWU6"), True, b"334 VXNlcm5hbWU6\r\n"),
    (
        EHLO_REPLY,
        True,
        b"250-mx.example\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n",
    ),
    (
        Reply(550, "5.7.1", "Message rejected\nSee https://example.org/why"),
        True,
        b"550-5.7.1 Message rejected\r\n550 5.7.1 See https://example.org/why\r\n",
    ),
    (
        Reply(550, "5.7.1", "Message rejected\nSee https://example.org/why"),
        False,
        b"550-Message rejected\r\n550 See https://example.org/why\r\n",
    ),
    (Reply(250, "2.0.0", ""), True, b"250 2.0.0 \r\n"),
    (
        replies.user_unknown("u@example.org"),
        True,
        b"550 5.1.1 <u@example.org>: Recipient address rejected: "
        b"User unknown in local recipient table\r\n",
    ),
]


@pytest.mark.parametrize(("reply", "enhanced", "wire"), REPLY_BYTES)
def test_format_reply(reply, enhanced, wire):
    assert format_reply(reply, enhanced=enhanced) == wire


@pytest.mark.parametrize(("reply", "enhanced", "wire"), REPLY_BYTES)
@pytest.mark.parametrize("bytewise", [False, True], ids=["whole", "bytewise"])
def test_client_reads_reply_back(reply, enhanced, wire, bytewise):
    """Each reply read as the answer to a command it can answer (``states.POSSIBLE``):
    a 354 to DATA, a 334 to AUTH, the others as the greeting."""
    client = ClientConnection()
    command: Command | None = None
    if reply.code in (334, 354):
        read_responses(client, b"220 mx\r\n")
        client.send(Hello("client.example"))
        read_responses(client, b"250-mx\r\n250-AUTH LOGIN\r\n250 PIPELINING\r\n")
        if reply.code == 334:
            command = Auth("LOGIN")
            client.send(command)
        else:
            command = Data()
            for sent in (Mail("a@example.org"), Rcpt("b@example.net"), command):
                client.send(sent)
            read_responses(client, b"250 ok\r\n250 ok\r\n")
    events = read_responses(client, wire, bytewise=bytewise)
    expected = reply if enhanced else Reply(reply.code, None, reply.text)
    assert events == [Response(command, expected)]


REPLY_LINES = [
    ("250 Ok", (250, True, "Ok")),
    ("250-Ok", (250, False, "Ok")),
    ("250", (250, True, "")),
    ("250-", (250, False, "")),
    ("599 x y  z", (599, True, "x y  z")),
    ("200 ", (200, True, "")),
]


@pytest.mark.parametrize(("line", "parsed"), REPLY_LINES)
def test_parse_reply_line(line, parsed):
    assert parse_reply_line(line) == parsed


@pytest.mark.parametrize(
    "line", ["", "hello", "25 ok", "2500 ok", "600 too high", "199 too low", "250_ok", " 250 ok"]
)
def test_parse_reply_line_malformed(line):
    with pytest.raises(RemoteProtocolError):
        parse_reply_line(line)


BUILD = [
    (250, ["2.0.0 Ok"], Reply(250, "2.0.0", "Ok")),
    (250, ["2.0.0"], Reply(250, "2.0.0", "")),
    (250, ["5.0.0 Ok"], Reply(250, None, "5.0.0 Ok")),
    (354, ["2.0.0 go ahead"], Reply(354, None, "2.0.0 go ahead")),
    (250, ["2.0.0x"], Reply(250, None, "2.0.0x")),
    (550, ["5.1.1 one", "5.1.1 two"], Reply(550, "5.1.1", "one\ntwo")),
    (550, ["5.1.1 one", "two"], Reply(550, "5.1.1", "one\ntwo")),
    (250, ["host", "2.0.0 PIPELINING"], Reply(250, None, "host\n2.0.0 PIPELINING")),
    (452, ["4.5.3 Error: too many recipients"], replies.TOO_MANY_RECIPIENTS),
]


@pytest.mark.parametrize(("code", "texts", "reply"), BUILD)
def test_build_reply(code, texts, reply):
    assert build_reply(code, texts) == reply


def test_reply_values():
    r = replies.user_unknown("u@example.org")
    assert (r.klass, r.is_positive, r.is_transient, r.is_permanent) == (5, False, False, True)
    assert replies.TRY_AGAIN_LATER.is_transient and not replies.TRY_AGAIN_LATER.is_permanent
    assert replies.START_DATA.is_positive and replies.START_DATA.klass == 3
    assert r.dsn == "5.1.1"
    assert replies.START_DATA.dsn == "3.0.0"
    assert Reply(451, None, "x").dsn == "4.0.0" == enhanced_from_code(451)
    assert str(Reply(550, "5.7.1", "a\nb")) == "550 5.7.1 a / b"
    assert str(Reply(220, None, "hi")) == "220 hi"
    assert EHLO_REPLY.lines == ["mx.example", "PIPELINING", "SIZE 1000", "8BITMIME"]


CATALOGUE = [
    (replies.greeting("mx.example"), b"220 mx.example ESMTP smtpsim\r\n"),
    (replies.helo("mx.example"), b"250 mx.example\r\n"),
    (replies.queued("4Xyz1"), b"250 2.0.0 Ok: queued as 4Xyz1\r\n"),
    (
        replies.relay_denied("u@d.example", temporary=True),
        b"454 4.7.1 <u@d.example>: Relay access denied\r\n",
    ),
    (
        replies.relay_denied("u@d.example", temporary=False),
        b"554 5.7.1 <u@d.example>: Relay access denied\r\n",
    ),
    (replies.no_service("mx.example"), b"554 5.3.2 mx.example No SMTP service here\r\n"),
    (replies.command_too_long("mx.example"), b"500 5.5.2 mx.example Error: command too long\r\n"),
    (replies.too_many_errors("mx.example"), b"421 4.7.0 mx.example Error: too many errors\r\n"),
    (replies.idle_timeout("mx.example"), b"421 4.4.2 mx.example Error: timeout exceeded\r\n"),
    (replies.TOO_MANY_RECIPIENTS, b"452 4.5.3 Error: too many recipients\r\n"),
    (replies.SIZE_EXCEEDED, b"552 5.3.4 Message size exceeds fixed limit\r\n"),
    (replies.NO_VALID_RCPT, b"554 5.5.1 Error: no valid recipients\r\n"),
    (replies.NESTED_MAIL, b"503 5.5.1 Error: nested MAIL command\r\n"),
    (replies.TLS_READY, b"220 2.0.0 Ready to start TLS\r\n"),
    (replies.AUTH_OK, b"235 2.7.0 Authentication successful\r\n"),
    (replies.AUTH_LINE_TOO_LONG, b"500 5.5.6 Authentication Exchange line is too long\r\n"),
    (replies.unsupported_option("NOTIFY"), b"555 5.5.4 Unsupported option: NOTIFY\r\n"),
    (replies.bad_parameter("=x"), b"501 5.5.4 Bad parameter syntax: =x\r\n"),
]


@pytest.mark.parametrize(("reply", "wire"), CATALOGUE, ids=[w[:9].decode() for _, w in CATALOGUE])
def test_catalogue_texts_follow_postfix(reply, wire):
    """Postfix's reply texts (RFC 5321 section 4.2 codes), on the wire."""
    assert format_reply(reply) == wire


def test_quoted_client_text_is_cut():
    assert replies.unsupported_option("X" * 300).text == "Unsupported option: " + "X" * 100 + "..."
    assert replies.bad_parameter("y" * 100).text == "Bad parameter syntax: " + "y" * 100


@pytest.mark.parametrize(
    ("code", "enhanced"),
    [
        (199, None),
        (600, None),
        (250, "5.0.0"),
        (550, "4.1.1"),
        (354, "3.0.0"),
        (250, "2.0"),
        (250, "2.0.0.0"),
        (250, "2.1234.0"),
    ],
)
def test_reply_refuses_inconsistent_values(code, enhanced):
    with pytest.raises(ValueError):
        Reply(code, enhanced, "text")


REPLY_TEXTS = [
    ("421 4.7.0 Try again later", Reply(421, "4.7.0", "Try again later")),
    ("550 User unknown", Reply(550, None, "User unknown")),
    ("250", Reply(250, None, "")),
    ("  452 4.5.3 Too many  ", Reply(452, "4.5.3", "Too many")),
    ("554 5.7.1", Reply(554, "5.7.1", "")),
]


@pytest.mark.parametrize(("text", "reply"), REPLY_TEXTS)
def test_reply_parse(text, reply):
    assert Reply.parse(text) == reply


@pytest.mark.parametrize("text", ["", "OK", "42 x", "650 x", "550 4.1.1 class mismatch", "250x"])
def test_reply_parse_errors_name_the_input(text):
    with pytest.raises(ValueError, match=r"reply|enhanced"):
        Reply.parse(text)


# --- content: newlines, dot-stuffing, filler ---------------------------------------------------

NEWLINES = [
    (b"", b""),
    (b"a", b"a\r\n"),
    (b"a\n", b"a\r\n"),
    (b"a\r", b"a\r\n"),
    (b"a\r\n", b"a\r\n"),
    (b"a\r\nb", b"a\r\nb\r\n"),
    (b"\n.\n", b"\r\n.\r\n"),
    (b"a\r\r\nb", b"a\r\n\r\nb\r\n"),
    (b"\n\r", b"\r\n\r\n"),
    (b"\r\n\r\n", b"\r\n\r\n"),
]


@pytest.mark.parametrize(("raw", "normal"), NEWLINES)
def test_normalize_newlines(raw, normal):
    assert normalize_newlines(raw) == normal
    assert normalize_newlines(normal) == normal


DOTS = [
    (b"", b""),
    (b".\r\n", b"..\r\n"),
    (b"..\r\n", b"...\r\n"),
    (b"a\r\n.b\r\n", b"a\r\n..b\r\n"),
    (b"a.b\r\n. \r\n", b"a.b\r\n.. \r\n"),
    (b"x\r\n.\r\n.\r\n", b"x\r\n..\r\n..\r\n"),
]


@pytest.mark.parametrize(("content", "stuffed"), DOTS)
def test_dot_stuff(content, stuffed):
    assert dot_stuff(content) == stuffed


MESSAGES = [
    (Message.of(b""), b".\r\n"),
    (Message.of(b"hi"), b"hi\r\n.\r\n"),
    (Message.of(b"a\n.\nb"), b"a\r\n..\r\nb\r\n.\r\n"),
    (Message.of(b".\r\n"), b"..\r\n.\r\n"),
    (Message(0), b".\r\n"),
    (Message(80), b"x" * 76 + b"\r\n" + b"\r\n.\r\n"),
]


@pytest.mark.parametrize(("message", "wire"), MESSAGES)
def test_message_bytes(message, wire):
    assert message_bytes(message) == wire
    assert format_command(message) == wire


FILLER_SIZES = [*range(0, 320), 1000, 1001, 1002, 4096, 65536, 10**6 + 7]


def test_filler_has_exactly_size_octets():
    for size in FILLER_SIZES:
        assert len(filler(size)) == size, size


def test_filler_is_already_wire_text():
    """Normal newlines, short lines, nothing to dot-stuff: what is sent is ``size``
    octets (size 1 aside: no one-octet text ends with CRLF)."""
    for size in FILLER_SIZES:
        body = filler(size)
        if size != 1:
            assert normalize_newlines(body) == body, size
        assert dot_stuff(body) == body
        assert set(body) <= set(b"x\r\n")
        assert all(len(line) <= 998 for line in body.split(b"\r\n")), size


def test_message_of_size_sends_filler():
    for size in (0, 2, 77, 78, 79, 80, 157, 1000):
        assert message_bytes(Message(size)) == filler(size) + b".\r\n"


def test_message_of():
    assert Message.of(b"abc") == Message(3, b"abc")


# --- timeouts --------------------------------------------------------------------------------

TIMEOUTS = [
    ("GREETING", 300.0),
    ("EHLO", 300.0),
    ("HELO", 300.0),
    ("MAIL", 300.0),
    ("RCPT", 300.0),
    ("DATA", 120.0),
    (".", 600.0),
    ("QUIT", 300.0),
    ("RSET", 20.0),
    ("STARTTLS", 300.0),
    ("NOOP", 300.0),
    ("AUTH", 300.0),
]


@pytest.mark.parametrize(("verb", "seconds"), TIMEOUTS)
def test_client_timeouts_are_postfix_defaults(verb, seconds):
    assert ClientTimeouts().for_verb(verb) == seconds


def test_client_timeouts_can_be_set():
    t = ClientTimeouts(data_init=7, data_done=9.5, other=1)
    assert (t.for_verb("DATA"), t.for_verb("."), t.for_verb("VRFY")) == (7.0, 9.5, 1.0)
    assert t.for_verb("MAIL") == 300.0
