"""``ClientSession`` against a ``ServerConnection``, in lockstep.

``run`` below pumps one session between a ``ClientSession`` (with its
``ClientConnection``) and a ``ServerConnection``: on the wire (bytes whole or one byte
at a time) or on the fast path (events only, as the simulator runs). A policy hook
answers server events, per recipient or per event; it may also make the server vanish
(``DROP``) or fall silent (``STALL``). Each run keeps its transcript: every write, in
order, as ``("C", bytes)`` or ``("S", bytes)`` (on the fast path, the bytes the same
events would have been), so the modes can be compared write for write.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from protocol_helpers import HELO, HOST, accept_password

from smtpsim.protocol import (
    NEED_DATA,
    Bdat,
    ClientConnection,
    ClientSession,
    ConnectionClosed,
    Data,
    Event,
    Hello,
    Mail,
    MailDsn,
    Message,
    Quit,
    Rcpt,
    RcptDsn,
    Reply,
    Response,
    ServerConfig,
    ServerConnection,
    SessionResult,
    StartTLS,
    replies,
    states,
)
from smtpsim.protocol.syntax import filler, format_command, format_reply

SENDER = "sender@example.org"
RCPTS = ("alice@example.net", "bob@example.net", "carol@example.net")
BODY = b"From: sender@example.org\r\nSubject: test\r\n\r\nHello.\r\n.leading dot\r\n"
QUEUED = Reply(250, "2.0.0", "Ok: queued")

DROP = "DROP"  # the server goes away instead of answering
STALL = "STALL"  # the server never answers (the client's timer must fire)

Answer = Reply | str | None
Policy = Callable[[Event, ServerConnection], Answer]
MODES = ["wire", "bytewise", "fast"]


@dataclass
class Run:
    result: SessionResult
    session: ClientSession
    server: ServerConnection
    server_events: list[Event]
    client_events: list[Event]
    transcript: list[tuple[str, bytes]]

    def client_lines(self) -> list[bytes]:
        return [data for who, data in self.transcript if who == "C"]


def run(
    recipients: tuple[str, ...] = RCPTS[:2],
    *,
    mode: str = "wire",
    rcpt: dict[str, Answer] | None = None,
    policy: Policy | None = None,
    greeting: Reply | None = None,
    message: Message | None = None,
    client_tls: str = "no",
    auth: tuple[str, str] | None = None,
    wait_for_quit: bool = True,
    client_pipelining: bool = True,
    client_dsn: MailDsn | None = None,
    client_rcpt_dsn: dict[str, RcptDsn] | None = None,
    session_kw: dict[str, object] | None = None,
    **config: object,
) -> Run:
    """Pump one session to its end (or to a ``STALL``)."""
    server = ServerConnection(ServerConfig(hostname=HOST, **config))  # type: ignore[arg-type]
    conn = ClientConnection()
    session = ClientSession(
        conn,
        helo=HELO,
        sender=SENDER,
        recipients=recipients,
        message=message or Message.of(BODY),
        starttls=client_tls,
        auth=auth,
        wait_for_quit=wait_for_quit,
        pipelining=client_pipelining,
        dsn=client_dsn,
        rcpt_dsn=client_rcpt_dsn,
        **(session_kw or {}),  # type: ignore[arg-type]
    )
    enhanced = server.config.enhanced_status_codes
    transcript: list[tuple[str, bytes]] = []
    server_events: list[Event] = []
    client_events: list[Event] = []

    def handle(event: Event) -> None:
        client_events.append(event)
        session.handle(event)

    def decide(event: Event) -> Answer:
        if rcpt is not None and isinstance(event, Rcpt) and event.recipient in rcpt:
            return rcpt[event.recipient]
        return policy(event, server) if policy else None

    def deliver(replies_out: list[Reply], gone: bool) -> None:
        """Hand the server's replies (and its going away) to the client side."""
        transcript.append(("S", b"".join(format_reply(r, enhanced=enhanced) for r in replies_out)))
        if mode == "fast":
            for reply in replies_out:
                handle(conn.receive_reply(reply))
            if gone:
                handle(ConnectionClosed())
            return
        data = transcript[-1][1]
        pieces = [data[i : i + 1] for i in range(len(data))] if mode == "bytewise" else [data]
        pieces = [p for p in pieces if p]  # b"" would say the server closed
        for piece in [*pieces, *([b""] if gone else [])]:
            conn.receive_data(piece)
            while (event := conn.next_event()) is not NEED_DATA:
                handle(event)
                if isinstance(event, ConnectionClosed):
                    return

    first = greeting or server.standard_reply()
    server.answer(first)
    deliver([first], server.state == states.CLOSED)
    for _ in range(50):
        if session.wants_tls:
            server.tls_established()
            session.tls_established()
        if session.done:
            break
        commands = session.next_commands()
        assert commands, "the session is stuck"
        transcript.append(("C", b"".join(format_command(c) for c in commands)))
        if mode == "fast":
            for command in commands:
                conn.submit(command)
        else:
            assert b"".join(conn.send(c) for c in commands) == transcript[-1][1]
        if session.done:  # QUIT handed out, its reply not awaited
            break
        out: list[Reply] = []
        gone = stalled = False
        pending = list(commands) if mode == "fast" else None
        if pending is None:
            server.receive_data(transcript[-1][1])
        while server.state not in (states.CLOSED, states.TLS):
            if pending is None:
                event = server.next_event()
                if event is NEED_DATA:
                    break
            elif pending:
                event = server.receive_command(pending.pop(0))
            else:
                break
            server_events.append(event)
            answer = decide(event)
            if answer == DROP:
                gone = True
                break
            if answer == STALL:
                stalled = True
                break
            reply = answer if isinstance(answer, Reply) else server.standard_reply()
            server.answer(reply)
            out.append(reply)
        deliver(out, gone or server.state == states.CLOSED)
        if stalled:
            break
    else:
        raise AssertionError("session did not end")
    return Run(session.result(), session, server, server_events, client_events, transcript)


