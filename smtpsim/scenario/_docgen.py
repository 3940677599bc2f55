"""Field tables for ``docs/scenario-format.md``, generated from the schema.

The page is hand-written around generated blocks::

    <!-- fields: Postfix -->
    | field | type | default | meaning |
    ...
    <!-- /fields -->

``python -m smtpsim.scenario._docgen docs/scenario-format.md`` rewrites the blocks in
place; a test checks that the committed page is up to date.
"""

from __future__ import annotations

import re
import sys
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from . import clients, incidents, policies, retrieval, schema, tls, traffic
from .feedback import ConcurrencyFeedback
from .units import (
    BANDWIDTH_INFO,
    DURATION_INFO,
    FRACTION_INFO,
    RATE_INFO,
    SIZE_INFO,
    TIME_OF_DAY_INFO,
    UnitInfo,
)

MODELS: dict[str, type[BaseModel]] = {
    "Scenario": schema.Scenario,
    "Host": schema.Host,
    "Postfix": schema.Postfix,
    "Processing": schema.Processing,
    "Link": schema.Link,
    "Zone": schema.Zone,
    "Flow": schema.Flow,
    "Recipients": schema.Recipients,
    "Burst": schema.Burst,
    "Replay": traffic.Replay,
    "FlowLink": schema.FlowLink,
    "FlowDsn": traffic.FlowDsn,
    "MailClients": clients.MailClients,
    "ClientSettings": clients.ClientSettings,
    "Misconfiguration": clients.Misconfiguration,
    "ClientRetry": clients.ClientRetry,
    "Listener": clients.Listener,
    "Simulation": schema.Simulation,
    "PolicySpec": policies.PolicySpec,
    "DnsblPolicy": policies.DnsblPolicy,
    "GreylistPolicy": policies.GreylistPolicy,
    "RateLimitPolicy": policies.RateLimitPolicy,
    "MailboxFullPolicy": policies.MailboxFullPolicy,
    "SpamFilterPolicy": policies.SpamFilterPolicy,
    "SenderClass": policies.SenderClass,
    "SpfPolicy": policies.SpfPolicy,
    "RetrySpec": policies.RetrySpec,
    "ListingRule": policies.ListingRule,
    "Incident": incidents.Incident,
    "LinkCongestion": incidents.LinkCongestion,
    "HostDown": incidents.HostDown,
    "HostCrash": incidents.HostCrash,
    "HostSlow": incidents.HostSlow,
    "ServerErrors": incidents.ServerErrors,
    "DnsFailure": incidents.DnsFailure,
    "DnsChange": incidents.DnsChange,
    "DnsblListing": incidents.DnsblListing,
    "PolicySwitch": incidents.PolicySwitch,
    "RandomOnsets": incidents.RandomOnsets,
    "AccessService": retrieval.AccessService,
    "ClientPopulation": retrieval.ClientPopulation,
    "AccessDown": retrieval.AccessDown,
    "AccessSlow": retrieval.AccessSlow,
    "HostTls": tls.HostTls,
    "CertificateSpec": tls.CertificateSpec,
    "MtaSts": tls.MtaSts,
    "CertificateChange": tls.CertificateChange,
    "TlsaChange": tls.TlsaChange,
    "MtaStsChange": tls.MtaStsChange,
}

ANCHORS: dict[str, str] = {
    "Host": "hosts",
    "Link": "routers-and-links",
    "Zone": "dns",
    "Flow": "traffic",
    "Burst": "bursts",
    "FlowLink": "flow-link",
    "FlowDsn": "delivery-status-notifications",
    "MailClients": "mail-clients",
    "ClientSettings": "mail-clients",
    "Misconfiguration": "mail-clients",
    "ClientRetry": "mail-clients",
    "Listener": "listeners",
    "PolicySpec": "policies",
    "DnsblPolicy": "policies",
    "GreylistPolicy": "policies",
    "RateLimitPolicy": "policies",
    "MailboxFullPolicy": "policies",
    "SpamFilterPolicy": "policies",
    "SenderClass": "policies",
    "SpfPolicy": "policies",
    "RetrySpec": "retry",
    "ListingRule": "policies",
    "Incident": "incidents",
    "LinkCongestion": "incidents",
    "HostDown": "incidents",
    "HostCrash": "incidents",
    "HostSlow": "incidents",
    "ServerErrors": "incidents",
    "DiskFull": "incidents",
    "DnsFailure": "incidents",
    "DnsChange": "incidents",
    "DnsblListing": "incidents",
    "PolicySwitch": "incidents",
    "RandomOnsets": "incidents",
    "AccessService": "retrieval",
    "ClientPopulation": "retrieval",
    "AccessDown": "incidents",
    "AccessSlow": "incidents",
    "HostTls": "tls",
    "CertificateSpec": "tls",
    "MtaSts": "tls",
    "CertificateChange": "incidents",
    "TlsaChange": "incidents",
    "MtaStsChange": "incidents",
}
"""Where each model is described on the page (GitHub heading anchors)."""

_SPECIAL: dict[object, str] = {
    ConcurrencyFeedback: "[concurrency feedback](#concurrency-feedback)",
    schema.RateProfile: "[rate profile](#rate-profiles)",
    schema.PerMessage: "[recipients per message](#recipients-per-message)",
}

