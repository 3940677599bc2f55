"""Postfix's SMTP client, smtp(8), in simulated time: from a delivery request to
sessions with the next hop's servers (RFC 5321 section 5.1; postconf(5)).

For a request it finds the servers to try: the relay host given as ``[host]``, or
the domain's MX hosts by preference with equal preferences shuffled (RFC 5321
section 5.1), the implicit MX when the domain has none, a bounce for a null MX
(RFC 7505) or an unknown domain, a deferral when DNS fails for now; at most
``smtp_mx_address_limit`` addresses, then the ``smtp_fallback_relay`` hosts. It tries
them in order:

- a connection that fails (no route, a link or host down, a lost SYN) costs
  ``smtp_connect_timeout`` (or a round trip when refused) and moves to the next;
- a server with all its processes busy keeps the client waiting in its listen queue
  until one frees up, or until ``smtp_helo_timeout``; when the host's
  ``listen_backlog`` connections already wait, the connection gets no answer and
  costs ``smtp_connect_timeout``;
- recipients answered 4xx, and all of them after a 4xx or 5xx greeting
  (``smtp_skip_5xx_greeting``: a 5xx greeting's DSN becomes 4.x.x, ``smtp_proto.c``),
  go on to the next server, within ``smtp_mx_session_limit`` sessions; a 5xx to
  MAIL, RCPT or DATA bounces at once (RFC 5321 section 5.1); what is left at the end
  is deferred.

When the request ends the queue manager gets concurrency feedback
(``smtpsim.mta.concurrency``): negative when the last server tried failed at the site
level (connect, greeting, EHLO, a lost connection) or DNS failed for now, and no
session completed its transaction; positive otherwise.

Each session is one ``converse`` call and one SimPy event (its end); a message the
server accepted enters the server's queue then.

Connection caching (``smtp_connection_cache_on_demand``, Postfix CONNECTION_CACHE_README): when
the queue manager's rule says so for the destination (``smtpsim.mta.caching``: back-to-back
or concurrent deliveries, as ``qmgr_entry.c`` decides), a session ends without QUIT and its
connection is kept, by destination, for ``smtp_connection_cache_time_limit``; the
next delivery to that destination reuses it (an RSET instead of connect, greeting
and EHLO), unless it was opened more than ``smtp_connection_reuse_time_limit`` ago.
The server process stays taken while the connection is cached.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..protocol import Reply, SessionResult
from ..sim import RunContext, call_later
from ..sim.trace import BOUNCE, DEFERRED, SENT
from .caching import OnDemandCaching
from .message import Deferral, QueuedMessage, hand_over
from .queue_manager import DeliveryRequest
from .session import ClientSide, Live, SessionOutcome, SessionRequest
from .session_memo import SessionMemo
from .tls import StsView, TlsClient

if TYPE_CHECKING:  # the host builds its agent (host.py imports this module)
    import numpy as np

    from ..mail.server_session import ServerSession
    from ..mail.tls import TlsPlan
    from ..net import Network, Path, Resolver
    from ..sim import SlotPool
    from .host import MailHost

__all__ = ["DeliveryAgent"]


class _Attempt:
    """One delivery request on its way through the candidate servers."""

    __slots__ = (
        "answered",
        "candidates",
        "completed",
        "epoch",
        "hop",
        "keep_open",
        "last",
        "mark",
        "next",
        "remaining",
        "request",
        "reuse",
        "sessions",
        "site_trouble",
        "sts",
        "t",
    )

    def __init__(self, request: DeliveryRequest, now: float, epoch: int) -> None:
        self.request = request
        self.epoch = epoch  # the sending host's life: a crash ends this attempt
        self.candidates: list[str] = []
        self.next = 0
        self.t = now
        self.mark = now  # start of the current connection effort (DNS, failed connects)
        self.remaining = list(request.idx)
        self.answered = False  # a session gave the remaining recipients their replies
        self.last: Reply | None = None
        self.sessions = 0  # sessions that got past the handshake (smtp_mx_session_limit)
        # Concurrency feedback (smtpsim.mta.concurrency): whether the last server tried
        # failed at the site level (connect, greeting, EHLO, lost connection), and
        # whether any session ran its transaction to the end (smtp_proto.c's
        # SMTP_MISC_FLAG_COMPLETE_SESSION: then the site is fine whatever followed).
        self.site_trouble = False
        self.completed = False
        self.hop: Deferral | None = None  # the site failure, as qmgr's hop status
        self.reuse = False  # DEL_REQ_FLAG_CONN_LOAD (smtpsim.mta.caching)
        self.keep_open = False  # DEL_REQ_FLAG_CONN_STORE
        self.sts: StsView | None = None  # the MTA-STS policy applied (smtpsim.mta.tls)


class _Cached:
    """An idle connection in the cache, with the server process it holds."""

    __slots__ = ("epoch", "live", "plan", "pool", "server")

    def __init__(
        self, server: MailHost, live: Live, pool: SlotPool, epoch: int, plan: TlsPlan | None
    ) -> None:
        self.server = server
        self.live = live
        self.pool = pool
        self.epoch = epoch  # the server's life when the connection was opened
        self.plan = plan  # its TLS, as decided when it was opened


class DeliveryAgent:
    """The SMTP client of one host."""

    def __init__(
        self,
        host: MailHost,
        ctx: RunContext,
        world: Mapping[str, MailHost],
        network: Network,
        resolver: Resolver,
        clients: Mapping[bool, ClientSide],
        rng: np.random.Generator,
    ) -> None:
        """``clients[True]`` is the client that authenticates (to hosts that require
        AUTH, as with Postfix's per-next-hop ``smtp_sasl_password_maps``)."""
        self.host = host
        self.ctx = ctx
        self.env = ctx.env
        self.recorder = ctx.recorder
        self._connections_level = self.recorder.level_series(host.key, "connections")
        self.world = world
        self.network = network
        self.resolver = resolver
        self.clients = clients
        self.rng = rng
        p = host.params
        self.p = p
        self.fallback: tuple[str, ...] = tuple(p.smtp_fallback_relay)
        self.connections = 0  # open SMTP connections, cached ones included
        self._cache: dict[str, list[_Cached]] = {}
        self.sessions = SessionMemo(ctx.session_memo)
        self.caching = OnDemandCaching()
        # TLS policies and certificates (smtpsim.mta.tls); None when the run models none.
        self.tls: TlsClient | None = None

    # --- finding the servers ------------------------------------------------------------

    def deliver(self, request: DeliveryRequest) -> None:
        """The queue manager's entry point."""
        now = self.env.now
        attempt = _Attempt(request, now, self.host.epoch)
        name = request.dest.name
        if self.p.smtp_connection_cache_on_demand:
            attempt.reuse, attempt.keep_open = self.caching.selected(name, request.dest.busy, now)
        if name.startswith("["):
            attempt.candidates = [name[1:-1]]
        else:
            if self.tls is not None:  # the domain's MTA-STS policy (RFC 8461 section 5)
                attempt.sts, fetch_cost = self.tls.sts(name, now)
                attempt.t += fetch_cost
            answer, cost = self.resolver.mx(name, now)
            attempt.t += cost
            kind = answer.kind
            if kind == "mx":
                candidates = self._order_mx(answer.hosts)
                if candidates is None:
                    reply = Reply(554, "5.4.6", f"mail for {name} loops back to myself")
                    return self._settle_all(attempt, reply, "dns")
                attempt.candidates = candidates
            elif kind == "null":
                # Postfix's own status for it (smtp_addr.c: DNS_NULLMX -> 5.1.0), not
                # RFC 7505's 5.1.10, which is the receiving server's (RFC 5321 section 5.1).
                reply = Reply(550, "5.1.0", f"Domain {name} does not accept mail (nullMX)")
                return self._settle_all(attempt, reply, "dns")
            elif kind == "notfound":
                if answer.implicit is not None:
                    attempt.candidates = [answer.implicit]
                elif not self.fallback:  # with fallback relays, they take it (postconf(5))
                    reply = Reply(
                        550,
                        "5.4.4",
                        "Host or domain name not found. Name service "
                        f"error for name={name} type=A: Host not found",
                    )
                    return self._settle_all(attempt, reply, "dns")
            else:
                reply = Reply(
                    451,
                    "4.4.3",
                    "Host or domain name not found. Name service error "
                    f"for name={name} type=MX: Host not found, try again",
                )
                return self._settle_all(attempt, reply, "dns")
        own = self.host.key
        attempt.candidates = attempt.candidates[: self.p.smtp_mx_address_limit]
        attempt.candidates += [k for k in self.fallback if k != own and k not in attempt.candidates]
        cached = (
            self._take_cached(name, now)
            if attempt.reuse and self._cache and attempt.t == now
            else None
        )
        if cached is not None:
            entry, path = cached
            key = entry.server.key
            attempt.candidates = [k for k in attempt.candidates if k != key]
            self._session(attempt, entry.server, path, entry.pool, entry.live, entry.plan)
            return
        self._try(attempt)

    def _order_mx(self, hosts: tuple[tuple[int, str], ...]) -> list[str] | None:
        """MX hosts by preference, equal preferences shuffled; a host that finds itself
        in the list drops its own preference and worse (RFC 5321 section 5.1);
        ``None`` when nothing better than itself is left."""
        own = self.host.key
        mine = [pref for pref, key in hosts if key == own]
        if mine:
            hosts = tuple((pref, key) for pref, key in hosts if pref < min(mine))
            if not hosts:
                return None
        out: list[str] = []
        i = 0
        while i < len(hosts):
            j = i
            while j < len(hosts) and hosts[j][0] == hosts[i][0]:
                j += 1
            tier = [key for _, key in hosts[i:j]]
            if len(tier) > 1:
                self.rng.shuffle(tier)
            out += tier
            i = j
        return out

    # --- trying them ----------------------------------------------------------------------

    def _try(self, attempt: _Attempt) -> None:
        env = self.env
        if self._abandoned(attempt):
            return
        while attempt.next < len(attempt.candidates):
            if attempt.t > env.now:  # connection failures or DNS took time: go on later
                call_later(env, attempt.t - env.now, self._try, attempt)
                return
            key = attempt.candidates[attempt.next]
            attempt.next += 1
            server = self.world[key]
            path = self.network.path(self.host.node, server.node)
            failure = self._connect_failure(server, path)
            if failure is not None:
                reply, cost = failure
                attempt.t += cost
                self._site_failed(attempt, reply)
                continue
            assert path is not None  # _connect_failure answers for a missing path
            pool = server.slots
            if pool.try_acquire():
                self._session(attempt, server, path, pool)
            elif server.listen_backlog is not None and pool.waiting >= server.listen_backlog:
                # The listen queue is full: the SYN gets no answer (RFC 5321 section 4.5.3.2).
                attempt.t += self.p.smtp_connect_timeout
                self._site_failed(
                    attempt,
                    Reply(
                        451,
                        "4.4.1",
                        f"connect to {server.name}[{server.ip}]:25: Connection timed out",
                    ),
                )
                continue
            else:
                self._wait_for_process(attempt, server, path, pool)
            return
        if attempt.t > env.now:  # the last connection attempt has not timed out yet
            call_later(env, attempt.t - env.now, self._finish, attempt)
            return
        self._finish(attempt)

    def _connect_failure(self, server: MailHost, path: Path | None) -> tuple[Reply, float] | None:
        down = server.down
        if path is not None and path.up and down is None and not path.loss:
            return None  # the usual case, first: this runs for every connection
        where = f"{server.name}[{server.ip}]:25"
        if path is None or not path.up or down == "crashed":
            timeout = self.p.smtp_connect_timeout
            return Reply(451, "4.4.1", f"connect to {where}: Connection timed out"), timeout
        if server.down == "blackhole":  # TCP is accepted, the greeting never comes
            return Reply(
                451,
                "4.4.2",
                f"conversation with {server.name}[{server.ip}] timed "
                "out while receiving the initial server greeting",
            ), (path.rtt() + self.p.smtp_helo_timeout)
        if server.down == "refuse":
            return Reply(451, "4.4.1", f"connect to {where}: Connection refused"), path.rtt()
        if path.loss and self.rng.random() < path.loss:
            timeout = self.p.smtp_connect_timeout
            return Reply(451, "4.4.1", f"connect to {where}: Connection timed out"), timeout
        return None

    def _wait_for_process(
        self, attempt: _Attempt, server: MailHost, path: Path, pool: SlotPool
    ) -> None:
        """All server processes busy: wait in its listen queue, up to the greeting
        timeout (the TCP handshake itself completes in the kernel)."""
        env = self.env
        server_epoch = server.epoch

        def granted() -> None:
            if self._abandoned(attempt) or server.epoch != server_epoch:
                pool.release()  # one of the two crashed while this client waited
                attempt.t = env.now
                self._site_failed(
                    attempt,
                    Reply(
                        451,
                        "4.4.2",
                        f"lost connection with "
                        f"{server.name}[{server.ip}] while receiving "
                        "the initial server greeting",
                    ),
                )
                self._try(attempt)
                return
            self._session(attempt, server, path, pool)

        def give_up() -> None:
            if pool.cancel(granted):
                attempt.t = env.now
                self._site_failed(
                    attempt,
                    Reply(
                        451,
                        "4.4.2",
                        f"conversation with "
                        f"{server.name}[{server.ip}] timed out while "
                        "receiving the initial server greeting",
                    ),
                )
                self._try(attempt)

        pool.wait(granted)
        call_later(env, self.p.smtp_helo_timeout, give_up)

    def _session(
        self,
        attempt: _Attempt,
        server: MailHost,
        path: Path,
        pool: SlotPool,
        live: Live | None = None,
        plan: TlsPlan | None = None,
    ) -> None:
        env = self.env
        now = env.now
        request = attempt.request
        msg = request.msg
        rtt = path.rtt()
        if live is None:
            self.connections += 1
            self._level(now)
        keep_open = attempt.keep_open
        side = server.server_side
        assert side is not None  # only a scenario's hosts listen, and only they are next hops
        client = self.clients[server.requires_auth]
        attacked = False
        if self.tls is not None and live is None:
            # The TLS verdict for this server now: the sides it makes (smtpsim.mta.tls).
            sts = attempt.sts
            client, side, plan, attacked = self.tls.session(
                client, side, server, path, request.dest.name, now, sts or StsView(None, False)
            )
        elif self.tls is not None:  # a cached connection: its TLS was decided when opened
            attacked = self.tls.world.stripped_on(path)
        outcome = self.sessions.converse(
            SessionRequest(
                client=client,
                server=side,
                peer=self.host.client_info,
                sender=msg.sender,
                recipients=[msg.rcpts[i] for i in attempt.remaining],
                size=msg.size,
                rtt=rtt,
                transfer=path.transfer,
                t0=now,
                queue_id=server.next_queue_id,
                wire=self.ctx.wire,
                live=live,
                keep_open=keep_open,
                smtputf8=msg.smtputf8,
            )
        )
        server_epoch = server.epoch
        call_later(
            env,
            outcome.duration,
            self._session_end,
            attempt,
            server,
            pool,
            server_epoch,
            outcome,
            now,
            1 if live is None else live.uses + 1,  # Postfix's conn_use
            plan,
            attacked,
        )

    def _session_end(
        self,
        attempt: _Attempt,
        server: MailHost,
        pool: SlotPool,
        server_epoch: int,
        outcome: SessionOutcome,
        t_start: float,
        conn_use: int,
        plan: TlsPlan | None = None,
        attacked: bool = False,
    ) -> None:
        now = self.env.now
        if self._abandoned(attempt):  # this host crashed during the session
            if outcome.server is not None:
                outcome.server.close(now)
            pool.release()
            return
        cut = server.epoch != server_epoch
        if cut:  # the server crashed during the session
            self._close(pool, now, outcome.server)
            outcome = self._cut(outcome, server)
        elif outcome.live is not None:
            self._cache_connection(
                attempt.request.dest.name, server, pool, outcome.live, server_epoch, now, plan
            )
        else:
            self._close(pool, now, outcome.server)
        msg = attempt.request.msg
        if outcome.accepted:
            self._hand_over(msg, attempt.remaining, outcome, server, now)
        if plan is not None:
            self._record_tls(attempt, server, outcome, plan, attacked, t_start)
        if outcome.past_handshake:
            attempt.sessions += 1
        result = outcome.result
        phase = result.phase
        handshake = not outcome.past_handshake  # it ended in the greeting, EHLO, TLS or AUTH
        soft_greeting = phase == "greeting"  # smtp_skip_5xx_greeting = yes
        greeted_by = f"{server.name}[{server.ip}]" if phase in ("greeting", "helo") else None
        conn_s = (t_start - attempt.mark) + outcome.handshake_s
        xfer_s = outcome.duration - outcome.handshake_s
        still: list[int] = []
        why: Deferral | None = None
        at_rcpt = result.at_rcpt
        # A session its TLS policy ended: the client's own words go with the attempt
        # (attempts.conn_error), as Postfix logs them (smtp_proto.c).
        tls_failure = plan.failure if plan is not None else None
        replies, remaining = result.replies, attempt.remaining
        if len(replies) != len(remaining):
            raise ValueError(f"{len(replies)} replies for {len(remaining)} recipients")
        # By index, not zip(..., strict=True): compiled, that zip is a generic call.
        for j in range(len(remaining)):
            rcpt, reply = replies[j]
            i = remaining[j]
            code = reply.code
            dsn = reply.dsn
            if code // 100 == 2:  # only a 2xx after the content (ClientSession)
                outcome_word = SENT
            elif code >= 500 and not soft_greeting:
                outcome_word = BOUNCE
                msg.bounced.append((i, reply))
            else:
                outcome_word = DEFERRED
                if code >= 500:  # a 5xx greeting made soft: smtp_proto.c makes it 4.x.x
                    dsn = "4" + dsn[1:]
                why = Deferral(reply, dsn, greeted_by if handshake else None)
                msg.errors[i] = why
                still.append(i)
            # self.recorder.attempt, not a local alias: compiled, that is a direct call
            # into the recorder, its keywords matched at compile time (sim.trace)
            self.recorder.attempt(
                msg.rows[i],
                host=self.host.key,
                peer=server.key,
                t_start=t_start,
                t_end=now,
                outcome=outcome_word,
                code=code,
                dsn=dsn,
                phase="rcpt" if rcpt in at_rcpt else phase,  # SessionResult.phase_of
                queue_s=attempt.mark - msg.created,
                conn_s=conn_s,
                xfer_s=xfer_s,
                conn_use=conn_use,
                conn_error=reply.text if tls_failure is not None and reply == tls_failure else "",
            )
        # Concurrency feedback: a handshake failure or a lost connection that leaves
        # recipients deferred is site trouble; a session that ran its transaction
        # clears the site whatever happens next (smtp_trouble.c, smtp_proto.c).
        lost = cut or (why is not None and why.dsn == "4.4.2")
        if why is not None and (handshake or lost):
            attempt.site_trouble = True
            attempt.hop = why
        else:
            attempt.site_trouble = False
            attempt.completed = attempt.completed or outcome.past_handshake
        attempt.remaining = still
        attempt.answered = True
        attempt.t = attempt.mark = now
        if still and attempt.sessions < self.p.smtp_mx_session_limit:
            self._try(attempt)
        else:
            self._finish(attempt)

    def _record_tls(
        self,
        attempt: _Attempt,
        server: MailHost,
        outcome: SessionOutcome,
        plan: TlsPlan,
        attacked: bool,
        t_start: float,
    ) -> None:
        """One row of the TLS report (RFC 8460's sessions): a session that reached the
        point where its TLS was decided (past the handshake, or ended by its TLS
        failure); one that ended before (a 421 greeting) says nothing about TLS."""
        replies = outcome.result.replies
        failure = plan.failure
        stopped = failure is not None and any(reply == failure for _, reply in replies)
        if not (outcome.past_handshake or stopped):
            return
        self.recorder.tls_session(
            t_start,
            self.host.key,
            server.key,
            attempt.request.dest.name,
            plan.policy_type,
            plan.result,
            plan.level,
            plan.encrypted,
            attacked,
            len(outcome.accepted),
            len(replies) if stopped else 0,
        )

    def _cut(self, outcome: SessionOutcome, server: MailHost) -> SessionOutcome:
        """The session as the client saw it when the server went away: the connection
        was lost, nothing was accepted (RFC 5321 section 3.8: as a 451)."""
        reply = Reply(
            451,
            "4.4.2",
            f"lost connection with {server.name}[{server.ip}] while sending message body",
        )
        was = outcome.result
        replies = tuple((rcpt, reply) for rcpt, _ in was.replies)
        result = SessionResult(replies, was.phase, was.error, frozenset())
        return SessionOutcome(
            result,
            outcome.duration,
            outcome.handshake_s,
            (),
            outcome.past_handshake,
            outcome.queue_id,
            None,
            outcome.server,
        )

    def _hand_over(
        self,
        msg: QueuedMessage,
        sent: list[int],
        outcome: SessionOutcome,
        server: MailHost,
        now: float,
    ) -> None:
        """The server took the message for some recipients (``hand_over``). To a
        server without DSN the parameters stop here, and a recipient that asked for
        SUCCESS is reported "relayed" by this host (RFC 3461 sections 4.2 and
        5.2.2.1; Postfix ``smtp_rcpt.c``, ``smtp_rcpt_done``); with DSN, success is
        the next hop's to report (Postfix clears SUCCESS in its own copy)."""
        side = server.server_side
        offered = side is not None and side.config.dsn
        idx = hand_over(
            msg,
            sent,
            outcome.accepted,
            outcome.queue_id,
            self.host.ip,
            server,
            self.recorder,
            now,
            dsn_offered=offered,
        )
        if not offered and msg.rcpt_dsn is not None:
            msg.succeeded += [(i, "relayed") for i in idx if msg.wants(i, "SUCCESS")]

    # --- endings ------------------------------------------------------------------------------

    def _finish(self, attempt: _Attempt) -> None:
        """No server left to try: what remains is deferred."""
        if self._abandoned(attempt):
            return
        request = attempt.request
        msg = request.msg
        if not attempt.answered:  # no session reached them: the connection failure decides
            reply = attempt.last or Reply(451, "4.4.1", "no server to try")
            why = Deferral.of(reply)
            now = self.env.now
            for i in attempt.remaining:
                msg.errors[i] = why
                self.recorder.attempt(
                    msg.rows[i],
                    host=self.host.key,
                    peer="none",
                    t_start=attempt.mark,
                    t_end=now,
                    outcome=DEFERRED,
                    code=reply.code,
                    dsn=reply.dsn,
                    phase="connect",
                    queue_s=attempt.mark - msg.created,
                    conn_s=now - attempt.mark,
                    xfer_s=0.0,
                    conn_error=reply.text,
                )
        msg.deferred.extend(attempt.remaining)
        # Postfix throttles on the final server's site failure, unless some session
        # completed (smtp_trouble.c: hop_status; qmgr_deliver.c: qmgr_queue_throttle).
        site_failure = attempt.site_trouble and not attempt.completed and bool(attempt.remaining)
        if site_failure:
            request.dest.last_reason = attempt.hop
        self._done(attempt, site_failure)

    def _site_failed(self, attempt: _Attempt, reply: Reply) -> None:
        """A server could not be reached or did not finish the greeting: the next one
        is tried; if it was the last, the destination gets negative feedback."""
        attempt.last = reply
        attempt.site_trouble = True
        attempt.hop = Deferral.of(reply)

    def _settle_all(self, attempt: _Attempt, reply: Reply, phase: str) -> None:
        """A DNS answer decided for every recipient: bounce (5xx) or defer (4xx). A
        temporary DNS failure is site trouble, as in Postfix (``smtp_connect.c``: no
        address left, ``smtp_sess_fail``)."""
        msg = attempt.request.msg
        now = self.env.now
        why = Deferral.of(reply)
        for i in attempt.remaining:
            if reply.code >= 500:
                msg.bounced.append((i, reply))
                outcome = BOUNCE
            else:
                msg.errors[i] = why
                msg.deferred.append(i)
                outcome = DEFERRED
            self.recorder.attempt(
                msg.rows[i],
                host=self.host.key,
                peer="none",
                t_start=now,
                t_end=attempt.t,
                outcome=outcome,
                code=reply.code,
                dsn=reply.dsn,
                phase=phase,
                queue_s=now - msg.created,
                conn_s=attempt.t - now,
                xfer_s=0.0,
            )
        site_failure = reply.code < 500 and bool(attempt.remaining)
        if site_failure:
            attempt.request.dest.last_reason = why
        attempt.remaining = []
        if attempt.t > now:  # the lookup took time: report when it is over
            call_later(self.env, attempt.t - now, self._done, attempt, site_failure)
        else:
            self._done(attempt, site_failure)

    def _done(self, attempt: _Attempt, site_failure: bool) -> None:
        if not self._abandoned(attempt):
            dest = attempt.request.dest
            self.caching.done(dest.name, self.env.now)
            self.host.qmgr.request_done(attempt.request, site_failure, self.env.now)
            if not dest.busy and not dest.queue and not dest.dead:
                self.caching.forget(dest.name)  # qmgr_entry_done discards the queue

    def _abandoned(self, attempt: _Attempt) -> bool:
        """This host crashed since ``attempt`` began: whatever the attempt scheduled is
        void (the crash ended its connections, and the queue manager holds its
        message again, or lost it: ``QueueManager.crash``). The one staleness test
        for the sending side; a server's crash is told by its own epoch."""
        return attempt.epoch != self.host.epoch

    # --- the connection cache ---------------------------------------------------------------

    def _cache_connection(
        self,
        dest: str,
        server: MailHost,
        pool: SlotPool,
        live: Live,
        server_epoch: int,
        now: float,
        plan: TlsPlan | None = None,
    ) -> None:
        if now - live.opened >= self.p.smtp_connection_reuse_time_limit:
            self._close(pool, now, live.session)
            return
        entry = _Cached(server, live, pool, server_epoch, plan)
        self._cache.setdefault(dest, []).append(entry)
        call_later(self.env, self.p.smtp_connection_cache_time_limit, self._expire, dest, entry)

    def _take_cached(self, dest: str, now: float) -> tuple[_Cached, Path] | None:
        """A cached connection to ``dest`` that still works, with the path it uses
        now (a congestion since it was opened slows it too; a link down kills it)."""
        entries = self._cache.get(dest)
        while entries:
            entry = entries.pop()  # the most recently used one
            server = entry.server
            fresh = now - entry.live.opened < self.p.smtp_connection_reuse_time_limit
            if fresh and server.epoch == entry.epoch and not server.down:
                path = self.network.path(self.host.node, server.node)
                if path is not None and path.up:
                    return entry, path
            self._close(entry.pool, now, entry.live.session)
        return None

    def _expire(self, dest: str, entry: _Cached) -> None:
        """The idle time limit passed: close the connection if nobody took it."""
        entries = self._cache.get(dest)
        if entries and entry in entries:
            entries.remove(entry)
            self._close(entry.pool, self.env.now, entry.live.session)

    def _close(
        self, pool: SlotPool, now: float, server_session: ServerSession | None = None
    ) -> None:
        """A connection ends: its server process is free again, and its server session
        is closed now (its policies see the connection go)."""
        if server_session is not None:
            server_session.close(now)
        pool.release()
        self.connections -= 1
        self._level(now)

    def crash(self, now: float) -> None:
        """This host crashed: its connections are gone (the servers' processes too)."""
        for entries in self._cache.values():
            for entry in entries:
                entry.live.session.close(now)
                entry.pool.release()
        self._cache.clear()
        self.connections = 0
        self._level(now)

    def _level(self, now: float) -> None:
        if self.ctx.record_levels:
            self.recorder.level(now, self._connections_level, self.connections)
