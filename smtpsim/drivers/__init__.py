"""Real sockets for the protocol core: an asyncio SMTP server and client.

The very machines the simulator uses (``smtpsim.protocol`` connections and
``smtpsim.mail`` policies) here talk to real peers over TCP, so that interop tests
with ``smtplib`` and aiosmtpd exercise the simulator's logic. These modules only move
bytes, read the clock and manage TLS; every protocol decision stays in the core.

- ``server``: ``SMTPServer``, behind ``smtpsim serve``;
- ``maildir``: ``MaildirWriter``, which stores accepted messages as ``.eml`` files;
- ``client``: ``send_message``, behind ``smtpsim send``.
"""

from .client import ConnectError, SendError, send_message
from .maildir import MaildirWriter
from .server import QueueIds, SMTPServer, Store

__all__ = [
    "ConnectError",
    "MaildirWriter",
    "QueueIds",
    "SMTPServer",
    "SendError",
    "Store",
    "send_message",
]
