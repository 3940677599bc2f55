"""Defaults that depend on other parts of the scenario: host names and addresses, flow
addresses and sender domains, filled in where not given.

They work on the raw scenario mapping, before validation (``Scenario`` fills them in
before checking its fields) and in the cross-reference checks, which read raw data.
"""

from __future__ import annotations

import contextlib

from pydantic import BaseModel

from . import _names
from .raw import YamlMap

__all__ = ["fill_defaults"]


def fill_defaults(data: YamlMap) -> YamlMap:
    """Host names and addresses, flow addresses and sender domains, where not given."""
    data = dict(data)
    hosts = data.get("hosts")
    traffic = data.get("traffic")
    hosts = dict(hosts) if isinstance(hosts, dict) else None
    traffic = dict(traffic) if isinstance(traffic, dict) else None

    def as_dict(item: object) -> object:
        return item.model_dump() if isinstance(item, BaseModel) else item

    used = []
    for group in (hosts or {}, traffic or {}):
        for key, item in group.items():
            item = group[key] = as_dict(item)
            if isinstance(item, dict) and item.get("ip") is not None:
                with contextlib.suppress(ValueError):
                    used.append(_names.normalize_ipv4(item["ip"]))
    free = iter(_names.auto_ips(used))
    for key, host in (hosts or {}).items():
        if hosts is not None and isinstance(host, dict):
            host = dict(host)
            if host.get("name") is None and isinstance(key, str):
                host["name"] = f"{key}{_names.AUTO_NAME_SUFFIX}"
            if host.get("ip") is None:
                host["ip"] = next(free)
            hosts[key] = host
    for key, flow in (traffic or {}).items():
        if traffic is not None and isinstance(flow, dict):
            flow = dict(flow)
            if flow.get("ip") is None:
                flow["ip"] = next(free)
            if flow.get("sender_domain") is None:
                target = flow.get("submit_to")
                submit = (hosts or {}).get(target) if isinstance(target, str) else None
                accepts = submit.get("accepts") if isinstance(submit, dict) else None
                if isinstance(accepts, list | tuple) and accepts:
                    flow["sender_domain"] = accepts[0]
            traffic[key] = flow
    if hosts is not None:
        data["hosts"] = hosts
    if traffic is not None:
        data["traffic"] = traffic
    return data
