"""The transition tables of ``states``, checked against both connections.

Every ``ILLEGAL`` entry is sent to a server driven into that state (whole and one byte
at a time) and must get exactly the listed reply; every ``NEXT`` entry is played by a
client and a server over the wire, and both must land in the listed state.
"""

from __future__ import annotations

import base64

import pytest
from protocol_helpers import HELO, HOST, Pair, serve, serve_both

from smtpsim.protocol import (
    Auth,
    AuthResponse,
    Bdat,
    CommandError,
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
    Response,
    Rset,
    StartTLS,
    Vrfy,
    replies,
    states,
)
from smtpsim.protocol.states import ANYWHERE_IN_GROUP, COMMAND_STATES, ILLEGAL, NEXT, next_state
from smtpsim.protocol.syntax import format_command, format_reply

# A server that offers everything, so that only the sequence rules can refuse.
CONFIG: dict[str, object] = {
    "starttls": True,
    "auth_mechanisms": ("PLAIN", "LOGIN"),
    "chunking": True,
}

COMMANDS = {
    "EHLO": Hello(HELO),
    "HELO": Hello(HELO, extended=False),
    "MAIL": Mail("sender@example.org"),
    "RCPT": Rcpt("rcpt@example.net"),
    "DATA": Data(),
    "RSET": Rset(),
    "NOOP": Noop(),
    "VRFY": Vrfy("postmaster"),
    "HELP": Help(),
    "AUTH": Auth("LOGIN"),
    "STARTTLS": StartTLS(),
    "QUIT": Quit(),
    "BDAT": Bdat(7, False, b"Subject"),
    "BDAT-LAST": Bdat(9, True, b": x\r\n\r\nhi"),
}

# The commands that bring a fresh session (greeted with 220) into a state.
PATH = {
    states.GREETED: (),
    states.READY: (COMMANDS["EHLO"],),
    states.MAIL: (COMMANDS["EHLO"], COMMANDS["MAIL"]),
    states.RCPT: (COMMANDS["EHLO"], COMMANDS["MAIL"], COMMANDS["RCPT"]),
    states.DATA: (COMMANDS["EHLO"], COMMANDS["MAIL"], COMMANDS["RCPT"], Data()),
    states.AUTH: (COMMANDS["EHLO"], Auth("LOGIN")),
    states.CHUNKING: (
        COMMANDS["EHLO"],
        COMMANDS["MAIL"],
        COMMANDS["RCPT"],
        Bdat(4, False, b"From"),
    ),
    states.REJECTED: (),
}


def greeting_for(state: str) -> Reply:
    return replies.no_service(HOST) if state == states.REJECTED else replies.greeting(HOST)


def setup_bytes(state: str) -> bytes:
    return b"".join(format_command(c) for c in PATH[state])


def pair_in(state: str, **kw: object) -> Pair:
    """A client and a server, both in ``state``, reached one command at a time."""
    pair = Pair(greeting=greeting_for(state), **{**CONFIG, **kw})
    for command in PATH[state]:
        pair.replies(command)
    assert pair.states() == (state, state)
    return pair


# --- the tables themselves ---------------------------------------------------------------


def test_illegal_keys_are_command_states():
    assert {state for state, _ in ILLEGAL} <= COMMAND_STATES


def test_every_next_entry_is_reachable():
    """No dead rows: a transition on a command the same state refuses cannot happen."""
    dead = [key for key in NEXT if (key[0], key[1]) in ILLEGAL]
    assert dead == []


def test_every_state_is_listed_and_closed_is_terminal():
    assert set(states.STATES) >= {s for s, _, _ in NEXT} | set(NEXT.values())
    assert not any(s == states.CLOSED for s, _, _ in NEXT)


def test_rejected_session_serves_only_quit():
    refused = {verb for state, verb in ILLEGAL if state == states.REJECTED}
    assert refused == set(COMMANDS) - {"QUIT"}
    assert all(ILLEGAL[(states.REJECTED, v)] == replies.REJECTED_SESSION for v in refused)


@pytest.mark.parametrize("state", sorted(states.STATES))
def test_421_closes_from_anywhere(state):
    for verb in (*COMMANDS, ".", "AUTH-RESPONSE", states.GREETING):
        assert next_state(state, verb, replies.TRY_AGAIN_LATER) == states.CLOSED


