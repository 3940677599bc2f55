"""A Postfix configuration (``postconf -n`` output, or main.cf and master.cf) as a
scenario host: its ``postfix:`` settings, local domains, receiving policies and name
(``smtpsim import postfix``, issue 15 item 3).

Every parameter of the input is accounted for: mapped (to which scenario field, with
which value), or listed as not modelled with the reason. Postfix's syntax
(postconf(5)): ``name = value`` lines, continuation lines that start with white
space, ``#`` comments, ``$name`` and ``${name}`` expansion from the same file, time
values with a unit letter (s, m, h, d, w) or the parameter's default unit (days for
the two queue lifetimes, seconds otherwise), booleans ``yes``/``no``. In master.cf
the ``smtp inet`` service's process limit and its ``-o name=value`` overrides apply
to the server; other services are listed.

Parameter families mapped (postconf(5) names):

- queue and retries: ``queue_run_delay``, ``minimal_backoff_time``,
  ``maximal_backoff_time``, ``maximal_queue_lifetime``, ``bounce_queue_lifetime``;
- concurrency: ``initial_destination_concurrency``,
  ``default_destination_concurrency_limit``, ``default_destination_recipient_limit``,
  ``default_destination_concurrency_failed_cohort_limit``, the positive and negative
  feedback, ``default_process_limit``, ``qmgr_message_active_limit``; the ``smtp_``
  transport's own ``smtp_destination_*`` and ``smtp_initial_destination_concurrency``
  win over the defaults (smtpsim's client is that transport);
- relaying: ``relayhost``, ``smtp_fallback_relay`` (a scenario names hosts by key:
  ``[mail.isp.example]:587`` becomes the key ``mail-isp-example``, to be defined);
- the client's connections and timeouts: ``smtp_connection_cache_*``,
  ``smtp_connection_reuse_time_limit``, ``smtp_*_timeout``, ``smtp_skip_quit_response``,
  ``smtp_mx_address_limit``, ``smtp_mx_session_limit``, ``smtp_tls_security_level``;
- the server: ``smtpd_timeout``, ``smtpd_recipient_limit``, ``message_size_limit``,
  ``hopcount_limit``, ``smtpd_tls_security_level``, ``smtpd_discard_ehlo_keywords``
  (``pipelining``, ``chunking``, ``smtputf8``), ``smtputf8_enable``,
  ``strict_smtputf8``, the ``smtp`` service's process limit;
- local domains and name: ``mydestination``, ``virtual_mailbox_domains`` ->
  ``accepts``; ``myhostname`` -> ``name``;
- receiving policies: ``reject_rbl_client ZONE`` in ``smtpd_*_restrictions`` ->
  ``dnsbl``; ``smtpd_client_connection_count_limit``,
  ``smtpd_client_connection_rate_limit``, ``smtpd_client_message_rate_limit``,
  ``smtpd_client_recipient_rate_limit``, ``anvil_rate_time_unit`` -> ``rate_limit``;
  ``check_policy_service`` on port 10023 (postgrey's) -> ``greylisting``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Imported", "import_postfix", "parse_main_cf", "parse_master_cf"]

_TIME = re.compile(r"^(\d+(?:\.\d+)?)([smhdw]?)$")
_TIME_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DAY_DEFAULT = {"maximal_queue_lifetime", "bounce_queue_lifetime"}

# postconf(5) name -> the scenario's postfix field, by the value's kind
_TIMES = {
    "queue_run_delay": "queue_run_delay",
    "minimal_backoff_time": "minimal_backoff_time",
    "maximal_backoff_time": "maximal_backoff_time",
    "maximal_queue_lifetime": "maximal_queue_lifetime",
    "bounce_queue_lifetime": "bounce_queue_lifetime",
    "smtp_connection_cache_time_limit": "smtp_connection_cache_time_limit",
    "smtp_connection_reuse_time_limit": "smtp_connection_reuse_time_limit",
    "smtp_connect_timeout": "smtp_connect_timeout",
    "smtp_helo_timeout": "smtp_helo_timeout",
    "smtp_mail_timeout": "smtp_mail_timeout",
    "smtp_rcpt_timeout": "smtp_rcpt_timeout",
    "smtp_data_init_timeout": "smtp_data_init_timeout",
    "smtp_data_xfer_timeout": "smtp_data_xfer_timeout",
    "smtp_data_done_timeout": "smtp_data_done_timeout",
    "smtp_quit_timeout": "smtp_quit_timeout",
    "smtpd_timeout": "smtpd_timeout",
}
_INTEGERS = {
    "initial_destination_concurrency": "initial_destination_concurrency",
    "default_destination_concurrency_limit": "default_destination_concurrency_limit",
    "default_destination_recipient_limit": "default_destination_recipient_limit",
    "default_process_limit": "default_process_limit",
    "qmgr_message_active_limit": "qmgr_message_active_limit",
    "smtp_mx_address_limit": "smtp_mx_address_limit",
    "smtp_mx_session_limit": "smtp_mx_session_limit",
    "message_size_limit": "message_size_limit",
    "smtpd_recipient_limit": "smtpd_recipient_limit",
    "hopcount_limit": "hopcount_limit",
}
_NUMBERS = {
    "default_destination_concurrency_failed_cohort_limit": (
        "default_destination_concurrency_failed_cohort_limit"
    ),
}
_FEEDBACK = {
    "default_destination_concurrency_positive_feedback": (
        "default_destination_concurrency_positive_feedback"
    ),
    "default_destination_concurrency_negative_feedback": (
        "default_destination_concurrency_negative_feedback"
    ),
}
_BOOLEANS = {
    "smtp_connection_cache_on_demand": "smtp_connection_cache_on_demand",
    "smtp_skip_quit_response": "smtp_skip_quit_response",
    "smtputf8_enable": "smtputf8_enable",
    "strict_smtputf8": "strict_smtputf8",
}
# the smtp transport's own settings: they win over the default_ ones
_TRANSPORT = {
    "smtp_initial_destination_concurrency": "initial_destination_concurrency",
    "smtp_destination_concurrency_limit": "default_destination_concurrency_limit",
    "smtp_destination_recipient_limit": "default_destination_recipient_limit",
    "smtp_destination_concurrency_failed_cohort_limit": (
        "default_destination_concurrency_failed_cohort_limit"
    ),
    "smtp_destination_concurrency_positive_feedback": (
        "default_destination_concurrency_positive_feedback"
    ),
    "smtp_destination_concurrency_negative_feedback": (
        "default_destination_concurrency_negative_feedback"
    ),
}
_TLS = {
    "smtp_tls_security_level": ("none", "may", "encrypt", "dane", "verify", "secure"),
    "smtpd_tls_security_level": ("none", "may"),
}
_RATE_LIMITS = {
    "smtpd_client_connection_count_limit": "connections",
    "smtpd_client_connection_rate_limit": "connection_rate",
    "smtpd_client_message_rate_limit": "message_rate",
    "smtpd_client_recipient_rate_limit": "recipient_rate",
}
_RESTRICTIONS = (
    "smtpd_client_restrictions",
    "smtpd_helo_restrictions",
    "smtpd_sender_restrictions",
    "smtpd_relay_restrictions",
    "smtpd_recipient_restrictions",
    "smtpd_data_restrictions",
)
_POSTGREY_PORT = "10023"  # postgrey's default port (postgrey(8), --inet)
# restriction words smtpsim's servers already behave as (or need not model)
_PLAIN_RESTRICTIONS = {
    "permit_mynetworks",
    "permit_sasl_authenticated",
    "reject_unauth_destination",
    "defer_unauth_destination",
    "reject_unlisted_recipient",
    "permit",
}

# parameters read for the host but not as postfix: settings
_NAMES = {"myhostname", "mydestination", "virtual_mailbox_domains"}
_WHY_NOT = {
    "compatibility_level": "smtpsim follows Postfix 3.7's behaviour",
    "inet_interfaces": "a simulated host listens on its one address",
    "inet_protocols": "the simulated network is IPv4",
    "mynetworks": "flows submit to the hosts they name; relaying is by role",
    "alias_maps": "local delivery ends at a mailbox; aliases are not modelled",
    "alias_database": "local delivery ends at a mailbox; aliases are not modelled",
    "myorigin": "senders' domains are the flows' sender_domain",
    "smtpd_banner": "the greeting's text does not change what happens",
    "biff": "local notification is not modelled",
    "append_dot_mydomain": "addresses are complete in a scenario",
    "readme_directory": "a file location",
    "config_directory": "a file location",
    "mydomain": "used only through $mydomain in other parameters",
    "recipient_delimiter": "addresses are not rewritten",
    "mailbox_size_limit": "mailboxes do not fill up by size (use a mailbox_full policy)",
    "smtpd_tls_cert_file": "TLS is a handshake cost, not certificates",
    "smtpd_tls_key_file": "TLS is a handshake cost, not certificates",
    "smtp_tls_CApath": "TLS is a handshake cost, not certificates",
    "smtp_tls_session_cache_database": "TLS is a handshake cost, not certificates",
    "smtpd_tls_session_cache_database": "TLS is a handshake cost, not certificates",
    "smtpd_sasl_auth_enable": "AUTH is a host's auth: setting (true for role msa)",
}


@dataclass
class Imported:
    """What a configuration became: the host's fields, and every parameter's fate."""

    host: dict[str, Any] = field(default_factory=dict)
    postfix: dict[str, Any] = field(default_factory=dict)
    policies: list[dict[str, Any]] = field(default_factory=list)
    mapped: list[tuple[str, str, str]] = field(default_factory=list)  # (param, path, value)
    not_modelled: list[tuple[str, str, str]] = field(default_factory=list)  # (param, value, why)
    notes: list[str] = field(default_factory=list)

    def host_yaml(self, key: str) -> dict[str, Any]:
        """``{key: host}``: the host as a scenario's ``hosts`` entry."""
        host = dict(self.host)
        if self.postfix:
            host["postfix"] = dict(self.postfix)
        if self.policies:
            host["policies"] = list(self.policies)
        return {key: host}

    def report(self) -> str:
        lines = [f"mapped ({len(self.mapped)}):"]
        lines += [f"  {p} = {v}  ->  {path}" for p, path, v in self.mapped]
        lines.append(f"not modelled ({len(self.not_modelled)}):")
        lines += [f"  {p} = {v}: {why}" for p, v, why in self.not_modelled]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def parse_main_cf(text: str) -> dict[str, str]:
    """``name = value`` pairs of main.cf or ``postconf -n`` output (continuations joined,
    comments dropped), in order; a later setting of a name wins, as in Postfix."""
    out: dict[str, str] = {}
    current: str | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0].isspace():
            if current is None:
                raise ValueError(f"line {number}: a continuation line with nothing to continue")
            out[current] = f"{out[current]} {line.strip()}".strip()
            continue
        name, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z0-9_.-]+", name.strip()):
            raise ValueError(f"line {number}: expected 'name = value', got {line.strip()!r}")
        current = name.strip()
        out[current] = value.strip()
    return out


