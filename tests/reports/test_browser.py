"""The reports in a real browser (headless Chromium): every image loads, no console
errors, no horizontal overflow at 1400 px. Chromium comes from Debian's package,
installed by .ci/run under CI=true; elsewhere the test is skipped when it is missing,
and under CI=true it fails instead."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from browser import check_page, chromium


def _need_chromium() -> None:
    if chromium() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is required under CI=true (.ci/run installs it)")
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium)")


@pytest.mark.parametrize("which", ["run", "compare", "sweep"])
def test_report_in_a_browser(which: str, request: pytest.FixtureRequest) -> None:
    _need_chromium()
    directory: Path = request.getfixturevalue(f"{which}_dir")
    check = check_page(directory / "report.html", width=1400)
    assert check.images >= 4  # run: 5 figures; compare: 4; sweep: one per metric
    assert check.broken == [] and check.external == []
    assert check.errors == []
    assert check.scroll_width <= check.width == 1400
    assert check.toc_links == check.headings  # the contents list every section
