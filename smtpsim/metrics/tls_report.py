"""The TLS report (issue 14), in the spirit of RFC 8460's SMTP TLS reports: per day,
sending host (the reporting organisation) and policy domain, the sessions whose TLS
was decided, by policy type and result.

RFC 8460 section 4.4 counts, per policy, ``total-successful-session-count``,
``total-failure-session-count`` and failed sessions by ``result-type`` (section 4.3:
``starttls-not-supported``, ``certificate-expired``, ``certificate-not-trusted``,
``certificate-host-mismatch``, ``tlsa-invalid``, ``validation-failure``,
``sts-policy-fetch-error``...). The table keeps that split, with one row per day,
sending host, domain, policy type and result, and adds what a simulation can count that a report
cannot: the recipients the sessions delivered, those delivered in the clear, those
that crossed a link with an attacker in the clear (read by the attacker), and those
a TLS failure left deferred. ``docs/results.md`` lists the columns.

A failure reported under a policy that does not enforce it (MTA-STS ``testing``,
or ``may``) is still a failure in the report: the mail went on, over TLS without
the checks, or in the clear.
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np
import pandas as pd

from .recorder import ColumnarRecorder, Interned

__all__ = ["TLS_COLUMNS", "TlsSummary", "tls_report_table", "tls_summary"]

DAY = 86400.0
TLS_COLUMNS = (
    "day",
    "host",
    "domain",
    "policy_type",
    "result",
    "sessions",
    "sent",
    "sent_clear",
    "exposed",
    "blocked",
)


class TlsSummary(TypedDict):
    """The TLS lines of the summary (runs that model TLS between servers)."""

    sessions: int
    successful_sessions: int
    failed_sessions: dict[str, int]  # result type -> sessions
    sent: int  # recipients the servers took, over TLS or not
    sent_clear: int  # of them, in the clear
    exposed: int  # of them, in the clear over a link with an attacker
    blocked: int  # recipients a TLS failure left deferred (at one session each)


def _strings(column: Interned) -> np.ndarray:
    values = np.array(column.values, dtype=object)
    codes = np.frombuffer(column.codes, dtype=np.int32) if len(column) else np.array([], int)
    return values[codes] if len(values) else np.array([], dtype=object)


def _ints(buffer: object) -> np.ndarray:
    data = np.asarray(buffer, dtype=np.int64)
    return data if data.size else np.array([], dtype=np.int64)


def tls_report_table(rec: ColumnarRecorder) -> pd.DataFrame:
    """The TLS report of a run (module docstring), sorted by day, host, domain, policy
    type and result."""
    sent = _ints(rec.s_sent)
    encrypted = _ints(rec.s_encrypted).astype(bool)
    attacked = _ints(rec.s_attacked).astype(bool)
    sessions = pd.DataFrame(
        {
            "day": (np.asarray(rec.s_t, dtype=float) // DAY).astype(np.int64),
            "host": _strings(rec.s_host),
            "domain": _strings(rec.s_domain),
            "policy_type": _strings(rec.s_policy),
            "result": _strings(rec.s_result),
            "sessions": np.ones(len(sent), dtype=np.int64),
            "sent": sent,
            "sent_clear": np.where(encrypted, 0, sent),
            "exposed": np.where(~encrypted & attacked, sent, 0),
            "blocked": _ints(rec.s_blocked),
        }
    )
    keys = ["day", "host", "domain", "policy_type", "result"]
    if sessions.empty:
        return pd.DataFrame({c: pd.Series(dtype=_DTYPES[c]) for c in TLS_COLUMNS})
    table = sessions.groupby(keys, sort=True, observed=True).sum().reset_index()
    return table.astype(_DTYPES)[list(TLS_COLUMNS)]


_DTYPES = {
    "day": "int64",
    "host": "object",
    "domain": "object",
    "policy_type": "object",
    "result": "object",
    "sessions": "int64",
    "sent": "int64",
    "sent_clear": "int64",
    "exposed": "int64",
    "blocked": "int64",
}


def tls_summary(report: pd.DataFrame) -> TlsSummary:
    """Totals of a TLS report: the answers to a TLS scenario's questions (how much mail
    went in the clear, how much an attacker read, how much TLS policies deferred)."""
    result = report["result"].astype(str)
    failed = report[(result != "success") & (result != "not-attempted")]
    by_type = failed.groupby(failed["result"].astype(str), sort=True)["sessions"].sum()
    return {
        "sessions": int(report["sessions"].sum()),
        "successful_sessions": int(report.loc[result == "success", "sessions"].sum()),
        "failed_sessions": {str(k): int(v) for k, v in by_type.items()},
        "sent": int(report["sent"].sum()),
        "sent_clear": int(report["sent_clear"].sum()),
        "exposed": int(report["exposed"].sum()),
        "blocked": int(report["blocked"].sum()),
    }
