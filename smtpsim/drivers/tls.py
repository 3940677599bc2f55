"""TLS for STARTTLS (RFC 3207): SSL contexts, and one guard the handshake needs.

Both drivers upgrade an open asyncio stream with ``StreamWriter.start_tls`` (Python
3.11+). What the protocol core cannot do for them is deal with bytes that arrived in
the clear after STARTTLS and still sit in the ``StreamReader`` when the TLS layer
takes over; executing those as if they had come over TLS is the STARTTLS command /
response injection of CVE-2011-0411 and friends. ``discard_buffered`` finds them.
"""

from __future__ import annotations

import asyncio
import ssl

__all__ = ["client_context", "discard_buffered", "server_context"]


def server_context(certfile: str, keyfile: str | None = None) -> ssl.SSLContext:
    """A server context with the certificate chain in ``certfile`` (PEM).

    Raises ``OSError`` or ``ssl.SSLError`` when the files cannot be loaded.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile, keyfile)
    return context


def client_context(*, verify: bool = True, cafile: str | None = None) -> ssl.SSLContext:
    """A client context: verifying against ``cafile`` (or the system store), or, with
    ``verify=False``, encrypting without checking the certificate, as Postfix's
    opportunistic ``smtp_tls_security_level = may`` does."""
    context = ssl.create_default_context(cafile=cafile)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def discard_buffered(reader: asyncio.StreamReader) -> bool:
    """Drop what ``reader`` holds that was not read yet; ``True`` if anything.

    Call it right before ``start_tls()``, with no ``await`` in between: the TLS
    layer stops reading in the clear synchronously, so nothing can slip in after.
    (After the handshake is too late: the buffer then legitimately holds what the
    peer sent over TLS.) asyncio has no public way to see or drop a StreamReader's
    buffer, hence the private attribute, read defensively: if it ever goes away,
    nothing is dropped.
    """
    buffered = getattr(reader, "_buffer", None)
    if buffered:
        buffered.clear()
        return True
    return False
