"""``build(scenario, seed)``: the one place where a scenario becomes live objects.

The scenario is pure data; here it turns into a SimPy environment, a network of
links, DNS zones and resolvers, mail hosts with their policies, queue managers and
SMTP clients, and the traffic flows, all sharing one ``RunContext``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import simpy

from . import faults
from .mail import (
    PRESETS,
    DnsblAnswer,
    DnsblCheck,
    EximRetry,
    Greylist,
    LocalRecipients,
    MailboxQuota,
    PasswordTable,
    PolicySet,
    PostfixRetry,
    RateLimit,
    RelayControl,
    SenderClass,
    SpamFilter,
    SpfDmarc,
)
from .metrics.recorder import ColumnarRecorder
from .mta import ClientSide, DeliveryAgent, MailHost, NumberedMailboxes, QueueManager, ServerSide
from .net import Link, Network, Resolver, ZoneData, Zones
from .protocol import ClientTimeouts, ServerConfig
from .scenario.bounds import MAX_SIZE
from .sim import BoundedEnvironment, RunContext, Streams, make_sampler
from .workload import Flow, RecipientSampler

__all__ = ["Model", "build"]

# Credentials every simulated client presents to a host that requires AUTH.
SIM_CREDENTIALS = ("sim", "sim")
# A cache miss at a host's resolver, when no resolver host is modelled (a local
# caching resolver asking the authoritative servers: a few tens of milliseconds).
DNS_MISS_TIME = 0.02
_TLS_LEVEL = {"none": "no", "may": "may", "encrypt": "require"}


@dataclass
class Model:
    """Everything of one run. ``run()`` advances it; ``recorder`` holds what happened."""

    scenario: Any
    seed: int
    ctx: RunContext
    network: Network
    zones: Zones
    hosts: dict[str, MailHost]
    flows: dict[str, Flow] = field(default_factory=dict)
    incidents: list[dict[str, Any]] = field(default_factory=list)  # windows, for meta
    fault_state: Any = None  # what the incidents of this run share (smtpsim.faults)

    @property
    def env(self) -> simpy.Environment:
        return self.ctx.env

    @property
    def recorder(self) -> ColumnarRecorder:
        return cast(ColumnarRecorder, self.ctx.recorder)  # build() makes one

    def link(self, a: str, b: str) -> Link:
        """The link between nodes ``a`` and ``b`` (set ``.up`` to take it down)."""
        return self.network.link(a, b)

    def sessions(self) -> dict[str, Any]:
        """How the SMTP sessions ran (``simulation.session_memo``): replayed from the
        memo, or through the protocol machines; and the shapes the memos hold."""
        memos = [h.agent.sessions for h in self.hosts.values() if h.agent is not None]
        return {
            "memo": self.ctx.session_memo,
            "replayed": sum(m.replayed for m in memos),
            "ran_machines": sum(m.ran for m in memos),
            "shapes": sum(m.shapes for m in memos),
        }

    def run(self, until: float | None = None) -> None:
        """Simulate up to ``until`` (default: the scenario's duration)."""
        end = self.scenario.duration if until is None else until
        if end > self.env.now:
            self.env.run(until=end)


def build(scenario: Any, seed: int | None = None) -> Model:
    """Live objects for ``scenario``; ``seed`` defaults to the scenario's own."""
    seed = scenario.seed if seed is None else int(seed)
    sim = scenario.simulation
    ctx = RunContext(
        BoundedEnvironment(sim.max_events),
        Streams(seed),
        ColumnarRecorder(attempts=sim.record_attempts, levels=sim.record_levels),
        wire=sim.wire,
        session_memo=sim.session_memo,
        record_levels=sim.record_levels,
    )
    network = _network(scenario, ctx)
    zones = _zones(scenario)
    hosts: dict[str, MailHost] = {}
    for key, spec in scenario.hosts.items():
        hosts[key] = _host(key, spec, scenario, ctx, zones)
    for key, host in hosts.items():
        _wire_up(
            host, ctx, hosts, network, Resolver(zones, DNS_MISS_TIME), scenario.hosts[key].retry
        )
    model = Model(scenario, seed, ctx, network, zones, hosts)
    for name, flow in scenario.traffic.items():
        model.flows[name] = _flow(name, flow, scenario, ctx, hosts, network, zones)
    model.incidents = faults.install(model)
    faults.install_listing_rules(model)
    return model


# --- pieces ---------------------------------------------------------------------------------


def _network(scenario: Any, ctx: RunContext) -> Network:
    network = Network()
    for router in scenario.routers:
        network.add_node(router)
    for key in scenario.hosts:
        network.add_node(key)
    for spec in scenario.links:
        a, b = spec.between
        network.add_link(_link(a, b, spec, ctx))
    return network


def _link(a: str, b: str, spec: Any, ctx: RunContext) -> Link:
    """A link from its scenario entry (``links`` or a flow's ``link``)."""
    latency = spec.latency
    constant = latency.kind == "constant"
    rng = None if constant else ctx.streams.generator(f"link.{a}-{b}.latency")
    flow = spec.flow_bandwidth
    return Link(
        a,
        b,
        make_sampler(latency, rng),
        mean_latency=latency.mean_value(),
        constant=constant,
        bandwidth=spec.bandwidth,
        loss=spec.loss,
        flow_bandwidth=float("inf") if flow is None else flow,
    )


def _zones(scenario: Any) -> Zones:
    zones = Zones()
    for domain, zone in scenario.dns.items():
        mx = zone.mx
        zones.domains[domain.lower()] = ZoneData(
            mx=tuple((pref, key) for key, pref in mx.items()) if isinstance(mx, dict) else None,
            null_mx=mx == "null",
            a=zone.a,
            ttl=zone.ttl,
            txt=tuple(zone.txt),
            dnsbl=zone.dnsbl,
            dmarc=zone.dmarc,
        )
    for key, host in scenario.hosts.items():
        zones.host_names[host.name.lower()] = key
        zones.hosts[key] = (host.name, host.ip)
    return zones


def _host(key: str, spec: Any, scenario: Any, ctx: RunContext, zones: Zones) -> MailHost:
    p = spec.postfix
    accepts = frozenset(d.lower() for d in spec.accepts)
    requires_auth = bool(spec.auth)  # filled by the loader: true for an msa by default
    receiving = {
        item.kind: _receiving_policy(key, spec, item, zones, ctx) for item in spec.policies
    }
    policies: list[Any] = []
    if "rate_limit" in receiving:  # anvil comes before smtpd's restrictions
        policies.append(receiving["rate_limit"])
    # An MX relays for nobody; a host that requires AUTH relays for authenticated
    # clients only; other MTAs and relays relay for every simulated host.
    if spec.role == "mx" or requires_auth:
        policies.append(RelayControl(accepts, mynetworks=()))
    if accepts:
        policies.append(
            LocalRecipients(accepts, NumberedMailboxes(dict.fromkeys(accepts, spec.mailboxes)))
        )
    policies += [
        receiving[k]
        for k in ("dnsbl", "spf", "mailbox_full", "greylisting", "spam_filter")
        if k in receiving
    ]
    if requires_auth:
        policies.append(PasswordTable(dict([SIM_CREDENTIALS])))
    config = ServerConfig(
        hostname=spec.name,
        pipelining=p.smtpd_pipelining,
        max_message_size=p.message_size_limit,
        starttls=p.smtpd_tls_security_level == "may",
        auth_mechanisms=("PLAIN", "LOGIN") if requires_auth else (),
        max_recipients=p.smtpd_recipient_limit,
        idle_timeout=p.smtpd_timeout,
    )
    proc = spec.processing
    server = ServerSide(
        config,
        PolicySet(policies),
        _sampler(proc.greeting, f"host.{key}.processing.greeting", ctx),
        _sampler(proc.command, f"host.{key}.processing.command", ctx),
        _sampler(proc.end_of_data, f"host.{key}.processing.end_of_data", ctx),
        f"{spec.name}[{spec.ip}]",
    )
    host = MailHost(
        key, spec.name, spec.ip, spec.role, p, server, accepts, requires_auth, spec.listen_backlog
    )
    host.policies = receiving
    return host


def _receiving_policy(key: str, spec: Any, item: Any, zones: Zones, ctx: RunContext) -> Any:
    """One of a host's receiving policies, from its scenario entry."""
    kind = item.kind
    conf = getattr(item, kind)
    if kind == "rate_limit":
        return RateLimit(
            spec.name,
            connection_count_limit=conf.connections,
            connection_rate_limit=conf.connection_rate,
            message_rate_limit=conf.message_rate,
            recipient_rate_limit=conf.recipient_rate,
            time_unit=conf.time_unit,
        )
    if kind == "dnsbl":
        return DnsblCheck(conf.zones, _dnsbl_lookup(zones), phase=conf.at)
    if kind == "spf":
        return SpfDmarc(
            zones.txt,
            zones.addresses,
            zones.mx_names,
            reject_spf_fail=conf.reject_fail,
            dmarc=conf.dmarc,
            query_seconds=DNS_MISS_TIME,
        )
    if kind == "mailbox_full":
        return MailboxQuota(
            dict.fromkeys(spec.accepts, conf.share), temporary=not conf.permanent, salt=key
        )
    if kind == "greylisting":
        return Greylist(
            delay=conf.delay,
            max_age=conf.max_age,
            retry_window=conf.retry_window,
            auto_whitelist_clients=conf.auto_whitelist,
            lookup_by_host=conf.by_host,
        )
    if kind == "spam_filter":
        classes = [
            SenderClass(name, c.mean, c.sd, frozenset(c.domains))
            for name, c in conf.classes.items()
        ]
        return SpamFilter(
            ctx.streams.generator(f"host.{key}.spam_filter"),
            default=SenderClass("default", conf.default.mean, conf.default.sd),
            classes=classes,
            threshold=conf.threshold,
        )
    raise ValueError(f"unknown policy {kind!r}")


def _dnsbl_lookup(zones: Zones) -> Any:
    """How a server asks DNSBLs: through its resolver's cache (the zone's TTL), a
    miss costing a query (RFC 5782: the listing is an A record)."""
    cache: dict[tuple[str, str], tuple[float, bool]] = {}

    def lookup(zone: str, ip: str, now: float) -> DnsblAnswer:
        hit = cache.get((zone, ip))
        if hit is not None and hit[0] > now:
            return DnsblAnswer(hit[1])
        listed = zones.dnsbl_listed(zone, ip)
        data = zones.domains.get(zone)
        cache[(zone, ip)] = (now + (data.ttl if data is not None else 0.0), listed)
        return DnsblAnswer(listed, seconds=DNS_MISS_TIME)

    return lookup


def _retry(spec: Any, params: Any) -> tuple[Any, Any]:
    """The retry policies of an MTA: for its mail, and for bounces (Postfix's
    ``bounce_queue_lifetime``)."""
    if spec.exim is not None:
        rules = EximRetry.parse(spec.exim)
        return rules, rules
    if spec.preset == "postfix":
        return (
            PostfixRetry(
                params.minimal_backoff_time,
                params.maximal_backoff_time,
                params.maximal_queue_lifetime,
            ),
            PostfixRetry(
                params.minimal_backoff_time,
                params.maximal_backoff_time,
                params.bounce_queue_lifetime,
            ),
        )
    preset = PRESETS[spec.preset]
    return preset, preset


def _sizes(dist: Any, rng: Any) -> Any:
    """Message sizes drawn from ``dist``, never above ``bounds.MAX_SIZE``: a lognormal's
    far tail (sigma up to 5) could otherwise overflow the tables' 64-bit integers."""
    draw = make_sampler(dist, rng)
    return lambda: min(draw(), float(MAX_SIZE))


def _sampler(dist: Any, name: str, ctx: RunContext) -> Any:
    rng = None if dist.kind == "constant" else ctx.streams.generator(name)
    return make_sampler(dist, rng)


def _client_side(host: MailHost, auth: bool) -> ClientSide:
    p = host.params
    return ClientSide(
        helo=host.name,
        timeouts=ClientTimeouts(
            connect=p.smtp_connect_timeout,
            helo=p.smtp_helo_timeout,
            mail=p.smtp_mail_timeout,
            rcpt=p.smtp_rcpt_timeout,
            data_init=p.smtp_data_init_timeout,
            data_xfer=p.smtp_data_xfer_timeout,
            data_done=p.smtp_data_done_timeout,
            quit=p.smtp_quit_timeout,
        ),
        starttls=_TLS_LEVEL[p.smtp_tls_security_level],
        auth=SIM_CREDENTIALS if auth else None,
        wait_for_quit=not p.smtp_skip_quit_response,
        pipelining=p.smtp_pipelining,
    )


def _wire_up(
    host: MailHost,
    ctx: RunContext,
    hosts: dict[str, MailHost],
    network: Network,
    resolver: Resolver,
    retry: Any,
) -> None:
    """The queue manager and SMTP client of ``host``."""
    p = host.params
    agent = DeliveryAgent(
        host,
        ctx,
        hosts,
        network,
        resolver,
        {False: _client_side(host, False), True: _client_side(host, True)},
        ctx.streams.generator(f"host.{host.key}.smtp"),
    )
    qmgr = QueueManager(host, ctx, p, agent.deliver)
    qmgr.local_domains = host.local_domains
    qmgr.relayhost = f"[{p.relayhost}]" if p.relayhost else None
    qmgr.retry, qmgr.bounce_retry = _retry(retry, p)
    host.qmgr, host.agent = qmgr, agent


def _flow(
    name: str,
    spec: Any,
    scenario: Any,
    ctx: RunContext,
    hosts: dict[str, MailHost],
    network: Network,
    zones: Zones,
) -> Flow:
    """The flow's client host (a node linked to ``submit_to``, an MTA with the flow's
    ``client`` parameters relaying everything there) and its source."""
    key = f"traffic.{name}"
    params = spec.client.model_copy(update={"relayhost": spec.submit_to})
    ip = spec.ip
    client = MailHost(
        key, f"{name}.clients.sim.example", ip, "clients", params, None, frozenset(), False
    )
    hosts[key] = client
    network.add_node(key)
    network.add_link(_link(key, spec.submit_to, spec.link, ctx))
    _wire_up(client, ctx, hosts, network, Resolver(zones, DNS_MISS_TIME), spec.retry)
    sender_domain = spec.sender_domain
    mailboxes = {}
    for host_spec in scenario.hosts.values():
        for domain in host_spec.accepts:
            mailboxes[domain.lower()] = host_spec.mailboxes
    recipients = RecipientSampler(
        spec.recipients,
        mailboxes,
        spec.unknown_users,
        ctx.streams.generator(f"workload.{name}.recipients"),
        spec.spamtraps,
    )
    size_rng = ctx.streams.generator(f"workload.{name}.sizes")
    stop = scenario.duration if spec.stop is None else min(spec.stop, scenario.duration)
    return Flow(
        name,
        spec,
        ctx,
        client,
        sender_domain,
        _sizes(spec.size, size_rng),
        recipients,
        ctx.streams.generator(f"workload.{name}.arrivals"),
        stop,
    )
