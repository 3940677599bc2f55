"""Running the quickstart scenario for the maillog tests, optionally with mx-small's
link cut for a while (a SimPy process added before the run)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from model_runs import REPO, at_times, run_model

from smtpsim.metrics.maillog import host_table
from smtpsim.metrics.result import RunResult
from smtpsim.model import Model

QUICKSTART = REPO / "scenarios" / "quickstart.yaml"


def run_quickstart(
    *,
    overrides: tuple[str, ...] = (),
    until: float | None = None,
    link_down: tuple[float, float] | None = None,
) -> RunResult:
    """Run the quickstart; ``link_down=(t0, t1)`` cuts mx-small's link meanwhile."""

    def setup(model: Model) -> None:
        if link_down is not None:
            link = model.link("mx-small", "internet")
            at_times(
                model,
                (link_down[0], lambda: setattr(link, "up", False)),
                (link_down[1], lambda: setattr(link, "up", True)),
            )

    model, result = run_model(
        QUICKSTART, seed=None, until=until, overrides=overrides, setup=setup, meta={"warmup_s": 0.0}
    )
    result.meta["hosts"] = host_table(model.hosts)
    return result


# --- pflogsumm (Debian's pflogsumm 1.1.5) ------------------------------------------------

_TOTAL = re.compile(
    r"^\s*(\d+)([km ]?)\s+(received|delivered|forwarded|deferred|bounced|"
    r"rejected|reject warnings|held|discarded)\b(.*)$"
)
_DEFERRALS = re.compile(r"\((\d+)([km ]?)\s*deferrals\)")


def pflogsumm() -> str:
    """The pflogsumm program; skips the test (fails it under CI=true) when missing."""
    found = shutil.which("pflogsumm") or next(
        (p for p in ("/usr/sbin/pflogsumm", "/usr/bin/pflogsumm") if os.access(p, os.X_OK)), None
    )
    if found is None:
        message = "pflogsumm is not installed (Debian: apt-get install pflogsumm)"
        if os.environ.get("CI") == "true":
            pytest.fail(message + "; under CI=true it is required (.ci/run installs it)")
        pytest.skip(message)
    return found


def grand_totals(report: str) -> dict[str, int]:
    """The message counts of pflogsumm's "Grand Totals" section."""
    lines = report.splitlines()
    start = lines.index("Grand Totals")
    totals: dict[str, int] = {}
    for line in lines[start + 1 :]:
        if "bytes received" in line:
            break
        m = _TOTAL.match(line)
        if m is None:
            continue
        number, unit, name, rest = m.groups()
        assert unit.strip() == "", f"pflogsumm abbreviated a count: {line!r}"
        totals[name] = int(number)
        if name == "deferred":
            d = _DEFERRALS.search(rest)
            totals["deferrals"] = int(d.group(1)) if d else 0
    return totals


def run_pflogsumm(path: Path) -> dict[str, int]:
    done = subprocess.run(
        [pflogsumm(), str(path)], capture_output=True, text=True, timeout=120, check=True
    )
    return grand_totals(done.stdout)
