"""Exceptions of the protocol core.

SMTP recovers from a client's mistakes with 5xx replies, so those are events, not
exceptions. What remains: ``LocalProtocolError`` for our own misuse of a connection
(sending a command the state does not allow), and ``RemoteProtocolError`` for peer
input that cannot be recovered from (a reply line that is not a reply).
"""

from __future__ import annotations

__all__ = ["LocalProtocolError", "ProtocolError", "RemoteProtocolError"]


class ProtocolError(Exception):
    """Base class of the protocol core's exceptions."""


class LocalProtocolError(ProtocolError):
    """This side tried something the protocol does not allow: a bug in the caller."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something no SMTP session can continue after."""