@pytest.mark.parametrize("state", sorted(COMMAND_STATES))
def test_missing_next_key_keeps_state(state):
    assert next_state(state, "NOOP", replies.OK) == state
    assert next_state(state, "MAIL", Reply(550, "5.7.1", "No")) == state


def test_pipelining_group_rule_is_rfc_2920_and_3030():
    # RFC 3030 section 4.2: chunks are pipelined; BDAT LAST, like DATA, ends a group
    assert frozenset({"RSET", "MAIL", "RCPT", "BDAT"}) == ANYWHERE_IN_GROUP


# --- ILLEGAL: a server in the state answers the listed reply ----------------------------


@pytest.mark.parametrize(
    ("key", "reply"), sorted(ILLEGAL.items()), ids=[f"{s}-{v}" for s, v in sorted(ILLEGAL)]
)
def test_illegal_command_gets_listed_reply(key, reply):
    state, verb = key
    line = format_command(COMMANDS[verb])
    events, out, conn = serve_both(
        line, setup=setup_bytes(state), greeting=greeting_for(state), **CONFIG
    )
    assert events == [CommandError(verb, reply)]
    assert out == format_reply(reply)
    assert conn.state == state
    assert conn.errors == 1


@pytest.mark.parametrize(
    ("state", "verb"), sorted(ILLEGAL), ids=[f"{s}-{v}" for s, v in sorted(ILLEGAL)]
)
def test_illegal_command_is_refused_by_client(state, verb):
    pair = pair_in(state)
    with pytest.raises(LocalProtocolError):
        pair.client.send(COMMANDS[verb])
    assert pair.client.awaiting == 0


LEGAL = sorted(
    (state, verb)
    for state in (
        states.GREETED,
        states.READY,
        states.MAIL,
        states.RCPT,
        states.CHUNKING,
        states.REJECTED,
    )
    for verb in COMMANDS
    if (state, verb) not in ILLEGAL
)


@pytest.mark.parametrize(("state", "verb"), LEGAL, ids=[f"{s}-{v}" for s, v in LEGAL])
def test_legal_command_reaches_server_as_itself(state, verb):
    pair = pair_in(state)
    command = COMMANDS[verb]
    events, responses = pair.exchange(command)
    assert events == [command]
    [response] = responses
    assert isinstance(response, Response)
    assert response.command == command
    assert response.reply.is_positive


def test_data_after_an_accepted_rcpt_gets_354():
    events, out, _ = serve_both(b"DATA\r\n", setup=setup_bytes(states.RCPT), **CONFIG)
    assert events == [Data()]
    assert out == b"354 End data with <CR><LF>.<CR><LF>\r\n"


# --- NEXT: both sides follow every transition ----------------------------------------------

LOGIN_USER = base64.b64encode(b"user").decode()


def command_for(state: str, verb: str):
    if verb == ".":
        return Message.of(b"Subject: x\r\n\r\nhello\r\n")
    if verb == "AUTH-RESPONSE":
        return AuthResponse(LOGIN_USER)
    return COMMANDS[verb]


def reply_of_class(verb: str, klass: int) -> Reply:
    if klass == 2:
        return {
            states.GREETING: replies.greeting(HOST),
            "STARTTLS": replies.TLS_READY,
            "QUIT": replies.BYE,
            "AUTH-RESPONSE": replies.AUTH_OK,
            "EHLO": replies.ehlo(HOST, ("PIPELINING",)),
            "HELO": replies.helo(HOST),
        }.get(verb, replies.OK)
    if klass == 3:
        return replies.START_DATA if verb == "DATA" else replies.auth_challenge("VXNlcm5hbWU6")
    if klass == 4:
        return Reply(451, "4.3.0", "Error: queue file write error")
    return replies.no_service(HOST) if verb == states.GREETING else Reply(554, "5.7.1", "No")


NEXT_CASES = sorted(NEXT.items())


@pytest.mark.parametrize(
    ("key", "target"), NEXT_CASES, ids=[f"{s}-{v}-{k}xx" for (s, v, k), _ in NEXT_CASES]
)
@pytest.mark.parametrize("bytewise", [False, True], ids=["whole", "bytewise"])
def test_next_transition_on_both_sides(key, target, bytewise):
    state, verb, klass = key
    reply = reply_of_class(verb, klass)
    if state == states.CONNECTED:
        pair = Pair(greeting=reply, bytewise=bytewise, **CONFIG)
        assert pair.greeting == [Response(None, reply)]
        assert pair.states() == (target, target)
        return
    pair = pair_in(state)
    pair.bytewise = bytewise
    command = command_for(state, verb)
    events, responses = pair.exchange(command, policy=lambda event, conn: reply)
    assert events == [command]
    assert responses == [Response(command, reply)]
    assert pair.states() == (target, target)


