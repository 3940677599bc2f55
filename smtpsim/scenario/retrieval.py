"""Retrieval: how people get their mail out of the mailbox host (issue 13, item 3).

A host that keeps mailboxes (``role: mx`` with ``accepts``) may run an access service,
POP3 (RFC 1939) or IMAP (RFC 9051), and its users' mail clients fetch from it::

    hosts:
      mx1:
        role: mx
        accepts: [example.org]
        access:
          protocol: imap
          processing: 20ms        # one fetch session, server side
          capacity: 50            # sessions served at once; more wait their turn
          clients:
            - {share: 0.6, poll: 5min}                  # check every 5 minutes
            - {share: 0.3, poll: {exponential: {mean: 10min}}}
            - {share: 0.1, idle: 2s}                    # IMAP IDLE: pushed after 2 s

Each mailbox belongs to one population (chosen from its address, so the same user
keeps its client in every run). A polling client checks on a renewal process with the
population's interval distribution, one check at a time; an IDLE client (RFC 2177) is
told of new mail after the push delay and fetches at once. A check that finds the
service down (the ``access_down`` incident) fetches nothing: a polling client tries
again at its next check, an IDLE client reconnects after ``reconnect``.

This module also checks what the schema cannot see alone: which hosts may have an
access service, and that the access incidents name one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import model_validator

from .base import Model, Name, field
from .bounds import MAX_COUNT, MAX_FACTOR
from .distributions import Dist, DurationDist
from .problems import Problem
from .raw import YamlMap
from .units import Duration, Fraction
from .world import World, as_dict, as_list, unknown_host

__all__ = [
    "ACCESS_INCIDENTS",
    "AccessDown",
    "AccessService",
    "AccessSlow",
    "ClientPopulation",
    "retrieval_problems",
]

# The shortest mean polling interval accepted: a client checking more often than once a
# second is a misconfiguration (and would flood the event loop), not a mail client.
MIN_POLL = 1.0
# Shares of the populations must add up to 1 within this (YAML decimals such as 0.1).
_SHARE_TOLERANCE = 1e-6


class ClientPopulation(Model):
    """The mail clients of a share of a host's mailboxes: polling or IMAP IDLE."""

    share: Fraction = field(1.0, description="share of the host's mailboxes with this client")
    poll: DurationDist | None = field(
        None,
        description="polling: the interval between two checks (a constant such as 5min, "
        "or a distribution such as {exponential: {mean: 10min}}); the first check of each "
        "client falls at a random phase of its interval",
    )
    idle: DurationDist | None = field(
        None,
        description="IMAP IDLE (RFC 2177): the delay from delivery into the mailbox to "
        "the client being told (the push delay); the client then fetches at once",
    )
    reconnect: Duration = field(
        "1min",
        gt=0,
        description="IDLE: how long a client whose connection failed (the service down) "
        "waits before it connects again",
    )

    @model_validator(mode="after")
    def _one_way(self) -> ClientPopulation:
        if (self.poll is None) == (self.idle is None):
            raise ValueError("give either poll (an interval) or idle (a push delay), not both")
        if self.poll is not None:
            _check_interval(self.poll)
        return self

    @property
    def mode(self) -> Literal["poll", "idle"]:
        return "poll" if self.poll is not None else "idle"


def _check_interval(dist: Dist) -> None:
    mean = dist.mean_value()
    if not mean >= MIN_POLL:
        raise ValueError(
            f"a polling interval must average at least {MIN_POLL:g} s, got a mean of {mean:g} s"
        )


class AccessService(Model):
    """A mailbox host's POP3 or IMAP service: its processing time and capacity."""

    protocol: Literal["imap", "pop3"] = field(
        "imap", description="imap (RFC 9051, with IDLE: RFC 2177) or pop3 (RFC 1939, no IDLE)"
    )
    processing: DurationDist = field(
        "20ms",
        description="server time of one fetch session (login, listing, downloading the "
        "new messages), during which it holds one of capacity's slots",
    )
    capacity: int = field(
        100,
        ge=1,
        le=MAX_COUNT,
        description="fetch sessions served at once; more wait for a free slot (in order)",
    )
    clients: tuple[ClientPopulation, ...] = field(
        ({"poll": "5min"},),
        min_length=1,
        description="the users' mail clients, as populations whose shares add up to 1",
    )

    @model_validator(mode="after")
    def _consistent(self) -> AccessService:
        total = sum(c.share for c in self.clients)
        if abs(total - 1.0) > _SHARE_TOLERANCE:
            raise ValueError(f"the shares of clients add up to {total:g}, not 1")
        if self.protocol == "pop3":
            idle = [i for i, c in enumerate(self.clients) if c.idle is not None]
            if idle:
                raise ValueError(
                    f"clients[{idle[0]}]: POP3 has no IDLE (RFC 1939): poll, or use imap"
                )
        return self


class AccessDown(Model):
    """A host's access service (POP3/IMAP) is down: checks fetch nothing."""

    host: Name = field(description="host key (a host with an access service)")


class AccessSlow(Model):
    """A host's access service is congested: its sessions take longer."""

    host: Name = field(description="host key (a host with an access service)")
    factor: float = field(
        gt=0.0, le=MAX_FACTOR, description="fetch session processing time multiplied by this"
    )


ACCESS_INCIDENTS = ("access_down", "access_slow")


def retrieval_problems(world: World, data: YamlMap) -> Iterable[Problem]:
    """An access service needs mailboxes (an ``mx`` host that accepts domains); the
    access incidents must name a host that has one."""
    with_access = set()
    for key, host in world.hosts.items():
        if host.get("access") is None:
            continue
        with_access.add(key)
        if host.get("role") != "mx":
            yield Problem(
                f"hosts.{key}.access",
                f"only a mailbox host (role mx) has an access service, not role {host.get('role')}",
            )
        elif not world.accepts.get(key):
            yield Problem(
                f"hosts.{key}.access", "the host has no mailboxes: give it accepts (domains)"
            )
    for i, raw in enumerate(as_list(data.get("incidents"))):
        incident = as_dict(raw)
        for kind in ACCESS_INCIDENTS:
            if kind not in incident:
                continue
            value = incident[kind]
            target = value if isinstance(value, str) else as_dict(value).get("host")
            path = f"incidents[{i}].{kind}" + ("" if isinstance(value, str) else ".host")
            if not isinstance(target, str):
                continue
            if target not in world.hosts:
                yield Problem(path, unknown_host(target, world))
            elif target not in with_access:
                yield Problem(path, f"host {target} has no access service (give it access:)")
