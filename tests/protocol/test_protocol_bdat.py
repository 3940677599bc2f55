"""CHUNKING (RFC 3030): BDAT on both sides of the protocol core.

The server's replies are Postfix's (smtpd.c, bdat_cmd and skip_bdat, read in
github.com/vdukhovni/postfix): ``250 2.0.0 Ok: N bytes`` to each chunk but the last,
the message's reply to BDAT LAST, ``503 5.5.1 Error: need RCPT command`` before a
recipient, ``554 5.5.1 Error: no valid recipients`` after refused ones, ``503 5.5.1
Error: DATA after BDAT`` (MAIL, RCPT alike), ``551 5.7.1 Null BDAT request``, ``552
5.3.4 Chunk exceeds message size limit``, then ``551 5.0.0 Discarded N bytes after
earlier error`` to the chunks that follow a refused one; a malformed BDAT, or BDAT to a
server that does not offer CHUNKING, gets 521 and the connection is closed, because the
octets that follow could not be told from commands. Postfix's own SMTP client sends no
BDAT (smtp_proto.c has none), so the client side is smtpsim's, after RFC 3030.
"""

from __future__ import annotations

import pytest
from protocol_helpers import HELO, Pair, serve, serve_both, server
from test_protocol_session import BODY, RCPTS, run_modes, unknown

from smtpsim.protocol import (
    NEED_DATA,
    Bdat,
    CommandError,
    Hello,
    LocalProtocolError,
    Mail,
    Message,
    Noop,
    Rcpt,
    Reply,
    SessionResult,
    replies,
    states,
)
from smtpsim.protocol.client_session import chunks
from smtpsim.protocol.syntax import format_command, parse_command

ENVELOPE = b"EHLO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n"
CHUNKING = {"chunking": True}

# --- the command line ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "command"),
    [
        ("BDAT 10", Bdat(10)),
        ("BDAT 10 LAST", Bdat(10, True)),
        ("bdat 0 last", Bdat(0, True)),
        ("BDAT  7   LAST", Bdat(7, True)),
    ],
)
def test_bdat_line_parses(line, command):
    assert parse_command(line) == command


@pytest.mark.parametrize(
    "line", ["BDAT", "BDAT x", "BDAT -1", "BDAT 1 2", "BDAT 10 LAST now", "BDAT 10 FIRST"]
)
def test_malformed_bdat_is_521_and_closes(line):
    error = parse_command(line)
    assert error == CommandError("BDAT", replies.BDAT_SYNTAX, closes=True)
    # on the wire: the server answers and closes; what follows is never read as commands
    events, out, conn = serve_both(
        line.encode() + b"\r\nNOOP\r\n", setup=b"EHLO client.example\r\n", **CHUNKING
    )
    assert events[0] == error
    assert out == b"521 5.5.4 Syntax: BDAT count [LAST]\r\n"
    assert conn.state == states.CLOSED


def test_bdat_writes_its_chunk_raw():
    """No dot-stuffing and no end line: the octets are counted (RFC 3030 section 2)."""
    assert format_command(Bdat(5, False, b".\r\n.\r")) == b"BDAT 5\r\n.\r\n.\r"
    assert format_command(Bdat(4, True)) == b"BDAT 4 LAST\r\nxx\r\n"
    with pytest.raises(LocalProtocolError):
        format_command(Bdat(4, True, b"abc"))


# --- the server ----------------------------------------------------------------------------


def test_chunks_are_read_by_count_and_make_the_message():
    # the chunks hold what would end DATA or look like commands: none of it counts
    first, last = b"Subject: x\r\n.\r\nQUIT\r\n", b"\r\nBDAT 3\r\nhi\r\n"
    data = (
        f"BDAT {len(first)}\r\n".encode()
        + first
        + f"BDAT {len(last)} LAST\r\n".encode()
        + last
        + b"NOOP\r\n"
    )
    events, out, conn = serve_both(data, setup=ENVELOPE, **CHUNKING)
    assert events == [Bdat(len(first), False, first), Bdat(len(last), True, last), Noop()]
    assert out == (
        f"250 2.0.0 Ok: {len(first)} bytes\r\n".encode()
        + f"250 2.0.0 Ok: {len(first) + len(last)} bytes queued\r\n".encode()
        + b"250 2.0.0 Ok\r\n"
    )
    assert conn.state == states.READY
    assert conn.sender is None  # the transaction is over


