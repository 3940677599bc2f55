"""Failed recipients (bounced apart from expired) by enhanced status code."""

from __future__ import annotations

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import Patch

from ..text import format_percent
from ._common import as_str, count_axis, new_axes, note
from .population import recipients_of_interest

__all__ = ["DSN_MEANINGS", "STATUS_COLOURS", "bounces_by_dsn", "dsn_meaning", "failed_by_dsn"]

FAILED = ("bounced", "expired", "lost", "unsent")

# RFC 3463 (and RFC 7505 for X.1.10, RFC 4954 for X.7.8): subject.detail -> meaning.
DSN_MEANINGS = {
    "0.0": "other or undefined status",
    "1.0": "other address status",
    "1.1": "bad destination mailbox address",
    "1.2": "bad destination system address",
    "1.3": "bad destination mailbox address syntax",
    "1.6": "destination mailbox has moved",
    "1.7": "bad sender's mailbox address syntax",
    "1.8": "bad sender's system address",
    "1.10": "recipient address has null MX",
    "2.0": "other or undefined mailbox status",
    "2.1": "mailbox disabled",
    "2.2": "mailbox full",
    "2.3": "message length exceeds administrative limit",
    "3.0": "other or undefined mail system status",
    "3.1": "mail system full",
    "3.4": "message too big for system",
    "3.5": "system incorrectly configured",
    "4.0": "other or undefined network or routing status",
    "4.1": "no answer from host",
    "4.2": "bad connection",
    "4.3": "directory server failure",
    "4.4": "unable to route",
    "4.5": "mail system congestion",
    "4.6": "routing loop detected",
    "4.7": "delivery time expired",
    "5.0": "other or undefined protocol status",
    "5.1": "invalid command",
    "5.2": "syntax error",
    "5.3": "too many recipients",
    "5.4": "invalid command arguments",
    "6.0": "other or undefined media error",
    "7.0": "other or undefined security status",
    "7.1": "delivery not authorized, message refused",
    "7.8": "authentication credentials invalid",
}
_SUBJECTS = {
    "0": "other",
    "1": "addressing",
    "2": "mailbox",
    "3": "mail system",
    "4": "network or routing",
    "5": "mail delivery protocol",
    "6": "message content",
    "7": "security or policy",
}
STATUS_COLOURS = {
    "bounced": "#d62728",
    "expired": "#9467bd",
    "lost": "#7f7f7f",
    "unsent": "#8c564b",
}
STATUS_MEANINGS = {
    "bounced": "refused for good (5xx) or undeliverable",
    "expired": "still failing at maximal_queue_lifetime (last error shown)",
    "lost": "in a queue the scenario destroyed",
    "unsent": "never submitted: the mail client gave up",
}


def dsn_meaning(code: str) -> str:
    """What an enhanced status code means (RFC 3463), ``""`` when unknown."""
    parts = code.split(".")
    if len(parts) != 3:
        return ""
    return DSN_MEANINGS.get(f"{parts[1]}.{parts[2]}", _SUBJECTS.get(parts[1], ""))


def failed_by_dsn(
    recipients: pd.DataFrame,
    messages: pd.DataFrame,
    *,
    statuses: tuple[str, ...] = FAILED,
    include_bounces: bool = False,
    warmup: float = 0.0,
) -> pd.DataFrame:
    """The failed recipients the summary counts, by status and DSN code: columns
    ``status``, ``dsn``, ``recipients``, most frequent first within each status (in
    the order of ``statuses``). ``attrs["submitted"]`` is the summary's number of
    recipients, the denominator of every share shown."""
    rows = recipients_of_interest(
        recipients, messages, include_bounces=include_bounces, warmup=warmup
    )
    status = as_str(rows["status"]) if len(rows) else pd.Series([], dtype=str)
    failed = rows.loc[status.isin(statuses).to_numpy()]
    table = pd.DataFrame(
        {"status": as_str(failed["status"]), "dsn": as_str(failed["dsn"]).replace("", "(none)")}
    )
    counts = table.value_counts(["status", "dsn"], sort=False).rename("recipients")
    out = counts.reset_index()
    out["order"] = out["status"].map({s: i for i, s in enumerate(statuses)})
    out = (
        out.sort_values(
            ["order", "recipients", "dsn"], ascending=[True, False, True], kind="stable"
        )
        .drop(columns="order")
        .reset_index(drop=True)
    )
    out.attrs["submitted"] = len(rows)
    return out


def bounces_by_dsn(
    recipients: pd.DataFrame,
    messages: pd.DataFrame,
    *,
    statuses: tuple[str, ...] = FAILED,
    include_bounces: bool = False,
    warmup: float = 0.0,
    ax: Axes | None = None,
) -> Axes:
    """One horizontal bar per status and DSN code of the failed recipients the
    summary counts (:func:`failed_by_dsn`): bounced (refused for good) and expired
    (still failing at ``maximal_queue_lifetime``; its DSN is the last temporary
    error, as Postfix reports it) in their own colours and groups, so that what
    bounced is never confused with what was only late. Each bar says its share of
    all the summary's recipients. The run's time is not on an axis here, so no
    incidents are shaded."""
    ax = new_axes(ax)
    ax.set_title("Failed recipients by status and DSN code")
    ax.set_xlabel("recipients")
    table = failed_by_dsn(
        recipients, messages, statuses=statuses, include_bounces=include_bounces, warmup=warmup
    )
    total = int(table.attrs["submitted"])
    if table.empty:
        note(ax, "no " + " or ".join(statuses) + " recipients in this run")
        ax.set_yticks([])
        return ax
    table = table.iloc[::-1].reset_index(drop=True)  # barh draws bottom up: first on top
    n = table["recipients"].to_numpy()
    labels = [
        f"{status}  {code}  {dsn_meaning(code)}".rstrip()
        for status, code in zip(table["status"], table["dsn"], strict=True)
    ]
    colours = [STATUS_COLOURS.get(s, "#7f7f7f") for s in table["status"]]
    bars = ax.barh(range(len(table)), n, color=colours, height=0.6, gid="dsn-bars")
    ax.set_yticks(range(len(table)), labels, fontsize=8)
    ax.bar_label(
        bars,
        labels=[f"{k:,} ({format_percent(k, total)} of {total:,} recipients)" for k in n],
        padding=4,
        fontsize=8,
    )
    ax.set_xlim(0, float(n.max()) * 1.6)
    count_axis(ax, "x")
    pad = max(0, 4 - len(table)) / 2  # a lone bar is not a wall of colour
    ax.set_ylim(-0.6 - pad, len(table) - 0.4 + pad)
    ax.grid(True, axis="x", alpha=0.3)
    sums = table.groupby("status", sort=False)["recipients"].sum()
    handles = [
        Patch(
            color=STATUS_COLOURS.get(s, "#7f7f7f"),
            label=f"{s}: {STATUS_MEANINGS.get(s, s)} ({int(sums[s]):,})",
        )
        for s in statuses
        if s in sums.index
    ]
    ax.legend(
        handles=handles,
        fontsize=8,
        frameon=False,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        borderaxespad=0.0,
    )
    return ax
