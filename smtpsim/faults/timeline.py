"""When incidents happen: the windows of each incident of a scenario.

One-off windows come from ``at`` and ``for``/``until``; ``every`` repeats a window;
``random`` draws Poisson onsets and durations from the incident's own random stream,
so the windows of a run are fixed when it is built and recorded in its meta.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..scenario import Dist
    from ..scenario.incidents import Incident

__all__ = ["windows"]


def windows(
    incident: Incident, duration: float, rng: np.random.Generator | None
) -> list[tuple[float, float]]:
    """``(start, end)`` pairs within ``[0, duration]``, in order."""
    start = incident.at
    if incident.random is not None:
        assert rng is not None
        out = []
        rate = incident.random.rate
        dist = incident.random.duration
        t = start
        while rate > 0:
            t += float(rng.exponential(1.0 / rate))
            if t >= duration:
                break
            length = _draw(dist, rng)
            out.append((t, min(t + length, duration)))
        return out
    end = incident.end
    if incident.every is None:
        if start >= duration:
            return []
        return [(start, duration if end is None else min(end, duration))]
    period, span = incident.every, incident.for_
    assert span is not None  # the incident's validator: 'every' needs 'for'
    out = []
    t = start
    while t < duration:
        out.append((t, min(t + span, duration)))
        t += period
    return out


def _draw(dist: Dist, rng: np.random.Generator) -> float:
    if dist.kind == "constant":
        return float(dist.value)
    return float(dist.quantile(rng.random()))
