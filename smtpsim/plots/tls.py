"""The TLS report as a figure: per sending host and policy domain, the sessions by TLS
result (RFC 8460 result types), and the recipients sent in the clear, read by an
attacker, or deferred by the sender's TLS policy."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import Patch

from ._common import count_axis, new_axes, note

__all__ = ["RESULT_COLOURS", "tls_by_destination", "tls_sessions"]

# Success in green, failures the mail went on after (the sender did not enforce) in
# warm colours, the rest by kind; "not-attempted" (level none) in grey.
RESULT_COLOURS = {
    "success": "#2ca02c",
    "starttls-not-supported": "#d62728",
    "certificate-expired": "#ff7f0e",
    "certificate-not-trusted": "#8c564b",
    "certificate-host-mismatch": "#e377c2",
    "tlsa-invalid": "#9467bd",
    "validation-failure": "#bcbd22",
    "sts-policy-fetch-error": "#17becf",
    "not-attempted": "#7f7f7f",
}


def tls_by_destination(report: pd.DataFrame) -> pd.DataFrame:
    """The report summed over days: one row per sending host and policy domain, a
    column of sessions per result (in ``RESULT_COLOURS``' order), and the recipient
    counts ``sent``, ``sent_clear``, ``exposed`` and ``blocked``."""
    if report.empty:
        return pd.DataFrame()
    frame = report.assign(
        host=report["host"].astype(str),
        domain=report["domain"].astype(str),
        result=report["result"].astype(str),
    )
    sessions = frame.pivot_table(
        index=["host", "domain"], columns="result", values="sessions", aggfunc="sum", fill_value=0
    )
    order = [r for r in RESULT_COLOURS if r in sessions.columns]
    order += sorted(c for c in sessions.columns if c not in RESULT_COLOURS)
    counts = frame.groupby(["host", "domain"])[["sent", "sent_clear", "exposed", "blocked"]].sum()
    return sessions[order].join(counts).reset_index()


def tls_sessions(report: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """One horizontal bar per sending host and policy domain, split by the sessions'
    TLS results; beside each bar, the recipients it sent in the clear, those an
    attacker read, and those the sender's TLS policy deferred (per session)."""
    ax = new_axes(ax)
    ax.set_title("TLS sessions by sender and policy domain (RFC 8460 result types)")
    ax.set_xlabel("sessions")
    table = tls_by_destination(report)
    if table.empty:
        note(ax, "no session reached its TLS verdict in this run")
        ax.set_yticks([])
        return ax
    table = table.iloc[::-1].reset_index(drop=True)  # barh draws bottom up: first on top
    results = [c for c in table.columns if c in RESULT_COLOURS]
    left = np.zeros(len(table))
    for result in results:
        width = table[result].to_numpy(dtype=float)
        ax.barh(
            range(len(table)),
            width,
            left=left,
            color=RESULT_COLOURS[result],
            height=0.6,
            gid=f"tls-{result}",
        )
        left += width
    labels = [f"{h} -> {d}" for h, d in zip(table["host"], table["domain"], strict=True)]
    ax.set_yticks(range(len(table)), labels, fontsize=8)
    counts = {c: table[c].to_numpy(dtype=np.int64) for c in ("sent", "sent_clear", "exposed")}
    blocked = table["blocked"].to_numpy(dtype=np.int64)
    for i in range(len(table)):
        text = (
            f"sent {counts['sent'][i]:,}: {counts['sent_clear'][i]:,} in clear, "
            f"{counts['exposed'][i]:,} read by attacker; {blocked[i]:,} TLS deferrals"
        )
        ax.text(float(left[i]), i, "  " + text, va="center", fontsize=7)
    ax.set_xlim(0, float(left.max()) * 2.3)
    count_axis(ax, "x")
    ax.grid(True, axis="x", alpha=0.3)
    totals = {r: int(table[r].sum()) for r in results}
    ax.legend(
        handles=[Patch(color=RESULT_COLOURS[r], label=f"{r} ({totals[r]:,})") for r in results],
        fontsize=8,
        frameon=False,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        borderaxespad=0.0,
    )
    return ax