def run_modes(*args, **kw) -> Run:
    """Run in every mode; results, transcripts and event logs must agree (the one
    difference allowed: a message given by size only has its filler as content on the
    wire). Return the run on the wire, bytes whole."""
    runs = [run(*args, mode=mode, **kw) for mode in MODES]
    for other in runs[1:]:
        assert other.result == runs[0].result
        assert other.transcript == runs[0].transcript
        assert other.client_events == runs[0].client_events
        assert [_sized(e) for e in other.server_events] == [
            _sized(e) for e in runs[0].server_events
        ]
    return runs[0]


def _sized(event: Event) -> Event:
    if isinstance(event, Bdat):
        return Bdat(event.size, event.last)
    return Message(event.size) if isinstance(event, Message) else event


def refuse(kind: type, reply: Reply) -> Policy:
    return lambda event, server: reply if isinstance(event, kind) else None


def unknown(recipient: str) -> Reply:
    return replies.user_unknown(recipient)


EHLO_REPLY = (
    b"250-mx.example\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n"
    b"250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250 DSN\r\n"
)
STUFFED = BODY.replace(b"\r\n.", b"\r\n..") + b".\r\n"


# --- the transcripts -------------------------------------------------------------------------


def test_pipelined_group_when_the_server_offers_pipelining():
    r = run_modes()
    assert r.transcript == [
        ("S", b"220 mx.example ESMTP smtpsim\r\n"),
        ("C", b"EHLO client.example\r\n"),
        ("S", EHLO_REPLY),
        (
            "C",
            f"MAIL FROM:<sender@example.org> SIZE={len(BODY)}\r\n".encode()
            + b"RCPT TO:<alice@example.net>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n",
        ),
        (
            "S",
            b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
            b"354 End data with <CR><LF>.<CR><LF>\r\n",
        ),
        ("C", STUFFED),
        ("S", b"250 2.0.0 Ok: queued\r\n"),
        ("C", b"QUIT\r\n"),
        ("S", b"221 2.0.0 Bye\r\n"),
    ]
    assert r.result == SessionResult(((RCPTS[0], QUEUED), (RCPTS[1], QUEUED)), "content")
    assert r.result.delivered == RCPTS[:2]
    assert r.server.state == states.CLOSED
    assert r.server_events[-2] == Message.of(BODY)


