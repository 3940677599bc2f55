"""Running the quickstart scenario for the maillog tests, optionally with mx-small's
link cut for a while (a SimPy process added before the run)."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import smtpsim
from smtpsim.metrics.maillog import host_table
from smtpsim.metrics.result import RunResult
from smtpsim.model import build

QUICKSTART = Path(__file__).resolve().parents[2] / "scenarios" / "quickstart.yaml"


def run_quickstart(*, overrides: tuple[str, ...] = (), until: float | None = None,
                   link_down: tuple[float, float] | None = None) -> RunResult:
    """Run the quickstart; ``link_down=(t0, t1)`` cuts mx-small's link meanwhile."""
    scenario = smtpsim.load_scenario(QUICKSTART, overrides=list(overrides))
    model = build(scenario)
    if link_down is not None:
        start, end = link_down

        def outage() -> Generator[Any, Any, None]:
            link = model.link("mx-small", "internet")
            yield model.env.timeout(start)
            link.up = False
            yield model.env.timeout(end - start)
            link.up = True

        model.env.process(outage())
    model.run(until)
    meta = {"scenario": scenario.name, "seed": model.seed, "warmup_s": 0.0,
            "hosts": host_table(model.hosts)}
    return RunResult.from_recorder(model.recorder, meta)
