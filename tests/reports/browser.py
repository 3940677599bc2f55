"""Open a report.html in headless Chromium and report what a reader would see broken:
images that do not load, console errors, horizontal overflow at a window width.

Standard library only: Chromium's ``--dump-dom`` prints the DOM after the page's
scripts ran; a copy of the page gets a small script that records errors (first, in
``<head>``) and, after ``load``, writes its findings as JSON into the DOM.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Check", "check_page", "chromium", "screenshot"]

_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

_PROBE_HEAD = """<script>
window.__errors = [];
window.addEventListener("error", function (e) {
  window.__errors.push("error: " + (e.message || (e.target && (e.target.src || e.target.href))
                       || "resource"));
}, true);
(function () {
  var original = console.error;
  console.error = function () {
    window.__errors.push("console.error: " + Array.prototype.join.call(arguments, " "));
    original.apply(console, arguments);
  };
})();
</script>"""

_PROBE_TAIL = """<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var broken = images.filter(function (img) {
    return !img.complete || img.naturalWidth === 0;
  }).map(function (img) { return (img.alt || img.src).slice(0, 80); });
  var external = images.filter(function (img) {
    return !/^data:/.test(img.getAttribute("src") || "");
  }).map(function (img) { return img.getAttribute("src"); });
  var root = document.documentElement;
  var out = document.createElement("pre");
  out.id = "__smtpsim_check";
  out.textContent = JSON.stringify({
    images: images.length, broken: broken, external: external,
    errors: window.__errors, width: window.innerWidth,
    scroll_width: Math.max(root.scrollWidth, document.body.scrollWidth),
    headings: document.querySelectorAll("h2").length,
    toc_links: document.querySelectorAll("nav.toc a").length
  });
  document.body.appendChild(out);
});
</script>"""


def chromium() -> str | None:
    """The Chromium (or Chrome) executable on PATH, or None."""
    for name in _CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _base_args(binary: str, width: int, height: int) -> list[str]:
    return [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--mute-audio",
        f"--window-size={width},{height}",
    ]


@dataclass(frozen=True)
class Check:
    images: int
    broken: list[str]
    external: list[str]
    errors: list[str]
    width: int
    scroll_width: int
    headings: int
    toc_links: int


def check_page(page: Path, *, width: int = 1400, timeout: float = 90.0) -> Check:
    """Load a copy of ``page`` (with the probe) in headless Chromium at ``width``."""
    binary = chromium()
    if binary is None:
        raise FileNotFoundError("no chromium on PATH")
    html = page.read_text(encoding="utf-8")
    html = html.replace("<head>", "<head>" + _PROBE_HEAD, 1)
    html = html.replace("</body>", _PROBE_TAIL + "</body>", 1)
    with tempfile.TemporaryDirectory(prefix="smtpsim-browser-") as tmp:
        probe = Path(tmp) / page.name
        probe.write_text(html, encoding="utf-8")
        profile = Path(tmp) / "profile"
        args = [
            *_base_args(binary, width, 900),
            f"--user-data-dir={profile}",
            "--virtual-time-budget=10000",
            "--dump-dom",
            probe.as_uri(),
        ]
        env = {**os.environ, "HOME": tmp}
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env)
    match = re.search(r'<pre id="__smtpsim_check">(.*?)</pre>', done.stdout, re.S)
    if match is None:
        raise RuntimeError(
            f"chromium gave no result (exit {done.returncode}): {done.stderr[-500:]}"
        )
    data = json.loads(
        match.group(1)
        .replace("&quot;", '"')
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
    )
    return Check(**data)


def screenshot(
    page: Path, png: Path, *, width: int = 1400, height: int = 1800, timeout: float = 90.0
) -> Path:
    """A screenshot of the top ``height`` pixels of ``page`` at ``width``."""
    binary = chromium()
    if binary is None:
        raise FileNotFoundError("no chromium on PATH")
    with tempfile.TemporaryDirectory(prefix="smtpsim-browser-") as tmp:
        args = [
            *_base_args(binary, width, height),
            f"--user-data-dir={Path(tmp) / 'p'}",
            f"--screenshot={png}",
            page.resolve().as_uri(),
        ]
        subprocess.run(
            args,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
            env={**os.environ, "HOME": tmp},
        )
    return png