def test_one_command_at_a_time_without_pipelining():
    r = run_modes(pipelining=False)
    assert r.client_lines() == [
        b"EHLO client.example\r\n",
        f"MAIL FROM:<sender@example.org> SIZE={len(BODY)}\r\n".encode(),
        b"RCPT TO:<alice@example.net>\r\n",
        b"RCPT TO:<bob@example.net>\r\n",
        b"DATA\r\n",
        STUFFED,
        b"QUIT\r\n",
    ]
    assert [data for who, data in r.transcript if who == "S"][2:6] == [
        b"250 2.1.0 Ok\r\n",
        b"250 2.1.5 Ok\r\n",
        b"250 2.1.5 Ok\r\n",
        b"354 End data with <CR><LF>.<CR><LF>\r\n",
    ]
    assert r.result.delivered == RCPTS[:2]


def test_client_may_decline_to_pipeline():
    r = run_modes(client_pipelining=False)
    assert b"250-PIPELINING\r\n" in r.transcript[2][1]
    assert r.client_lines()[1:4] == [
        f"MAIL FROM:<sender@example.org> SIZE={len(BODY)}\r\n".encode(),
        b"RCPT TO:<alice@example.net>\r\n",
        b"RCPT TO:<bob@example.net>\r\n",
    ]
    assert r.result.delivered == RCPTS[:2]


def test_8bit_content_gets_body_8bitmime():
    r = run_modes(message=Message.of(b"caf\xc3\xa9\r\n"))
    assert r.client_lines()[1].startswith(
        b"MAIL FROM:<sender@example.org> SIZE=7 BODY=8BITMIME\r\n"
    )
    assert r.result.delivered == RCPTS[:2]


def test_declared_size_counts_crlf_line_ends():
    """RFC 1870 section 3: SIZE is the octets sent after the 354, CRLF pairs included
    (not the dot-stuffing). Content with bare LF line ends grows by one octet a line."""
    content = b"one\ntwo\n.three\n"  # 15 octets given, 18 sent (plus one stuffed dot)
    r = run_modes(message=Message.of(content))
    assert r.client_lines()[1].startswith(b"MAIL FROM:<sender@example.org> SIZE=18\r\n")
    assert r.server_events[-2] == Message(18, b"one\r\ntwo\r\n.three\r\n")
    # so a server with an 17-octet limit refuses it at MAIL, before any content is sent
    r = run_modes(message=Message.of(content), max_message_size=17)
    assert r.result.replies == tuple((x, replies.SIZE_EXCEEDED) for x in RCPTS[:2])
    assert r.result.phase == "mail"


def test_message_given_by_size_only_sends_filler():
    r = run_modes(message=Message(500))
    assert r.server_events[-2] == Message(500, filler(500))
    assert r.result.delivered == RCPTS[:2]


# --- per-recipient outcomes -----------------------------------------------------------------


@pytest.mark.parametrize("pipelining", [True, False])
def test_unknown_user_is_refused_alone(pipelining):
    r = run_modes(RCPTS, rcpt={RCPTS[1]: unknown(RCPTS[1])}, pipelining=pipelining)
    assert r.result.replies == (
        (RCPTS[0], QUEUED),
        (RCPTS[1], unknown(RCPTS[1])),
        (RCPTS[2], QUEUED),
    )
    assert r.result.reply_for(RCPTS[1]).code == 550
    assert r.result.reply_for(RCPTS[1]).enhanced == "5.1.1"
    assert r.result.delivered == (RCPTS[0], RCPTS[2])
    with pytest.raises(KeyError):
        r.result.reply_for("nobody@example.net")


