"""The retrieval part of the summary (issue 13): from delivered to read.

For a run whose mailbox hosts have an access service (POP3/IMAP), the recipients table
has ``t_fetched``: when the user's mail client fetched the message (NaN if it had not
by the end of the run). Over the same recipients as the rest of the summary (messages
submitted after the warm-up, bounce messages apart):

- ``delivered``, ``fetched``, ``not_fetched``: delivered recipients, those fetched,
  and those still waiting in their mailbox when the run stopped (shown, never dropped:
  their wait is censored, so the percentiles of the fetched ones are lower bounds of
  what users of slow clients experience);
- ``delivery_s``: percentiles of submitted to delivered (into the mailbox) of the
  fetched recipients, ``end_to_end_s``: of submitted to fetched, and ``fetch_wait_s``:
  of delivered to fetched, so that the three are read over one population;
- ``by_domain``: the same split per recipient domain (mailbox hosts serve domains, and
  client populations differ between hosts).
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np
import pandas as pd

__all__ = ["NOT_FETCHED_WARNING", "RetrievalSummary", "retrieval_summary", "retrieval_warning"]

NOT_FETCHED_WARNING = 0.02
"""Above this share of delivered recipients not fetched at the end, the summary warns."""


class RetrievalSummary(TypedDict):
    delivered: int
    fetched: int
    not_fetched: int
    delivery_s: dict[str, float | None]  # p50, p95, p99, max, mean (fetched ones)
    end_to_end_s: dict[str, float | None]
    fetch_wait_s: dict[str, float | None]
    by_domain: dict[str, dict[str, float | int | None]]


def _stats(values: np.ndarray) -> dict[str, float | None]:
    if not len(values):
        return dict.fromkeys(("p50", "p95", "p99", "max", "mean"), None)
    return {
        "p50": float(np.quantile(values, 0.50)),
        "p95": float(np.quantile(values, 0.95)),
        "p99": float(np.quantile(values, 0.99)),
        "max": float(values.max()),
        "mean": float(values.mean()),
    }


def retrieval_summary(rcpts: pd.DataFrame, status: pd.Series) -> RetrievalSummary:
    """The retrieval summary of ``rcpts`` (the summary's recipients, with
    ``t_fetched``), ``status`` their statuses as strings."""
    delivered = (status == "delivered").to_numpy()
    rows = rcpts.loc[delivered]
    t_fetched = rows["t_fetched"].to_numpy(dtype=float)
    fetched = ~np.isnan(t_fetched)
    delay = rows["delay_s"].to_numpy(dtype=float)
    wait = t_fetched - rows["t_final"].to_numpy(dtype=float)
    domains = rows["domain"].astype(str).to_numpy()
    by_domain: dict[str, dict[str, float | int | None]] = {}
    for domain in sorted(set(domains.tolist())):
        member = domains == domain
        got = member & fetched
        e2e = _stats(delay[got] + wait[got])
        by_domain[domain] = {
            "delivered": int(member.sum()),
            "fetched": int(got.sum()),
            "not_fetched": int((member & ~fetched).sum()),
            "end_to_end_p50": e2e["p50"],
            "end_to_end_p95": e2e["p95"],
            "fetch_wait_mean": _stats(wait[got])["mean"],
        }
    return {
        "delivered": int(delivered.sum()),
        "fetched": int(fetched.sum()),
        "not_fetched": int((~fetched).sum()),
        "delivery_s": _stats(delay[fetched]),
        "end_to_end_s": _stats(delay[fetched] + wait[fetched]),
        "fetch_wait_s": _stats(wait[fetched]),
        "by_domain": by_domain,
    }


def retrieval_warning(r: RetrievalSummary) -> str | None:
    """A sentence when many delivered recipients were not fetched by the end."""
    n, waiting = r["delivered"], r["not_fetched"]
    if not n or waiting / n <= NOT_FETCHED_WARNING:
        return None
    return (
        f"{waiting:,} delivered recipients ({100 * waiting / n:.2f} %) were not yet fetched "
        "by their mail clients when the run stopped: the end-to-end percentiles (of the "
        "fetched ones) are lower bounds; a longer run, or a warm-up and a stop for the "
        "traffic before the end, shows them whole"
    )
