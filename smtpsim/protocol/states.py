"""The SMTP session state machine, as tables (RFC 5321 sections 3.1-3.3, 4.1.1, 4.1.4).

One set of tables serves both sides: a server applies a transition when it sends a
reply, a client when it receives one, so both sides always agree on the state. An
auditor can read the whole protocol here:

- ``ILLEGAL``: (state, command verb) -> the reply to an out-of-sequence command. A
  missing key means the command is legal in that state.
- ``NEXT``: (state, command verb, reply class) -> the state after the reply. A
  missing key means the state does not change (a refused EHLO keeps the state,
  RFC 5321 section 4.1.4; a refused MAIL or RCPT too).
- ``ANYWHERE_IN_GROUP``: the commands RFC 2920 section 3.1 lets a client put before
  others in one pipelined group; every other command must end its group.
- ``POSSIBLE``: command verb -> the replies a server may give to it (RFC 5321 section
  4.3.2), for a client to check what it is told. Anything else is the peer breaking the
  protocol: the client stops believing it (``ERROR``).
- ``TOLERATED``: transitions a client follows although a conforming server never makes
  them (RFC 2920 section 1); ``CLIENT_NEXT`` is ``NEXT`` with them.
- ``AFTER_TLS``: the state a successful TLS handshake leads to (RFC 3207 section 4.2).

Both connections decide every transition on a reply here: the server with
``next_state`` when it sends a reply, the client with ``client_next_state`` when it
receives one (a test swaps entries of these tables and watches both connections
follow); the client asks ``may_send`` before it sends a command. Two transitions need
no table, being the same from every state: the connection ending (end of input, a
timeout) leads to ``CLOSED``, and a client whose server broke the protocol enters
``ERROR``; nothing leads out of either.

States are plain strings (module constants): cheap to compare, readable in logs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from . import replies as R
from .replies import Reply

if TYPE_CHECKING:
    from .events import Command

__all__ = [
    "AFTER_TLS",
    "ANYWHERE_IN_GROUP",
    "AUTH",
    "CHUNKING",
    "CLIENT_NEXT",
    "CLOSED",
    "COMMAND_STATES",
    "CONNECTED",
    "DATA",
    "ERROR",
    "GREETED",
    "GREETING",
    "ILLEGAL",
    "MAIL",
    "NEXT",
    "POSSIBLE",
    "POSSIBLE_CODES",
    "RCPT",
    "READY",
    "REJECTED",
    "STATES",
    "TLS",
    "TOLERATED",
    "TRANSACTION_STATES",
    "client_next_state",
    "may_send",
    "next_state",
    "possible",
]

CONNECTED = "CONNECTED"  # TCP is up; the server has not greeted yet
GREETED = "GREETED"  # 220 greeting sent; no HELO/EHLO yet
READY = "READY"  # HELO/EHLO accepted, no mail transaction open
MAIL = "MAIL"  # MAIL accepted, no recipient accepted yet
RCPT = "RCPT"  # at least one RCPT accepted
DATA = "DATA"  # 354 sent: message content until <CRLF>.<CRLF>
# A BDAT chunk that was not the last was answered (RFC 3030): more chunks follow; after
# a refused chunk the server discards the rest until BDAT LAST or RSET (Postfix).
CHUNKING = "CHUNKING"
AUTH = "AUTH"  # 334 sent: a SASL response line is expected (RFC 4954)
TLS = "TLS"  # 220 to STARTTLS sent: TLS handshake, then back to GREETED (RFC 3207)
REJECTED = "REJECTED"  # 554 greeting: only QUIT is served (RFC 5321 section 3.1)
CLOSED = "CLOSED"  # after 221 or 421, or the peer went away
ERROR = "ERROR"  # client only: the server broke the protocol; nothing more is sent or read

STATES = (
    CONNECTED,
    GREETED,
    READY,
    MAIL,
    RCPT,
    DATA,
    CHUNKING,
    AUTH,
    TLS,
    REJECTED,
    CLOSED,
    ERROR,
)

GREETING = "GREETING"  # the pseudo-verb of the server's first reply

# States in which the server reads command lines.
COMMAND_STATES = frozenset({GREETED, READY, MAIL, RCPT, CHUNKING, REJECTED})
# States with a mail transaction open; leaving them ends it (RFC 5321 section 4.1.4).
TRANSACTION_STATES = frozenset({MAIL, RCPT, DATA, CHUNKING})

# A chunk that is not the last may come before others in a group (RFC 3030 section 4.2:
# BDAT commands may be pipelined); BDAT LAST, like DATA, ends its group.
ANYWHERE_IN_GROUP = frozenset({"RSET", "MAIL", "RCPT", "BDAT"})

# --- Out-of-sequence commands (server replies; Postfix texts) ------------------------

ILLEGAL: dict[tuple[str, str], Reply] = {
    (GREETED, "RCPT"): R.NEED_MAIL,
    (GREETED, "DATA"): R.NEED_RCPT,
    (GREETED, "AUTH"): R.NEED_HELO,
    (GREETED, "STARTTLS"): R.NEED_HELO,
    (READY, "RCPT"): R.NEED_MAIL,
    (READY, "DATA"): R.NEED_RCPT,
    (MAIL, "MAIL"): R.NESTED_MAIL,
    (MAIL, "DATA"): R.NEED_RCPT,  # 554 "no valid recipients" if every RCPT was refused
    (MAIL, "AUTH"): R.IN_TRANSACTION,
    (MAIL, "STARTTLS"): R.IN_TRANSACTION,
    (RCPT, "MAIL"): R.NESTED_MAIL,
    (RCPT, "AUTH"): R.IN_TRANSACTION,
    (RCPT, "STARTTLS"): R.IN_TRANSACTION,
    # CHUNKING (RFC 3030; Postfix smtpd.c, bdat_cmd, mail_cmd, rcpt_cmd, data_cmd).
    (CHUNKING, "MAIL"): R.MAIL_AFTER_BDAT,
    (CHUNKING, "RCPT"): R.RCPT_AFTER_BDAT,
    (CHUNKING, "DATA"): R.DATA_AFTER_BDAT,
    (CHUNKING, "AUTH"): R.IN_TRANSACTION,
    (CHUNKING, "STARTTLS"): R.IN_TRANSACTION,
}
for _verb in ("BDAT", "BDAT-LAST"):
    ILLEGAL[(GREETED, _verb)] = R.NEED_RCPT
    ILLEGAL[(READY, _verb)] = R.NEED_RCPT
    ILLEGAL[(MAIL, _verb)] = R.NEED_RCPT  # 554 "no valid recipients" after refused RCPTs
# After a 554 greeting every command but QUIT gets 503 (RFC 5321 section 3.1).
for _verb in (
    "EHLO",
    "HELO",
    "MAIL",
    "RCPT",
    "DATA",
    "RSET",
    "NOOP",
    "VRFY",
    "HELP",
    "AUTH",
    "STARTTLS",
    "BDAT",
    "BDAT-LAST",
):
    ILLEGAL[(REJECTED, _verb)] = R.REJECTED_SESSION

# --- Transitions on replies -------------------------------------------------------------

NEXT: dict[tuple[str, str, int], str] = {
    (CONNECTED, GREETING, 2): GREETED,
    (CONNECTED, GREETING, 4): CLOSED,  # 421: service not available
    (CONNECTED, GREETING, 5): REJECTED,
    (GREETED, "MAIL", 2): MAIL,
    (READY, "MAIL", 2): MAIL,
    (MAIL, "RCPT", 2): RCPT,
    (RCPT, "RCPT", 2): RCPT,
    (RCPT, "DATA", 3): DATA,
    (DATA, ".", 2): READY,
    (DATA, ".", 4): READY,
    (DATA, ".", 5): READY,
    (READY, "AUTH", 3): AUTH,
    (AUTH, "AUTH-RESPONSE", 2): READY,
    (AUTH, "AUTH-RESPONSE", 4): READY,
    (AUTH, "AUTH-RESPONSE", 5): READY,
    (READY, "STARTTLS", 2): TLS,
    (REJECTED, "QUIT", 2): CLOSED,
}
for _state in (GREETED, READY, MAIL, RCPT, CHUNKING):
    # EHLO/HELO and RSET abort any transaction (RFC 5321 sections 4.1.1.1, 4.1.1.5).
    NEXT[(_state, "EHLO", 2)] = READY
    NEXT[(_state, "HELO", 2)] = READY
    NEXT[(_state, "RSET", 2)] = READY if _state != GREETED else GREETED
    NEXT[(_state, "QUIT", 2)] = CLOSED
# BDAT (RFC 3030): whatever the reply, a chunk that is not the last leads to CHUNKING
# (refused, the server then discards the chunks that follow until BDAT LAST or RSET:
# Postfix smtpd.c, skip_bdat, SMTPD_BDAT_STAT_ERROR), and BDAT LAST ends the
# transaction, as the reply to the end of data does (RFC 3030 section 2: its reply is
# the message's). A BDAT out of sequence (``ILLEGAL``: before any recipient was
# accepted) keeps the state, as every refused command does; Postfix enters its
# discarding there too, so its later chunks get 551 where smtpsim repeats the 503/554.
for _state in (RCPT, CHUNKING):
    for _class in (2, 4, 5):
        NEXT[(_state, "BDAT", _class)] = CHUNKING
        NEXT[(_state, "BDAT-LAST", _class)] = READY
del _state, _verb, _class

# A client follows these although a conforming server never gives the reply that makes
# them: "Other servers will accept a DATA command even when all previous RCPT TO
# commands have failed" (RFC 2920 section 1), and a pipelining client must then end the
# (empty) data (RFC 2920 section 3.1). No recipient was accepted, so nothing is delivered.
TOLERATED: dict[tuple[str, str, int], str] = {
    (READY, "DATA", 3): DATA,
    (MAIL, "DATA", 3): DATA,
}
CLIENT_NEXT: dict[tuple[str, str, int], str] = {**NEXT, **TOLERATED}

# A TLS handshake after a 220 to STARTTLS starts the session over: no HELO, no
# extensions, no authentication (RFC 3207 section 4.2). From any other state there is no
# handshake to finish.
AFTER_TLS: dict[str, str] = {TLS: GREETED}

# --- Replies a client can believe (RFC 5321 section 4.3.2) ------------------------------
#
# Section 4.3.2 lists, per command, the codes of success (S), intermediate (I) and error
# (E) replies, and lets any command get 500, 501 and 421. A client "SHOULD interpret only
# the first digit" and "MUST" cope with codes it does not know by their first digit
# (section 4.3.2; RFC 5321 section 4.1.4), and real servers use codes the list does not name
# (Postfix's 554 5.7.1 to RCPT, 421 greetings from postscreen), so the table is by class:
# 2, 4 and 5 stand for every code of that class. Intermediate replies are never taken by
# class: 354 exists only in reply to DATA and 334 only in SASL (RFC 4954 section 4), so
# each is listed as the one code it can be. A 2xx to DATA (no 354: the content was never
# sent), a 354 greeting or a 354 to MAIL cannot happen in SMTP: a client told so must not
# deliver anything on its word (Postfix's client calls such replies "Protocol error",
# smtp_trouble.c).
_FINAL = frozenset({2, 4, 5})
POSSIBLE: dict[str, frozenset[int]] = {
    GREETING: _FINAL,  # S: 220, E: 554 (and 421, section 3.8; 521, RFC 7504)
    "EHLO": _FINAL,  # S: 250, E: 504, 550, 502
    "HELO": _FINAL,
    "MAIL": _FINAL,  # S: 250, E: 552 451 452 550 553 503 455 555
    "RCPT": _FINAL,  # S: 250 251, E: 550 551 552 553 450 451 452 503 455 555
    "DATA": frozenset({354, 4, 5}),  # I: 354, E: 503 554 (and 451, 421)
    ".": _FINAL,  # after the content: S: 250, E: 552 554 451 452 450 550
    "RSET": _FINAL,  # S: 250
    "QUIT": _FINAL,  # S: 221
    "NOOP": _FINAL,  # S: 250
    "VRFY": _FINAL,  # S: 250 251 252, E: 550 551 553 502 504
    "HELP": _FINAL,  # S: 211 214, E: 502 504
    "STARTTLS": _FINAL,  # S: 220, E: 501 454 (RFC 3207 section 4)
    "AUTH": frozenset({334, 2, 4, 5}),  # I: 334, S: 235, E: 432 454 5xx (RFC 4954)
    "AUTH-RESPONSE": frozenset({334, 2, 4, 5}),
    "BDAT": _FINAL,  # S: 250, E: 5xx 4xx (RFC 3030 section 2)
    "BDAT-LAST": _FINAL,
}


# ``POSSIBLE`` spelt out as the set of every code each verb may get, so that the check
# of each reply a client receives is one lookup.
_ANY_CODE = range(200, 600)  # what ``Reply`` allows


def _codes(allowed: frozenset[int]) -> frozenset[int]:
    return frozenset(c for c in _ANY_CODE if c in allowed or c // 100 in allowed)


POSSIBLE_CODES: dict[str, frozenset[int]] = {verb: _codes(a) for verb, a in POSSIBLE.items()}
_ANY_FINAL = _codes(_FINAL)


def possible(verb: str, code: int) -> bool:
    """Whether a server may answer ``verb`` (``GREETING`` for the banner) with ``code``.

    A verb the table does not know is taken as any other command: 2, 4 or 5.
    """
    return code in POSSIBLE_CODES.get(verb, _ANY_FINAL)


def next_state(state: str, verb: str, reply: Reply) -> str:
    """The state after ``reply`` answered ``verb`` in ``state``: the server's rule,
    which the server applies when it sends ``reply``.

    Any 421 closes the connection (RFC 5321 section 3.8); otherwise ``NEXT`` decides.
    """
    code = reply.code
    if code == 421:
        return CLOSED
    return NEXT.get((state, verb, code // 100), state)


def client_next_state(state: str, verb: str, reply: Reply) -> str | None:
    """The state after ``reply`` answered ``verb`` in ``state``, as a client follows
    it when it receives ``reply``: ``None`` if no server may give that reply there
    (``possible``: the server broke the protocol), else ``next_state``'s rule over
    ``CLIENT_NEXT``, which adds ``TOLERATED``. One call per reply: the client's hot path.
    """
    code = reply.code
    if code not in POSSIBLE_CODES.get(verb, _ANY_FINAL):
        return None
    if code == 421:
        return CLOSED
    return CLIENT_NEXT.get((state, verb, code // 100), state)


def may_send(state: str, verb: str, pipelined: Iterable[Command | None] = ()) -> bool:
    """Whether a client may send ``verb`` now, in ``state`` with the ``pipelined``
    commands still awaiting their replies.

    A client cannot know those replies yet, so it assumes that each is accepted (RFC
    2920 section 3.1 lets only commands whose refusal changes nothing,
    ``ANYWHERE_IN_GROUP``, come before others in a group). In the state so reached,
    the server must read a command and its sequence rules (``ILLEGAL``) must not refuse
    ``verb``; the content (``"."``) goes only after a 354, a SASL response only after
    a 334.
    """
    for command in pipelined:  # None stands for the greeting, as in a client's queue
        state = NEXT.get((state, GREETING if command is None else command.verb, 2), state)
    if verb == ".":
        return state == DATA
    if verb == "AUTH-RESPONSE":
        return state == AUTH
    return state in COMMAND_STATES and (state, verb) not in ILLEGAL