@pytest.mark.parametrize("pipelining", [True, False])
def test_every_recipient_refused_sends_no_content(pipelining):
    r = run_modes(RCPTS[:2], rcpt={x: unknown(x) for x in RCPTS[:2]}, pipelining=pipelining)
    assert r.result.replies == tuple((x, unknown(x)) for x in RCPTS[:2])
    assert r.result.delivered == ()
    assert not any(isinstance(e, Message) for e in r.server_events)
    if pipelining:  # DATA was in the group: the server refuses it
        assert b"554 5.5.1 Error: no valid recipients\r\n" in r.transcript[4][1]
    else:
        assert b"DATA\r\n" not in r.client_lines()
    assert r.client_lines()[-1] == b"QUIT\r\n"


@pytest.mark.parametrize("pipelining", [True, False])
def test_temporary_recipient_refusal(pipelining):
    greylisted = Reply(450, "4.2.0", "<bob@example.net>: Recipient address rejected: Greylisted")
    r = run_modes(rcpt={RCPTS[1]: greylisted}, pipelining=pipelining)
    assert r.result.replies == ((RCPTS[0], QUEUED), (RCPTS[1], greylisted))


# --- refusals that concern every recipient -----------------------------------------------------


@pytest.mark.parametrize("pipelining", [True, False])
@pytest.mark.parametrize(
    "refusal",
    [
        Reply(553, "5.7.1", "<sender@example.org>: Sender address rejected"),
        Reply(451, "4.3.0", "Error: queue file write error"),
    ],
    ids=["553", "451"],
)
def test_refused_mail_gives_every_recipient_that_reply(pipelining, refusal):
    r = run_modes(RCPTS, policy=refuse(Mail, refusal), pipelining=pipelining)
    assert r.result.replies == tuple((x, refusal) for x in RCPTS)
    assert r.result.phase == "mail"
    assert r.client_lines()[-1] == b"QUIT\r\n"
    assert not any(isinstance(e, Message) for e in r.server_events)
    if not pipelining:
        assert len(r.client_lines()) == 3 and r.client_lines()[1].startswith(b"MAIL FROM:")


def test_size_over_the_limit_refuses_mail_for_everyone():
    r = run_modes(RCPTS[:2], max_message_size=len(BODY) - 1)
    assert r.result.replies == tuple((x, replies.SIZE_EXCEEDED) for x in RCPTS[:2])


@pytest.mark.parametrize("pipelining", [True, False])
def test_refused_data_and_refused_content(pipelining):
    no_data = Reply(554, "5.5.1", "Error: no DATA today")
    r = run_modes(policy=refuse(Data, no_data), pipelining=pipelining)
    assert r.result.replies == tuple((x, no_data) for x in RCPTS[:2])
    spam = Reply(550, "5.7.1", "Message rejected as spam")
    r = run_modes(
        RCPTS,
        policy=refuse(Message, spam),
        rcpt={RCPTS[0]: unknown(RCPTS[0])},
        pipelining=pipelining,
    )
    assert r.result.replies == ((RCPTS[0], unknown(RCPTS[0])), (RCPTS[1], spam), (RCPTS[2], spam))


# --- EHLO, greeting, 421 -------------------------------------------------------------------


def test_refused_ehlo_falls_back_to_helo():
    not_implemented = Reply(502, "5.5.1", "Error: command not implemented")
    r = run_modes(
        policy=lambda e, s: not_implemented if isinstance(e, Hello) and e.extended else None
    )
    lines = r.client_lines()
    assert lines[:3] == [
        b"EHLO client.example\r\n",
        b"HELO client.example\r\n",
        b"MAIL FROM:<sender@example.org>\r\n",  # no SIZE: nothing was offered
    ]
    assert lines[3] == b"RCPT TO:<alice@example.net>\r\n"  # no pipelining either
    assert r.result.delivered == RCPTS[:2]


