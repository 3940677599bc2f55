"""Envelopes and the facts about an SMTP client that policies decide on."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Client", "Envelope", "domain_of"]


@dataclass(frozen=True, slots=True)
class Envelope:
    """A message's envelope (RFC 5321 section 2.3.1): ``sender`` is ``""`` for ``<>``."""

    sender: str
    recipients: tuple[str, ...]
    size: int = 0


@dataclass(frozen=True, slots=True)
class Client:
    """Who is talking to a server: its IP address and its reverse-DNS name. What it
    says during the session (HELO, AUTH) is in the policies' ``Context``."""

    ip: str
    hostname: str | None = None

    @property
    def name(self) -> str:
        """``host[ip]`` as in Postfix's logs (``unknown[ip]`` without a reverse name)."""
        return f"{self.hostname or 'unknown'}[{self.ip}]"


def domain_of(address: str) -> str:
    """The domain of ``local@domain`` in lower case; ``""`` for ``<>`` or ``postmaster``."""
    return address.rpartition("@")[2].lower() if "@" in address else ""