REFUSALS = [
    (states.GREETED, "EHLO"),
    (states.GREETED, "MAIL"),
    (states.READY, "EHLO"),
    (states.READY, "HELO"),
    (states.READY, "MAIL"),
    (states.READY, "AUTH"),
    (states.READY, "STARTTLS"),
    (states.MAIL, "EHLO"),
    (states.MAIL, "RCPT"),
    (states.RCPT, "EHLO"),
    (states.RCPT, "HELO"),
    (states.RCPT, "RCPT"),
    (states.RCPT, "DATA"),
]


@pytest.mark.parametrize(("state", "verb"), REFUSALS, ids=[f"{s}-{v}" for s, v in REFUSALS])
@pytest.mark.parametrize("code", [450, 502, 550])
def test_refused_command_keeps_state(state, verb, code):
    pair = pair_in(state)
    sender, accepted = pair.server.sender, pair.server.recipients_accepted
    refusal = Reply(code, f"{code // 100}.7.1", "Refused")
    assert pair.replies(COMMANDS[verb], policy=lambda e, c: refusal) == [refusal]
    assert pair.states() == (state, state)
    assert (pair.server.sender, pair.server.recipients_accepted) == (sender, accepted)


@pytest.mark.parametrize("abort", [Rset(), Hello(HELO), Hello(HELO, extended=False)])
@pytest.mark.parametrize("state", [states.MAIL, states.RCPT])
def test_rset_and_hello_abort_the_transaction(abort, state):
    pair = pair_in(state)
    assert pair.server.sender == "sender@example.org"
    pair.replies(abort)
    assert pair.states() == (states.READY, states.READY)
    assert pair.server.sender is None
    assert pair.server.recipients_accepted == pair.server.recipients_tried == 0
    events, _out = serve(pair.server, b"RCPT TO:<r@example.net>\r\nDATA\r\n")
    assert events == [
        CommandError("RCPT", replies.NEED_MAIL),
        CommandError("DATA", replies.NEED_RCPT),
    ]


def test_rset_before_hello_stays_greeted():
    pair = pair_in(states.GREETED)
    assert pair.replies(Rset()) == [replies.OK]
    assert pair.states() == (states.GREETED, states.GREETED)


# --- 554 greeting, 421 ---------------------------------------------------------------------

REJECTED_LINES = [
    b"EHLO client.example",
    b"HELO client.example",
    b"MAIL FROM:<a@example.org>",
    b"RCPT TO:<b@example.net>",
    b"DATA",
    b"RSET",
    b"NOOP",
    b"VRFY postmaster",
    b"HELP",
    b"AUTH PLAIN",
    b"STARTTLS",
    # malformed or unimplemented commands: still "any intervening command" (section 3.1)
    b"EHLO",
    b"MAIL FROM:<broken",
    b"RSET now",
    b"EXPN staff",
    b"XYZZY",
]


@pytest.mark.parametrize("line", REJECTED_LINES, ids=[x.decode() for x in REJECTED_LINES])
def test_after_554_greeting_every_command_but_quit_gets_503(line):
    events, out, conn = serve_both(line + b"\r\n", greeting=replies.no_service(HOST))
    [event] = events
    assert isinstance(event, CommandError)
    assert event.reply == replies.REJECTED_SESSION
    assert out.startswith(b"503 5.5.1 ")
    assert conn.state == states.REJECTED


def test_after_554_greeting_quit_gets_221_and_closes():
    data = b"".join(line + b"\r\n" for line in REJECTED_LINES[:11]) + b"QUIT\r\n"
    events, out, conn = serve_both(data, greeting=replies.no_service(HOST))
    assert sum(isinstance(e, CommandError) for e in events) == 11
    assert events[-1] == Quit()
    assert out.endswith(b"221 2.0.0 Bye\r\n")
    assert out.count(b"503 5.5.1 Error: access denied, send QUIT\r\n") == 11
    assert conn.state == states.CLOSED


