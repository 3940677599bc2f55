"""One message's journey, hop by hop: ``smtpsim trace RESULTS KEY``.

``KEY`` is what a user copies from the maillog (``smtpsim.metrics.maillog``): a
queue id (10 upper-case hex digits, one per stay of a message at a host), a
message-id (``<MSGID.smtpsim@domain>``, with or without the angle brackets, or the
bare number ``MSGID``, which is ``messages.msg_id``), or an address (``<a@b>`` or
``a@b``: the messages it sent or received; several may match, and all are listed).

A journey is the message's recipients (final status, delay, reply), every delivery
attempt in time order (host, peer, outcome, code, enhanced code, phase and the delay
split ``queue_s``/``conn_s``/``xfer_s``), the queue ids it had at each host, and its
bounce notices, each with a journey of its own (a notice is matched to its original
as the maillog does: sent to the original's sender when a recipient failed).
``timeline_figure`` draws it across hosts.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..metrics.result import RunResult
    from ..plots._common import IncidentSpec

__all__ = [
    "Journey",
    "TraceError",
    "find_messages",
    "format_journey",
    "journey",
    "log_lines",
    "queue_ids",
    "timeline_figure",
]

_QID = re.compile(r"^[0-9A-Fa-f]{10}$")
_MSGID = re.compile(r"^<?(\d+)\.smtpsim@[^>\s]*>?$")
_CLEANUP = re.compile(r" (\S+) postfix/cleanup\[\d+\]: ([0-9A-F]{10}): message-id=<(\d+)\.smtpsim@")
_EPS = 1e-6


class TraceError(ValueError):
    """A key that names no message of the run (the message says why)."""


def _maillog_lines(result: RunResult, directory: Path | None) -> Iterator[str]:
    """The run's maillog: the file in ``directory`` when there is one, else made again
    from the tables (the same lines: the maillog is a function of the tables)."""
    path = directory / "maillog" if directory is not None else None
    if path is not None and path.is_file():
        with path.open(encoding="utf-8", errors="replace") as f:
            yield from f
        return
    from ..metrics.maillog import maillog_lines

    if result.has_attempts:
        yield from maillog_lines(result)


def queue_ids(
    result: RunResult, directory: Path | None = None, messages: Iterable[int] | None = None
) -> dict[int, list[tuple[str, str]]]:
    """``{msg_id: [(host, queue id), ...]}`` in the maillog's order (for ``messages``
    only, when given), read from the ``cleanup ... message-id=`` lines."""
    wanted = set(messages) if messages is not None else None
    out: dict[int, list[tuple[str, str]]] = {}
    for line in _maillog_lines(result, directory):
        if "postfix/cleanup[" not in line:
            continue
        match = _CLEANUP.search(line)
        if match is None:
            continue
        mid = int(match.group(3))
        if wanted is None or mid in wanted:
            out.setdefault(mid, []).append((match.group(1), match.group(2)))
    return out


def log_lines(result: RunResult, ids: Iterable[str], directory: Path | None = None) -> list[str]:
    """The maillog's lines that name one of the queue ids ``ids`` (as ``QID:``, or
    ``queued as QID``, or a bounce's new ``QID``): each attempt's reply text as
    the log gives it."""
    wanted = tuple(ids)
    if not wanted:
        return []
    pattern = re.compile("|".join(re.escape(q) for q in wanted))
    return [line.rstrip("\n") for line in _maillog_lines(result, directory) if pattern.search(line)]


def find_messages(result: RunResult, key: str, directory: Path | None = None) -> list[int]:
    """The ``msg_id`` of the messages ``key`` names (see the module's docstring);
    raises ``TraceError`` when it names none."""
    text = key.strip()
    m = result.messages
    known = set(m["msg_id"].tolist())
    if _QID.match(text):
        qid = text.upper()
        for mid, ids in queue_ids(result, directory).items():
            if any(q == qid for _, q in ids):
                return [mid]
        raise TraceError(f"no queue id {qid} in this run's maillog")
    match = _MSGID.match(text)
    if match is not None or text.isdigit():
        mid = int(match.group(1) if match is not None else text)
        if mid not in known:
            raise TraceError(f"no message {mid} in this run (msg_id 0 to {len(m) - 1})")
        return [mid]
    if "@" in text:
        address = text.strip("<>").lower()
        senders = m.loc[m["sender"].astype(str).str.lower() == address, "msg_id"]
        r = result.recipients
        receivers = r.loc[r["rcpt"].astype(str).str.lower() == address, "msg_id"]
        found = sorted(set(senders.tolist()) | set(receivers.tolist()))
        if not found:
            raise TraceError(f"no message from or to <{address}> in this run")
        return [int(x) for x in found]
    raise TraceError(
        f"{key!r} is not a queue id (10 hex digits), a message-id "
        "(<N.smtpsim@domain> or N) or an address"
    )


@dataclass(frozen=True)
class Journey:
    """One message: its row of ``messages`` as a dict, its ``recipients`` and
    ``attempts`` rows (DataFrames, attempts in time order), its ``queue_ids`` (host,
    id), the ``original`` message when it is a bounce notice, and the ``notices``
    (journeys of the bounce messages made for it)."""

    msg_id: int
    message: dict[str, str | int | float]  # the messages row: strings and numbers
    recipients: pd.DataFrame
    attempts: pd.DataFrame
    queue_ids: tuple[tuple[str, str], ...]
    original: int | None
    notices: tuple[Journey, ...]
    domain: str = ""

    @property
    def message_id(self) -> str:
        """As the maillog's cleanup line writes it: the sender's domain, or for a
        bounce notice (null sender) the host that made it."""
        domain = self.domain or "localhost"
        return f"<{self.msg_id}.smtpsim@{domain}>"

    @property
    def is_bounce(self) -> bool:
        return str(self.message.get("origin")) == "bounce"


def _failed_times(result: RunResult, mid: int) -> list[float]:
    r = result.recipients
    rows = r[(r["msg_id"] == mid) & r["status"].astype(str).isin(["bounced", "expired"])]
    return [float(t) for t in rows["t_final"].tolist() if math.isfinite(float(t))]


def _notices_of(result: RunResult, mid: int) -> list[int]:
    """Bounce messages made for ``mid``: to its sender, created when one of its
    recipients failed."""
    m = result.messages
    row = m[m["msg_id"] == mid].iloc[0]
    sender = str(row["sender"]) if isinstance(row["sender"], str) else ""
    times = _failed_times(result, mid)
    if not sender or not times or str(row["origin"]) == "bounce":
        return []
    bounces = m[m["origin"].astype(str) == "bounce"]
    r = result.recipients
    to_sender = set(
        r.loc[
            (r["rcpt"].astype(str) == sender) & r["msg_id"].isin(bounces["msg_id"]), "msg_id"
        ].tolist()
    )
    out = []
    for _, b in bounces[bounces["msg_id"].isin(to_sender)].iterrows():
        if any(abs(float(b["t_submit"]) - t) < _EPS for t in times):
            out.append(int(b["msg_id"]))
    return out


def _original_of(result: RunResult, mid: int) -> int | None:
    m = result.messages
    row = m[m["msg_id"] == mid].iloc[0]
    if str(row["origin"]) != "bounce":
        return None
    r = result.recipients
    rcpts = r.loc[r["msg_id"] == mid, "rcpt"].astype(str).tolist()
    if not rcpts:
        return None
    t = float(row["t_submit"])
    candidates = m[(m["sender"].astype(str) == rcpts[0]) & (m["origin"].astype(str) != "bounce")]
    failed = r[
        r["msg_id"].isin(candidates["msg_id"])
        & r["status"].astype(str).isin(["bounced", "expired"])
    ]
    hits = failed.loc[(failed["t_final"] - t).abs() < _EPS, "msg_id"].tolist()
    return int(hits[0]) if hits else None


def journey(
    result: RunResult,
    mid: int,
    directory: Path | None = None,
    *,
    ids: dict[int, list[tuple[str, str]]] | None = None,
    _depth: int = 0,
) -> Journey:
    """The journey of message ``mid`` of ``result`` (a ``RunResult``), with its
    bounce notices' journeys (a notice of a notice is never made: null sender)."""
    m = result.messages
    rows = m[m["msg_id"] == mid]
    if not len(rows):
        raise TraceError(f"no message {mid} in this run")
    notices = _notices_of(result, mid) if _depth == 0 else []
    if ids is None:
        ids = queue_ids(result, directory, [mid, *notices])
    r, a = result.recipients, result.attempts
    attempts = a[a["msg_id"] == mid] if len(a) else a
    if len(attempts):
        attempts = attempts.sort_values(["t_start", "t_end"], kind="stable")
    return Journey(
        msg_id=int(mid),
        message={str(k): v for k, v in rows.iloc[0].to_dict().items()},
        recipients=r[r["msg_id"] == mid].reset_index(drop=True),
        attempts=attempts.reset_index(drop=True),
        queue_ids=tuple(ids.get(int(mid), [])),
        original=_original_of(result, mid),
        notices=tuple(journey(result, n, directory, ids=ids, _depth=_depth + 1) for n in notices),
        domain=_domain(result, rows.iloc[0], ids.get(int(mid), [])),
    )


def _domain(result: RunResult, row: pd.Series, ids: Sequence[tuple[str, str]]) -> str:
    sender = row["sender"] if isinstance(row["sender"], str) else ""
    if sender:
        return sender.rpartition("@")[2]
    hosts = result.meta.get("hosts") or {}
    first = ids[0][0] if ids else ""
    return str((hosts.get(first) or {}).get("name", first))


# --- text ---------------------------------------------------------------------------------


def _t(seconds: float) -> str:
    """A simulated time or duration: ``0.034 s``, ``12.5 s``, ``4.2 min``, ``1.50 h``."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    s = float(seconds)
    if abs(s) < 1:
        return f"{s:.3f} s"
    if abs(s) < 120:
        return f"{s:.2f} s"
    if abs(s) < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.2f} h"


def _cols(rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(r[j]) for r in rows) for j in range(len(rows[0]))]
    return [
        indent + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in rows
    ]


def format_journey(j: Journey, *, indent: str = "") -> str:
    """The journey as text: the message, its recipients, its attempts hop by hop,
    and its bounce notices' journeys below it."""
    msg = j.message
    sender = msg.get("sender") if isinstance(msg.get("sender"), str) else ""
    queue = ", ".join(f"{host} {qid}" for host, qid in j.queue_ids) or "-"
    kind = (
        "bounce notice" + (f" for message {j.original}" if j.original is not None else "")
        if j.is_bounce
        else f"flow {msg.get('origin')}"
    )
    lines = [
        f"message {j.msg_id} {j.message_id}: from <{sender}>, "
        f"{int(msg.get('n_rcpt', 0))} recipient(s), {int(msg.get('size_bytes', 0)):,} "
        f"bytes, {kind}, entered at t={_t(float(msg['t_submit']))}",
        f"  queue ids: {queue}",
    ]
    lines.append("  recipients:")
    for _, row in j.recipients.iterrows():
        status = str(row["status"])
        when = (
            f" at t={_t(float(row['t_final']))} after {_t(float(row['delay_s']))}"
            if status != "pending"
            else " (still queued at the end of the run)"
        )
        reply = (
            f": {row['reply']}"
            if isinstance(row["reply"], str) and row["reply"] and status != "delivered"
            else ""
        )
        lines.append(
            f"    {row['rcpt']}: {status}{when}, {int(row['attempts'])} attempt(s), "
            f"{int(row['hops'])} hop(s), dsn {row['dsn']}{reply}"
        )
        if status == "delivered" and "t_fetched" in row.index:  # an access service
            fetched = float(row["t_fetched"])
            lines.append(
                f"      fetched by the mail client at t={_t(fetched)}, "
                f"{_t(fetched - float(row['t_final']))} after delivery"
                if math.isfinite(fetched)
                else "      not fetched by the mail client by the end of the run"
            )
    if len(j.attempts):
        t0 = float(msg["t_submit"])
        rows = [
            [
                "t_start",
                "+since entry",
                "host",
                "peer",
                "recipient",
                "outcome",
                "reply",
                "phase",
                "queue",
                "connect",
                "transfer",
            ]
        ]
        for _, a in j.attempts.iterrows():
            rows.append(
                [
                    _t(float(a["t_start"])),
                    _t(float(a["t_start"]) - t0),
                    str(a["host"]),
                    str(a["peer"]),
                    str(a["rcpt"]),
                    str(a["outcome"]),
                    f"{int(a['code'])} {a['dsn']}",
                    str(a["phase"]),
                    _t(float(a["queue_s"])),
                    _t(float(a["conn_s"])),
                    _t(float(a["xfer_s"])),
                ]
            )
        lines.append(f"  attempts ({len(j.attempts)}), hop by hop:")
        lines += _cols(rows, "    ")
    else:
        lines.append("  attempts: none recorded")
    text = "\n".join(indent + line for line in lines)
    for notice in j.notices:
        text += (
            "\n\n"
            + indent
            + "  bounce notice sent for it:\n"
            + format_journey(notice, indent=indent + "    ")
        )
    return text


# --- figure -----------------------------------------------------------------------------


_OUTCOME_COLOURS = {"sent": "#2ca02c", "deferred": "#ff7f0e", "bounced": "#d62728"}


def timeline_figure(
    journeys: Sequence[Journey], *, incidents: Iterable[IncidentSpec] | None = None
) -> Figure:
    """A timeline of journeys across hosts (one row per host, in the order the
    message reached them; the mailbox last): per attempt, its queue wait (grey),
    connection set-up (blue) and transfer (green) on the sending host's row, its
    outcome at ``t_end`` (sent: an arrow to the peer's row; deferred: orange;
    bounced: red), each delivery into a mailbox as a black dot. Bounce notices are
    drawn the same way, dashed. Returns the ``Figure``."""
    from matplotlib.figure import Figure

    from ..plots._common import format_duration, legend, parse_incidents

    everything: list[tuple[Journey, bool]] = []
    for j in journeys:
        everything.append((j, False))
        everything += [(n, True) for n in j.notices]
    rows: list[str] = []
    for j, _ in everything:
        for _, a in j.attempts.iterrows():
            for name in (str(a["host"]), str(a["peer"])):
                if name != "none" and name not in rows:
                    rows.append(name)
    rows.append("mailbox")
    y = {name: float(i) for i, name in enumerate(rows)}
    starts = [float(j.message["t_submit"]) for j, _ in everything]
    ends = [
        float(t)
        for j, _ in everything
        for t in j.recipients["t_final"].tolist()
        if math.isfinite(float(t))
    ]
    ends += [float(t) for j, _ in everything for t in j.attempts["t_end"].tolist()]
    t0 = min(starts) if starts else 0.0
    span = max(max([*ends, t0]) - t0, 1e-3)
    unit, factor = (
        ("seconds", 1.0) if span < 120 else ("minutes", 60.0) if span < 7200 else ("hours", 3600.0)
    )
    # concurrent sessions of one host (to different peers) side by side in its row
    lanes: dict[str, list[str]] = {}
    for j, _ in everything:
        for _, a in j.attempts.iterrows():
            peers = lanes.setdefault(str(a["host"]), [])
            if str(a["peer"]) not in peers:
                peers.append(str(a["peer"]))

    def lane(host: str, peer: str) -> float:
        peers = lanes.get(host, [peer])
        k = peers.index(peer) if peer in peers else 0
        return y[host] + (k - (len(peers) - 1) / 2) * min(0.18, 0.5 / len(peers))

    def x(t: float) -> float:
        return (t - t0) / factor

    fig = Figure(figsize=(9.0, 1.6 + 0.45 * len(rows)), layout="constrained")
    ax = fig.add_subplot()
    seen: set[str] = set()

    def label(text: str) -> str | None:
        if text in seen:
            return None
        seen.add(text)
        return text

    for j, dashed in everything:
        style = "--" if dashed else "-"
        for _, a in j.attempts.iterrows():
            yy = lane(str(a["host"]), str(a["peer"]))
            ts, te = float(a["t_start"]), float(a["t_end"])
            q, c = max(float(a["queue_s"]), 0.0), max(float(a["conn_s"]), 0.0)
            for lo, hi, colour, what in (
                (ts - q, ts, "0.7", "queue wait"),
                (ts, min(ts + c, te), "#1f77b4", "connection set-up"),
                (min(ts + c, te), te, "#2ca02c", "transfer"),
            ):
                if hi > lo:
                    ax.plot(
                        [x(lo), x(hi)],
                        [yy, yy],
                        color=colour,
                        lw=6,
                        alpha=0.8,
                        solid_capstyle="butt",
                        label=label(what),
                    )
            outcome = str(a["outcome"])
            colour = _OUTCOME_COLOURS.get(outcome, "k")
            peer = str(a["peer"])
            if peer in y:  # to the peer: an arrow when it took the message
                ax.annotate(
                    "",
                    xy=(x(te), y[peer]),
                    xytext=(x(te), yy),
                    arrowprops={
                        "arrowstyle": "->" if outcome == "sent" else "-",
                        "color": colour,
                        "lw": 1.2,
                        "linestyle": style,
                    },
                )
            if outcome != "sent":
                ax.plot(
                    [x(te)],
                    [y.get(peer, yy)],
                    marker="x",
                    ms=8,
                    mew=2,
                    color=colour,
                    ls="none",
                    label=label(f"{outcome} attempt"),
                )
        for _, r in j.recipients.iterrows():
            if str(r["status"]) == "delivered" and math.isfinite(float(r["t_final"])):
                ax.plot(
                    [x(float(r["t_final"]))],
                    [y["mailbox"]],
                    "o",
                    color="0.5" if dashed else "k",
                    ms=5,
                    label=label("bounce notice delivered" if dashed else "delivered"),
                )
        ax.axvline(x(float(j.message["t_submit"])), color="0.6", lw=0.8, ls=style)
    for incident in parse_incidents(incidents):  # those that overlap the journey
        end = incident.end if incident.end is not None else t0 + 2 * span
        if end >= t0 and incident.start <= t0 + 1.05 * span:
            ax.axvspan(
                x(max(incident.start, t0 - span)),
                x(min(end, t0 + 2 * span)),
                color="#bcbd22",
                alpha=0.15,
                lw=0,
                label=label(f"incident: {incident.kind} {incident.target}".strip()),
            )
    ax.set_yticks([y[n] for n in rows])
    ax.set_yticklabels(rows)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlim(-0.02 * span / factor, 1.05 * span / factor)
    ax.set_xlabel(
        f"{unit} since the message entered the network "
        f"(simulated t={format_duration(t0) if t0 else '0 s'})"
    )
    ax.grid(True, axis="x", alpha=0.3)
    names = ", ".join(str(j.msg_id) for j in journeys)
    ax.set_title(f"Journey of message {names} across hosts (dashed: bounce notices)", fontsize=10)
    legend(ax, loc="upper right")
    return fig
