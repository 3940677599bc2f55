"""Result tables: the recorder's buffers as tidy pandas DataFrames.

Columns are documented in ``docs/results.md``. Times are simulated seconds in
``t_*`` columns, durations end in ``_s``, sizes in ``_bytes``. String columns with
few distinct values are pandas categoricals.
"""

from __future__ import annotations

from array import array

import numpy as np
import pandas as pd

from ..sim.trace import STATUSES
from .recorder import ColumnarRecorder, Interned, Packed

__all__ = ["attempts_table", "levels_table", "messages_table", "recipients_table"]


def _category(column: Interned) -> pd.Categorical:
    codes = np.frombuffer(column.codes, dtype=np.int32) if len(column) else np.array([], int)
    return (
        pd.Categorical.from_codes(codes, categories=pd.Index(column.values, dtype=object))
        if column.values
        else pd.Categorical([])
    )


def _by_series(series: array[int], names: list[str]) -> pd.Categorical:
    """The name of each row's series (``names[series]``) as a category, the categories
    in the order the rows first name them, as ``_category`` has them."""
    if not len(series):
        return pd.Categorical([])
    distinct = list(dict.fromkeys(names))  # two series may share a name (a host)
    position = {name: i for i, name in enumerate(distinct)}
    code_of_series = np.array([position[name] for name in names], dtype=np.int32)
    codes = code_of_series[np.frombuffer(series, dtype=np.int32)]
    seen, first = np.unique(codes, return_index=True)
    order = seen[np.argsort(first)]
    renumbered = np.empty(len(distinct), dtype=np.int32)
    renumbered[order] = np.arange(len(order), dtype=np.int32)
    return pd.Categorical.from_codes(
        renumbered[codes], categories=pd.Index([distinct[i] for i in order], dtype=object)
    )


def _strings(column: Interned) -> np.ndarray:
    values = np.array(column.values, dtype=object)
    codes = np.frombuffer(column.codes, dtype=np.int32) if len(column) else np.array([], int)
    return values[codes] if len(values) else np.array([], dtype=object)


def _packed(column: Packed) -> np.ndarray:
    out = np.empty(len(column), dtype=object)
    out[:] = column.decoded()
    return out


def _array(buffer: array[int] | array[float], dtype: str) -> np.ndarray:
    return np.frombuffer(buffer, dtype=dtype).copy() if len(buffer) else np.array([], dtype)


def messages_table(rec: ColumnarRecorder) -> pd.DataFrame:
    """One row per message (submitted by a flow, or a bounce)."""
    n = len(rec.m_size)
    return pd.DataFrame(
        {
            "msg_id": np.arange(n, dtype=np.int64),
            "sender": _strings(rec.m_sender),
            "size_bytes": _array(rec.m_size, "int64"),
            "n_rcpt": _array(rec.m_n_rcpt, "int32"),
            "t_submit": _array(rec.m_t_submit, "float64"),
            "origin": _category(rec.m_origin),
            "notice": _category(rec.m_notice),
        }
    )


def recipients_table(rec: ColumnarRecorder) -> pd.DataFrame:
    """One row per message and recipient, with its final status."""
    msg = _array(rec.r_msg, "int32").astype(np.int64)
    t_submit = _array(rec.m_t_submit, "float64")
    t_final = _array(rec.r_t_final, "float64")
    status_codes = _array(rec.r_status, "int8")
    frame = pd.DataFrame(
        {
            "msg_id": msg,
            "rcpt": _packed(rec.r_rcpt),
            "domain": _category(rec.r_domain),
            "status": pd.Categorical.from_codes(status_codes, categories=pd.Index(STATUSES)),
            "t_final": t_final,
            "delay_s": t_final - (t_submit[msg] if len(msg) else t_final),
            "attempts": _array(rec.r_attempts, "int32"),
            "dsn": _category(rec.r_dsn),
            "reply": _strings(rec.r_reply),
            "hops": _array(rec.r_hops, "int16"),
        }
    )
    if rec.retrieval:  # a run with an access service: when each one was fetched
        fetched = np.full(len(msg), np.nan)
        fetched[_array(rec.f_row, "int64")] = _array(rec.f_t, "float64")
        frame["t_fetched"] = fetched
    return frame


def attempts_table(rec: ColumnarRecorder) -> pd.DataFrame:
    """One row per delivery attempt and recipient."""
    rows = _array(rec.a_row, "int64")
    rcpt = _packed(rec.r_rcpt)[rows] if len(rows) else np.array([], dtype=object)
    return pd.DataFrame(
        {
            "msg_id": _array(rec.a_msg, "int64"),
            "rcpt": rcpt,
            "host": _category(rec.a_host),
            "peer": _category(rec.a_peer),
            "t_start": _array(rec.a_t_start, "float64"),
            "t_end": _array(rec.a_t_end, "float64"),
            "outcome": _category(rec.a_outcome),
            "code": _array(rec.a_code, "int16"),
            "dsn": _category(rec.a_dsn),
            "phase": _category(rec.a_phase),
            "queue_s": _array(rec.a_queue_s, "float64"),
            "conn_s": _array(rec.a_conn_s, "float64"),
            "xfer_s": _array(rec.a_xfer_s, "float64"),
            "conn_use": _array(rec.a_conn_use, "int16"),
            "conn_error": _category(rec.a_conn_error),
        }
    )


def levels_table(rec: ColumnarRecorder) -> pd.DataFrame:
    """One row per change of a level (active and deferred queue, open connections)."""
    return pd.DataFrame(
        {
            "t": _array(rec.l_t, "float64"),
            "host": _by_series(rec.l_series, rec.level_hosts),
            "metric": _by_series(rec.l_series, rec.level_metrics),
            "value": _array(rec.l_value, "int64"),
        }
    )
