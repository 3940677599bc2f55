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

__all__ = ["FAILURE", "NOTICE_KINDS", "bounce_size", "notice_size"]

# The kinds of delivery status notification (RFC 3464), as the messages table's
# ``notice`` column names them: Postfix's bounce daemon makes the first
# (bounce_notify_service.c), the second (bounce_warn_service.c, "Delayed Mail (still
# being retried)") and the third (bounce_trace_service.c, "Successful Mail Delivery
# Report", Action: delivered or relayed).
FAILURE, DELAY, SUCCESS = "failure", "delay", "success"
NOTICE_KINDS = (FAILURE, DELAY, SUCCESS)

BOUNCE_OVERHEAD = 1500  # bytes: the text and delivery-status parts, one recipient
BOUNCE_PER_RECIPIENT = 300  # bytes per further failed recipient
BOUNCE_SIZE_LIMIT = 50_000  # bounce_size_limit: above it, only the headers go back
HEADERS_ONLY = 2_000  # bytes: the original's headers


def bounce_size(original: int, failed: int) -> int:
    """The size in bytes of the notice for ``failed`` recipients of a message of
    ``original`` bytes."""
    body = original if original <= BOUNCE_SIZE_LIMIT else HEADERS_ONLY
    return BOUNCE_OVERHEAD + BOUNCE_PER_RECIPIENT * (failed - 1) + body


ENVID_FIELD = len("Original-Envelope-Id: \n")  # RFC 3464 section 2.2.1, plus the value
ORCPT_FIELD = len("Original-Recipient: \n")  # section 2.3.1, plus ``type;address``


def notice_size(
    original: int,
    recipients: int,
    *,
    headers_only: bool,
    envid: str | None = None,
    orcpts: int = 0,
) -> int:
    """The size of a notice about ``recipients`` of a message of ``original`` bytes.

    ``headers_only``: only the original's headers go back, as in every delay and
    success notice (Postfix ``bounce_warn_service.c`` and ``bounce_trace_service.c``
    call ``bounce_original`` with ``DSN_RET_HDRS``) and in a failure notice of a
    message sent with ``RET=HDRS`` (``bounce_notify_service.c`` honours RET). An
    ENVID and each ORCPT add their fields to the delivery-status part; ``orcpts`` is
    the total length of the ORCPT values written.
    """
    size = bounce_size(original, recipients)
    if headers_only and original <= BOUNCE_SIZE_LIMIT:
        size += min(HEADERS_ONLY, original) - original
    if envid is not None:
        size += ENVID_FIELD + len(envid)
    return size + orcpts
