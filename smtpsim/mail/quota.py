"""Full mailboxes: recipients refused at RCPT because their mailbox is over quota.

Which mailboxes are full is decided without random numbers, so that every run and
every compared configuration sees the same ones: either an explicit set of
addresses, or a share of a domain's mailboxes picked by a stable hash of the
address (BLAKE2b, the same on every machine and Python version, unlike ``hash()``).
An address is full when its hash, read as a fraction in [0, 1), is below the
domain's share, so raising a share from 0.1 to 0.2 keeps the first 10 % full and
adds others: an incident that fills more mailboxes behaves as expected.

The reply (RFC 3463: X.2.2 "mailbox full", which it says to use as a persistent
*transient* failure, so 4.2.2 by default)::

    452 4.2.2 <u@d>: Recipient address rejected: Mailbox full
    552 5.2.2 <u@d>: Recipient address rejected: Mailbox full   (temporary=False)

Postfix itself has no such RCPT check (its delivery agents find a full mailbox
after accepting the mail and then bounce or defer); refusing at RCPT is what
servers with integrated quota checks (for example a Dovecot quota policy service)
do, and it keeps the sender responsible for the message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

from ..protocol import Reply, replies
from .envelope import domain_of
from .policy import RCPT, Context, Policy

__all__ = ["MailboxQuota", "address_fraction"]

_SCALE = float(1 << 64)


def address_fraction(address: str, salt: str = "") -> float:
    """A stable number in [0, 1) for a (lower-cased) address: where it falls in a
    domain's share of full mailboxes."""
    digest = hashlib.blake2b((salt + address.lower()).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


class MailboxQuota(Policy):
    """Refuse recipients whose mailbox is full.

    ``shares`` maps a domain to the fraction of its mailboxes that are full;
    ``full`` lists addresses that are full whatever their domain's share. Both are
    attributes (a dict and a set, lower-case) that incidents may change at run
    time, as is ``temporary`` (452 4.2.2, or 552 5.2.2). ``salt`` picks another,
    equally stable, set of mailboxes for the same share.
    """

    phases = frozenset({RCPT})

    def __init__(
        self,
        shares: Mapping[str, float] | None = None,
        full: Iterable[str] = (),
        *,
        temporary: bool = True,
        salt: str = "",
    ) -> None:
        self.shares: dict[str, float] = {}
        for domain, share in (shares or {}).items():
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"share of {domain!r} must be between 0 and 1, got {share!r}")
            self.shares[domain.lower()] = share
        self.full = {a.lower() for a in full}
        self.temporary = temporary
        self.salt = salt

    def is_full(self, address: str) -> bool:
        address = address.lower()
        if address in self.full:
            return True
        share = self.shares.get(domain_of(address), 0.0)
        return share > 0.0 and address_fraction(address, self.salt) < share

    def check(self, phase: str, ctx: Context) -> Reply | None:
        rcpt = ctx.recipient or ""
        if rcpt and self.is_full(rcpt):
            return replies.mailbox_full(rcpt, temporary=self.temporary)
        return None