_PLAIN: dict[object, str] = {int: "integer", float: "number", bool: "boolean", str: "string"}

_FIELDS = re.compile(r"(<!-- fields: (\w+) -->\n)(.*?)(<!-- /fields -->)", re.S)
_UNITS = re.compile(r"(<!-- units -->\n)(.*?)(<!-- /units -->)", re.S)


def _unit_link(info: UnitInfo) -> str:
    return f"[{info.name}](#units)"


def type_name(tp: object, metadata: Sequence[object] = ()) -> str:
    """How a field's type reads in the docs: 'duration', 'list of domain', '[Host](#host)'."""
    for item in metadata:
        if isinstance(item, UnitInfo):
            return _unit_link(item)
        if isinstance(item, schema.DistInfo):
            return f"[{item.unit} distribution](#distributions)"
    origin = get_origin(tp)
    if origin is typing.Annotated:
        args = get_args(tp)
        return type_name(args[0], [*metadata, *args[1:]])
    if origin is Union or origin is types.UnionType:
        members = [a for a in get_args(tp) if a is not type(None)]
        text = " or ".join(type_name(m) for m in members)
        return f"{text} or none" if type(None) in get_args(tp) else text
    if origin is Literal:
        return "one of " + ", ".join(f"`{a}`" for a in get_args(tp))
    if origin is dict:
        key, value = get_args(tp)
        return f"mapping {type_name(key)} → {type_name(value)}"
    if origin in (tuple, list):
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return f"list of {type_name(args[0])}"
        return f"list of {len(args)} {type_name(args[0])}s"
    if tp in _SPECIAL:
        return _SPECIAL[tp]
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return f"[{tp.__name__}](#{ANCHORS.get(tp.__name__, tp.__name__.lower())})"
    if tp is schema.Name:
        return "name"
    return _PLAIN.get(tp, str(tp))


_TYPE_OVERRIDES: dict[tuple[str, str], str] = {
    ("Scenario", "routers"): "list of names",
    ("Scenario", "hosts"): "mapping name → [Host](#hosts)",
    ("Scenario", "traffic"): "mapping name → [Flow](#traffic)",
    ("Scenario", "dns"): "mapping domain → [Zone](#dns)",
    ("Host", "name"): "DNS name",
    ("Host", "ip"): "IPv4 address",
    ("Host", "accepts"): "list of domains",
    ("Postfix", "relayhost"): "host key or none",
    ("Postfix", "smtp_fallback_relay"): "host key or list of host keys",
    ("Link", "between"): "list of 2 host keys or routers",
    ("Zone", "mx"): "mapping host key → preference, or `'null'`",
    ("Zone", "a"): "host key or none",
    ("Zone", "txt"): "list of strings",
    ("Flow", "submit_to"): "host key",
    ("Flow", "sender_domain"): "domain",
    ("Flow", "ip"): "IPv4 address",
    ("Recipients", "domains"): "mapping domain → weight",
}


def _field_type(name: str, field: FieldInfo, model: type[BaseModel]) -> str:
    override = _TYPE_OVERRIDES.get((model.__name__, name))
    return override or type_name(field.annotation, field.metadata)


def _yaml_value(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_yaml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yaml_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def _default(name: str, field: FieldInfo) -> str:
    if field.default_factory is not None:
        return "(all defaults)"
    if field.default is PydanticUndefined:
        return "**required**"
    if field.default == "":
        return '`""`'
    if name == "size":
        return "empirical, see [sizes](#message-sizes)"
    return f"`{_yaml_value(field.default)}`"


def render_fields(model: type[BaseModel]) -> str:
    rows = ["| field | type | default | meaning |", "| --- | --- | --- | --- |"]
    for name, field in model.model_fields.items():
        meaning = (field.description or "").replace("|", "\\|")
        meaning = meaning.replace("<", "&lt;").replace(">", "&gt;")
        kind, default = _field_type(name, field, model), _default(name, field)
        rows.append(f"| `{field.alias or name}` | {kind} | {default} | {meaning} |")
    return "\n".join(rows) + "\n"


def render_units() -> str:
    rows = ["| unit | stored as | written as | examples |", "| --- | --- | --- | --- |"]
    infos = (DURATION_INFO, SIZE_INFO, BANDWIDTH_INFO, RATE_INFO, FRACTION_INFO, TIME_OF_DAY_INFO)
    for info in infos:
        examples = ", ".join(f"`{e}`" for e in info.examples)
        rows.append(f"| {info.name} | {info.base} | {info.syntax} | {examples} |")
    return "\n".join(rows) + "\n"


def update(text: str) -> str:
    """``text`` with every generated block rewritten from the schema."""
    text = _FIELDS.sub(
        lambda m: f"{m.group(1)}\n{render_fields(MODELS[m.group(2)])}\n{m.group(4)}", text
    )
    return _UNITS.sub(lambda m: f"{m.group(1)}\n{render_units()}\n{m.group(3)}", text)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0] if args else "docs/scenario-format.md")
    text = path.read_text(encoding="utf-8")
    new = update(text)
    if new != text:
        path.write_text(new, encoding="utf-8")
        print(f"updated {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
