"""The compare and sweep report.html: self-contained, with their configurations,
seeds and version, and the paired differences plotted."""

from __future__ import annotations

import re
from pathlib import Path

from smtpsim import __version__


def _images(page: str) -> list[str]:
    return re.findall(r'<img[^>]* src="([^"]*)"', page)


def test_compare_report_lists_configurations_and_plots_differences(compare_dir: Path) -> None:
    page = (compare_dir / "report.html").read_text(encoding="utf-8")
    assert all(src.startswith("data:image/png;base64,") for src in _images(page))
    assert len(_images(page)) == 4  # delay CDF, metrics, differences, queues
    assert "quickstart.yaml" in page and "traffic.staff.unknown_users=10%" in page
    assert "how fast does a small company" in page  # the question
    assert "base seed" in page and f"<dd>{__version__}</dd>" in page
    assert 'id="differences"' in page and (compare_dir / "plots" / "differences.png").exists()
    assert page.count('<nav class="toc">') == 1


def test_sweep_report_has_an_index_of_its_figures(sweep_dir: Path) -> None:
    page = (sweep_dir / "report.html").read_text(encoding="utf-8")
    figures = _images(page)
    assert figures and all(src.startswith("data:image/png;base64,") for src in figures)
    toc = re.findall(r'<a href="#(figure-[^"]+)">', page)
    assert len(toc) == len(figures)  # one entry per figure (one parameter varied)
    assert all(f'id="{anchor}"' in page for anchor in toc)
    assert "postfix, impatient" in page  # the design's values
