"""How transfers use a link (``smtpsim.net.topology``): transfers in progress share its
capacity equally, and no transfer goes faster than the link's flow bandwidth."""

from __future__ import annotations

from pathlib import Path as FilePath

import pytest

from smtpsim.net.topology import Link, Path


def _link(bandwidth: float, flow: float = float("inf")) -> Link:
    return Link(
        "a",
        "b",
        lambda: 0.01,
        mean_latency=0.01,
        constant=True,
        bandwidth=bandwidth,
        flow_bandwidth=flow,
    )


def test_transfers_in_progress_share_the_capacity() -> None:
    path = Path((_link(1_000_000.0),))
    assert path.transfer(1_000_000, 0.0, 0.0) == pytest.approx(1.0)  # alone: all of it
    assert path.transfer(1_000_000, 0.5, 0.5) == pytest.approx(2.0)  # one other: half
    assert path.transfer(1_000_000, 0.6, 0.6) == pytest.approx(3.0)  # two others: a third
    assert path.transfer(1_000_000, 10.0, 10.0) == pytest.approx(1.0)  # all over: alone


def test_a_flow_never_goes_faster_than_its_flow_bandwidth() -> None:
    path = Path((_link(1e12, flow=1_250_000.0),))  # 10 Mbit/s per flow, capacity to spare
    for k in range(20):  # 20 at once, as the benchmark's hops: each at its own rate
        assert path.transfer(125_000, 0.0, 0.0) == pytest.approx(0.1), k
    shared = Path((_link(2_500_000.0, flow=1_250_000.0),))
    assert shared.transfer(125_000, 0.0, 0.0) == pytest.approx(0.1)  # capped, not 0.05
    assert shared.transfer(125_000, 0.0, 0.0) == pytest.approx(0.1)  # half the capacity
    assert shared.transfer(125_000, 0.0, 0.0) == pytest.approx(0.15)  # a third: below cap


def test_flow_bandwidth_comes_from_the_scenario() -> None:
    import smtpsim
    from smtpsim.model import build

    scenarios = FilePath(__file__).resolve().parents[2] / "scenarios"
    model = build(smtpsim.load_scenario(scenarios / "bench-3hop.yaml"))
    assert model.network.link("out", "mx").flow_bandwidth == pytest.approx(20e6 / 8)
    assert model.network.link("traffic.load", "msa").flow_bandwidth == pytest.approx(10e6 / 8)
    quick = build(smtpsim.load_scenario(scenarios / "quickstart.yaml"))
    assert all(
        edge["link"].flow_bandwidth == float("inf")
        for *_, edge in quick.network.graph.edges(data=True)
    )
