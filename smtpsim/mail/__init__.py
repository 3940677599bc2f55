"""Mail-domain logic shared by the simulator and the real-socket drivers.

Envelopes, the facts about a client, and the server policies that decide what a
server answers at each phase: local recipients, relay control, AUTH credentials,
forced replies. Depends on ``smtpsim.protocol`` and the standard library only.
"""

from .auth import PasswordTable
from .envelope import Client, Envelope, domain_of
from .injection import ReplyInjection, parse_injection
from .policy import PHASES, Context, Policy, PolicySet
from .recipients import LocalRecipients, RelayControl
from .server_session import Deliver, ServerSession

__all__ = [
    "PHASES",
    "Client",
    "Context",
    "Deliver",
    "Envelope",
    "LocalRecipients",
    "PasswordTable",
    "Policy",
    "PolicySet",
    "RelayControl",
    "ReplyInjection",
    "ServerSession",
    "domain_of",
    "parse_injection",
]