def test_chunked_message_is_every_chunk_in_order():
    conn_events, _, conn = serve_both(
        b"BDAT 3\r\nabcBDAT 2\r\ndeBDAT 0 LAST\r\n", setup=ENVELOPE, **CHUNKING
    )
    assert [type(e) for e in conn_events] == [Bdat, Bdat, Bdat]
    # after BDAT LAST the message is what the three chunks carried
    assert conn.chunked_message() == Message(5, b"abcde")


def test_ehlo_offers_chunking_only_when_configured():
    assert "CHUNKING" in serve_both(b"EHLO c.example\r\n", **CHUNKING)[1].decode()
    assert "CHUNKING" not in serve_both(b"EHLO c.example\r\n")[1].decode()


def test_bdat_without_chunking_is_521_and_closes():
    events, out, conn = serve_both(b"BDAT 5 LAST\r\nhello", setup=ENVELOPE)
    assert events == [CommandError("BDAT", replies.BDAT_NOT_IMPLEMENTED, closes=True)]
    assert out == b"521 5.5.1 Error: command not implemented\r\n"
    assert conn.state == states.CLOSED


@pytest.mark.parametrize(
    ("setup", "reply"),
    [
        (b"EHLO client.example\r\n", replies.NEED_RCPT),
        (b"EHLO client.example\r\nMAIL FROM:<a@example.org>\r\n", replies.NEED_RCPT),
    ],
    ids=["no-transaction", "no-recipient"],
)
def test_bdat_before_a_recipient_is_refused_and_its_chunk_skipped(setup, reply):
    events, out, conn = serve_both(b"BDAT 6 LAST\r\nNOOP\r\nNOOP\r\n", setup=setup, **CHUNKING)
    assert events == [CommandError("BDAT-LAST", reply), Noop()]
    assert out == b"503 5.5.1 Error: need RCPT command\r\n250 2.0.0 Ok\r\n"
    assert conn.errors == 1


def test_bdat_after_every_recipient_was_refused_is_554():
    def policy(event, conn):
        return unknown("b@example.net") if isinstance(event, Rcpt) else None

    events, out, _ = serve_both(b"BDAT 2 LAST\r\nhi", setup=ENVELOPE, policy=policy, **CHUNKING)
    assert events == [CommandError("BDAT-LAST", replies.NO_VALID_RCPT)]
    assert out == b"554 5.5.1 Error: no valid recipients\r\n"


@pytest.mark.parametrize(
    ("line", "verb", "reply"),
    [
        (b"DATA", "DATA", replies.DATA_AFTER_BDAT),
        (b"MAIL FROM:<c@example.org>", "MAIL", replies.MAIL_AFTER_BDAT),
        (b"RCPT TO:<d@example.net>", "RCPT", replies.RCPT_AFTER_BDAT),
    ],
)
def test_mixing_data_mail_rcpt_after_bdat_is_503(line, verb, reply):
    events, out, conn = serve_both(b"BDAT 2\r\nhi" + line + b"\r\n", setup=ENVELOPE, **CHUNKING)
    assert events[1] == CommandError(verb, reply)
    assert out.endswith(b"503 5.5.1 Error: " + f"{verb} after BDAT".encode() + b"\r\n")
    assert conn.state == states.CHUNKING


