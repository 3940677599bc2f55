"""The look shared by every ``report.html`` (run, compare, sweep): one stylesheet, a
header of facts, a table of contents, sections, tables and embedded figures.

A report is one file that can be mailed alone: figures are embedded as base64 PNG
(``data:`` URIs), never linked, and the page holds no script. Its width is bounded
(the body at most 72em, images and wide tables scaled or scrolled inside their own
box), so nothing overflows a 1400 px window.
"""

from __future__ import annotations

import base64
import html
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # matplotlib is loaded by embed_figure alone
    from matplotlib.figure import Figure

__all__ = [
    "STYLE",
    "Section",
    "details",
    "embed_figure",
    "embed_file",
    "facts",
    "paragraph",
    "preformatted",
    "render_page",
    "table",
]

STYLE = """\
<style>
:root { --ink: #1f2328; --muted: #57606a; --line: #d0d7de; --soft: #f6f8fa;
        --accent: #0969da; }
html { -webkit-text-size-adjust: 100%; }
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       color: var(--ink); max-width: 72em; margin: 1.5em auto; padding: 0 1.5em;
       line-height: 1.45; overflow-wrap: anywhere; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; border-bottom: 1px solid var(--line); padding-bottom: 0.2em;
     margin-top: 1.8em; }
h3 { font-size: 1.05em; }
p.subtitle { color: var(--muted); margin-top: 0; }
nav.toc { background: var(--soft); border: 1px solid var(--line); border-radius: 6px;
          padding: 0.5em 1em; display: inline-block; }
nav.toc ol { margin: 0.2em 0; padding-left: 1.4em; columns: 2; column-gap: 3em; }
a { color: var(--accent); }
dl.facts { display: grid; grid-template-columns: max-content minmax(0, 1fr);
           gap: 0.15em 1.2em; margin: 0.8em 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
div.scroll { max-width: 100%; overflow-x: auto; }
table.smtpsim { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0;
                min-width: 32em; }
table.smtpsim caption { text-align: left; color: var(--muted); padding: 0.2em 0; }
table.smtpsim th, table.smtpsim td { padding: 0.2em 0.7em; border-bottom: 1px solid #ddd;
                                    overflow-wrap: normal; }
table.smtpsim th { text-align: left; background: var(--soft); }
table.smtpsim td.num { text-align: right; font-variant-numeric: tabular-nums;
                       white-space: nowrap; }
table.smtpsim td.yes { font-weight: bold; }
table.smtpsim td:first-child { white-space: nowrap; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: 0.9em; }
pre { background: var(--soft); border: 1px solid var(--line); border-radius: 6px;
      padding: 0.6em; overflow-x: auto; font-size: 0.85em; max-width: 100%; }
code { font-size: 0.9em; }
details summary { cursor: pointer; color: var(--accent); }
p.note { color: var(--muted); font-size: 0.9em; }
p.warning { border-left: 4px solid #c0392b; padding: 0.3em 0.6em; background: #fdf0ee; }
</style>"""


@dataclass(frozen=True)
class Section:
    """One ``<h2>`` section of a report: ``title`` in the table of contents, ``body``
    (HTML), and the anchor ``anchor`` (made from the title when empty)."""

    title: str
    body: str
    anchor: str = ""

    def id(self) -> str:
        return self.anchor or _slug(self.title)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


def render_page(
    title: str, sections: Sequence[Section], *, subtitle: str = "", header: str = ""
) -> str:
    """A standalone HTML page: ``title``, ``subtitle`` (text), ``header`` (HTML: the
    facts of the report), a table of contents of the sections, then the sections."""
    used: set[str] = set()
    ids = []
    for section in sections:
        anchor, n = section.id(), 2
        while anchor in used:
            anchor, n = f"{section.id()}-{n}", n + 1
        used.add(anchor)
        ids.append(anchor)
    toc = "".join(
        f'<li><a href="#{a}">{html.escape(s.title)}</a></li>'
        for a, s in zip(ids, sections, strict=True)
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title>",
        STYLE,
        "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    if subtitle:
        parts.append(f'<p class="subtitle">{html.escape(subtitle)}</p>')
    if header:
        parts.append(header)
    if len(sections) > 1:
        parts.append(f'<nav class="toc"><strong>Contents</strong><ol>{toc}</ol></nav>')
    for anchor, section in zip(ids, sections, strict=True):
        parts.append(f'<section id="{anchor}"><h2>{html.escape(section.title)}</h2>')
        parts.append(section.body)
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def facts(pairs: Iterable[tuple[str, object]]) -> str:
    """A list of ``name: value`` facts (values escaped; ``None`` left out)."""
    items = "".join(
        f"<dt>{html.escape(str(k))}</dt><dd>{html.escape(str(v))}</dd>"
        for k, v in pairs
        if v is not None and v != ""
    )
    return f'<dl class="facts">{items}</dl>'


def paragraph(text: str, cls: str = "") -> str:
    """Escaped text as a paragraph (of class ``cls``)."""
    attr = f' class="{cls}"' if cls else ""
    return f"<p{attr}>{html.escape(text)}</p>"


def preformatted(text: str) -> str:
    return f"<pre>{html.escape(text)}</pre>"


def details(summary: str, body: str) -> str:
    """A folded block: ``summary`` (text) opens ``body`` (HTML)."""
    return f"<details><summary>{html.escape(summary)}</summary>{body}</details>"


def table(
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    index: int = 1,
    caption: str | None = None,
    strong: Iterable[tuple[int, int]] = (),
) -> str:
    """An HTML table of values (escaped) in a box that scrolls when too wide: the
    first ``index`` columns as labels, the others as numbers (right-aligned); cells
    ``(row, column)`` in ``strong`` in bold."""
    bold = set(strong)
    out = ['<div class="scroll"><table class="smtpsim">']
    if caption:
        out.append(f"<caption>{html.escape(caption)}</caption>")
    out.append(
        "<thead><tr>"
        + "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
        + "</tr></thead><tbody>"
    )
    for i, row in enumerate(rows):
        cells = []
        for j, cell in enumerate(row):
            cls = "" if j < index else "num"
            if (i, j) in bold:
                cls += " yes"
            attr = f' class="{cls.strip()}"' if cls.strip() else ""
            cells.append(f"<td{attr}>{html.escape(str(cell))}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    return "\n".join(out)


_MIME = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


def _img(data: bytes, mime: str, caption: str, anchor: str = "") -> str:
    uri = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    ident = f' id="{html.escape(anchor)}"' if anchor else ""
    return (
        f'<figure{ident}><img src="{uri}" alt="{html.escape(caption)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def embed_file(path: str | Path, caption: str, anchor: str = "") -> str:
    """An image file (PNG, SVG, JPEG) embedded in a ``<figure>`` as a ``data:`` URI."""
    file = Path(path)
    mime = _MIME.get(file.suffix.lower())
    if mime is None:
        raise ValueError(f"cannot embed {file}: not a PNG, SVG or JPEG image")
    return _img(file.read_bytes(), mime, caption, anchor)


def embed_figure(fig: Figure, caption: str, anchor: str = "", dpi: int = 110) -> str:
    """A matplotlib ``Figure`` embedded as a PNG ``data:`` URI in a ``<figure>`` (drawn
    with the Agg canvas, not through pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return _img(buffer.getvalue(), "image/png", caption, anchor)
