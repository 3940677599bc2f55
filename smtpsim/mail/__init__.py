"""Mail-domain logic shared by the simulator and the real-socket drivers.

Envelopes, the facts about a client, and the server policies that decide what a
server answers at each phase: local recipients, relay control, AUTH credentials,
forced replies, DNS blocklists, greylisting, per-client rate limits, full
mailboxes, a spam filter, SPF and DMARC. Also the senders' retry policies (Postfix's
backoff, Exim's rules, measured provider behaviour). Depends on
``smtpsim.protocol`` and the standard library only.
"""

from .auth import PasswordTable
from .dnsbl import DnsblAnswer, DnsblCheck, DnsblLookup, StaticDnsbl, query_name
from .envelope import Client, Envelope, domain_of
from .greylist import Greylist
from .injection import ReplyInjection, parse_injection
from .policy import PHASES, Context, Policy, PolicySet
from .quota import MailboxQuota
from .ratelimit import RateLimit
from .recipients import LocalRecipients, RelayControl
from .retry import PRESETS, EximRetry, PostfixRetry, RetryPolicy, ScheduleRetry
from .server_session import Deliver, ServerLink, ServerSession
from .spamfilter import SenderClass, SpamFilter
from .spf import SpfDmarc, SpfResult, dmarc_policy, evaluate_spf

__all__ = [
    "PHASES",
    "PRESETS",
    "Client",
    "Context",
    "Deliver",
    "DnsblAnswer",
    "DnsblCheck",
    "DnsblLookup",
    "Envelope",
    "EximRetry",
    "Greylist",
    "LocalRecipients",
    "MailboxQuota",
    "PasswordTable",
    "Policy",
    "PolicySet",
    "PostfixRetry",
    "RateLimit",
    "RelayControl",
    "ReplyInjection",
    "RetryPolicy",
    "ScheduleRetry",
    "SenderClass",
    "ServerLink",
    "ServerSession",
    "SpamFilter",
    "SpfDmarc",
    "SpfResult",
    "StaticDnsbl",
    "dmarc_policy",
    "domain_of",
    "evaluate_spf",
    "parse_injection",
    "query_name",
]
