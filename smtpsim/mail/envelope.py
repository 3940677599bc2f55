"""Envelopes and the facts about an SMTP client that policies decide on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["Client", "Envelope", "domain_of"]


class Envelope:
    """A message's envelope (RFC 5321 section 2.3.1): ``sender`` is ``""`` for ``<>``.

    A value (read-only attributes, equality and hash by value) written out rather
    than a frozen dataclass: a server makes one per message it accepts, and mypyc
    compiles this ``__init__`` into direct stores, where a frozen dataclass's runs
    interpreted and sets each field through ``object.__setattr__``."""

    __slots__ = ("recipients", "sender", "size")

    def __init__(self, sender: str, recipients: tuple[str, ...], size: int = 0) -> None:
        self.sender: Final = sender
        self.recipients: Final = recipients
        self.size: Final = size

    def _key(self) -> tuple[str, tuple[str, ...], int]:
        return (self.sender, self.recipients, self.size)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Envelope):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"Envelope(sender={self.sender!r}, recipients={self.recipients!r}, size={self.size!r})"
        )


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