def test_after_554_greeting_client_may_only_quit():
    pair = Pair(greeting=replies.no_service(HOST))
    assert pair.greeting == [Response(None, replies.no_service(HOST))]
    assert pair.states() == (states.REJECTED, states.REJECTED)
    for verb, command in COMMANDS.items():
        if verb != "QUIT":
            with pytest.raises(LocalProtocolError):
                pair.client.send(command)
    assert pair.replies(Quit()) == [replies.BYE]
    assert pair.states() == (states.CLOSED, states.CLOSED)


def test_421_greeting_closes_both_sides():
    pair = Pair(greeting=replies.SERVICE_UNAVAILABLE)
    assert pair.states() == (states.CLOSED, states.CLOSED)
    with pytest.raises(LocalProtocolError):
        pair.client.send(Hello(HELO))
    pair.server.receive_data(b"EHLO client.example\r\n")
    assert pair.server.next_event() == ConnectionClosed()


@pytest.mark.parametrize("state", [states.GREETED, states.READY, states.MAIL, states.RCPT])
def test_421_to_any_command_closes_both_sides(state):
    pair = pair_in(state)
    assert pair.replies(Noop(), policy=lambda e, c: replies.TRY_AGAIN_LATER) == [
        replies.TRY_AGAIN_LATER
    ]
    assert pair.states() == (states.CLOSED, states.CLOSED)
    assert pair.client.awaiting == 0


def test_421_inside_a_pipelined_group_drops_the_rest():
    pair = pair_in(states.READY)

    def policy(event, conn):
        return replies.TRY_AGAIN_LATER if isinstance(event, Rcpt) else None

    group = (Mail("a@example.org"), Rcpt("b@example.net"), Rcpt("c@example.net"), Data())
    events, responses = pair.exchange(*group, policy=policy)
    assert events == list(group[:2])  # the server read no further
    assert responses == [
        Response(group[0], replies.MAIL_OK),
        Response(group[1], replies.TRY_AGAIN_LATER),
    ]
    assert pair.states() == (states.CLOSED, states.CLOSED)
    assert pair.client.awaiting == 0


# --- states.py is the only place a transition is decided -----------------------------------
#
# Each test swaps what states.py says (a table entry, or a rule's function) for a state
# no real rule produces, and checks that both connections follow: a connection that
# decided the transition itself would not land in the made-up state.

PROBE = "PROBE"  # a state only a swapped table entry leads to


def counting(monkeypatch, name: str) -> list[tuple[str, str, int]]:
    """Replace ``states.<name>`` by a wrapper that records each call; the calls."""
    calls: list[tuple[str, str, int]] = []
    rule = getattr(states, name)

    def wrapper(state, verb, reply):
        calls.append((state, verb, reply.code))
        return rule(state, verb, reply)

    monkeypatch.setattr(states, name, wrapper)
    return calls


def fast_exchange(pair: Pair, command, reply: Reply) -> None:
    """One round trip on the simulator's fast path: events, no bytes."""
    pair.client.submit(command)
    event = pair.server.receive_command(command)
    assert event == command
    pair.server.answer(reply)
    assert pair.client.receive_reply(reply) == Response(command, reply)


@pytest.mark.interpreted  # patches states.next_state, which compiled connections call directly
@pytest.mark.parametrize(
    ("key", "target"), NEXT_CASES, ids=[f"{s}-{v}-{k}xx" for (s, v, k), _ in NEXT_CASES]
)
@pytest.mark.parametrize("path", ["wire", "fast"])
def test_both_connections_take_every_transition_from_states(monkeypatch, key, target, path):
    state, verb, klass = key
    reply = reply_of_class(verb, klass)
    server_calls = counting(monkeypatch, "next_state")
    client_calls = counting(monkeypatch, "client_next_state")
    if state == states.CONNECTED:
        monkeypatch.setitem(states.NEXT, key, PROBE)
        monkeypatch.setitem(states.CLIENT_NEXT, key, PROBE)
        pair = Pair(greeting=reply, **CONFIG)
    else:
        pair = pair_in(state)
        server_calls.clear()
        client_calls.clear()
        monkeypatch.setitem(states.NEXT, key, PROBE)
        monkeypatch.setitem(states.CLIENT_NEXT, key, PROBE)
        command = command_for(state, verb)
        if path == "wire":
            events, responses = pair.exchange(command, policy=lambda event, conn: reply)
            assert events == [command] and responses == [Response(command, reply)]
        else:
            fast_exchange(pair, command, reply)
    assert pair.states() == (PROBE, PROBE)
    # one consultation per reply on each side, with what was exchanged
    assert server_calls == [(state, verb, reply.code)]
    assert client_calls == [(state, verb, reply.code)]


