"""Exceptions of the protocol core.

SMTP recovers from a client's mistakes with 5xx replies, so those are events, not
exceptions. What remains: ``LocalProtocolError`` for our own misuse of a connection
(sending a command the state does not allow), and ``RemoteProtocolError`` for peer
input that cannot be recovered from: a reply line that is not a reply, or a reply
that cannot answer the command it answers (``states.POSSIBLE``).

Nothing a peer sends may raise ``LocalProtocolError``: a test feeds arbitrary reply
sequences to the client core to hold that (tests/protocol/test_protocol_client_trust.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .replies import Reply

__all__ = ["LocalProtocolError", "ProtocolError", "RemoteProtocolError"]


class ProtocolError(Exception):
    """Base class of the protocol core's exceptions."""


class LocalProtocolError(ProtocolError):
    """This side tried something the protocol does not allow: a bug in the caller."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something no SMTP session can continue after.

    The message says what, in one line. On a client, ``verb`` is the command whose
    reply was awaited (``"GREETING"`` for the banner, ``None`` if none was), and
    ``reply`` the reply it got when the reply itself was well formed but impossible
    there (a 250 to DATA); ``replies.protocol_error`` turns both into the deferral an
    MTA records.
    """

    def __init__(
        self, message: str, *, verb: str | None = None, reply: Reply | None = None
    ) -> None:
        super().__init__(message)
        self.verb = verb
        self.reply = reply
