"""smtpsim's SMTP protocol core: sans-IO, standard library only.

Client and server connection state machines in the style of h11: bytes in, events
out; events in, bytes out; no sockets, no clocks (every time-sensitive call takes
``now``). The same objects run a real socket (``smtpsim.drivers``) and a simulated
session (the simulator exchanges events directly, skipping the bytes).

- ``events``: commands and the other events, frozen values;
- ``replies``: ``Reply`` and the catalogue of reply texts;
- ``states``: the session states and the transition tables;
- ``syntax``: command and reply grammar, dot-stuffing;
- ``server`` / ``client``: the two connection state machines;
- ``client_session``: which commands deliver one message, and the outcome per recipient;
- ``timeouts``: RFC 5321 section 4.5.3.2 timeouts with Postfix's names.
"""

from . import replies, states
from .client import ClientConnection
from .client_session import ClientSession, SessionResult
from .dsn import MailDsn, RcptDsn
from .errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from .events import (
    NEED_DATA,
    Auth,
    AuthResponse,
    Bdat,
    Command,
    CommandError,
    ConnectionClosed,
    Data,
    Event,
    Hello,
    Help,
    IdleTimedOut,
    Mail,
    Message,
    Noop,
    Quit,
    Rcpt,
    ReplyTimedOut,
    Response,
    Rset,
    StartTLS,
    Vrfy,
)
from .replies import Reply
from .server import Credentials, ServerConfig, ServerConnection
from .timeouts import ClientTimeouts

__all__ = [
    "NEED_DATA",
    "Auth",
    "AuthResponse",
    "Bdat",
    "ClientConnection",
    "ClientSession",
    "ClientTimeouts",
    "Command",
    "CommandError",
    "ConnectionClosed",
    "Credentials",
    "Data",
    "Event",
    "Hello",
    "Help",
    "IdleTimedOut",
    "LocalProtocolError",
    "Mail",
    "MailDsn",
    "Message",
    "Noop",
    "ProtocolError",
    "Quit",
    "Rcpt",
    "RcptDsn",
    "RemoteProtocolError",
    "Reply",
    "ReplyTimedOut",
    "Response",
    "Rset",
    "ServerConfig",
    "ServerConnection",
    "SessionResult",
    "StartTLS",
    "Vrfy",
    "replies",
    "states",
]
