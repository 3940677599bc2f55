"""Delivery status notifications: the size of the non-delivery notice a host returns
to a sender.

A Postfix bounce has a text part and a delivery-status part (RFC 3464): about 1.5 kB
with one recipient and a few hundred bytes per further one, then the original
message, or only its headers when the original is over ``bounce_size_limit``
(postconf(5), default 50000; Postfix ``src/bounce/bounce_notify_util.c``). The
simulator makes its bounces this size (``smtpsim.mta.message``), and the maillog
tells two notices of one sender at one instant apart by it
(``smtpsim.metrics.maillog``). It lives in ``sim``, beside the trace interface,
because both sides of the trace need it and ``metrics`` imports only ``sim``.
"""

from __future__ import annotations

__all__ = ["bounce_size"]

BOUNCE_OVERHEAD = 1500  # bytes: the text and delivery-status parts, one recipient
BOUNCE_PER_RECIPIENT = 300  # bytes per further failed recipient
BOUNCE_SIZE_LIMIT = 50_000  # bounce_size_limit: above it, only the headers go back
HEADERS_ONLY = 2_000  # bytes: the original's headers


def bounce_size(original: int, failed: int) -> int:
    """The size in bytes of the notice for ``failed`` recipients of a message of
    ``original`` bytes."""
    body = original if original <= BOUNCE_SIZE_LIMIT else HEADERS_ONLY
    return BOUNCE_OVERHEAD + BOUNCE_PER_RECIPIENT * (failed - 1) + body