def test_null_chunk_starts_discarding_until_bdat_last():
    data = b"BDAT 0\r\nBDAT 3\r\nabcBDAT 2 LAST\r\nde"
    events, out, conn = serve_both(data, setup=ENVELOPE, **CHUNKING)
    assert events == [
        CommandError("BDAT", replies.BDAT_NULL),
        CommandError("BDAT", replies.chunk_discarded(3)),
        CommandError("BDAT-LAST", replies.chunk_discarded(2)),
    ]
    assert out == (
        b"551 5.7.1 Null BDAT request\r\n"
        b"551 5.0.0 Discarded 3 bytes after earlier error\r\n"
        b"551 5.0.0 Discarded 2 bytes after earlier error\r\n"
    )
    assert conn.state == states.READY
    # a new transaction chunks again from scratch
    events, out, conn = serve_both(
        data + b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nBDAT 2 LAST\r\nok",
        setup=ENVELOPE,
        **CHUNKING,
    )
    assert out.endswith(b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok: 2 bytes queued\r\n")


def test_rset_ends_the_discarding():
    data = b"BDAT 0\r\nRSET\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n"
    _events, out, conn = serve_both(data + b"BDAT 1 LAST\r\nx", setup=ENVELOPE, **CHUNKING)
    assert out.endswith(b"250 2.0.0 Ok: 1 bytes queued\r\n")
    assert conn.chunked_message() == Message(1, b"x")


def test_chunk_over_the_size_limit_is_552():
    data = b"BDAT 6\r\nabcdefBDAT 6\r\nghijklBDAT 1 LAST\r\nm"
    _events, out, conn = serve_both(data, setup=ENVELOPE, max_message_size=10, **CHUNKING)
    assert out == (
        b"250 2.0.0 Ok: 6 bytes\r\n"
        b"552 5.3.4 Chunk exceeds message size limit\r\n"
        b"551 5.0.0 Discarded 1 bytes after earlier error\r\n"
    )
    assert conn.state == states.READY


def test_a_policy_refusing_a_chunk_starts_the_discarding():
    refusal = Reply(451, "4.3.0", "Error: queue file write error")

    def policy(event, conn):
        return refusal if isinstance(event, Bdat) and event.size == 1 else None

    data = b"BDAT 1\r\naBDAT 2\r\nbcBDAT 1 LAST\r\nd"
    _events, out, conn = serve_both(data, setup=ENVELOPE, policy=policy, **CHUNKING)
    assert out.split(b"\r\n")[:2] == [
        b"451 4.3.0 Error: queue file write error",
        b"551 5.0.0 Discarded 2 bytes after earlier error",
    ]
    assert conn.state == states.READY


def test_chunk_past_the_size_limit_is_not_kept_whole():
    """A client cannot make the server hold more than the limit of one chunk."""
    conn = server(max_message_size=10, **CHUNKING)
    serve(conn, ENVELOPE)
    conn.receive_data(b"BDAT 50\r\n" + b"x" * 30)
    assert conn.next_event() is NEED_DATA
    assert len(conn._chunk_content) == 10  # counted, not kept
    events, _ = serve(conn, b"x" * 20)
    assert events == [CommandError("BDAT", replies.CHUNK_TOO_BIG)]


def test_client_connection_refuses_to_send_bdat_before_a_recipient():
    pair = Pair(**CHUNKING)
    pair.replies(Hello(HELO))
    with pytest.raises(LocalProtocolError):
        pair.client.send(Bdat(1, True, b"x"))
    pair.replies(Mail("a@example.org"))
    with pytest.raises(LocalProtocolError):
        pair.client.send(Bdat(1, False, b"x"))


# --- the client ----------------------------------------------------------------------------


def test_chunks_split_the_message():
    assert chunks(Message.of(b"abcdefg"), 3) == [
        Bdat(3, False, b"abc"),
        Bdat(3, False, b"def"),
        Bdat(1, True, b"g"),
    ]
    assert chunks(Message.of(b"abcdef"), 3) == [Bdat(3, False, b"abc"), Bdat(3, True, b"def")]
    assert chunks(Message(7), 10) == [Bdat(7, True)]
    assert chunks(Message(0), 10) == [Bdat(0, True)]
    with pytest.raises(ValueError):
        chunks(Message(7), 0)


def _chunk_lines(size: int, chunk: int) -> bytes:
    out = b""
    for start in range(0, size, chunk):
        n = min(chunk, size - start)
        last = start + n >= size
        out += f"BDAT {n}{' LAST' if last else ''}\r\n".encode() + BODY[start : start + n]
    return out


def test_pipelined_chunks_follow_the_rcpts_in_one_group():
    r = run_modes(session_kw={"chunking": True, "chunk_size": 20}, **CHUNKING)
    lines = r.client_lines()
    assert lines[1] == (
        f"MAIL FROM:<sender@example.org> SIZE={len(BODY)}\r\n".encode()
        + b"RCPT TO:<alice@example.net>\r\nRCPT TO:<bob@example.net>\r\n"
        + _chunk_lines(len(BODY), 20)
    )
    assert lines[2:] == [b"QUIT\r\n"]  # one round trip for the envelope and the content
    n = -(-len(BODY) // 20)
    server_replies = r.transcript[4][1].split(b"\r\n")
    assert server_replies[3 : 3 + n - 1] == [b"250 2.0.0 Ok: 20 bytes"] * (n - 1)
    queued = replies.chunks_queued(len(BODY))
    assert r.result == SessionResult(((RCPTS[0], queued), (RCPTS[1], queued)), "content")
    assert r.server_events[-2] == Bdat(len(BODY) - 20 * (n - 1), True, BODY[20 * (n - 1) :])
    assert r.server.state == states.CLOSED


def test_without_pipelining_each_chunk_waits_for_the_previous_reply():
    r = run_modes(session_kw={"chunking": True, "chunk_size": 30}, pipelining=False, **CHUNKING)
    lines = r.client_lines()
    n = -(-len(BODY) // 30)
    assert lines[4 : 4 + n] == [
        f"BDAT {min(30, len(BODY) - i)}{' LAST' if i + 30 >= len(BODY) else ''}\r\n".encode()
        + BODY[i : i + 30]
        for i in range(0, len(BODY), 30)
    ]
    assert lines[4 + n :] == [b"QUIT\r\n"]
    assert r.result.delivered == RCPTS[:2]


def test_client_uses_data_when_the_server_does_not_offer_chunking():
    r = run_modes(session_kw={"chunking": True})
    assert b"DATA\r\n" in r.client_lines()[1]
    assert b"BDAT" not in b"".join(r.client_lines())
    assert r.result.delivered == RCPTS[:2]


def test_client_does_not_chunk_unless_asked():
    r = run_modes(**CHUNKING)
    assert b"BDAT" not in b"".join(r.client_lines())
    assert r.result.delivered == RCPTS[:2]


@pytest.mark.parametrize("pipelining", [True, False])
def test_refused_chunk_fails_the_accepted_recipients(pipelining):
    refusal = Reply(452, "4.3.1", "Insufficient system storage")

    def policy(event, conn):
        return refusal if isinstance(event, Bdat) and not event.last else None

    r = run_modes(
        session_kw={"chunking": True, "chunk_size": 20},
        policy=policy,
        pipelining=pipelining,
        **CHUNKING,
    )
    assert r.result.replies == ((RCPTS[0], refusal), (RCPTS[1], refusal))
    assert r.result.delivered == ()
    if not pipelining:  # no chunk after the refused one (RFC 3030 section 2)
        assert sum(line.startswith(b"BDAT") for line in r.client_lines()) == 1
    assert r.client_lines()[-1] == b"QUIT\r\n"


def test_refused_recipients_then_chunks_in_the_same_group():
    r = run_modes(
        rcpt={RCPTS[0]: unknown(RCPTS[0]), RCPTS[1]: unknown(RCPTS[1])},
        session_kw={"chunking": True, "chunk_size": 1000},
        **CHUNKING,
    )
    assert r.result.replies == ((RCPTS[0], unknown(RCPTS[0])), (RCPTS[1], unknown(RCPTS[1])))
    assert r.result.at_rcpt == frozenset(RCPTS[:2])
    assert CommandError("BDAT-LAST", replies.NO_VALID_RCPT) in r.server_events


def test_message_by_size_only_sends_filler_chunks():
    r = run_modes(
        message=Message(150), session_kw={"chunking": True, "chunk_size": 100}, **CHUNKING
    )
    assert r.result.delivered == RCPTS[:2]
    assert [e for e in r.server_events if isinstance(e, Bdat)][-1].size == 50
