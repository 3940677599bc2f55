"""The numbers a mail operator asks for first, from the result tables.

Computed over the recipients of messages submitted after the warm-up (bounce
messages are counted apart, under ``bounce_messages``):

- ``recipients``: submitted, and how many ended delivered, bounced, expired, lost,
  or were still pending when the run stopped;
- ``delay_s``: p50, p95, p99 and max of submission-to-mailbox delay of delivered ones;
- ``deferral_rate``: the share of delivery attempts that ended deferred;
- ``attempts_per_recipient``: SMTP delivery attempts per recipient, all hops;
- ``peak_queue``: per host, the largest active and deferred queue seen.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..sim.trace import STATUSES

__all__ = ["summarize"]


def summarize(messages: pd.DataFrame, recipients: pd.DataFrame, attempts: pd.DataFrame,
              levels: pd.DataFrame, *, warmup: float = 0.0) -> dict[str, Any]:
    origin = messages["origin"].astype(str).to_numpy()
    t_submit = messages["t_submit"].to_numpy()
    is_bounce = origin == "bounce"
    counted = ~is_bounce & (t_submit >= warmup)
    msg_ids = recipients["msg_id"].to_numpy()
    in_window = counted[msg_ids] if len(msg_ids) else np.array([], bool)
    rcpts = recipients[in_window]
    status = rcpts["status"].astype(str)
    counts = {s: int((status == s).sum()) for s in STATUSES}
    delivered = rcpts.loc[status == "delivered", "delay_s"].to_numpy()
    delay = {
        "p50": _quantile(delivered, 0.50),
        "p95": _quantile(delivered, 0.95),
        "p99": _quantile(delivered, 0.99),
        "max": float(delivered.max()) if len(delivered) else None,
        "mean": float(delivered.mean()) if len(delivered) else None,
    }
    att = attempts[counted[attempts["msg_id"].to_numpy()]] if len(attempts) else attempts
    outcomes = att["outcome"].astype(str) if len(att) else pd.Series([], dtype=str)
    n_att = len(att)
    bounce_rcpts = recipients[is_bounce[msg_ids]] if len(msg_ids) else recipients
    bstatus = bounce_rcpts["status"].astype(str)
    peak: dict[str, dict[str, int]] = {}
    if len(levels):
        grouped = levels.groupby(["host", "metric"], observed=True)["value"].max()
        for (host, metric), value in grouped.items():
            peak.setdefault(str(host), {})[str(metric)] = int(value)
    n_rcpt = len(rcpts)
    return {
        "messages": int(counted.sum()),
        "recipients": {"submitted": n_rcpt, **counts},
        "delivery_ratio": counts["delivered"] / n_rcpt if n_rcpt else None,
        "bounce_rate": counts["bounced"] / n_rcpt if n_rcpt else None,
        "delay_s": delay,
        "deferral_rate": float((outcomes == "deferred").sum() / n_att) if n_att else None,
        "attempts_per_recipient": float(rcpts["attempts"].mean()) if n_rcpt else None,
        "bounce_messages": {"sent": len(bounce_rcpts),
                            **{s: int((bstatus == s).sum()) for s in STATUSES}},
        "peak_queue": peak,
        "warmup_s": warmup,
    }


def _quantile(values: np.ndarray, q: float) -> float | None:
    return float(np.quantile(values, q)) if len(values) else None
