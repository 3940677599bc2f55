"""People's mail clients submitting their mail (issue 13).

Each sender of a flow with ``clients`` has one mail client, set up with the
population's settings or, for a share of the senders, one of its misconfigurations.
A message is submitted by its sender's client in a real SMTP session (the protocol
core's client and server machines, ``mta.session.converse``) against the server's
listener on the client's port, with that listener's policies: so the replies the
user sees are the server's own (Postfix's texts: ``530 5.7.0 Must issue a STARTTLS
command first``, ``535 5.7.8 Error: authentication failed: ...``, ``554 5.7.1
<rcpt>: Relay access denied``).

Before any SMTP, the connection itself can fail, as the client's TCP and TLS stacks
see it:

- the sender's access network blocks the port (ISPs block outbound 25): the SYN is
  dropped, the connect times out after ``connect_timeout``;
- nothing listens on the port, or the host refuses connections: refused after one
  round trip (a TCP RST);
- the host is down without answering (crashed, blackholed): timed out;
- the server name does not resolve: the client gives up at once;
- implicit TLS against a plain listener: the server's greeting is no TLS record,
  the handshake fails after one round trip; a plain client against an implicit-TLS
  listener waits for a greeting that never comes (the server waits for a
  ClientHello) until ``connect_timeout``.

A client that did not get its message accepted for a temporary reason (a connection
failure, a 4xx reply) tries again ``retry.interval`` later, up to ``retry.limit``
times, then gives up and tells the user; after a 5xx reply it gives up at once
(RFC 5321 section 4.2.1: the client should not repeat the exact request), as mail
clients show the error rather than retry. Its recipients end ``unsent`` with the
reason (the reply, or the connection failure). Recipients the
server refused one by one in a session that accepted others (an unknown user) are
unsent at once with their reply: the client reports them and does not retry.

What is left out: the sessions do not take one of the server's processes
(``default_process_limit``) and are not written to the session memo (they run on
the real machines); anvil's AUTH-failure limit is not modelled.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import simpy

from ..mta import (
    ClientSide,
    MailHost,
    QueuedMessage,
    ServerSide,
    SessionRequest,
    converse,
    hand_over,
)
from ..net import Network
from ..protocol import ClientTimeouts, Reply
from ..sim import RunContext

if TYPE_CHECKING:
    from ..scenario.clients import MailClients

__all__ = ["UNRESOLVED", "ClientProfile", "MailClientPopulation"]

UNRESOLVED = ""
"""``ClientProfile.server`` for a server name that does not resolve."""

_STARTTLS = {
    "none": "no",
    "starttls": "require",
    "starttls-if-offered": "may",
    "implicit-tls": "no",
}
_MECHANISMS = {"plain": ("PLAIN",), "login": ("LOGIN",)}
_TLS_HANDSHAKE_RTTS = 1.0  # as mta.session: the handshake costs one more round trip
_WRONG_PASSWORD = "stale-password"


@dataclass(frozen=True, slots=True)
class ClientProfile:
    """One client set-up: ``server`` is a host key (``UNRESOLVED``: a name that does
    not resolve), ``name`` the server as the user typed it."""

    label: str
    server: str
    name: str
    port: int
    security: str
    auth: str
    password: str


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try to submit: how long it took, which recipients the server took, and the
    final reply for each of the others (``None`` with no SMTP: ``failure`` says why)."""

    duration: float
    accepted: tuple[str, ...]
    refused: Mapping[str, Reply]
    failure: Reply | None
    queue_id: str = ""


