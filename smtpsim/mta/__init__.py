"""Mail hosts in simulated time: the listener (server sessions and policies), the
queue manager (Postfix's qmgr), the delivery agent (Postfix's smtp client), bounces
and mailboxes."""

from .delivery import DeliveryAgent
from .host import HostWiring, MailHost, NumberedMailboxes
from .message import Deferral, QueuedMessage, hand_over, make_bounce
from .queue_manager import DeliveryRequest, Destination, QueueManager
from .session import ClientSide, ServerSide, SessionOutcome, SessionRequest, converse

__all__ = [
    "ClientSide",
    "Deferral",
    "DeliveryAgent",
    "DeliveryRequest",
    "Destination",
    "HostWiring",
    "MailHost",
    "NumberedMailboxes",
    "QueueManager",
    "QueuedMessage",
    "ServerSide",
    "SessionOutcome",
    "SessionRequest",
    "converse",
    "hand_over",
    "make_bounce",
]