@dataclass(frozen=True)
class Service:
    """One master.cf service line."""

    name: str
    kind: str
    maxproc: str
    command: str
    options: tuple[tuple[str, str], ...]


def parse_master_cf(text: str) -> list[Service]:
    """The services of master.cf (postconf(5), master(5)): name, type, private, unpriv,
    chroot, wakeup, maxproc, command + args; ``-o name=value`` options collected."""
    entries: list[str] = []
    for raw in text.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        if raw[0].isspace() and entries:
            entries[-1] += " " + raw.strip()
        else:
            entries.append(raw.strip())
    services = []
    for entry in entries:
        words = entry.split()
        if len(words) < 8:
            raise ValueError(f"master.cf: expected 8 or more columns, got {entry!r}")
        options = []
        rest = words[8:]
        for i, word in enumerate(rest):
            if word == "-o" and i + 1 < len(rest):
                name, _, value = rest[i + 1].partition("=")
                options.append((name, value))
        services.append(Service(words[0], words[1], words[6], words[7], tuple(options)))
    return services


def _expand(value: str, params: dict[str, str], depth: int = 0) -> str:
    if depth > 10:
        raise ValueError(f"$-expansion too deep in {value!r}")

    def one(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        if name not in params:
            raise KeyError(name)
        return _expand(params[name], params, depth + 1)

    return re.sub(r"\$\{([A-Za-z0-9_]+)\}|\$([A-Za-z0-9_]+)", one, value)


def _seconds(name: str, value: str) -> float:
    m = _TIME.match(value)
    if m is None:
        raise ValueError(f"expected a time such as 300s or 5d, got {value!r}")
    unit = m.group(2) or ("d" if name in _DAY_DEFAULT else "s")
    return float(m.group(1)) * _TIME_UNITS[unit]


def _host_key(target: str) -> str:
    """A relay destination (``[host]:port``, ``host``) as a scenario host key."""
    host = target.strip()
    host = host[1:].split("]", 1)[0] if host.startswith("[") else host.rsplit(":", 1)[0]
    return re.sub(r"[^A-Za-z0-9_-]+", "-", host).strip("-") or "relay"


def _words(value: str) -> list[str]:
    return [w for w in re.split(r"[\s,]+", value) if w]


def import_postfix(main_cf: str, master_cf: str | None = None) -> Imported:
    """The scenario host of a configuration (module docstring). ValueError for input
    that is not Postfix's syntax."""
    params = parse_main_cf(main_cf)
    out = Imported()
    services = parse_master_cf(master_cf) if master_cf is not None else []
    smtpd = [s for s in services if s.name in ("smtp", "25") and s.kind == "inet"]
    for s in smtpd:  # the smtp service's -o overrides apply to the server
        for name, value in s.options:
            params[name] = value
    values: dict[str, str] = {}
    for name, raw in params.items():
        try:
            values[name] = _expand(raw, params)
        except KeyError as missing:
            out.not_modelled.append(
                (name, raw, f"${missing.args[0]} is not set in this configuration")
            )
    transport: list[tuple[str, str]] = []
    rate_limit: dict[str, Any] = {}
    for name, value in values.items():
        try:
            if name in _TRANSPORT:
                transport.append((name, value))  # applied after the defaults
            elif not _one(name, value, values, out, rate_limit):
                out.not_modelled.append(
                    (name, value, _WHY_NOT.get(name, "not a parameter smtpsim models"))
                )
        except ValueError as e:
            out.not_modelled.append((name, value, f"not understood: {e}"))
    for name, value in transport:
        try:
            _setting(_TRANSPORT[name], name, value, out)
        except ValueError as e:
            out.not_modelled.append((name, value, f"not understood: {e}"))
    if rate_limit:
        out.policies.append({"rate_limit": rate_limit})
    for s in smtpd:
        if s.maxproc not in ("-", ""):
            out.postfix["default_process_limit"] = int(s.maxproc)
            out.mapped.append(
                (f"master.cf {s.name} maxproc", "postfix.default_process_limit", s.maxproc)
            )
            out.notes.append(
                "smtpsim's default_process_limit bounds the client's sessions too: the "
                "smtp service's maxproc now bounds both"
            )
    for s in services:
        if s not in smtpd and s.kind == "inet":
            out.not_modelled.append(
                (
                    f"master.cf {s.name} {s.kind}",
                    s.command,
                    "a host has one SMTP listener (port 25)",
                )
            )
    _names(values, out)
    return out


def _setting(target: str, name: str, value: str, out: Imported) -> None:
    if target in _TIMES.values():
        stored: Any = f"{_seconds(name, value):g}s"
    elif target in _INTEGERS.values():
        if not re.fullmatch(r"\d+", value):
            raise ValueError(f"expected an integer, got {value!r}")
        stored = int(value)
    elif target in _NUMBERS.values():
        stored = float(value)
    elif target in _FEEDBACK.values():
        stored = value
    else:
        raise ValueError(f"no setting {target}")
    out.postfix[target] = stored
    out.mapped.append((name, f"postfix.{target}", value))


def _one(
    name: str, value: str, values: dict[str, str], out: Imported, rate_limit: dict[str, Any]
) -> bool:
    """Map one parameter; False if smtpsim does not model it."""
    for table in (_TIMES, _INTEGERS, _NUMBERS, _FEEDBACK):
        if name in table:
            _setting(table[name], name, value, out)
            return True
    if name in _BOOLEANS:
        if value not in ("yes", "no"):
            raise ValueError(f"expected yes or no, got {value!r}")
        out.postfix[_BOOLEANS[name]] = value == "yes"
        out.mapped.append((name, f"postfix.{_BOOLEANS[name]}", value))
        return True
    if name in _TLS:
        if value not in _TLS[name]:
            raise ValueError(f"smtpsim models {', '.join(_TLS[name])}, got {value!r}")
        out.postfix[name] = value
        out.mapped.append((name, f"postfix.{name}", value))
        return True
    if name == "relayhost":
        if value:
            key = _host_key(_words(value)[0])
            out.postfix["relayhost"] = key
            out.mapped.append((name, "postfix.relayhost", value))
            out.notes.append(f"relayhost {value}: define a host with key {key!r}")
        return True
    if name == "smtp_fallback_relay":
        keys = [_host_key(w) for w in _words(value)]
        if keys:
            out.postfix["smtp_fallback_relay"] = keys
            out.mapped.append((name, "postfix.smtp_fallback_relay", value))
            out.notes.append(f"smtp_fallback_relay {value}: define hosts {', '.join(keys)}")
        return True
    if name == "smtpd_discard_ehlo_keywords":
        words = {w.lower() for w in _words(value)}
        out.postfix["smtpd_pipelining"] = "pipelining" not in words
        out.mapped.append((name, "postfix.smtpd_pipelining", value))
        out.postfix["smtpd_chunking"] = "chunking" not in words
        out.mapped.append((name, "postfix.smtpd_chunking", value))
        if "dsn" in words:
            out.postfix["smtpd_discard_ehlo_keywords"] = ["dsn"]
            out.mapped.append((name, "postfix.smtpd_discard_ehlo_keywords", value))
        if "smtputf8" in words:  # smtpd.c: the keyword discarded, the parameter refused
            out.postfix["smtputf8_enable"] = False
            out.mapped.append((name, "postfix.smtputf8_enable", value))
        return True
    if name in _RATE_LIMITS:
        rate_limit[_RATE_LIMITS[name]] = int(value)
        out.mapped.append((name, f"policies.rate_limit.{_RATE_LIMITS[name]}", value))
        return True
    if name == "anvil_rate_time_unit":
        rate_limit["time_unit"] = f"{_seconds(name, value):g}s"
        out.mapped.append((name, "policies.rate_limit.time_unit", value))
        return True
    if name in _RESTRICTIONS:
        return _restrictions(name, value, out)
    return name in _NAMES


def _restrictions(name: str, value: str, out: Imported) -> bool:
    words = _words(value)
    zones: list[str] = []
    skipped: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word == "reject_rbl_client" and i + 1 < len(words):
            zones.append(words[i + 1].split("=", 1)[0])
            i += 2
            continue
        if word == "check_policy_service" and i + 1 < len(words):
            target = words[i + 1]
            if target.rsplit(":", 1)[-1] == _POSTGREY_PORT:
                out.policies.append({"greylisting": {}})
                out.mapped.append((name, "policies.greylisting", f"{word} {target}"))
            else:
                skipped.append(f"{word} {target}")
            i += 2
            continue
        if word not in _PLAIN_RESTRICTIONS:
            skipped.append(word)
        i += 1
    if zones:
        at = "connect" if name == "smtpd_client_restrictions" else "rcpt"
        out.policies.append({"dnsbl": {"zones": zones, "at": at}})
        out.mapped.append((name, "policies.dnsbl.zones", " ".join(zones)))
        out.notes.append(
            f"DNSBL zones {', '.join(zones)}: add dns entries with dnsbl: true (and "
            "dnsbl_list incidents for the listings)"
        )
    if skipped:
        out.not_modelled.append((name, " ".join(skipped), "restrictions smtpsim does not model"))
    return True


def _names(values: dict[str, str], out: Imported) -> None:
    hostname = values.get("myhostname", "")
    if hostname and "." in hostname:
        out.host["name"] = hostname
        out.mapped.append(("myhostname", "name", hostname))
    elif "myhostname" in values:
        out.not_modelled.append(("myhostname", hostname, "not a fully qualified name"))
    domains: list[str] = []
    for name in ("mydestination", "virtual_mailbox_domains"):
        if name not in values:
            continue
        words = _words(values[name])
        tables = [w for w in words if ":" in w or w.startswith("/")]
        mine = [
            w.lower()
            for w in words
            if w not in tables
            and "." in w
            and not w.lower().startswith("localhost")
            and w.lower() != hostname.lower()
        ]
        domains += mine
        out.mapped.append((name, "accepts", " ".join(mine) or "(none but the host itself)"))
        if tables:
            out.not_modelled.append(
                (name, " ".join(tables), "lookup tables are not read: list their domains")
            )
    if domains:
        out.host["accepts"] = list(dict.fromkeys(domains))


def read_config(main_cf: Path, master_cf: Path | None = None) -> Imported:
    """``import_postfix`` of files."""
    master = master_cf.read_text(encoding="utf-8") if master_cf is not None else None
    return import_postfix(main_cf.read_text(encoding="utf-8"), master)