@pytest.mark.interpreted  # patches states.next_state, which compiled connections call directly
@pytest.mark.parametrize("path", ["wire", "fast"])
def test_the_421_rule_is_states_rule(monkeypatch, path):
    """``next_state`` closes on any 421: both connections close because it says so."""
    pair = pair_in(states.MAIL)
    closing = {states.CLOSED: PROBE}
    for name in ("next_state", "client_next_state"):
        rule = getattr(states, name)
        monkeypatch.setattr(
            states, name, lambda s, v, r, rule=rule: closing.get(rule(s, v, r), rule(s, v, r))
        )
    if path == "wire":
        pair.exchange(Rcpt("r@example.net"), policy=lambda e, c: replies.TRY_AGAIN_LATER)
    else:
        fast_exchange(pair, Rcpt("r@example.net"), replies.TRY_AGAIN_LATER)
    assert pair.states() == (PROBE, PROBE)


@pytest.mark.parametrize("key", sorted(states.TOLERATED), ids=str)
def test_client_takes_tolerated_transitions_from_states(monkeypatch, key):
    """A DATA pipelined after refused recipients, then a 354 (RFC 2920 section 1)."""
    state = key[0]
    pair = pair_in(states.READY)
    client = pair.client
    group = [Mail("s@example.org"), Rcpt("r@example.net"), Data()]
    if state == states.READY:  # MAIL refused too
        refusals = [Reply(550, "5.7.1", "No"), Reply(550, "5.7.1", "No")]
    else:
        refusals = [replies.MAIL_OK, Reply(550, "5.7.1", "No")]
    for command in group:
        client.submit(command)
    for reply in refusals:
        client.receive_reply(reply)
    assert client.state == state
    monkeypatch.setitem(states.CLIENT_NEXT, key, PROBE)
    client.receive_reply(replies.START_DATA)
    assert client.state == PROBE


@pytest.mark.parametrize("path", ["wire", "fast"])
def test_both_connections_refuse_by_states_illegal(monkeypatch, path):
    """A new ``ILLEGAL`` entry: the server answers with it, the client will not send it;
    a removed one: both let the command through."""
    pair = pair_in(states.READY)
    monkeypatch.setitem(states.ILLEGAL, (states.READY, "NOOP"), replies.NEED_HELO)
    with pytest.raises(LocalProtocolError):
        pair.client.send(Noop())
    assert pair.client.awaiting == 0
    events, _out = serve(pair.server, b"NOOP\r\n")
    assert events == [CommandError("NOOP", replies.NEED_HELO)]
    monkeypatch.delitem(states.ILLEGAL, (states.READY, "RCPT"))
    rcpt = Rcpt("r@example.net")
    if path == "wire":
        events, responses = pair.exchange(rcpt)
        assert events == [rcpt] and responses == [Response(rcpt, replies.RCPT_OK)]
    else:
        fast_exchange(pair, rcpt, replies.RCPT_OK)


def test_client_believes_by_states_possible_codes(monkeypatch):
    pair = pair_in(states.READY)
    mail = Mail("s@example.org")
    pair.client.submit(mail)
    monkeypatch.setitem(states.POSSIBLE_CODES, "MAIL", frozenset({451}))
    with pytest.raises(RemoteProtocolError, match="impossible reply"):
        pair.client.receive_reply(replies.MAIL_OK)
    assert pair.client.state == states.ERROR


def test_both_connections_finish_tls_by_states(monkeypatch):
    pair = pair_in(states.READY)
    assert pair.replies(StartTLS()) == [replies.TLS_READY]
    assert pair.states() == (states.TLS, states.TLS)
    monkeypatch.setitem(states.AFTER_TLS, states.TLS, PROBE)
    pair.client.tls_established()
    pair.server.tls_established()
    assert pair.states() == (PROBE, PROBE)


def test_client_next_table_is_next_with_the_tolerated():
    assert states.CLIENT_NEXT == {**states.NEXT, **states.TOLERATED}
    assert not set(states.TOLERATED) & set(states.NEXT)  # additions, not changes


def test_possible_codes_spell_out_possible():
    for verb, allowed in states.POSSIBLE.items():
        assert states.POSSIBLE_CODES[verb] == {
            code for code in range(200, 600) if code in allowed or code // 100 in allowed
        }