def test_refused_ehlo_and_helo_fail_everyone():
    no = Reply(550, "5.7.1", "Go away")
    r = run_modes(policy=refuse(Hello, no))
    assert r.client_lines() == [b"EHLO client.example\r\n", b"HELO client.example\r\n", b"QUIT\r\n"]
    assert r.result.replies == tuple((x, no) for x in RCPTS[:2])
    assert r.result.phase == "helo"


def test_temporary_ehlo_refusal_does_not_fall_back():
    busy = Reply(450, "4.7.1", "Busy")
    r = run_modes(policy=lambda e, s: busy if isinstance(e, Hello) else None)
    assert r.client_lines() == [b"EHLO client.example\r\n", b"QUIT\r\n"]
    assert r.result.replies == tuple((x, busy) for x in RCPTS[:2])


def test_554_greeting_quits_and_fails_everyone():
    r = run_modes(RCPTS, greeting=replies.no_service(HOST))
    assert r.transcript == [
        ("S", b"554 5.3.2 mx.example No SMTP service here\r\n"),
        ("C", b"QUIT\r\n"),
        ("S", b"221 2.0.0 Bye\r\n"),
    ]
    assert r.result == SessionResult(
        tuple((x, replies.no_service(HOST)) for x in RCPTS), "greeting"
    )


def test_421_greeting_fails_everyone_without_a_word():
    r = run_modes(RCPTS, greeting=replies.SERVICE_UNAVAILABLE)
    assert r.client_lines() == []
    assert r.result.replies == tuple((x, replies.SERVICE_UNAVAILABLE) for x in RCPTS)


BYE_NOW = Reply(421, "4.3.2", "mx.example Service shutting down")

POINTS_421 = [
    (Hello, "helo"),
    (Mail, "mail"),
    (Rcpt, "rcpt"),
    (Data, "data"),
    (Message, "content"),
]


@pytest.mark.parametrize("pipelining", [True, False])
@pytest.mark.parametrize(("kind", "phase"), POINTS_421, ids=[k.__name__ for k, _ in POINTS_421])
def test_421_anywhere_fails_every_undecided_recipient(pipelining, kind, phase):
    # the first recipient is refused before anything else can happen to it
    r = run_modes(
        RCPTS,
        rcpt={RCPTS[0]: unknown(RCPTS[0])} if kind in (Data, Message) else None,
        policy=refuse(kind, BYE_NOW),
        pipelining=pipelining,
    )
    expected = {x: BYE_NOW for x in RCPTS}
    if kind in (Data, Message):
        expected[RCPTS[0]] = unknown(RCPTS[0])
    assert dict(r.result.replies) == expected
    assert b"QUIT\r\n" not in r.client_lines()
    assert r.server.state == states.CLOSED
    assert r.result.phase == phase


def test_421_to_the_second_rcpt_of_a_pipelined_group():
    r = run_modes(RCPTS, rcpt={RCPTS[1]: BYE_NOW})
    assert r.result.replies == tuple((x, BYE_NOW) for x in RCPTS)
    assert r.server_events[-1] == Rcpt(RCPTS[1])  # the server read no further


# --- lost connections and timeouts -------------------------------------------------------------

LOST = [
    (Hello, True, "lost connection while performing the EHLO handshake"),
    (Mail, False, "lost connection while sending MAIL FROM"),
    (Mail, True, "lost connection while sending MAIL FROM"),
    (Rcpt, False, "lost connection while sending RCPT TO"),
    (Data, False, "lost connection while sending DATA command"),
    (Data, True, "lost connection while sending DATA command"),
    (
        Message,
        True,
        "lost connection while sending end of data -- message may be sent more than once",
    ),
]


@pytest.mark.parametrize(
    ("kind", "pipelining", "text"),
    LOST,
    ids=[f"{k.__name__}-{'pipelined' if p else 'lockstep'}" for k, p, _ in LOST],
)
def test_lost_connection_gives_451_4_4_2_saying_where(kind, pipelining, text):
    r = run_modes(
        RCPTS[:2], policy=lambda e, s: DROP if isinstance(e, kind) else None, pipelining=pipelining
    )
    lost = Reply(451, "4.4.2", text)
    assert r.result.replies == tuple((x, lost) for x in RCPTS[:2])
    assert r.session.done


