"""DNS data: a domain's MX records (RFC 5321 section 5.1; RFC 7505 for a null MX), its A
record, TXT records, or a DNSBL zone."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, WithJsonSchema

from . import _names
from .base import Model, field
from .policies import ListingRule
from .tls import MtaSts
from .units import Duration

__all__ = ["Zone", "mx_from_yaml"]


def mx_from_yaml(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, str):
        if value.strip().lower() == "null":
            return "null"
        raise ValueError(
            "expected MX hosts with preferences such as {mx1: 10}, or 'null' for a null MX, "
            f"got {_names.got(value)}"
        )
    if isinstance(value, dict):
        if not value:
            raise ValueError(
                "no MX hosts: write mx: 'null' for a null MX, or leave mx out for an implicit MX"
            )
        out: dict[str, int] = {}
        for host, pref in value.items():
            if not isinstance(host, str):
                raise ValueError(f"expected a host key, got {_names.got(host)}")
            if isinstance(pref, bool) or not isinstance(pref, int) or not 0 <= pref <= 65535:
                raise ValueError(
                    f"the preference of {host} must be an integer from 0 to 65535, got "
                    f"{_names.got(pref)}"
                )
            out[host] = pref
        return out
    raise ValueError(
        "expected MX hosts with preferences such as {mx1: 10}, or 'null' for a null MX, got "
        f"{_names.got(value)}"
    )


class Zone(Model):
    """The DNS data of one domain: MX records, an A record, TXT records, or a DNSBL zone."""

    mx: Annotated[
        dict[str, int] | Literal["null"] | None,
        BeforeValidator(mx_from_yaml),
        WithJsonSchema(
            {
                "anyOf": [
                    {
                        "type": "object",
                        "additionalProperties": {"type": "integer", "minimum": 0, "maximum": 65535},
                        "minProperties": 1,
                    },
                    {"const": "null"},
                    {"type": "null"},
                ],
                "examples": [{"mx1": 10, "mx2": 20}, "null"],
            }
        ),
    ] = field(
        None,
        description="MX records: host key -> preference (lower is preferred); 'null' (quoted) "
        "= null MX (RFC 7505: the domain accepts no mail); absent = implicit MX (the A record)",
    )
    a: str | None = field(
        None,
        description="host key whose address the domain's own A record holds (used for "
        "the implicit MX when there is no mx)",
    )
    ttl: Duration = field(
        "1h", description="time to live of the domain's records in resolver caches"
    )
    txt: tuple[str, ...] = field((), description="TXT records (SPF and such)")
    dnsbl: bool = field(
        False, description="this is a DNSBL zone: listings are queried as <reversed-ip>.<zone>"
    )
    dmarc: Literal["none", "quarantine", "reject"] | None = field(
        None, description="the domain's DMARC policy (its _dmarc TXT record), if any"
    )
    mta_sts: MtaSts | None = field(
        None, description="the domain's MTA-STS policy (RFC 8461), fetched by senders over HTTPS"
    )
    listing: ListingRule | None = field(
        None, description="DNSBL zones: list an address by itself after spamtrap hits"
    )
