"""Checking AUTH credentials (RFC 4954): the only policy that can answer 235."""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from ..protocol import Reply, replies
from .policy import AUTH, Context, Policy

__all__ = ["PasswordTable"]


class PasswordTable(Policy):
    """Accept a username with its password (235 2.7.0), refuse anything else with
    ``535 5.7.8`` (RFC 4954 section 6)."""

    phases = frozenset({AUTH})

    def __init__(self, passwords: Mapping[str, str]) -> None:
        self.passwords = dict(passwords)

    def check(self, phase: str, ctx: Context) -> Reply | None:
        creds = ctx.credentials
        if creds is None:
            return None
        expected = self.passwords.get(creds.username)
        if expected is not None and hmac.compare_digest(expected, creds.password):
            return replies.AUTH_OK
        return replies.AUTH_FAILED
