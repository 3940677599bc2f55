"""``report.html`` of one run: what was asked, what happened, and where to look next.

``write_run_report(result, out_dir)`` writes one self-contained page (figures
embedded, no script) with: the question (the scenario file's header comments and
its ``description``), the facts of the run (seed, scenario digest, versions, times),
the summary, the five run figures of ``smtpsim.plots``, tables per recipient domain,
per host and of the incidents, the most frequent failure replies, and the scenario
itself (its YAML, with the overrides of the command line).

Every table counts the population of the summary (``smtpsim.metrics.summary``):
recipients of messages submitted after the warm-up, bounce messages apart, with
``pending`` (still queued at the end) shown beside the other outcomes.
``smtpsim report DIR`` rebuilds it from a results directory; the scenario's text is
kept there as ``scenario.yaml`` for that purpose.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..text import format_percent
from .page import (
    Section,
    details,
    embed_file,
    facts,
    paragraph,
    preformatted,
    render_page,
    table,
)

if TYPE_CHECKING:
    from ..metrics.result import RunResult
    from ..metrics.summary import Summary

__all__ = ["SCENARIO_FILE", "build_run_report", "question_of", "write_run_report"]

SCENARIO_FILE = "scenario.yaml"
"""The scenario's text, kept beside the results so that the report can be rebuilt."""

REPORT_FILE = "report.html"

_STATUSES = ("delivered", "bounced", "expired", "lost", "pending", "unsent")

_FIGURES = (
    (
        "delay-cdf",
        "Delivery delay",
        "Share of all recipients delivered within each delay (log axis): a line ends at "
        "its group's delivered share, the rest was bounced, expired, lost or is pending.",
    ),
    (
        "outcomes",
        "Outcomes over time",
        "Delivered, deferred, bounced and expired per time interval; incidents shaded.",
    ),
    (
        "queues",
        "Queues",
        "Active (solid) and deferred (dashed) queue of each host; incidents shaded.",
    ),
    (
        "bounces-by-dsn",
        "Failures by status code",
        "Bounced and expired recipients by enhanced status code (RFC 3463).",
    ),
    (
        "delay-breakdown",
        "Where the delay goes",
        "Mean delay of delivered recipients by submission time, split into its components.",
    ),
)


def question_of(scenario_text: str) -> tuple[str, str]:
    """The question a scenario file asks: its leading comment block (``#`` lines
    before the first key, ``#`` removed) and its ``description``."""
    header: list[str] = []
    for line in scenario_text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            header.append(stripped.lstrip("#").strip())
        elif stripped:
            break
    description = ""
    try:
        import yaml

        data = yaml.safe_load(scenario_text)
        if isinstance(data, dict) and data.get("description"):
            description = " ".join(str(data["description"]).split())
    except Exception:  # a report never fails on its decoration
        description = ""
    text = "\n".join(header).strip()
    if text.lower().startswith("question:"):  # the label is the report's
        text = text[len("question:") :].strip()
    return text, description


