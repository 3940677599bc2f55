"""The network under the mail: topology and links, DNS zones and caching resolvers.
Knows nothing of SMTP."""

from .dns import MXAnswer, Resolver, ZoneData, Zones
from .topology import Link, Network, Path

__all__ = ["Link", "MXAnswer", "Network", "Path", "Resolver", "ZoneData", "Zones"]
