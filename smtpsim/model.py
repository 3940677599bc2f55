"""``build(scenario, seed)``: the one place where a scenario becomes live objects.

The scenario is pure data; here it turns into a SimPy environment, a network of
links, DNS zones and resolvers, mail hosts with their policies, queue managers and
SMTP clients, and the traffic flows, all sharing one ``RunContext``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TypedDict, TypeVar, cast

import numpy as np
import simpy

from . import faults
from .faults.actions import RunState
from .faults.listing import Window
from .mail import (
    PRESETS,
    DnsblAnswer,
    DnsblCheck,
    DnsblLookup,
    EximRetry,
    Greylist,
    LocalRecipients,
    MailboxQuota,
    PasswordTable,
    Policy,
    PolicySet,
    PostfixRetry,
    RateLimit,
    RelayControl,
    RetryPolicy,
    SenderClass,
    SpamFilter,
    SpfDmarc,
)
from .mail.tls import Certificate, StsPolicy, Tlsa
from .metrics.recorder import ColumnarRecorder
from .mta import ClientSide, HostWiring, MailHost, NumberedMailboxes, ServerSide
from .mta.access_service import AccessService, ClientKind
from .mta.tls import PublishedSts, TlsClient, TlsWorld
from .net import Link, Network, Resolver, ZoneData, Zones
from .protocol import ClientTimeouts, ServerConfig
from .scenario import Dist, FlowLink, Host, Postfix, Scenario
from .scenario import Flow as FlowSpec
from .scenario import Link as LinkSpec
from .scenario.bounds import MAX_SIZE
from .scenario.clients import Listener, MailClients
from .scenario.policies import PolicySpec, RetrySpec
from .sim import BoundedEnvironment, RunContext, Streams, make_sampler
from .workload import UNRESOLVED, ClientProfile, Flow, MailClientPopulation, RecipientSampler
from .workload.replay import AddressMap, Replayer

__all__ = ["Model", "build"]

# Credentials every simulated client presents to a host that requires AUTH.
SIM_CREDENTIALS = ("sim", "sim")
# A cache miss at a host's resolver, when no resolver host is modelled (a local
# caching resolver asking the authoritative servers: a few tens of milliseconds).
DNS_MISS_TIME = 0.02
T = TypeVar("T")
# A level's STARTTLS mode when no certificate or policy is modelled; a run that models
# them decides per session (smtpsim.mta.tls): "dane" without TLSA records is "may".
_TLS_LEVEL = {
    "none": "no",
    "may": "may",
    "encrypt": "require",
    "dane": "may",
    "verify": "require",
    "secure": "require",
}
_TLS_INCIDENTS = (
    "certificate_change",
    "tlsa_change",
    "mta_sts_change",
    "mta_sts_down",
    "starttls_stripped",
)


def _filled(value: T | None, what: str) -> T:
    """A field the loader fills in (``smtpsim.scenario.defaults``), here for sure."""
    if value is None:
        raise ValueError(f"{what} is not filled in: load scenarios with load_scenario()")
    return value


def _name(key: str, spec: Host) -> str:
    return _filled(spec.name, f"hosts.{key}.name")


class SessionCounts(TypedDict):
    """How the SMTP sessions of a run ran (``meta.json``'s ``sessions``)."""

    memo: str
    replayed: int
    ran_machines: int
    shapes: int


@dataclass
class Model:
    """Everything of one run. ``run()`` advances it; ``recorder`` holds what happened."""

    scenario: Scenario
    seed: int
    ctx: RunContext
    network: Network
    zones: Zones
    hosts: dict[str, MailHost]
    flows: dict[str, Flow] = field(default_factory=dict)
    incidents: list[Window] = field(default_factory=list)  # windows, for meta
    fault_state: RunState | None = None  # what the incidents of this run share
    access: dict[str, AccessService] = field(default_factory=dict)  # by host key
    tls: TlsWorld | None = None  # the TLS facts, when the run models TLS (uses_tls)

    @property
    def env(self) -> simpy.Environment:
        return self.ctx.env

    @property
    def recorder(self) -> ColumnarRecorder:
        return cast(ColumnarRecorder, self.ctx.recorder)  # build() makes one

    def link(self, a: str, b: str) -> Link:
        """The link between nodes ``a`` and ``b`` (set ``.up`` to take it down)."""
        return self.network.link(a, b)

    def sessions(self) -> SessionCounts:
        """How the SMTP sessions ran (``simulation.session_memo``): replayed from the
        memo, or through the protocol machines; and the shapes the memos hold."""
        memos = [h.agent.sessions for h in self.hosts.values()]
        return SessionCounts(
            memo=self.ctx.session_memo,
            replayed=sum(m.replayed for m in memos),
            ran_machines=sum(m.ran for m in memos),
            shapes=sum(m.shapes for m in memos),
        )

    def run(self, until: float | None = None) -> None:
        """Simulate up to ``until`` (default: the scenario's duration)."""
        end = self.scenario.duration if until is None else until
        if end > self.env.now:
            self.env.run(until=end)


def build(scenario: Scenario, seed: int | None = None) -> Model:
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
        hosts[key] = _host(
            key,
            spec,
            ctx,
            zones,
            _wiring(key, ctx, hosts, network, zones, spec.retry, spec.postfix, _name(key, spec)),
        )
    model = Model(scenario, seed, ctx, network, zones, hosts)
    if uses_tls(scenario):
        model.tls = _tls(scenario, hosts)
        cast(ColumnarRecorder, ctx.recorder).tls = True
    model.access = _access_services(scenario, ctx, hosts)
    for name, flow in scenario.traffic.items():
        model.flows[name] = _flow(name, flow, scenario, ctx, hosts, network, zones)
    model.incidents = faults.install(model)
    faults.install_listing_rules(model)
    return model


# --- pieces ---------------------------------------------------------------------------------


def _network(scenario: Scenario, ctx: RunContext) -> Network:
    network = Network()
    for router in scenario.routers:
        network.add_node(router)
    for key in scenario.hosts:
        network.add_node(key)
    for spec in scenario.links:
        a, b = spec.between
        network.add_link(_link(a, b, spec, ctx))
    return network


def _link(a: str, b: str, spec: LinkSpec | FlowLink, ctx: RunContext) -> Link:
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


def uses_tls(scenario: Scenario) -> bool:
    """Whether the run models TLS between servers (issue 14): a host's certificate or
    TLSA records, a domain's MTA-STS policy, a sender's level above ``encrypt`` or its
    policy table or MTA-STS, or a TLS incident. Other runs go as before, unchanged."""
    return (
        any(
            h.tls is not None
            or h.postfix.smtp_tls_security_level in ("dane", "verify", "secure")
            or bool(h.postfix.smtp_tls_policy_maps)
            or h.postfix.smtp_tls_mta_sts
            for h in scenario.hosts.values()
        )
        or any(z.mta_sts is not None for z in scenario.dns.values())
        or any(i.kind in _TLS_INCIDENTS for i in scenario.incidents)
    )


def _tls(scenario: Scenario, hosts: dict[str, MailHost]) -> TlsWorld:
    """The run's TLS facts, and each host's TLS client. A host without a ``tls`` block
    presents a trusted certificate for its name, valid for the whole run."""
    certificates: dict[str, Certificate] = {}
    tlsa: dict[str, tuple[Tlsa, ...]] = {}
    for key, spec in scenario.hosts.items():
        tls = spec.tls
        cert = tls.certificate if tls is not None else None
        certificates[key] = Certificate(
            names=tuple(cert.names) if cert is not None and cert.names else (_name(key, spec),),
            not_before=cert.not_before if cert is not None else 0.0,
            not_after=(
                cert.not_after if cert is not None and cert.not_after is not None else math.inf
            ),
            key=cert.key if cert is not None and cert.key else f"{key}-key",
            issuer=cert.issuer if cert is not None else "public-ca",
            trusted=cert.trusted if cert is not None else True,
            self_signed=cert.self_signed if cert is not None else False,
        )
        if tls is not None and tls.tlsa:
            tlsa[key] = tuple(Tlsa.parse(r) for r in tls.tlsa)
    sts = {
        domain.lower(): PublishedSts(
            StsPolicy(z.mta_sts.mode, tuple(z.mta_sts.mx), z.mta_sts.max_age, z.mta_sts.id),
            z.mta_sts.fetch_time,
            z.mta_sts.fetch_timeout,
        )
        for domain, z in scenario.dns.items()
        if z.mta_sts is not None
    }
    world = TlsWorld(certificates, tlsa, sts)
    for key, host in hosts.items():
        p = scenario.hosts[key].postfix
        host.agent.tls = TlsClient(
            world,
            p.smtp_tls_security_level,
            {d.lower(): level for d, level in p.smtp_tls_policy_maps.items()},
            p.smtp_tls_mta_sts,
        )
    return world


def _zones(scenario: Scenario) -> Zones:
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
        name = _name(key, host)
        zones.host_names[name.lower()] = key
        zones.hosts[key] = (name, _filled(host.ip, f"hosts.{key}.ip"))
    return zones


def _host(key: str, spec: Host, ctx: RunContext, zones: Zones, wiring: HostWiring) -> MailHost:
    p = spec.postfix
    accepts = frozenset(d.lower() for d in spec.accepts)
    requires_auth = bool(spec.auth)  # filled by the loader: true for an msa by default
    receiving = {
        item.kind: _receiving_policy(key, spec, item, zones, ctx) for item in spec.policies
    }
    # An MX relays for nobody; a host that requires AUTH relays for authenticated
    # clients only; other MTAs and relays relay for every simulated host.
    policies = _policy_chain(
        spec,
        accepts,
        receiving,
        relay_control=spec.role == "mx" or requires_auth,
        sasl=requires_auth,
    )
    config = ServerConfig(
        hostname=_name(key, spec),
        pipelining=p.smtpd_pipelining,
        max_message_size=p.message_size_limit,
        starttls=p.smtpd_tls_security_level == "may",
        auth_mechanisms=("PLAIN", "LOGIN") if requires_auth else (),
        max_recipients=p.smtpd_recipient_limit,
        idle_timeout=p.smtpd_timeout,
        dsn="dsn" not in p.smtpd_discard_ehlo_keywords,
        chunking=p.smtpd_chunking,
        smtputf8=p.smtputf8_enable,
        strict_smtputf8=p.strict_smtputf8,
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
    return MailHost(
        key,
        _name(key, spec),
        _filled(spec.ip, f"hosts.{key}.ip"),
        spec.role,
        p,
        server,
        accepts,
        requires_auth,
        wiring=wiring,
        policies=receiving,
        listen_backlog=spec.listen_backlog,
    )


def _policy_chain(
    spec: Host,
    accepts: frozenset[str],
    receiving: Mapping[str, Policy],
    *,
    relay_control: bool,
    sasl: bool,
) -> list[Policy]:
    """A server's policies in Postfix's order: anvil's limits, then the relay check
    (``reject_unauth_destination``), local recipients, the receiving policies, and the
    SASL password check."""
    policies: list[Policy] = []
    if "rate_limit" in receiving:  # anvil comes before smtpd's restrictions
        policies.append(receiving["rate_limit"])
    if relay_control:
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
    if sasl:
        policies.append(PasswordTable(dict([SIM_CREDENTIALS])))
    return policies


def listener_sides(host: MailHost, spec: Host) -> dict[int, ServerSide]:
    """The server side of each of a host's listeners (issue 13: mail clients submit
    to port 25, 587 or 465), by port. Default: port 25 alone, as the host's own server.

    Each listener is a master.cf service with its ``-o`` overrides: its TLS level and
    wrapper mode, and whether it offers SASL. Its clients are people's mail clients,
    never in ``mynetworks``: every listener refuses to relay for unauthenticated clients
    (``554 5.7.1 <rcpt>: Relay access denied``, smtpd_check.c). The receiving policies
    (rate limits, greylisting...) are the host's own objects, shared by its listeners,
    as one Postfix's restrictions and anvil are.
    """
    side = host.server_side
    assert side is not None  # a scenario host with a server
    listeners = spec.listeners
    if listeners is None:
        listeners = {
            25: Listener(
                smtpd_tls_security_level=spec.postfix.smtpd_tls_security_level,
                smtpd_sasl_auth_enable=host.requires_auth,
            )
        }
    accepts = host.local_domains
    sides = {}
    for port, listener in sorted(listeners.items()):
        level = listener.smtpd_tls_security_level
        sasl = listener.smtpd_sasl_auth_enable
        config = replace(
            side.config,
            starttls=level != "none",
            tls_required=level == "encrypt",
            tls_wrapper=listener.smtpd_tls_wrappermode,
            auth_mechanisms=("PLAIN", "LOGIN") if sasl else (),
        )
        chain = _policy_chain(spec, accepts, host.policies, relay_control=False, sasl=sasl)
        defer = listener.smtpd_relay_restrictions == "defer_unauth_destination"
        relay = RelayControl(accepts, mynetworks=(), temporary=defer)
        chain.insert(1 if "rate_limit" in host.policies else 0, relay)
        sides[port] = replace(side, config=config, policies=PolicySet(chain))
    return sides


def _receiving_policy(
    key: str, spec: Host, item: PolicySpec, zones: Zones, ctx: RunContext
) -> Policy:
    """One of a host's receiving policies, from its scenario entry."""
    if (conf := item.rate_limit) is not None:
        return RateLimit(
            _name(key, spec),
            connection_count_limit=conf.connections,
            connection_rate_limit=conf.connection_rate,
            message_rate_limit=conf.message_rate,
            recipient_rate_limit=conf.recipient_rate,
            time_unit=conf.time_unit,
            auth_rate_limit=conf.auth_rate,
        )
    if (dnsbl := item.dnsbl) is not None:
        return DnsblCheck(dnsbl.zones, _dnsbl_lookup(zones), phase=dnsbl.at)
    if (spf := item.spf) is not None:
        return SpfDmarc(
            zones.txt,
            zones.addresses,
            zones.mx_names,
            reject_spf_fail=spf.reject_fail,
            dmarc=spf.dmarc,
            query_seconds=DNS_MISS_TIME,
        )
    if (full := item.mailbox_full) is not None:
        return MailboxQuota(
            dict.fromkeys(spec.accepts, full.share), temporary=not full.permanent, salt=key
        )
    if (grey := item.greylisting) is not None:
        return Greylist(
            delay=grey.delay,
            max_age=grey.max_age,
            retry_window=grey.retry_window,
            auto_whitelist_clients=grey.auto_whitelist,
            lookup_by_host=grey.by_host,
        )
    if (spam := item.spam_filter) is not None:
        classes = [
            SenderClass(name, c.mean, c.sd, frozenset(c.domains))
            for name, c in spam.classes.items()
        ]
        return SpamFilter(
            ctx.streams.generator(f"host.{key}.spam_filter"),
            default=SenderClass("default", spam.default.mean, spam.default.sd),
            classes=classes,
            threshold=spam.threshold,
        )
    raise ValueError(f"unknown policy {item.kind!r}")


def _dnsbl_lookup(zones: Zones) -> DnsblLookup:
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


def _retry(spec: RetrySpec, params: Postfix) -> tuple[RetryPolicy, RetryPolicy]:
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
    preset = PRESETS[_filled(spec.preset, "retry.preset")]
    return preset, preset


def _sizes(dist: Dist, rng: np.random.Generator) -> Callable[[], float]:
    """Message sizes drawn from ``dist``, never above ``bounds.MAX_SIZE``: a lognormal's
    far tail (sigma up to 5) could otherwise overflow the tables' 64-bit integers."""
    draw = make_sampler(dist, rng)
    return lambda: min(draw(), float(MAX_SIZE))


def _sampler(dist: Dist, name: str, ctx: RunContext) -> Callable[[], float]:
    rng = None if dist.kind == "constant" else ctx.streams.generator(name)
    return make_sampler(dist, rng)


def _client_side(helo: str, p: Postfix, auth: bool) -> ClientSide:
    return ClientSide(
        helo=helo,
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
        chunking=p.smtp_chunking,
        chunk_size=p.smtp_chunk_size,
    )


def _wiring(
    key: str,
    ctx: RunContext,
    hosts: dict[str, MailHost],
    network: Network,
    zones: Zones,
    retry: RetrySpec,
    params: Postfix,
    name: str,
) -> HostWiring:
    """What the queue manager and SMTP client of host ``key`` work with."""
    policy, bounce_policy = _retry(retry, params)
    return HostWiring(
        ctx,
        hosts,
        network,
        Resolver(zones, DNS_MISS_TIME),
        {False: _client_side(name, params, False), True: _client_side(name, params, True)},
        policy,
        bounce_policy,
    )


def _flow(
    name: str,
    spec: FlowSpec,
    scenario: Scenario,
    ctx: RunContext,
    hosts: dict[str, MailHost],
    network: Network,
    zones: Zones,
) -> Flow:
    """The flow's client host (a node linked to ``submit_to``, an MTA with the flow's
    ``client`` parameters relaying everything there) and its source."""
    key = f"traffic.{name}"
    params = spec.client.model_copy(update={"relayhost": spec.submit_to})
    ip = _filled(spec.ip, f"traffic.{name}.ip")
    host_name = f"{name}.clients.sim.example"
    client = MailHost(
        key,
        host_name,
        ip,
        "clients",
        params,
        None,
        frozenset(),
        False,
        wiring=_wiring(key, ctx, hosts, network, zones, spec.retry, params, host_name),
    )
    hosts[key] = client
    network.add_node(key)
    network.add_link(_link(key, spec.submit_to, spec.link, ctx))
    sender_domain = _filled(spec.sender_domain, f"traffic.{name}.sender_domain")
    mailboxes = {}
    for host_spec in scenario.hosts.values():
        for domain in host_spec.accepts:
            mailboxes[domain.lower()] = host_spec.mailboxes
    recipients = (
        RecipientSampler(
            spec.recipients,
            mailboxes,
            spec.unknown_users,
            ctx.streams.generator(f"workload.{name}.recipients"),
            spec.spamtraps,
        )
        if spec.recipients is not None
        else None
    )
    size_rng = ctx.streams.generator(f"workload.{name}.sizes")
    stop = scenario.duration if spec.stop is None else min(spec.stop, scenario.duration)
    replayer = None
    if spec.replay is not None:
        # here, not at the top: the trace reader loads pandas, which a run without a
        # replay does not need (the engine's own layers never load it)
        from .logs.trace import read_trace

        r = spec.replay
        replayer = Replayer(
            read_trace(r.file, r.format),
            AddressMap(mailboxes, r.addresses == "numbered"),
            start=spec.start,
            time_scale=r.time_scale,
            align=r.align,
            loop=r.loop,
        )
    mail_clients = None
    if spec.clients is not None:
        mail_clients = _mail_clients(name, spec, spec.clients, scenario, ctx, hosts, network, zones)
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
        replayer,
        mail_clients,
        ctx.streams.generator(f"workload.{name}.smtputf8") if spec.smtputf8 > 0 else None,
    )


def _mail_clients(
    name: str,
    flow: FlowSpec,
    spec: MailClients,
    scenario: Scenario,
    ctx: RunContext,
    hosts: dict[str, MailHost],
    network: Network,
    zones: Zones,
) -> MailClientPopulation:
    """The senders' mail clients (issue 13): the settings most have, and each
    misconfigured share with its changes."""
    base = spec.settings
    changes = ("server", "port", "security", "auth", "password")
    profiles: list[tuple[float, ClientProfile]] = []
    for m in spec.misconfigured:
        merged = {
            k: getattr(m, k) if getattr(m, k) is not None else getattr(base, k) for k in changes
        }
        label = m.label or ", ".join(
            f"{k} {getattr(m, k)}" for k in changes if getattr(m, k) is not None
        )
        profiles.append((m.share, _profile(label, merged, flow.submit_to, scenario, zones)))
    rest = 1.0 - sum(share for share, _ in profiles)
    merged = {k: getattr(base, k) for k in changes}
    profiles.append(
        (max(rest, 0.0), _profile("as set up", merged, flow.submit_to, scenario, zones))
    )
    cache: dict[str, dict[int, ServerSide]] = {}

    def listeners(key: str) -> dict[int, ServerSide]:
        if key not in cache:
            cache[key] = listener_sides(hosts[key], scenario.hosts[key])
        return cache[key]

    return MailClientPopulation(
        spec,
        profiles,
        ctx,
        f"traffic.{name}",
        hosts[f"traffic.{name}"],
        hosts,
        network,
        listeners,
        flow.senders,
        ctx.streams.generator(f"workload.{name}.clients"),
    )


def _profile(
    label: str, settings: dict[str, object], submit_to: str, scenario: Scenario, zones: Zones
) -> ClientProfile:
    """A client set-up, its server resolved to a host key: a key itself, a host's
    name, or a zone whose A record names a host (resolved once, when the model is
    built, not through a simulated resolver); a name that resolves to no mail server
    is ``UNRESOLVED``."""
    server = settings["server"]
    name = submit_to if server is None else str(server)
    key = UNRESOLVED
    if name in scenario.hosts:
        key = name
    elif name.lower() in zones.host_names:
        key = zones.host_names[name.lower()]
    else:
        zone = zones.domains.get(name.lower())  # an A record names a host
        if zone is not None and zone.a is not None and zone.a in scenario.hosts:
            key = zone.a
    if key != UNRESOLVED and scenario.hosts[key].role in ("resolver", "dnsbl"):
        key = UNRESOLVED  # no mail server there: treat like a name without one
    return ClientProfile(
        label,
        key,
        zones.hosts[key][0] if key != UNRESOLVED else name,
        int(cast(int, settings["port"])),
        str(settings["security"]),
        str(settings["auth"]),
        str(settings["password"]),
    )


def _access_services(
    scenario: Scenario, ctx: RunContext, hosts: dict[str, MailHost]
) -> dict[str, AccessService]:
    """The POP3/IMAP services of the mailbox hosts that have one, each hooked to its
    host's deliveries into mailboxes (``smtpsim.mta.access_service``)."""
    out: dict[str, AccessService] = {}
    for key, spec in scenario.hosts.items():
        access = spec.access
        if access is None:
            continue
        kinds = []
        for i, pop in enumerate(access.clients):
            rng = ctx.streams.generator(f"access.{key}.clients[{i}]")
            poll = None if pop.poll is None else make_sampler(pop.poll, rng)
            first = None
            if pop.poll is not None and poll is not None:
                first = _first_check(pop.poll, poll, rng)
            push = None if pop.idle is None else make_sampler(pop.idle, rng)
            kinds.append(ClientKind(pop.share, poll, first, push, pop.reconnect))
        service = out[key] = AccessService(
            key,
            ctx.env,
            ctx.recorder,
            protocol=access.protocol,
            capacity=access.capacity,
            processing=_sampler(access.processing, f"access.{key}.processing", ctx),
            kinds=kinds,
        )
        hosts[key].qmgr.on_mailbox = service.delivered
    if out:
        cast(ColumnarRecorder, ctx.recorder).retrieval = True
    return out


def _first_check(
    dist: Dist, interval: Callable[[], float], rng: np.random.Generator
) -> Callable[[], float]:
    """When a polling client first checks: memoryless exponential intervals need no
    phase (a plain draw); otherwise a uniform share of a first interval (exact for a
    fixed interval, the usual setting)."""
    if dist.kind == "exponential":
        return interval
    return lambda: float(rng.random()) * interval()