def _counted(result: RunResult) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Recipients and attempts of the summary's population (messages after the
    warm-up, bounces apart), and the mask of those messages by ``msg_id``."""
    m = result.messages
    warmup = float(result.meta.get("warmup_s", 0.0) or 0.0)
    counted = (m["origin"].astype(str).to_numpy() != "bounce") & (
        m["t_submit"].to_numpy(dtype=float) >= warmup
    )
    # msg_id is the row number (docs/results.md); map through it to be safe
    by_id = np.zeros(int(m["msg_id"].max()) + 1 if len(m) else 0, dtype=bool)
    if len(m):
        by_id[m["msg_id"].to_numpy()] = counted
    r, a = result.recipients, result.attempts
    rc = r[by_id[r["msg_id"].to_numpy()]] if len(r) else r
    ac = a[by_id[a["msg_id"].to_numpy()]] if len(a) else a
    return rc, ac, by_id


def _share(n: float, total: float) -> str:
    return format_percent(n, total) if total else "-"


def _seconds(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    if value < 0.1:
        return f"{1000 * value:.1f} ms"
    if value < 120:
        return f"{value:.2f} s"
    if value < 7200:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.2f} h"


def _summary_section(summary: Summary) -> str:
    r = summary["recipients"]
    n = r["submitted"]
    rows = [["recipients submitted", f"{n:,}", ""]]
    rows += [[f"  {s}", f"{r[s]:,}", _share(r[s], n)] for s in _STATUSES]
    d = summary["delay_s"]
    rows += [
        [f"delay of delivered, {k}", _seconds(d.get(k)), ""] for k in ("p50", "p95", "p99", "max")
    ]
    deferral_rate = summary["deferral_rate"]
    if deferral_rate is not None:
        rows.append(["deferred attempts", "", f"{100 * deferral_rate:.2f} %"])
    if summary.get("attempts_per_recipient") is not None:
        rows.append(
            [
                "SMTP attempts per recipient (all hops)",
                f"{summary['attempts_per_recipient']:.2f}",
                "",
            ]
        )
    if summary.get("retries_per_recipient") is not None:
        rows.append(
            [
                "retries (deferred attempts) per recipient",
                f"{summary['retries_per_recipient']:.2f}",
                "",
            ]
        )
    rows += _retrieval_rows(summary)
    rows += _tls_rows(summary)
    b = summary["bounce_messages"]
    rows.append(
        [
            "bounce messages sent",
            f"{b['sent']:,}",
            f"{b['delivered']:,} delivered, {b['pending']:,} pending",
        ]
    )
    kinds = summary.get("notices", {})
    if kinds.get("delay") or kinds.get("success"):  # only with DSN or delay warnings
        rows.append(
            [
                "of which delay warnings, success notices",
                f"{kinds['delay']:,}, {kinds['success']:,}",
                f"{kinds['failure']:,} non-delivery notices",
            ]
        )
    run = summary.get("run", {})
    if run.get("drain"):
        rows.append(
            [
                "drained after the traffic",
                "yes" if run.get("drained") else "no: limit reached",
                "ended at " + _seconds(run.get("end_s")),
            ]
        )
    return table(
        ["", "count or value", "share"],
        rows,
        caption=f"{summary['messages']:,} messages submitted after the warm-up "
        f"({summary.get('warmup_s', 0):g} s); bounce messages apart",
    ) + "".join(paragraph("warning: " + w, "warning") for w in summary.get("warnings", []))


def _tls_rows(summary: Summary) -> list[list[str]]:
    """TLS between servers (``summary["tls"]``, runs that model it)."""
    t = summary.get("tls")
    if t is None:
        return []
    rows = [["TLS sessions", f"{t['sessions']:,}", f"{t['successful_sessions']:,} successful"]]
    rows += [
        [f"  {k}", f"{v:,}", _share(v, t["sessions"])] for k, v in t["failed_sessions"].items()
    ]
    rows += [
        [
            "recipients sent in the clear",
            f"{t['sent_clear']:,}",
            _share(t["sent_clear"], t["sent"]),
        ],
        ["  read by an attacker", f"{t['exposed']:,}", _share(t["exposed"], t["sent"])],
        ["deferred by TLS policy (per session)", f"{t['blocked']:,}", ""],
    ]
    return rows


def _retrieval_rows(summary: Summary) -> list[list[str]]:
    """Delivered to read, for runs with an access service (``summary["retrieval"]``):
    how many were fetched and not yet, and the delays of the fetched ones."""
    ret = summary.get("retrieval")
    if ret is None:
        return []
    n = ret["delivered"]
    rows = [
        [
            "fetched by mail clients",
            f"{ret['fetched']:,}",
            _share(ret["fetched"], n) + " of delivered",
        ],
        [
            "  delivered, not fetched at the end",
            f"{ret['not_fetched']:,}",
            _share(ret["not_fetched"], n),
        ],
    ]
    for label, d in (
        ("submitted to delivered", ret["delivery_s"]),
        ("submitted to fetched (end to end)", ret["end_to_end_s"]),
        ("delivered to fetched (fetch wait)", ret["fetch_wait_s"]),
    ):
        rows += [[f"{label}, {k}", _seconds(d.get(k)), ""] for k in ("p50", "p95")]
    return rows


def _domain_rows(rc: pd.DataFrame) -> list[list[str]]:
    if not len(rc):
        return []
    rows = []
    status = rc["status"].astype(str)
    for domain, idx in rc.groupby(rc["domain"].astype(str), sort=True).groups.items():
        sub, st = rc.loc[idx], status.loc[idx]
        n = len(sub)
        delays = sub.loc[st == "delivered", "delay_s"].to_numpy(dtype=float)
        p50 = float(np.quantile(delays, 0.5)) if len(delays) else None
        p95 = float(np.quantile(delays, 0.95)) if len(delays) else None
        rows.append(
            [
                str(domain),
                f"{n:,}",
                *(
                    f"{int((st == s).sum()):,} ({_share(int((st == s).sum()), n)})"
                    for s in _STATUSES
                ),
                _seconds(p50),
                _seconds(p95),
                f"{sub['attempts'].mean():.2f}",
            ]
        )
    return rows


def _host_rows(
    ac: pd.DataFrame, levels: pd.DataFrame, hosts: Mapping[str, Mapping[str, object]]
) -> list[list[str]]:
    # host, peer and outcome as codes into their distinct values: one pass over the
    # attempts each, then integer comparisons per host
    hosts_of, host_code = _coded(ac["host"]) if len(ac) else (np.zeros(0, int), {})
    peers_of, peer_code = _coded(ac["peer"]) if len(ac) else (np.zeros(0, int), {})
    out, out_code = _coded(ac["outcome"]) if len(ac) else (np.zeros(0, int), {})
    names = set(hosts) | set(host_code) | (set(peer_code) - {"none"})
    peaks: dict[tuple[str, str], int] = {}
    if len(levels):
        grouped = levels.groupby([levels["host"].astype(str), levels["metric"].astype(str)])[
            "value"
        ].max()
        for (host, metric), value in zip(grouped.index.tolist(), grouped.tolist(), strict=True):
            peaks[(str(host), str(metric))] = int(value)
    is_sent = out == out_code.get("sent", -1)
    rows = []
    for name in sorted(names):
        mine = hosts_of == host_code.get(name, -1)
        n = int(mine.sum())
        sent = int((mine & is_sent).sum())
        deferred = int((mine & (out == out_code.get("deferred", -1))).sum())
        bounced = int((mine & (out == out_code.get("bounced", -1))).sum())
        received = int(((peers_of == peer_code.get(name, -1)) & is_sent).sum())
        conn = float(ac.loc[mine, "conn_s"].mean()) if n else math.nan
        xfer = float(ac.loc[mine, "xfer_s"].mean()) if n else math.nan
        info = hosts.get(name) or {}
        rows.append(
            [
                name,
                str(info.get("name", "")),
                str(info.get("role", "")),
                f"{n:,}",
                f"{sent:,}",
                f"{deferred:,} ({_share(deferred, n)})" if n else "0",
                f"{bounced:,}",
                f"{received:,}",
                _seconds(conn) if n else "-",
                _seconds(xfer) if n else "-",
                str(peaks.get((name, "active"), "-")),
                str(peaks.get((name, "deferred"), "-")),
            ]
        )
    return rows


def _coded(column: pd.Series) -> tuple[np.ndarray, dict[str, int]]:
    """A column as integer codes, and the code of each distinct value as a string
    (missing values: code -1, never equal to a value's)."""
    codes, distinct = pd.factorize(column)
    return np.asarray(codes), {str(value): code for code, value in enumerate(distinct)}


def _incident_rows(incidents: Sequence[Mapping[str, object]]) -> list[list[str]]:
    rows = []
    for item in incidents or ():
        start, end = item.get("start"), item.get("end")
        rows.append(
            [
                str(item.get("kind", "")),
                str(item.get("target", "")),
                _seconds(float(start)) if isinstance(start, int | float | str) else "-",
                _seconds(float(end)) if isinstance(end, int | float | str) else "end of run",
                str(item.get("detail", "")) if item.get("detail") else "",
            ]
        )
    return rows


def _reply_rows(rc: pd.DataFrame, limit: int = 12) -> list[list[str]]:
    failed = (
        rc[rc["status"].astype(str).isin(["bounced", "expired", "lost", "unsent"])]
        if len(rc)
        else rc
    )
    if not len(failed):
        return []
    grouped = (
        failed.assign(
            _s=failed["status"].astype(str),
            _d=failed["dsn"].astype(str),
            _r=failed["reply"].astype(str),
        )
        .groupby(["_s", "_d"])
        .agg(n=("rcpt", "size"), reply=("_r", "first"))
        .sort_values("n", ascending=False)
        .head(limit)
    )
    return [
        [s, d, f"{int(n):,}", str(reply)]
        for (s, d), n, reply in zip(
            grouped.index.tolist(), grouped["n"].tolist(), grouped["reply"].tolist(), strict=True
        )
    ]


def _figures(result: RunResult, out_dir: Path) -> list[Section]:
    """The run's figures, embedded: those in ``OUT/plots`` when ``smtpsim run`` drew
    them, otherwise drawn now into a temporary directory."""
    plots = out_dir / "plots"
    if not all((plots / f"{name}.png").is_file() for name, _, _ in _FIGURES):
        from ..plots import write_plots

        with tempfile.TemporaryDirectory(prefix="smtpsim-report-") as tmp:
            write_plots(result, tmp, fmt="png")
            return _embed(Path(tmp))
    return _embed(plots)


# Drawn for runs with a TLS report only (smtpsim.plots.output.TLS_FIGURE).
_TLS_FIGURE = (
    "tls",
    "TLS between servers",
    "Sessions by sending host and policy domain, split by TLS result (RFC 8460 result "
    "types), with the recipients sent in the clear, read by an attacker, and deferred.",
)


def _embed(directory: Path) -> list[Section]:
    figures: tuple[tuple[str, str, str], ...] = _FIGURES
    if (directory / f"{_TLS_FIGURE[0]}.png").is_file():
        figures = (*_FIGURES, _TLS_FIGURE)
    return [
        Section(title, embed_file(directory / f"{name}.png", caption), anchor=name)
        for name, title, caption in figures
    ]


_SOURCE = "# smtpsim run: scenario file "
_OVERRIDE = "# smtpsim run: --set "


def _kept_text(text: str, source: str | None, overrides: Sequence[str]) -> str:
    """The scenario file as given, then its source and the command line's overrides
    as trailing comments (read back by ``_read_kept``)."""
    tail = ([f"{_SOURCE}{source}"] if source else []) + [f"{_OVERRIDE}{o}" for o in overrides]
    if not tail:
        return text
    return text.rstrip("\n") + "\n\n" + "\n".join(tail) + "\n"


def _read_kept(kept: str) -> tuple[str, str | None, list[str]]:
    lines = kept.rstrip("\n").split("\n")
    source: str | None = None
    overrides: list[str] = []
    while lines and lines[-1].startswith((_SOURCE, _OVERRIDE)):
        line = lines.pop()
        if line.startswith(_SOURCE):
            source = line[len(_SOURCE) :]
        else:
            overrides.insert(0, line[len(_OVERRIDE) :])
    return "\n".join(lines).rstrip("\n") + "\n", source, overrides


def _version(meta: Mapping[str, object]) -> str:
    from .. import __version__

    versions = meta.get("versions")
    recorded = (
        str(versions.get("smtpsim", "unknown")) if isinstance(versions, Mapping) else "unknown"
    )
    if recorded in ("unknown", "", __version__):
        return __version__
    return f"{recorded} (report by {__version__})"


def build_run_report(
    result: RunResult,
    out_dir: str | Path,
    *,
    scenario_text: str | None = None,
    source: str | None = None,
    overrides: Sequence[str] = (),
    summary: Summary | None = None,
) -> str:
    """The HTML of the run report of ``result`` (a ``RunResult``) whose files are in
    ``out_dir`` (figures reused from ``out_dir/plots`` when present); ``summary`` is
    ``result.summary()`` when the caller has it already."""
    out = Path(out_dir)
    meta = dict(result.meta or {})
    if scenario_text is None and (out / SCENARIO_FILE).is_file():
        scenario_text, source, overrides = _read_kept(
            (out / SCENARIO_FILE).read_text(encoding="utf-8")
        )
    question, description = question_of(scenario_text) if scenario_text else ("", "")
    summary = result.summary() if summary is None else summary
    rc, ac, _ = _counted(result)
    incidents = list(meta.get("incidents") or [])
    header = [
        facts(
            [
                ("question", question or None),
                ("description", description or None),
                ("scenario", meta.get("scenario")),
                ("file", source),
                ("overrides", " ".join(overrides) or None),
                ("seed", meta.get("seed")),
                ("scenario digest", meta.get("scenario_digest")),
                (
                    "simulated",
                    f"{float(meta.get('sim_time_s', 0) or 0):,.0f} s"
                    + (f" (until {float(meta['until_s']):g} s)" if meta.get("until_s") else ""),
                ),
                ("warm-up", f"{float(meta.get('warmup_s', 0) or 0):g} s"),
                (
                    "wall time",
                    f"{float(meta.get('wall_s', 0) or 0):.1f} s, "
                    f"{int(meta.get('events', 0) or 0):,} events",
                ),
                ("smtpsim", _version(meta)),
                (
                    "versions",
                    ", ".join(
                        f"{k} {v}"
                        for k, v in (meta.get("versions") or {}).items()
                        if k != "smtpsim"
                    )
                    or None,
                ),
            ]
        )
    ]
    if meta.get("exception"):
        header.append(paragraph("The run failed: see the exception at the end.", "note"))
    sections = [
        Section(
            "Summary",
            _summary_section(summary)
            + paragraph(
                "Follow one message hop by hop: smtpsim trace DIR QUEUEID (or an address, or a "
                "message-id, copied from the maillog).",
                "note",
            ),
        )
    ]
    sections += _figures(result, out)
    n_rc = len(rc)
    sections.append(
        Section(
            "Recipient domains",
            table(
                ["domain", "recipients", *_STATUSES, "delay p50", "delay p95", "attempts/rcpt"],
                _domain_rows(rc),
                caption=f"{n_rc:,} recipients of the summary, by domain; delays of delivered ones",
            ),
        )
    )
    sections.append(
        Section(
            "Hosts",
            table(
                [
                    "host",
                    "name",
                    "role",
                    "attempts",
                    "sent",
                    "deferred",
                    "bounced",
                    "received",
                    "mean connect",
                    "mean transfer",
                    "peak active",
                    "peak deferred",
                ],
                _host_rows(ac, result.levels, dict(meta.get("hosts") or {})),
                index=3,
                caption="attempts made by each host (as client) for the summary's messages; "
                "received = sessions' recipients it accepted as server; peak queues of "
                "the whole run",
            ),
        )
    )
    incident_rows = _incident_rows(incidents)
    sections.append(
        Section(
            "Incidents",
            table(
                ["kind", "target", "start", "end", "detail"],
                incident_rows,
                index=2,
                caption="windows shaded on the time axes",
            )
            if incident_rows
            else paragraph("No incidents in this scenario.", "note"),
        )
    )
    reply_rows = _reply_rows(rc)
    sections.append(
        Section(
            "Failure replies",
            table(
                ["status", "dsn", "recipients", "a reply"],
                reply_rows,
                index=2,
                caption="recipients that did not reach a mailbox, by status and code",
            )
            if reply_rows
            else paragraph("Every recipient of the summary was delivered or is pending.", "note"),
        )
    )
    scenario = (
        preformatted(scenario_text)
        if scenario_text
        else paragraph(
            f"The scenario's text is not in this directory ({SCENARIO_FILE}); its digest is "
            f"{meta.get('scenario_digest', '-')}.",
            "note",
        )
    )
    if overrides:
        scenario = paragraph("Overrides applied: " + " ".join(overrides)) + scenario
    sections.append(Section("Scenario", scenario))
    meta_shown = {k: v for k, v in meta.items() if k not in ("hosts", "incidents")}
    sections.append(
        Section(
            "Run metadata",
            details(
                "meta.json (hosts and incidents are in the tables above)",
                preformatted(json.dumps(meta_shown, indent=2, default=str)),
            ),
        )
    )
    title = f"smtpsim run: {meta.get('scenario', 'run')} (seed {meta.get('seed', '-')})"
    return render_page(
        title,
        sections,
        header="\n".join(header),
        subtitle="A simulated run of mail servers; all times simulated.",
    )


def write_run_report(
    result: RunResult,
    out_dir: str | Path,
    *,
    scenario_text: str | None = None,
    source: str | None = None,
    overrides: Sequence[str] = (),
    summary: Summary | None = None,
) -> Path:
    """Write ``OUT/report.html`` for ``result`` (and ``OUT/scenario.yaml`` when
    ``scenario_text`` is given, so that ``smtpsim report OUT`` can rebuild it);
    returns the report's path. ``summary`` as for ``build_run_report``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if scenario_text is not None:
        (out / SCENARIO_FILE).write_text(
            _kept_text(scenario_text, source, overrides), encoding="utf-8"
        )
    page = build_run_report(
        result,
        out,
        scenario_text=scenario_text,
        source=source,
        overrides=overrides,
        summary=summary,
    )
    path = out / REPORT_FILE
    path.write_text(page, encoding="utf-8")
    return path
