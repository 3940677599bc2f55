"""TLS between the hosts of a run: the facts as they stand (certificates, TLSA records,
published MTA-STS policies, attackers on links), and each sending host's TLS client,
which turns them into a plan per session (``smtpsim.mail.tls.plan``).

The plan becomes part of the session's shape: a ``ClientSide`` made for the verdict
(its ``starttls`` mode and ``tls_failure`` reply) and, on a link where an attacker
strips STARTTLS, a ``ServerSide`` whose EHLO reply does not list it. Both are made
once per verdict and kept, so the session memo (keyed by the sides' identities)
replays a verdict's sessions exactly as the machines run them.

MTA-STS (RFC 8461 section 5): a sender that honours it looks for the destination's
policy before each delivery. A cached policy whose ``max_age`` has not passed and
whose TXT id is still the published one is used as it is; otherwise the policy is
fetched over HTTPS (``fetch_time``; with the policy host down, the sender waits
``fetch_timeout`` and the fetch fails). When a fetch fails the sender keeps using an
unexpired cached policy; with none it delivers as if the domain had no policy, and
reports ``sts-policy-fetch-error`` (RFC 8460 section 4.3.2.2).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..mail.tls import Certificate, StsPolicy, Tlsa, TlsPlan, plan
from ..protocol import Reply
from .session import ClientSide, ServerSide

if TYPE_CHECKING:
    from ..net import Link, Path
    from .host import MailHost

__all__ = ["PublishedSts", "StsView", "TlsClient", "TlsWorld"]


@dataclass(frozen=True, slots=True)
class PublishedSts:
    """A domain's MTA-STS policy as its policy host serves it, and what a fetch costs."""

    policy: StsPolicy
    fetch_time: float
    fetch_timeout: float


@dataclass(frozen=True, slots=True)
class StsView:
    """The MTA-STS policy a sender applies to one delivery: the policy (None: none),
    and whether a fetch failed with nothing cached to fall back on."""

    policy: StsPolicy | None
    fetch_failed: bool


_NO_STS = StsView(None, False)


class TlsWorld:
    """The TLS facts of a run as they stand now; TLS incidents change them.

    ``certificates`` and ``tlsa`` are by host key, ``sts`` by domain; ``sts_down``
    counts the incidents holding a domain's policy host down, ``stripped`` those
    putting an attacker on a link.
    """

    def __init__(
        self,
        certificates: dict[str, Certificate],
        tlsa: dict[str, tuple[Tlsa, ...]],
        sts: dict[str, PublishedSts],
    ) -> None:
        self.certificates = certificates
        self.tlsa = tlsa
        self.sts = sts
        self.sts_down: dict[str, int] = {}
        self.stripped: dict[Link, int] = {}

    def stripped_on(self, path: Path) -> bool:
        stripped = self.stripped
        return bool(stripped) and any(link in stripped for link in path.links)


class _CachedSts:
    __slots__ = ("expires", "policy")

    def __init__(self, policy: StsPolicy, expires: float) -> None:
        self.policy = policy
        self.expires = expires


class TlsClient:
    """One sending host's TLS policy (Postfix's ``smtp_tls_security_level``, its
    ``smtp_tls_policy_maps``, MTA-STS or not) and its MTA-STS policy cache."""

    def __init__(
        self,
        world: TlsWorld,
        level: str,
        policy_maps: Mapping[str, str],
        mta_sts: bool,
    ) -> None:
        self.world = world
        self.level = level
        self.policy_maps = dict(policy_maps)
        self.mta_sts = mta_sts
        self._cache: dict[str, _CachedSts] = {}
        # Sides made per verdict, kept so that their identities (the memo's shape) last.
        self._clients: dict[tuple[int, str, Reply | None], tuple[ClientSide, ClientSide]] = {}
        self._servers: dict[int, tuple[ServerSide, ServerSide]] = {}

    def sts(self, domain: str, now: float) -> tuple[StsView, float]:
        """The MTA-STS policy for a delivery to ``domain`` at ``now``, and the time
        finding it took (module docstring)."""
        if not self.mta_sts or domain in self.policy_maps:
            return _NO_STS, 0.0  # an explicit policy map entry comes first
        world = self.world
        published = world.sts.get(domain)
        cached = self._cache.get(domain)
        fresh = cached is not None and now < cached.expires
        if published is None:  # no TXT record: an unexpired cached policy still holds
            return (StsView(cached.policy, False) if cached is not None and fresh else _NO_STS), 0.0
        if cached is not None and fresh and cached.policy.id == published.policy.id:
            return StsView(cached.policy, False), 0.0
        if world.sts_down.get(domain):
            if cached is not None and fresh:
                return StsView(cached.policy, False), published.fetch_timeout
            return StsView(None, True), published.fetch_timeout
        policy = published.policy
        self._cache[domain] = _CachedSts(policy, now + published.fetch_time + policy.max_age)
        return StsView(policy, False), published.fetch_time

    def session(
        self,
        client: ClientSide,
        side: ServerSide,
        server: MailHost,
        path: Path,
        domain: str,
        now: float,
        sts: StsView,
    ) -> tuple[ClientSide, ServerSide, TlsPlan, bool]:
        """The sides for one session with ``server``, its plan, and whether an
        attacker sits on the path (what crosses it in the clear, the attacker reads)."""
        world = self.world
        stripped = world.stripped_on(path)
        config = side.config
        if stripped and config.starttls and not config.tls_required:
            # The attacker removes STARTTLS from the EHLO reply. A server that requires
            # TLS would then refuse the envelope (530): not modelled, left as it is.
            made = self._servers.get(id(side))
            if made is None or made[0] is not side:
                stripped_side = replace(side, config=replace(config, starttls=False))
                made = self._servers[id(side)] = (side, stripped_side)
            side = made[1]
        offered = side.config.starttls
        level = self.policy_maps.get(domain, self.level)
        verdict = plan(
            level=level,
            offered=offered,
            cert=world.certificates.get(server.key) if offered else None,
            now=now,
            server=f"{server.name}[{server.ip}]",
            mx_name=server.name,
            domain=domain,
            tlsa=world.tlsa.get(server.key, ()),
            sts=sts.policy,
            sts_fetch_failed=sts.fetch_failed,
        )
        key = (id(client), verdict.starttls, verdict.failure)
        sides = self._clients.get(key)
        if sides is None or sides[0] is not client:
            made_client = replace(client, starttls=verdict.starttls, tls_failure=verdict.failure)
            sides = self._clients[key] = (client, made_client)
        return sides[1], side, verdict, stripped
