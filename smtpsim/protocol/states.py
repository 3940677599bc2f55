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

States are plain strings (module constants): cheap to compare, readable in logs.
"""

from __future__ import annotations

from . import replies as R
from .replies import Reply

__all__ = [
    "ANYWHERE_IN_GROUP",
    "AUTH",
    "CLOSED",
    "CONNECTED",
    "DATA",
    "GREETED",
    "ILLEGAL",
    "MAIL",
    "NEXT",
    "RCPT",
    "READY",
    "REJECTED",
    "STATES",
    "TLS",
]

CONNECTED = "CONNECTED"  # TCP is up; the server has not greeted yet
GREETED = "GREETED"  # 220 greeting sent; no HELO/EHLO yet
READY = "READY"  # HELO/EHLO accepted, no mail transaction open
MAIL = "MAIL"  # MAIL accepted, no recipient accepted yet
RCPT = "RCPT"  # at least one RCPT accepted
DATA = "DATA"  # 354 sent: message content until <CRLF>.<CRLF>
AUTH = "AUTH"  # 334 sent: a SASL response line is expected (RFC 4954)
TLS = "TLS"  # 220 to STARTTLS sent: TLS handshake, then back to GREETED (RFC 3207)
REJECTED = "REJECTED"  # 554 greeting: only QUIT is served (RFC 5321 section 3.1)
CLOSED = "CLOSED"  # after 221 or 421, or the peer went away

STATES = (CONNECTED, GREETED, READY, MAIL, RCPT, DATA, AUTH, TLS, REJECTED, CLOSED)

GREETING = "GREETING"  # the pseudo-verb of the server's first reply

# States in which the server reads command lines.
COMMAND_STATES = frozenset({GREETED, READY, MAIL, RCPT, REJECTED})

ANYWHERE_IN_GROUP = frozenset({"RSET", "MAIL", "RCPT"})

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
}
# After a 554 greeting every command but QUIT gets 503 (RFC 5321 section 3.1).
for _verb in ("EHLO", "HELO", "MAIL", "RCPT", "DATA", "RSET", "NOOP", "VRFY", "HELP",
              "AUTH", "STARTTLS"):
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
for _state in (GREETED, READY, MAIL, RCPT):
    # EHLO/HELO and RSET abort any transaction (RFC 5321 sections 4.1.1.1, 4.1.1.5).
    NEXT[(_state, "EHLO", 2)] = READY
    NEXT[(_state, "HELO", 2)] = READY
    NEXT[(_state, "RSET", 2)] = READY if _state != GREETED else GREETED
    NEXT[(_state, "QUIT", 2)] = CLOSED
del _state, _verb


def next_state(state: str, verb: str, reply: Reply) -> str:
    """The state after ``reply`` answered ``verb`` in ``state``.

    Any 421 closes the connection (RFC 5321 section 3.8); otherwise ``NEXT`` decides.
    """
    if reply.code == 421:
        return CLOSED
    return NEXT.get((state, verb, reply.code // 100), state)