def test_lost_connection_keeps_earlier_refusals():
    r = run_modes(RCPTS, rcpt={RCPTS[0]: unknown(RCPTS[0]), RCPTS[2]: DROP}, pipelining=False)
    lost = Reply(451, "4.4.2", "lost connection while sending RCPT TO")
    assert r.result.replies == (
        (RCPTS[0], unknown(RCPTS[0])),
        (RCPTS[1], lost),
        (RCPTS[2], lost),
    )


def test_lost_connection_after_the_end_of_data_changes_nothing():
    r = run_modes(policy=lambda e, s: DROP if isinstance(e, Quit) else None)
    assert r.result.replies == tuple((x, QUEUED) for x in RCPTS[:2])


@pytest.mark.parametrize("mode", MODES)
def test_timeout_gives_451_4_4_2_and_closes(mode):
    r = run(policy=lambda e, s: STALL if isinstance(e, Data) else None, pipelining=False, mode=mode)
    assert not r.session.done
    conn = r.session.conn
    assert conn.get_timer() == 120.0  # DATA initiation, from now=0 (every call used 0)
    event = conn.handle_timer(120.0)
    r.session.handle(event)
    assert r.session.done
    assert r.session.result().replies == tuple(
        (x, Reply(451, "4.4.2", "conversation timed out while sending DATA command"))
        for x in RCPTS[:2]
    )
    assert r.session.next_commands() == []


def test_events_after_the_end_are_ignored():
    r = run()
    before = r.session.result()
    r.session.handle(ConnectionClosed())
    assert r.session.result() == before


def test_quit_reply_need_not_be_awaited():
    r = run_modes(wait_for_quit=False)
    assert r.client_lines()[-1] == b"QUIT\r\n"
    assert r.transcript[-1][0] == "C"
    assert r.result.delivered == RCPTS[:2]


def test_session_arguments_are_checked():
    with pytest.raises(ValueError, match="recipient"):
        ClientSession(
            ClientConnection(), helo=HELO, sender=SENDER, recipients=[], message=Message(1)
        )
    with pytest.raises(ValueError, match="starttls"):
        ClientSession(
            ClientConnection(),
            helo=HELO,
            sender=SENDER,
            recipients=["a@b.example"],
            message=Message(1),
            starttls="always",
        )
    with pytest.raises(TypeError):
        ClientSession(
            ClientConnection(),
            helo=HELO,
            sender=SENDER,
            recipients=["a@b.example"],
            message=Message(1),
        ).handle(Data())


# --- STARTTLS ----------------------------------------------------------------------------------


@pytest.mark.parametrize("want", ["may", "require"])
def test_starttls_when_offered(want):
    r = run_modes(client_tls=want, starttls=True)
    lines = r.client_lines()
    assert lines[:3] == [b"EHLO client.example\r\n", b"STARTTLS\r\n", b"EHLO client.example\r\n"]
    assert lines[3].startswith(b"MAIL FROM:")
    assert b"250-STARTTLS" in r.transcript[2][1]
    assert b"STARTTLS" not in r.transcript[6][1]  # not offered again over TLS
    assert r.server.tls_active and r.session.conn.tls_active
    assert r.result.delivered == RCPTS[:2]


def test_starttls_may_goes_on_in_the_clear():
    r = run_modes(client_tls="may")  # not offered
    assert b"STARTTLS\r\n" not in r.client_lines()
    assert r.result.delivered == RCPTS[:2]
    r = run_modes(
        client_tls="may", policy=refuse(StartTLS, replies.TLS_NOT_AVAILABLE), starttls=True
    )
    assert r.client_lines()[1] == b"STARTTLS\r\n"
    assert r.client_lines()[2].startswith(b"MAIL FROM:")
    assert not r.server.tls_active
    assert r.result.delivered == RCPTS[:2]


