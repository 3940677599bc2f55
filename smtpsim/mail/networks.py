"""Lists of client networks: Postfix's ``mynetworks``, postgrey's whitelisted
clients, anvil's exceptions. One place parses them and asks whether an address is
in one."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

__all__ = ["Network", "in_networks", "parse_networks"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or CIDR networks (``192.0.2.0/24``); host bits may be set."""
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def in_networks(ip: str, networks: tuple[Network, ...]) -> bool:
    """Whether ``ip`` is in one of ``networks`` (``False`` for a malformed address)."""
    if not networks:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in network for network in networks)
