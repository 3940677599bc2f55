"""Names, domains and addresses: the normalizers shared by the schema and the reference checks."""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Iterable

KEY_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]*$"
_KEY = re.compile(KEY_PATTERN)
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
DOMAIN_PATTERN = rf"^{_LABEL}(?:\.{_LABEL})*\.?$"
_DOMAIN = re.compile(DOMAIN_PATTERN)
AUTO_IP_START = ipaddress.IPv4Address("198.18.0.1")
AUTO_NAME_SUFFIX = ".sim.example"


def got(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_key(value: str) -> str:
    """A host key, router or flow name: a letter, then letters, digits, '-' or '_'."""
    if not _KEY.match(value):
        raise ValueError(
            f"{value!r} is not a valid name: use a letter followed by letters, digits, "
            "'-' or '_' (no dots)"
        )
    return value


def normalize_domain(value: object) -> str:
    """Lower-case, without a trailing dot; ValueError if it is not a domain name."""
    if not isinstance(value, str):
        raise ValueError(f"expected a domain name such as 'example.com', got {got(value)}")
    text = value.strip().lower()
    if len(text) > 254 or not _DOMAIN.match(text):
        raise ValueError(f"expected a domain name such as 'example.com', got {got(value)}")
    return text.rstrip(".")


def normalize_ipv4(value: object) -> str:
    if isinstance(value, str):
        try:
            return str(ipaddress.IPv4Address(value.strip()))
        except ValueError:
            pass
    raise ValueError(f"expected an IPv4 address such as '192.0.2.10', got {got(value)}")


def host_list(value: object) -> object:
    """``smtp_fallback_relay``: None or "" -> (); "a, b" or "a b" -> ("a", "b"); lists kept."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(part for part in re.split(r"[\s,]+", value) if part)
    return value


def optional_host(value: object) -> object:
    """``relayhost``: "" -> None, otherwise unchanged."""
    if isinstance(value, str) and not value.strip():
        return None
    if isinstance(value, str):
        return value.strip()
    return value


def suggest(word: str, choices: Iterable[str]) -> str:
    """ "; did you mean 'x'?" for the closest choice, or ""."""
    close = difflib.get_close_matches(word, [c for c in choices if isinstance(c, str)], n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def auto_ips(used: Iterable[str]) -> Iterable[str]:
    """198.18.0.1, 198.18.0.2, ... skipping addresses in ``used``."""
    taken = set(used)
    ip = AUTO_IP_START
    while True:
        text = str(ip)
        if text not in taken:
            yield text
        ip += 1