def test_starttls_required_but_not_offered():
    r = run_modes(client_tls="require")
    assert r.client_lines() == [b"EHLO client.example\r\n", b"QUIT\r\n"]
    expected = Reply(451, "4.7.4", "TLS is required, but was not offered by the server")
    assert r.result.replies == tuple((x, expected) for x in RCPTS[:2])


def test_starttls_required_but_refused():
    r = run_modes(
        client_tls="require", policy=refuse(StartTLS, replies.TLS_NOT_AVAILABLE), starttls=True
    )
    assert r.client_lines() == [b"EHLO client.example\r\n", b"STARTTLS\r\n", b"QUIT\r\n"]
    assert r.result.replies == tuple((x, replies.TLS_NOT_AVAILABLE) for x in RCPTS[:2])
    assert r.result.phase == "starttls"


# --- AUTH ------------------------------------------------------------------------------------


def b64(text: str) -> bytes:
    return base64.b64encode(text.encode())


def test_auth_plain():
    r = run_modes(
        auth=("user", "secret"),
        policy=accept_password("secret"),
        auth_mechanisms=("PLAIN", "LOGIN"),
    )
    assert r.client_lines()[1] == b"AUTH PLAIN " + b64("\0user\0secret") + b"\r\n"
    assert r.transcript[4] == ("S", b"235 2.7.0 Authentication successful\r\n")
    assert r.server.authenticated == "user"
    assert r.result.delivered == RCPTS[:2]


def test_auth_login():
    r = run_modes(
        auth=("user", "secret"), policy=accept_password("secret"), auth_mechanisms=("LOGIN",)
    )
    assert r.transcript[3:9] == [
        ("C", b"AUTH LOGIN\r\n"),
        ("S", b"334 VXNlcm5hbWU6\r\n"),
        ("C", b64("user") + b"\r\n"),
        ("S", b"334 UGFzc3dvcmQ6\r\n"),
        ("C", b64("secret") + b"\r\n"),
        ("S", b"235 2.7.0 Authentication successful\r\n"),
    ]
    assert r.server.authenticated == "user"
    assert r.result.delivered == RCPTS[:2]


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_auth_with_a_wrong_password_fails_everyone(mechanism):
    r = run_modes(
        auth=("user", "guess"), policy=accept_password("secret"), auth_mechanisms=(mechanism,)
    )
    assert r.result.replies == tuple((x, replies.AUTH_FAILED) for x in RCPTS[:2])
    assert r.result.phase == "auth"
    assert r.client_lines()[-1] == b"QUIT\r\n"
    assert r.server.authenticated is None


def test_auth_wanted_but_not_offered():
    r = run_modes(auth=("user", "secret"))
    assert r.client_lines() == [b"EHLO client.example\r\n", b"QUIT\r\n"]
    assert {reply.code for _, reply in r.result.replies} == {530}


def test_starttls_then_auth():
    r = run_modes(
        client_tls="require",
        auth=("user", "secret"),
        policy=accept_password("secret"),
        starttls=True,
        auth_mechanisms=("PLAIN",),
    )
    assert [line.split(b" ")[0].strip() for line in r.client_lines()[:4]] == [
        b"EHLO",
        b"STARTTLS",
        b"EHLO",
        b"AUTH",
    ]
    assert r.server.authenticated == "user" and r.server.tls_active
    assert r.result.delivered == RCPTS[:2]


def test_client_events_pair_every_reply_with_its_command():
    r = run_modes(RCPTS[:1], rcpt={})
    responses = [e for e in r.client_events if isinstance(e, Response)]
    assert r.client_events == [*responses, ConnectionClosed()]  # the server closes after 221
    assert [(type(e.command).__name__, e.reply.code) for e in responses] == [
        ("NoneType", 220),
        ("Hello", 250),
        ("Mail", 250),
        ("Rcpt", 250),
        ("Data", 354),
        ("Message", 250),
        ("Quit", 221),
    ]
    r = run_modes(
        RCPTS[:1], policy=lambda e, s: DROP if isinstance(e, Data) else None, pipelining=False
    )
    assert r.client_events[-1] == ConnectionClosed()
