"""Which recipients a server accepts: its local domains and users, and relaying.

Postfix rejects an unknown user of a local domain with ``550 5.1.1``
(postconf(5): ``unknown_local_recipient_reject_code = 550``) and a recipient in a
domain it is not responsible for with "Relay access denied" unless the client may relay
(``permit_mynetworks``, ``permit_sasl_authenticated``, then
``defer_unauth_destination``: 454 4.7.1, or ``reject_unauth_destination``: 554 5.7.1).
"""

from __future__ import annotations

from collections.abc import Collection, Container, Iterable

from ..protocol import Reply, replies
from .envelope import domain_of
from .networks import in_networks, parse_networks
from .policy import RCPT, Context, Policy

__all__ = ["LocalRecipients", "RelayControl"]


class LocalRecipients(Policy):
    """Refuse unknown users of local domains. ``users=None`` accepts every user.

    ``users`` is a collection of addresses, or any container that answers ``in``
    for a lower-cased address (the simulator's numbered mailboxes).
    """

    phases = frozenset({RCPT})

    def __init__(self, domains: Iterable[str], users: Container[str] | None = None) -> None:
        self.domains = frozenset(d.lower() for d in domains)
        if isinstance(users, Collection) and not isinstance(users, str):
            users = frozenset(u.lower() for u in users)
        self.users = users

    def check(self, phase: str, ctx: Context) -> Reply | None:
        rcpt = ctx.recipient or ""
        if self.users is None or domain_of(rcpt) not in self.domains:
            return None
        return None if rcpt.lower() in self.users else replies.user_unknown(rcpt)


class RelayControl(Policy):
    """Refuse to relay to domains that are not local, unless the client
    authenticated or its address is in ``mynetworks``.

    ``temporary=True`` answers 454 4.7.1 (Postfix's default
    ``defer_unauth_destination``), ``False`` answers 554 5.7.1.
    """

    phases = frozenset({RCPT})

    def __init__(
        self,
        local_domains: Iterable[str],
        *,
        mynetworks: Iterable[str] = ("127.0.0.0/8",),
        temporary: bool = True,
    ) -> None:
        self.local_domains = frozenset(d.lower() for d in local_domains)
        self.mynetworks = parse_networks(mynetworks)
        self.temporary = temporary

    def check(self, phase: str, ctx: Context) -> Reply | None:
        rcpt = ctx.recipient or ""
        domain = domain_of(rcpt)
        if not domain or domain in self.local_domains or ctx.authenticated:
            return None
        if in_networks(ctx.client.ip, self.mynetworks):
            return None
        return replies.relay_denied(rcpt, temporary=self.temporary)
