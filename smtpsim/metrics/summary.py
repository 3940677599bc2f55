"""The numbers a mail operator asks for first, from the result tables.

Computed over the recipients of messages submitted after the warm-up (bounce
messages are counted apart, under ``bounce_messages``):

- ``recipients``: submitted, and how many ended delivered, bounced, expired, lost,
  unsent (their mail client never got them into the mail system), or were still
  pending when the run stopped;
- ``delivery_ratio``, ``bounce_rate``, ``expired_rate``, ``lost_rate``,
  ``pending_rate``: each status's share of the submitted recipients. They add up
  to 1 with ``unsent_rate``: ``pending_rate`` is the share whose outcome the run did
  not see (censored at the end of the run), so a delivery ratio is only comparable
  between runs whose pending shares are both small, or that were drained (``simulation.drain``);
- ``unsent_by_reason``: unsent recipients per reason, the reply the client got
  (``535 5.7.8 ...``; an address in it written ``<rcpt>``) or its connection
  failure, most first;
- ``delay_s``: p50, p95, p99 and max of submission-to-mailbox delay of delivered ones;
- ``deferral_rate``: the share of delivery attempts that ended deferred;
- ``attempts_per_recipient``: SMTP delivery attempts per recipient, all hops (a
  recipient relayed over three hops without a hitch counts 3);
- ``retries_per_recipient``: deferred attempts per recipient, all hops: the
  retries an operator means (0 when no attempt was deferred);
- ``bounce_messages``: the notices sent back to senders and their statuses, and
  ``notices`` the same messages by kind: ``failure`` (non-delivery), ``delay``
  (Postfix's ``delay_warning_time``) and ``success`` (DSN NOTIFY=SUCCESS);
- ``peak_queue``: per host, the largest active and deferred queue seen;
- ``by_domain``, ``by_flow``: the outcome counts and shares per recipient domain
  and per traffic flow (same population, split);
- ``run``: when the run ended (``end_s``), whether it drained its queues after the
  traffic stopped (``drain``), and if so whether every recipient reached a final
  status (``drained``) and when (``drained_at_s``);
- ``retrieval`` (only for runs whose mailbox hosts have an access service):
  delivered, fetched and not yet fetched recipients, and the percentiles of
  submitted to delivered, submitted to fetched (end to end) and delivered to
  fetched (``smtpsim.metrics.retrieval``);
- ``tls`` (only for runs that model TLS between servers): sessions by TLS result,
  recipients sent in the clear, read by an attacker on a link, and deferred by a TLS
  policy (``smtpsim.metrics.tls_report``; added by ``RunResult.summary``);
- ``warnings``: sentences a reader must see before trusting the shares, such as
  more than :data:`PENDING_WARNING` of the recipients still pending at the end.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NotRequired, TypedDict

import numpy as np
import pandas as pd

from ..sim.dsn import FAILURE, NOTICE_KINDS
from ..sim.trace import STATUSES
from .retrieval import RetrievalSummary, retrieval_summary, retrieval_warning
from .tls_report import TlsSummary

__all__ = ["PENDING_WARNING", "RunFacts", "Summary", "outcome_table", "summarize"]

PENDING_WARNING = 0.02
"""Above this share of recipients still pending at the end, the summary warns."""

_RATE = {
    "delivered": "delivery_ratio",
    "bounced": "bounce_rate",
    "expired": "expired_rate",
    "lost": "lost_rate",
    "unsent": "unsent_rate",
    "pending": "pending_rate",
}


class RunFacts(TypedDict, total=False):
    """How the run ended (``summary["run"]``); the last four only for a drained run."""

    end_s: float | None
    traffic_end_s: float | None
    drain: bool
    drain_limit_s: float
    drained: bool
    drained_at_s: float | None
    pending_at_end: int


class Summary(TypedDict):
    """The summary, as ``summary.json`` holds it (the module's docstring says what
    each entry means). Counts keyed by status are plain dicts: read in loops."""

    messages: int
    recipients: dict[str, int]  # submitted, then one count per status
    delivery_ratio: float | None
    bounce_rate: float | None
    expired_rate: float | None
    lost_rate: float | None
    pending_rate: float | None
    unsent_rate: float | None
    unsent_by_reason: dict[str, int]  # the reply (or connection failure) -> recipients
    delay_s: dict[str, float | None]  # p50, p95, p99, max, mean
    deferral_rate: float | None
    attempts_per_recipient: float | None
    retries_per_recipient: float | None
    bounce_messages: dict[str, int]  # sent, then one count per status
    notices: dict[str, int]  # bounce messages by kind: failure, delay, success
    peak_queue: dict[str, dict[str, int]]  # host -> metric -> largest value
    by_domain: dict[str, dict[str, float]]  # domain -> counts and shares
    by_flow: dict[str, dict[str, float]]
    run: RunFacts
    warmup_s: float
    warnings: list[str]
    retrieval: NotRequired[RetrievalSummary]  # runs with an access service (POP3/IMAP)
    tls: NotRequired[TlsSummary]  # runs that model TLS between servers (RunResult.summary)


def summarize(
    messages: pd.DataFrame,
    recipients: pd.DataFrame,
    attempts: pd.DataFrame,
    levels: pd.DataFrame,
    *,
    warmup: float = 0.0,
    meta: Mapping[str, object] | None = None,
) -> Summary:
    """The summary (see the module's docstring); ``meta`` (the run's) says when and how
    the run ended."""
    meta = meta or {}
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
    n_deferred = int((outcomes == "deferred").sum())
    bounce_rcpts = recipients[is_bounce[msg_ids]] if len(msg_ids) else recipients
    bstatus = bounce_rcpts["status"].astype(str)
    peak: dict[str, dict[str, int]] = {}
    if len(levels):
        grouped = levels.groupby(["host", "metric"], observed=True)["value"].max()
        for (host, metric), value in zip(grouped.index.tolist(), grouped.tolist(), strict=True):
            peak.setdefault(str(host), {})[str(metric)] = int(value)
    n_rcpt = len(rcpts)
    attempts_total = int(rcpts["attempts"].sum()) if n_rcpt else 0
    # without the attempts table (simulation.record_attempts: false) deferrals are unknown
    recorded = n_att > 0 or attempts_total == 0
    flows = pd.Series(origin[msg_ids[in_window]] if len(msg_ids) else [], dtype=object)
    run = _run_facts(meta, counts["pending"] + int((bstatus == "pending").sum()))
    shares = {rate: counts[s] / n_rcpt if n_rcpt else None for s, rate in _RATE.items()}
    summary: Summary = {
        "messages": int(counted.sum()),
        "recipients": {"submitted": n_rcpt, **counts},
        "delivery_ratio": shares["delivery_ratio"],
        "bounce_rate": shares["bounce_rate"],
        "expired_rate": shares["expired_rate"],
        "lost_rate": shares["lost_rate"],
        "pending_rate": shares["pending_rate"],
        "unsent_rate": shares["unsent_rate"],
        "unsent_by_reason": _unsent_by_reason(rcpts, status),
        "delay_s": delay,
        "deferral_rate": n_deferred / n_att if n_att else None,
        "attempts_per_recipient": attempts_total / n_rcpt if n_rcpt else None,
        "retries_per_recipient": n_deferred / n_rcpt if n_rcpt and recorded else None,
        "bounce_messages": {
            "sent": len(bounce_rcpts),
            **{s: int((bstatus == s).sum()) for s in STATUSES},
        },
        "notices": _notices(messages, is_bounce),
        "peak_queue": peak,
        "by_domain": _records(outcome_table(status, rcpts["domain"].astype(str), "domain")),
        "by_flow": _records(outcome_table(status, flows, "flow")),
        "run": run,
        "warmup_s": warmup,
        "warnings": [],
    }
    if "t_fetched" in rcpts.columns:  # a run with an access service
        summary["retrieval"] = retrieval_summary(rcpts, status)
    summary["warnings"] = warnings_of(summary)
    return summary


def _notices(messages: pd.DataFrame, is_bounce: np.ndarray) -> dict[str, int]:
    """The bounce messages by kind of notice (``smtpsim.sim.dsn.NOTICE_KINDS``):
    non-delivery, delay warnings (``delay_warning_time``) and success notices
    (DSN NOTIFY=SUCCESS). Tables written before the ``notice`` column count every
    bounce message as a failure notice, which is all they could be."""
    if "notice" in messages.columns:
        kinds = messages["notice"].astype(str).to_numpy()[is_bounce]
    else:
        kinds = np.full(int(is_bounce.sum()), FAILURE, dtype=object)
    return {kind: int((kinds == kind).sum()) for kind in NOTICE_KINDS}


def outcome_table(status: pd.Series, keys: pd.Series, name: str) -> pd.DataFrame:
    """One row per value of ``keys`` (a recipient's domain, flow...): ``submitted``, a
    count per status, and each status's share (``delivery_ratio`` ... ``pending_rate``)."""
    frame = pd.DataFrame(
        {name: np.asarray(keys, dtype=object), "status": np.asarray(status, dtype=object)}
    )
    counts = (
        frame.groupby([name, "status"])
        .size()
        .unstack(fill_value=0)
        .reindex(columns=list(STATUSES), fill_value=0)
    )
    counts = counts[[s for s in STATUSES if s != "pending"] + ["pending"]]
    table = counts.astype("int64")
    table.insert(0, "submitted", table.sum(axis=1))
    for s, rate in _RATE.items():
        table[rate] = table[s] / table["submitted"]
    table.columns.name = None
    return (
        table.reset_index()
        .sort_values("submitted", ascending=False, kind="stable")
        .reset_index(drop=True)
    )


def warnings_of(summary: Summary) -> list[str]:
    """The warnings of a summary: too much mail still pending at the end (its outcome
    unseen, so the other shares are lower bounds), or a drain that hit its limit."""
    out = []
    r = summary["recipients"]
    n, pending = r["submitted"], r["pending"]
    run = summary["run"]
    if n and pending / n > PENDING_WARNING:
        at = run.get("end_s")
        when = f" at {at:,.0f} s" if at is not None else ""
        text = (
            f"{pending:,} recipients ({100 * pending / n:.2f} %) were still pending "
            f"when the run stopped{when}: their outcome is unknown, so delivered, "
            "bounced and expired shares are lower bounds"
        )
        if run.get("drain"):
            text += (
                f"; the drain stopped at its limit ({run.get('drain_limit_s', 0):,.0f} s"
                " after the traffic): raise simulation.drain_limit"
            )
        else:
            text += "; rerun with --drain (simulation.drain: true) to let the queues empty"
        out.append(text)
    elif run.get("drain") and not run.get("drained"):
        out.append(
            f"the drain stopped at its limit with {run.get('pending_at_end', 0):,} "
            "recipients (bounce notices included) still queued"
        )
    retrieval = summary.get("retrieval")
    unfetched = retrieval_warning(retrieval) if retrieval is not None else None
    if unfetched is not None:
        out.append(unfetched)
    return out


def _run_facts(meta: Mapping[str, object], pending: int) -> RunFacts:
    until = _seconds(meta.get("until_s"))
    end = _seconds(meta.get("sim_time_s", meta.get("until_s")))
    drain = bool(meta.get("drain", False))
    facts: RunFacts = {"end_s": end, "traffic_end_s": until, "drain": drain}
    if drain:
        facts["drain_limit_s"] = _seconds(meta.get("drain_limit_s")) or 0.0
        facts["drained"] = pending == 0
        drained_at = meta.get("drained_at_s")  # as meta has it (None: not drained)
        facts["drained_at_s"] = drained_at if isinstance(drained_at, int | float) else None
        facts["pending_at_end"] = pending
    return facts


def _seconds(value: object) -> float | None:
    """A time of ``meta`` (a number, or None when it was not set) as a float."""
    if value is None:
        return None
    if not isinstance(value, int | float | str):
        raise TypeError(f"a time in seconds, not {value!r}")
    return float(value)


def _records(table: pd.DataFrame) -> dict[str, dict[str, float]]:
    key = table.columns[0]
    return {
        str(row[key]): {
            str(c): (int(v) if c in STATUSES or c == "submitted" else float(v))
            for c, v in row.items()
            if c != key
        }
        for row in table.to_dict("records")
    }


def _unsent_by_reason(rcpts: pd.DataFrame, status: pd.Series) -> dict[str, int]:
    """Unsent recipients per reason (their ``reply``: what the client saw), most first."""
    if not len(rcpts):
        return {}
    reasons = rcpts.loc[(status == "unsent").to_numpy(), "reply"].astype(str)
    # One reason, not one per address: "554 5.7.1 <rcpt>: Relay access denied"
    reasons = reasons.str.replace(r"<[^<>@\s]*@[^<>\s]*>", "<rcpt>", regex=True)
    counts = reasons.value_counts(sort=False)
    ordered = sorted(counts.items(), key=lambda kv: (-int(kv[1]), str(kv[0])))
    return {str(k): int(v) for k, v in ordered}


def _quantile(values: np.ndarray, q: float) -> float | None:
    return float(np.quantile(values, q)) if len(values) else None
