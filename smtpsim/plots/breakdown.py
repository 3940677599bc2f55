"""Where the delay of delivered recipients went: queue wait, retry wait, greylisting,
connection, DNS, transfer.

What the ``attempts`` columns allow today (docs/results.md):

- queue wait: ``queue_s`` of the first attempt at each host a recipient crossed
  (arrival in that host's queue to its first attempt);
- retry wait: the time between one attempt's end and the next attempt's start at
  the same host, i.e. the time spent deferred (backoff, waiting for the queue scan,
  a dead destination's suspension), and between MX hosts tried in turn;
- greylisting: the part of the retry wait that follows a deferral whose DSN is in
  ``greylist_dsns`` (``4.2.0``, as greylisting servers answer). It is an estimate:
  nothing in the tables says that a 4.2.0 came from greylisting;
- connection: ``conn_s`` summed over all attempts (failed connections and their
  timeouts included). It includes the DNS lookups: the tables have no separate DNS
  time yet, so DNS is shown as 0 and said to be included in connection. When
  ``attempts`` gains a ``dns_s`` column, it is used and taken out of connection;
- transfer: ``xfer_s`` summed over all attempts (MAIL FROM to the end of the session);
- other: ``delay_s`` minus all of the above (0 up to rounding with today's engine);
- fetch wait (runs whose mailbox hosts have an access service, a ``t_fetched``
  column): from delivery into the mailbox to the user's mail client fetching it
  (``t_fetched - t_final``), on top of ``delay_s``: the bars then stack to the end-to-end
  delay. Delivered recipients not fetched by the end have no fetch wait yet: they count
  0 and the title says how many they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ._common import (
    IncidentSpec,
    as_str,
    bin_edges,
    duration_axis,
    format_duration,
    legend,
    new_axes,
    no_data_bins,
    note,
    set_data_ylim,
    shade_incidents,
    span_of,
    tidy_time_axis,
    time_scale,
)
from .population import recipients_of_interest

__all__ = ["COMPONENTS", "delay_breakdown", "delay_components"]

GREYLIST_DSNS = ("4.2.0",)

COMPONENTS = {
    "queue_wait_s": ("queue wait", "#1f77b4"),
    "retry_wait_s": ("retry wait", "#ff7f0e"),
    "greylist_wait_s": ("greylisting (retry wait after 4.2.0)", "#bcbd22"),
    "connection_s": ("connection", "#2ca02c"),
    "dns_s": ("DNS", "#17becf"),
    "transfer_s": ("transfer", "#9467bd"),
    "other_s": ("other", "#7f7f7f"),
    "fetch_wait_s": ("fetch wait (delivered to fetched by the mail client)", "#d62728"),
}
"""Component columns of :func:`delay_components`, their legend names and colours."""


def delay_components(
    recipients: pd.DataFrame,
    attempts: pd.DataFrame,
    messages: pd.DataFrame,
    *,
    include_bounces: bool = False,
    warmup: float = 0.0,
    greylist_dsns: Sequence[str] = GREYLIST_DSNS,
) -> pd.DataFrame:
    """One row per delivered recipient (bounce messages' left out unless
    ``include_bounces``; messages submitted from ``warmup`` on): ``msg_id``,
    ``rcpt``, ``origin``, ``domain``, ``t_submit``, ``delay_s`` and the components
    of :data:`COMPONENTS` in seconds (see the module's docstring for what each is and
    what cannot be separated yet)."""
    rows = recipients_of_interest(
        recipients, messages, include_bounces=include_bounces, warmup=warmup
    )
    rows = rows.loc[
        (as_str(rows["status"]) == "delivered").to_numpy() & rows["delay_s"].notna().to_numpy()
    ]
    out = pd.DataFrame(
        {
            "msg_id": rows["msg_id"].to_numpy(),
            "rcpt": as_str(rows["rcpt"]).to_numpy(),
            "origin": rows["origin"].to_numpy(),
            "domain": as_str(rows["domain"]).to_numpy(),
            "t_submit": rows["t_submit"].to_numpy(dtype=float),
            "delay_s": rows["delay_s"].to_numpy(dtype=float),
        }
    )
    parts = _attempt_parts(attempts, set(greylist_dsns))
    out = out.merge(parts, on=["msg_id", "rcpt"], how="left")
    names = [c for c in COMPONENTS if c not in ("other_s", "fetch_wait_s")]
    out[names] = out[names].fillna(0.0)
    out["other_s"] = out["delay_s"] - out[names].sum(axis=1)
    if "t_fetched" in rows.columns:  # delivered to fetched; NaN: not fetched by the end
        out["fetch_wait_s"] = (rows["t_fetched"] - rows["t_final"]).to_numpy(dtype=float)
    else:
        out["fetch_wait_s"] = 0.0
    return out


def _attempt_parts(attempts: pd.DataFrame, greylist_dsns: set[str]) -> pd.DataFrame:
    """The components summed per (msg_id, rcpt) over every attempt row."""
    columns = ["msg_id", "rcpt", *[c for c in COMPONENTS if c not in ("other_s", "fetch_wait_s")]]
    if attempts.empty:
        return pd.DataFrame({c: pd.Series([], dtype=float) for c in columns}).astype(
            {"msg_id": "int64", "rcpt": str}
        )
    # Strings become integer codes for the sort and the groupings (an 8-hour run has
    # 380,000 attempt rows: string keys cost about 150 MB more at the peak).
    rcpt_code, rcpt_labels = pd.factorize(attempts["rcpt"])
    dsn_code, dsn_labels = pd.factorize(attempts["dsn"])
    grey_dsn = np.append(
        np.isin(np.asarray(dsn_labels, dtype=object).astype(str), list(greylist_dsns)), False
    )  # code -1 (none): not grey
    a = pd.DataFrame(
        {
            "msg_id": attempts["msg_id"].to_numpy(),
            "rcpt": rcpt_code,
            "host": pd.factorize(attempts["host"])[0],
            "sent": (attempts["outcome"] == "sent").to_numpy(dtype=bool),
            "grey": grey_dsn[dsn_code],
            "t_start": attempts["t_start"].to_numpy(dtype=float),
            "t_end": attempts["t_end"].to_numpy(dtype=float),
            "queue_s": attempts["queue_s"].to_numpy(dtype=float),
            "conn_s": attempts["conn_s"].to_numpy(dtype=float),
            "xfer_s": attempts["xfer_s"].to_numpy(dtype=float),
        }
    )
    has_dns = "dns_s" in attempts.columns
    a["dns_s"] = attempts["dns_s"].to_numpy(dtype=float) if has_dns else 0.0
    a = a.sort_values(["msg_id", "rcpt", "t_start", "t_end"], kind="stable")
    # A visit is a stay in one host's queue: it ends with the attempt that passed the
    # recipient on (a loop may bring it back to the same host later).
    passed_on = a["sent"].astype(int)
    a["visit"] = passed_on.groupby([a["msg_id"], a["rcpt"], a["host"]]).cumsum() - passed_on
    by_visit = a.groupby(["msg_id", "rcpt", "host", "visit"], sort=False)
    first = (by_visit.cumcount() == 0).to_numpy()
    prev_end = by_visit["t_end"].shift().to_numpy(dtype=float)
    prev_grey = by_visit["grey"].shift().fillna(False).to_numpy(dtype=bool)
    # The attempt's own time is its connection (DNS included) and transfer, which may
    # begin before t_start (a DNS lookup for a retry happens before the SMTP client is
    # handed the delivery): the wait since the previous attempt ends where they begin,
    # so no second is counted twice.
    began = a["t_end"].to_numpy() - a["conn_s"].to_numpy() - a["xfer_s"].to_numpy()
    began = np.minimum(began, a["t_start"].to_numpy())
    wait = np.where(first, 0.0, np.maximum(began - prev_end, 0.0))
    grey = prev_grey & ~first
    parts = pd.DataFrame(
        {
            "msg_id": a["msg_id"].to_numpy(),
            "rcpt": a["rcpt"].to_numpy(),
            "queue_wait_s": np.where(first, a["queue_s"].to_numpy(), 0.0),
            "retry_wait_s": np.where(grey, 0.0, wait),
            "greylist_wait_s": np.where(grey, wait, 0.0),
            "connection_s": a["conn_s"].to_numpy() - a["dns_s"].to_numpy(),
            "dns_s": a["dns_s"].to_numpy(),
            "transfer_s": a["xfer_s"].to_numpy(),
        }
    )
    parts = parts.groupby(["msg_id", "rcpt"], sort=False, as_index=False).sum()
    labels = np.append(np.asarray(rcpt_labels, dtype=object).astype(str), "")  # -1: ""
    parts["rcpt"] = labels[parts["rcpt"].to_numpy()]
    return parts


def delay_breakdown(
    recipients: pd.DataFrame,
    attempts: pd.DataFrame,
    messages: pd.DataFrame,
    *,
    incidents: Iterable[IncidentSpec] | None = None,
    until: float | None = None,
    bin_s: float | None = None,
    include_bounces: bool = False,
    warmup: float = 0.0,
    greylist_dsns: Sequence[str] = GREYLIST_DSNS,
    ax: Axes | None = None,
) -> Axes:
    """The mean delay of delivered recipients, by the time their message was
    submitted, as stacked bars of its components (:func:`delay_components`): queue
    wait, retry wait, greylisting, connection, DNS, transfer. Each legend entry gives
    the component's share of all the delay. Components that are 0 throughout are
    left out, and the title says when DNS is included in connection (no ``dns_s``
    column). Incident windows are shaded."""
    ax = new_axes(ax)
    parts = delay_components(
        recipients,
        attempts,
        messages,
        include_bounces=include_bounces,
        warmup=warmup,
        greylist_dsns=greylist_dsns,
    )
    submit = parts["t_submit"].to_numpy(dtype=float)
    span = span_of(until, submit)
    edges = bin_edges(span, bin_s, target=40)
    span = float(edges[-1])
    scale = time_scale(span)
    width_s = float(edges[1] - edges[0])
    title = (
        f"Delay of delivered recipients by submission time (mean per {format_duration(width_s)})"
    )
    if "dns_s" not in attempts.columns:
        title += "\nDNS lookups are counted in connection; greylisting = retry wait after 4.2.0"
    waiting = int(parts["fetch_wait_s"].isna().sum())
    if waiting:
        title += f"\n{waiting:,} delivered recipients not fetched by the end (fetch wait 0 here)"
    parts["fetch_wait_s"] = parts["fetch_wait_s"].fillna(0.0)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel("mean delay per delivered recipient")
    tidy_time_axis(ax, scale, span, "message submitted, time since the start of the run")
    shade_incidents(ax, incidents, scale, span)
    duration_axis(ax)
    if parts.empty:
        note(ax, "no delivered recipients to show")
        set_data_ylim(ax, 1.0)
        legend(ax)
        return ax
    which = np.clip(np.searchsorted(edges, submit, side="right") - 1, 0, len(edges) - 2)
    n = np.bincount(which, minlength=len(edges) - 1).astype(float)
    total_delay = float(parts["delay_s"].sum() + parts["fetch_wait_s"].sum())
    left = scale(edges[:-1])
    bottom = np.zeros(len(n))
    for column, (name, colour) in COMPONENTS.items():
        values = parts[column].to_numpy(dtype=float)
        if column == "other_s":
            # rounding noise is not a component: show it only when it matters
            if abs(values.sum()) <= 1e-6 * max(total_delay, 1.0):
                continue
        elif not np.any(values > 0):
            continue
        sums = np.bincount(which, weights=values, minlength=len(n))
        mean = np.divide(sums, n, out=np.zeros_like(sums), where=n > 0)
        share = 100 * values.sum() / total_delay if total_delay > 0 else 0.0
        ax.bar(
            left,
            mean,
            width=scale(width_s),
            bottom=bottom,
            align="edge",
            color=colour,
            linewidth=0,
            label=f"{name} ({share:.1f} % of all delay)",
            gid=f"component:{column}",
        )
        bottom += mean
    # a bin where no delivered message was submitted has no mean: hatched, not 0
    no_data_bins(ax, left, float(scale(width_s)), n == 0, "no delivered mail submitted then")
    set_data_ylim(ax, max(float(bottom.max()), 1e-3))
    ax.grid(True, axis="y", alpha=0.3)
    legend(ax)
    return ax