class MailClientPopulation:
    """The mail clients of one flow's senders, and their submissions."""

    def __init__(
        self,
        spec: MailClients,
        profiles: list[tuple[float, ClientProfile]],
        ctx: RunContext,
        node: str,
        peer_host: MailHost,
        hosts: Mapping[str, MailHost],
        network: Network,
        listeners: Callable[[str], Mapping[int, ServerSide]],
        senders: int,
        rng: np.random.Generator,
    ) -> None:
        self.spec = spec
        self.ctx = ctx
        self.node = node
        self.peer = peer_host.client_info
        self.hosts = hosts
        self.network = network
        self.listeners = listeners
        # Each sender's client, drawn once: profile i for a share of the senders.
        shares = np.array([share for share, _ in profiles], dtype=float)
        cumulative = np.cumsum(shares)
        draws = rng.random(senders)
        index = np.searchsorted(cumulative, draws, side="right")
        self.profiles = [p for _, p in profiles]
        self.of_sender = np.minimum(index, len(profiles) - 1).astype(np.int64)
        timeouts = ClientTimeouts(connect=spec.connect_timeout)
        self.sides = {
            p: ClientSide(
                helo=peer_host.name,
                timeouts=timeouts,
                starttls=_STARTTLS[p.security],
                auth=None
                if p.auth == "none"
                else ("sim", "sim" if p.password == "right" else _WRONG_PASSWORD),
                wait_for_quit=True,  # a mail client waits for the 221
                pipelining=True,
                auth_mechanisms=_MECHANISMS.get(p.auth, ()),
                implicit_tls=p.security == "implicit-tls",
            )
            for p in self.profiles
        }

    def profile(self, sender_index: int) -> ClientProfile:
        return self.profiles[int(self.of_sender[sender_index])]

    def submit(self, msg: QueuedMessage, sender_index: int) -> None:
        """The sender's client submits ``msg``, retrying as set, from now."""
        self.ctx.env.process(self._submit(msg, self.profile(sender_index)))

    def _submit(
        self, msg: QueuedMessage, profile: ClientProfile
    ) -> Generator[simpy.Event, object, None]:
        env = self.ctx.env
        recorder = self.ctx.recorder
        retry = self.spec.retry
        pending = list(range(len(msg.rcpts)))
        tries = 0
        while True:
            tries += 1
            attempt = self._attempt(profile, msg, [msg.rcpts[i] for i in pending], env.now)
            if attempt.duration > 0:
                yield env.timeout(attempt.duration)
            now = env.now
            if attempt.accepted:
                msa = self.hosts[profile.server]
                side = msa.server_side
                hand_over(
                    msg,
                    pending,
                    attempt.accepted,
                    attempt.queue_id,
                    self.peer.ip,
                    msa,
                    recorder,
                    now,
                    dsn_offered=side is not None and side.config.dsn,
                )
                for i in pending:
                    reply = attempt.refused.get(msg.rcpts[i])
                    if reply is not None:
                        recorder.final(msg.rows[i], "unsent", now, reply.enhanced or "", str(reply))
                return
            permanent = attempt.failure is not None and attempt.failure.code >= 500
            if tries > retry.limit or permanent:
                for i in pending:
                    reply = attempt.refused.get(msg.rcpts[i]) or attempt.failure
                    assert reply is not None
                    recorder.final(msg.rows[i], "unsent", now, reply.enhanced or "", str(reply))
                return
            yield env.timeout(retry.interval)

    def _attempt(
        self, profile: ClientProfile, msg: QueuedMessage, rcpts: list[str], now: float
    ) -> Attempt:
        """One try: the connection, then (if it stands) the SMTP session."""
        timeout = float(self.spec.connect_timeout)
        where = f"{profile.name}:{profile.port}"
        if profile.server == UNRESOLVED:
            return _failed(
                0.0, Reply(450, "4.4.4", f"{profile.name}: Host or domain name not found")
            )
        host = self.hosts[profile.server]
        where = f"{host.name}[{host.ip}]:{profile.port}"
        if profile.port in self.spec.blocked_ports:
            return _failed(timeout, _timed_out(where))
        path = self.network.path(self.node, profile.server)
        if path is None:
            return _failed(timeout, _timed_out(where))
        rtt = path.rtt()
        down = host.down
        if down is not None and down != "refuse":
            return _failed(timeout, _timed_out(where))
        side = self.listeners(profile.server).get(profile.port)
        if side is None or down == "refuse":
            return _failed(rtt, Reply(450, "4.4.1", f"connect to {where}: Connection refused"))
        implicit = profile.security == "implicit-tls"
        if implicit and not side.config.tls_wrapper:
            # The client's ClientHello is answered by a plain-text 220 banner.
            return _failed(
                2 * rtt,
                Reply(450, "4.7.5", f"TLS handshake with {where} failed: wrong version number"),
            )
        if side.config.tls_wrapper and not implicit:
            return _failed(
                timeout,
                Reply(
                    450,
                    "4.4.2",
                    f"conversation with {where} timed out while receiving the initial "
                    "server greeting",
                ),
            )
        outcome = converse(
            SessionRequest(
                client=self.sides[profile],
                server=side,
                peer=self.peer,
                sender=msg.sender,
                recipients=rcpts,
                size=msg.size,
                rtt=rtt,
                transfer=path.transfer,
                t0=now,
                queue_id=host.next_queue_id,
                wire=self.ctx.wire,
                smtputf8=msg.smtputf8,
            )
        )
        if outcome.server is not None:
            outcome.server.close(now + outcome.duration)
        result = outcome.result
        accepted = outcome.accepted
        refused = {r: reply for r, reply in result.replies if r not in accepted}
        failure = None
        if not accepted:
            # The session's settling reply: the first refusal, all recipients share it
            # unless the server refused them one by one.
            failure = next(iter(refused.values()), None) or Reply(
                451, "4.3.0", result.error or "the session ended without a reply"
            )
        return Attempt(outcome.duration, accepted, refused, failure, outcome.queue_id)


def _failed(duration: float, reply: Reply) -> Attempt:
    return Attempt(duration, (), {}, reply)


def _timed_out(where: str) -> Reply:
    return Reply(450, "4.4.1", f"connect to {where}: Connection timed out")
