"""The network: nodes (hosts, routers, sender populations) joined by links.

A link has a one-way latency (a value or a distribution drawn per session), a
bandwidth (its capacity), a flow bandwidth (the most one transfer can use, infinite
by default), a loss probability (a connection attempt over it is lost and times
out) and an up/down state. Routes are shortest paths by mean latency, computed once
per pair with networkx and cached; a route whose link is down is unusable (no
rerouting: mail networks route by MX, not by IP path diversity).

Bandwidth is shared among transfers, the way TCP flows share a bottleneck: a
message transfer gets, on each link of its path, an equal share with the transfers
in progress there when it starts (at most the link's flow bandwidth: a TCP flow is
also limited by its own window and round trip), and moves at the smallest share. The share is
fixed when the transfer starts (a session costs one event, so it is not re-divided
when other transfers start or end). Round trips do not use bandwidth: a session
that waits for a reply does not slow the others down.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

import networkx as nx

__all__ = ["Link", "Network", "Path"]


class Link:
    """One link. ``latency()`` draws a one-way latency in seconds."""

    __slots__ = (
        "__weakref__",
        "a",
        "b",
        "bandwidth",
        "constant",
        "flow_bandwidth",
        "latency",
        "loss",
        "mean",
        "transfers",
        "up",
    )

    def __init__(
        self,
        a: str,
        b: str,
        latency: Callable[[], float],
        *,
        mean_latency: float,
        constant: bool,
        bandwidth: float,
        loss: float = 0.0,
        flow_bandwidth: float = float("inf"),
    ) -> None:
        self.a, self.b = a, b
        self.latency = latency
        self.mean = mean_latency
        self.constant = constant
        self.bandwidth = bandwidth
        self.flow_bandwidth = flow_bandwidth
        self.loss = loss
        self.up = True
        self.transfers: list[tuple[float, float]] = []  # (start, end) not yet over

    @property
    def name(self) -> str:
        return f"{self.a}-{self.b}"


class Path:
    """The links between two nodes, with what a session needs from them."""

    __slots__ = ("_const_rtt", "links", "loss")

    def __init__(self, links: tuple[Link, ...]) -> None:
        self.links = links
        self._const_rtt = (
            2.0 * sum(link.mean for link in links) if all(lk.constant for lk in links) else None
        )
        survive = 1.0
        for link in links:
            survive *= 1.0 - link.loss
        self.loss = 1.0 - survive

    @property
    def up(self) -> bool:
        return all(link.up for link in self.links)

    def rtt(self) -> float:
        """A round-trip time: constant, or drawn from the links' latency distributions."""
        if self._const_rtt is not None:
            return self._const_rtt
        return 2.0 * sum(link.latency() for link in self.links)

    def transfer(self, size: int, start: float, now: float) -> float:
        """Seconds to move ``size`` bytes from ``start`` (>= ``now``), sharing each
        link equally with the transfers in progress at ``start``; the transfer is
        then recorded on every link of the path."""
        rate = float("inf")
        links = self.links
        for link in links:
            transfers = link.transfers
            if transfers and transfers[0][1] <= now:
                transfers[:] = [x for x in transfers if x[1] > now]
            sharing = 1
            for s, e in transfers:
                if s <= start < e:
                    sharing += 1
            r = link.bandwidth / sharing
            if r > link.flow_bandwidth:
                r = link.flow_bandwidth
            if r < rate:
                rate = r
        seconds = size / rate
        interval = (start, start + seconds)
        for link in links:
            link.transfers.append(interval)
        return seconds


class Network:
    """Nodes and links; routes between nodes, cached."""

    def __init__(self) -> None:
        self.graph: nx.Graph = nx.Graph()
        self._paths: dict[tuple[str, str], Path | None] = {}

    def add_node(self, name: str) -> None:
        self.graph.add_node(name)

    def add_link(self, link: Link) -> None:
        self.graph.add_edge(link.a, link.b, link=link, weight=link.mean)
        self._paths.clear()

    def invalidate(self) -> None:
        """Forget the cached paths (a link's latency or loss changed)."""
        self._paths.clear()

    def link(self, a: str, b: str) -> Link:
        link: Link = self.graph.edges[a, b]["link"]
        return link

    def path(self, a: str, b: str) -> Path | None:
        """The route from ``a`` to ``b``, or ``None`` if they are not connected."""
        key = (a, b)
        try:
            return self._paths[key]  # asked for every connection: one lookup when known
        except KeyError:
            pass
        path: Path | None
        try:
            nodes = nx.shortest_path(self.graph, a, b, weight="weight")
        except (nx.NetworkXNoPath, nx.NodeNotFound):
            path = None
        else:
            path = Path(tuple(self.link(u, v) for u, v in pairwise(nodes)))
        self._paths[key] = path
        return path
