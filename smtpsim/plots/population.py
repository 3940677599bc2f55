"""The population every figure counts: the summary's.

``summary.json`` counts the recipients of messages submitted at or after the warm-up,
and leaves bounce messages (non-delivery notices, ``origin == "bounce"``) apart. Every
figure of a run counts the same rows, so that a number in a legend is the number in
the summary; bounce notices are added only on request (``include_bounces=True``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._common import as_str

__all__ = ["attempts_of_interest", "counted_messages", "recipients_of_interest"]


def counted_messages(
    messages: pd.DataFrame, *, include_bounces: bool = False, warmup: float = 0.0
) -> np.ndarray:
    """A boolean per message row (indexed by ``msg_id``, the row number): does it count?"""
    keep = np.ones(len(messages), dtype=bool)
    if not include_bounces and len(messages):
        keep &= (as_str(messages["origin"]) != "bounce").to_numpy()
    if warmup > 0 and len(messages):
        keep &= messages["t_submit"].to_numpy(dtype=float) >= warmup
    out = np.zeros(int(messages["msg_id"].max()) + 1 if len(messages) else 0, dtype=bool)
    out[messages["msg_id"].to_numpy()] = keep
    return out


def recipients_of_interest(
    recipients: pd.DataFrame,
    messages: pd.DataFrame,
    *,
    include_bounces: bool = False,
    warmup: float = 0.0,
) -> pd.DataFrame:
    """Recipients joined with their message's ``origin`` and ``t_submit``: without the
    recipients of bounce messages unless ``include_bounces``, and only those of
    messages submitted at or after ``warmup`` (as in ``summary.json``)."""
    msgs = messages.loc[:, ["msg_id", "origin", "t_submit"]].copy()
    msgs["origin"] = as_str(msgs["origin"])
    rcpts = recipients.drop(columns=["origin", "t_submit"], errors="ignore")
    out = rcpts.merge(msgs, on="msg_id", how="left")
    out["origin"] = out["origin"].fillna("")
    keep = np.ones(len(out), dtype=bool)
    if not include_bounces:
        keep &= (out["origin"] != "bounce").to_numpy()
    if warmup > 0:
        keep &= (out["t_submit"] >= warmup).to_numpy(dtype=bool, na_value=False)
    return out.loc[keep].reset_index(drop=True)


def attempts_of_interest(
    attempts: pd.DataFrame,
    messages: pd.DataFrame,
    *,
    include_bounces: bool = False,
    warmup: float = 0.0,
) -> pd.DataFrame:
    """The attempts of the messages that count (the summary's ``deferral_rate`` rows)."""
    if attempts.empty:
        return attempts
    counted = counted_messages(messages, include_bounces=include_bounces, warmup=warmup)
    ids = attempts["msg_id"].to_numpy()
    inside = ids < len(counted)
    keep = np.zeros(len(ids), dtype=bool)
    keep[inside] = counted[ids[inside]]
    return attempts.loc[keep]
