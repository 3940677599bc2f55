"""A Postfix maillog read into the tables ``smtpsim run`` writes (docs/results.md).

``read_postfix_log(path)`` reads what Postfix 3.7 writes to ``maillog_file`` (or what
syslog wrote for it; RFC 3339 time stamps too) and what ``smtpsim run`` writes as its
``maillog``, and returns a :class:`PostfixLog`: the ``messages``, ``recipients`` and
``attempts`` tables with the documented columns (plus a few the log has and a run's
tables do not: ``queue_id``, ``client``, ``delay_s``, ``reply``), and two tables of
their own, ``rejects`` (smtpd's ``NOQUEUE: reject`` lines) and ``connect_failures``
(the smtp client's ``connect to HOST[IP]:PORT: REASON`` lines). Every line is either
understood (counted by kind in ``counts``) or kept in ``unknown`` with its number:
nothing is dropped silently. ``report()`` says what was read.

The line formats are Postfix's (``src/global/log_adhoc.c`` for delivery status lines,
``src/smtpd/smtpd_check.c`` ``log_whatsup()`` for rejects, ``src/global/opened.c`` for
``from=... (queue active)``, ``src/qmgr/qmgr_active.c`` for ``removed`` and
``status=expired``, ``src/smtp/smtp_connect.c`` for connect failures,
``src/util/msg_logger.c`` for the ``maillog_file`` prefix).

How the tables are made:

- a message is a chain of queue files: a file whose queue id another file's
  ``status=sent (250 ... queued as QID)`` line names (smtpsim's own multi-host log) is
  the same message one hop further; a real Postfix's next hop is outside its log, so
  each of its queue files is a message. ``t_submit`` is the first file's arrival
  (``client=`` for smtpd, ``uid=``/``sender=`` for pickup, ``sender non-delivery
  notification`` for a bounce, else its first ``from=`` line); ``origin`` is
  ``smtpd``, ``pickup`` or ``bounce``.
- an attempt is one ``to=<...>, relay=..., status=...`` line with status ``sent``,
  ``deferred`` or ``bounced``: ``t_end`` the line's time, ``t_start = t_end - c - d``,
  ``queue_s = a + b``, ``conn_s = c``, ``xfer_s = d`` (``delays=a/b/c/d``); ``peer`` the
  relay's host name or ``none``; ``code`` the server's reply code where a server
  replied, otherwise 451 for a deferral and 550 for a bounce (as smtpsim records
  connection failures); ``phase`` from the text: ``(in reply to RCPT TO command)`` ->
  ``rcpt``, ``refused to talk to me`` -> ``greeting``, ``connect to`` -> ``connect``,
  ``delivery temporarily suspended`` -> ``qmgr``, ``Host or domain name not found``
  -> ``dns``, ``sent`` -> ``content``; ``other`` when the text says none of these.
- a recipient's status is its last hop's: ``sent`` there (to a mailbox or a server
  outside the log) is ``delivered``; ``bounced``; ``expired`` when the message's
  ``status=expired`` line came while the recipient was unfinished; otherwise
  ``pending``. ``attempts`` counts its attempt lines over all hops; ``hops`` the SMTP
  hops crossed (the submission over smtpd included).
- times: seconds since ``origin`` (default: the first line's second). A log line is
  stamped to the whole second, so an attempt's time is narrowed with its ``delay=``
  (time since its queue file's arrival, printed to 2 significant digits,
  ``src/util/format_tv.c``): the middle of the interval both allow. ``arrivals``
  (queue id -> exact arrival, as the oracle's submission knows them) makes it exact
  to the rounding of ``delay``. A queue file whose first line in the log is a
  delivery (the log begins after it arrived) has its arrival from that ``delay=``.

Not in a maillog, so not produced: the ``levels`` table (queue sizes are not logged),
and the submission's own attempts (a client outside the log).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}

# "Dec 04 07:52:57 relay postfix/smtp[11855]: text" (maillog_file pads the day with a
# zero, classic syslog with a space) or "2026-12-04T07:52:57.123+00:00 relay ...".
_PREFIX = re.compile(
    r"^(?:(?P<mon>[A-Z][a-z]{2}) {1,2}(?P<day>\d{1,2}) (?P<hms>\d\d:\d\d:\d\d)"
    r"|(?P<iso>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?))"
    r" (?P<host>\S+) (?P<prog>[^\s\[:]+)(?:\[(?P<pid>\d+)\])?: (?P<text>.*)$"
)
_QID = r"(?P<qid>[0-9A-Za-z]{5,})"
_DELIVERY = re.compile(
    _QID + r": to=<(?P<rcpt>[^>]*)>, (?:orig_to=<[^>]*>, )?relay=(?P<relay>[^,]+), "
    r"(?:conn_use=(?P<conn_use>\d+), )?delay=(?P<delay>[\d.]+), "
    r"delays=(?P<a>[\d.]+)/(?P<b>[\d.]+)/(?P<c>[\d.]+)/(?P<d>[\d.]+), "
    r"(?:tls=\S+, )?dsn=(?P<dsn>\d\.\d{1,3}\.\d{1,3}), status=(?P<status>\w+) \((?P<text>.*)\)$"
)
_ACTIVE = re.compile(_QID + r": from=<(?P<sender>[^>]*)>, size=(?P<size>\d+), nrcpt=(?P<nrcpt>\d+)")
_EXPIRED = re.compile(_QID + r": from=<(?P<sender>[^>]*)>, status=(?:force-)?expired, ")
_REMOVED = re.compile(_QID + r": removed$")
_CLIENT = re.compile(_QID + r": client=(?P<client>\S+?)(?:,|$)")
_PICKUP = re.compile(_QID + r": (?:uid=\d+ )?(?:from|sender)=<")
_MESSAGE_ID = re.compile(_QID + r": (?:resent-)?message-id=")
_NOTIFY = re.compile(
    _QID + r": sender (?:non-delivery|delay|delivery status) notification: (?P<new>\w+)$"
)
_REJECT = re.compile(
    r"^(?:NOQUEUE|" + _QID[8:-1] + r"): (?P<action>reject|reject_warning|hold|discard): "
    r"(?P<stage>[A-Z-]+) from (?P<client>\S+?): (?P<reply>(?P<code>\d{3}) "
    r"(?:(?P<dsn>\d\.\d{1,3}\.\d{1,3}) )?.*?); (?P<fields>.*)$"
)
_CONNECT_FAIL = re.compile(r"^connect to (?P<server>[^\s\[]+\[[^\]]+\](?::\d+)?): (?P<reason>.+)$")
_SESSION = re.compile(
    r"^(?:connect from |disconnect from |lost connection after \S+ from |"
    r"timeout after \S+ from |too many errors after \S+ from )"
)
_LIFECYCLE = re.compile(
    r"^(?:daemon started|starting the Postfix|stopping the Postfix|waiting for the Postfix|"
    r"terminating on signal|reload|the Postfix mail system|statistics: |"
    r"mail system startup|refreshing the Postfix|Postfix is running)"
)
_QUEUED_AS = re.compile(r"queued as (?P<qid>[0-9A-Za-z]+)")
_REPLY = re.compile(r"(?:said|refused to talk to me): (?P<code>\d{3})[ -](?P<rest>.*)$")
_COMMAND = {
    "EHLO": "helo",
    "HELO": "helo",
    "LHLO": "helo",
    "STARTTLS": "starttls",
    "AUTH": "auth",
    "MAIL FROM": "mail",
    "RCPT TO": "rcpt",
    "DATA": "data",
    "end of DATA": "content",
}
_WHILE = {
    "receiving the initial server greeting": "greeting",
    "performing the EHLO handshake": "helo",
    "performing the HELO handshake": "helo",
    "performing the STARTTLS handshake": "starttls",
    "performing SASL authentication": "auth",
    "sending MAIL FROM": "mail",
    "sending RCPT TO": "rcpt",
    "sending DATA command": "data",
    "sending message body": "content",
    "sending end of data": "content",
    "receiving the DATA reply": "data",
}
_FINAL = ("delivered", "bounced", "expired")


def delay_bounds(text: str) -> tuple[float, float]:
    """The interval a ``delay=``/``delays=`` value printed by ``format_tv`` (2 significant
    digits, at most 2 decimals; whole seconds from 100 s) stands for."""
    value = float(text)
    if value >= 10:
        half = 0.5
    elif value >= 1:
        half = 0.05
    else:
        half = 0.005
    return max(0.0, value - half), value + half


@dataclass
class _Rcpt:
    """One recipient in one queue file."""

    status: str = "pending"  # sent (to local or a next hop), bounced, expired, pending
    t_final: float = float("nan")
    attempts: int = 0
    dsn: str = ""
    reply: str = ""
    relay_local: bool = False


@dataclass
class _File:
    """One queue file: what its lines said."""

    index: int
    host: str
    qid: str
    t_arrival: tuple[float, float]  # the interval the arrival is known to
    origin: str
    via_smtp: bool
    sender: str = ""
    client: str = ""  # smtpd's client=NAME[ADDRESS]
    size: int = 0
    nrcpt: int = 0
    open: bool = True
    rcpts: dict[str, _Rcpt] = field(default_factory=dict)


@dataclass(frozen=True)
class _Link:
    """A ``status=sent (... queued as QID)`` line: ``rcpt`` of file ``source`` went on
    as queue file ``qid`` (if that file is in the log)."""

    source: int
    qid: str
    t: float
    rcpt: str


@dataclass
class PostfixLog:
    """A maillog read: the tables, and what was read and what was not."""

    messages: pd.DataFrame
    recipients: pd.DataFrame
    attempts: pd.DataFrame
    rejects: pd.DataFrame
    connect_failures: pd.DataFrame
    counts: Counter[str] = field(default_factory=Counter)
    unknown: list[tuple[int, str]] = field(default_factory=list)
    origin: datetime | None = None

    @property
    def lines(self) -> int:
        return sum(self.counts.values()) + len(self.unknown)

    def report(self, examples: int = 5) -> str:
        """Lines read by kind, the lines not understood (count and the first few)."""
        parts = [
            f"{self.lines} lines: " + ", ".join(f"{k} {n}" for k, n in sorted(self.counts.items()))
        ]
        parts.append(f"not understood: {len(self.unknown)}")
        parts += [f"  line {n}: {line}" for n, line in self.unknown[:examples]]
        return "\n".join(parts)


def _phase(status: str, relay: str, text: str) -> str:
    if status == "sent":
        return "content"
    if text.startswith("delivery temporarily suspended: "):
        return "qmgr"
    if text.startswith("connect to ") or (relay == "none" and "Connection" in text):
        return "connect"
    if text.startswith("Host or domain name not found"):
        return "dns"
    if " refused to talk to me: " in text:
        return "greeting"
    found = re.search(r"\(in reply to (.+?) command\)$", text)
    if found:
        return _COMMAND.get(found.group(1), "other")
    found = re.search(r" while (.+?)(?: --.*)?$", text)
    if found and found.group(1) in _WHILE:
        return _WHILE[found.group(1)]
    return "other"


def _code(status: str, text: str) -> int:
    found = _REPLY.search(text)
    if found:
        return int(found.group("code"))
    if status == "sent":
        return 250 if not text[:3].isdigit() else int(text[:3])
    return 451 if status == "deferred" else 550


def _reply_of(text: str) -> str:
    """The server's reply inside a status text, or the text itself."""
    found = _REPLY.search(text)
    if not found:
        return text
    rest = re.sub(r" \(in reply to .+? command\)$", "", found.group("rest"))
    return f"{found.group('code')} {rest}"


class _Reader:
    def __init__(
        self,
        origin: datetime | None,
        year: int | None,
        arrivals: Mapping[str, float] | None,
    ) -> None:
        self.origin = origin
        self.year = year
        self.arrivals = dict(arrivals or {})
        self.counts: Counter[str] = Counter()
        self.unknown: list[tuple[int, str]] = []
        self.files: list[_File] = []
        self.current: dict[tuple[str, str], _File] = {}  # open files by (host, qid)
        self.last: dict[tuple[str, str], _File] = {}  # the latest file, removed or not
        self.links: list[_Link] = []
        self.attempts: list[dict[str, Any]] = []
        self.rejects: list[dict[str, Any]] = []
        self.connect_failures: list[dict[str, Any]] = []

    # --- time ---------------------------------------------------------------------------

    def _stamp(self, m: re.Match[str]) -> float:
        if m.group("iso"):
            when = datetime.fromisoformat(m.group("iso").replace("Z", "+00:00"))
            when = when.replace(tzinfo=None)
        else:
            year = (
                self.year
                if self.year is not None
                else (self.origin.year if self.origin is not None else datetime.now().year)
            )
            h, mi, s = (int(x) for x in m.group("hms").split(":"))
            when = datetime(year, _MONTHS[m.group("mon")], int(m.group("day")), h, mi, s)
        if self.origin is None:
            self.origin = when.replace(microsecond=0)
        return (when - self.origin) / timedelta(seconds=1)

    # --- queue files ----------------------------------------------------------------------

    def _file(self, host: str, qid: str, t: float, origin: str, via_smtp: bool) -> _File:
        found = self.current.get((host, qid))
        if found is not None:
            return found
        exact = self.arrivals.get(qid)
        arrival = (exact, exact) if exact is not None else (t, t + 1.0)
        made = _File(len(self.files), host, qid, arrival, origin, via_smtp)
        self.files.append(made)
        self.current[(host, qid)] = made
        self.last[(host, qid)] = made
        return made

    # --- lines -----------------------------------------------------------------------------

    def line(self, number: int, raw: str) -> None:
        m = _PREFIX.match(raw.rstrip("\n"))
        if m is None:
            if raw.strip():
                self.unknown.append((number, raw.rstrip("\n")))
            else:
                self.counts["blank"] += 1
            return
        t = self._stamp(m)
        host, prog, text = m.group("host"), m.group("prog"), m.group("text")
        daemon = prog.rsplit("/", 1)[-1]
        kind = self._dispatch(t, host, daemon, text)
        if kind is None:
            self.unknown.append((number, raw.rstrip("\n")))
        else:
            self.counts[kind] += 1

    def _dispatch(self, t: float, host: str, daemon: str, text: str) -> str | None:
        if text.startswith(("warning: ", "fatal: ", "panic: ", "error: ")):
            return text.split(":", 1)[0]
        found = _DELIVERY.match(text)
        if found:
            self._delivery(t, host, daemon, found)
            return f"status={found.group('status')}"
        found = _ACTIVE.match(text)
        if found:
            f = self._file(host, found.group("qid"), t, "pickup", False)
            if not f.sender and not f.size:
                f.sender, f.size = found.group("sender"), int(found.group("size"))
                f.nrcpt = int(found.group("nrcpt"))
            return "queue active"
        found = _EXPIRED.match(text)
        if found:
            f = self._file(host, found.group("qid"), t, "pickup", False)
            for r in f.rcpts.values():
                if r.status == "pending":
                    r.status, r.t_final = "expired", t + 0.5
            return "status=expired"
        found = _REMOVED.match(text)
        if found:
            f = self._file(host, found.group("qid"), t, "pickup", False)
            del self.current[(host, f.qid)]
            return "removed"
        found = _CLIENT.match(text)
        if found:
            self._file(host, found.group("qid"), t, "smtpd", True).client = found.group("client")
            return "client="
        found = _NOTIFY.match(text)
        if found:
            # the notice's own queue file may have logged its lines already, even its
            # removal (the bounce daemon logs after cleanup made the file)
            key = (host, found.group("new"))
            last = self.last.get(key)
            if key not in self.current and last is not None and t - last.t_arrival[0] <= 5:
                last.origin = "bounce"
            else:
                self._file(host, found.group("new"), t, "bounce", False).origin = "bounce"
            return "notification"
        found = _MESSAGE_ID.match(text)
        if found:
            return "message-id="
        if daemon == "pickup" and _PICKUP.match(text):
            self._file(host, text.split(":", 1)[0], t, "pickup", False)
            return "pickup"
        found = _REJECT.match(text)
        if found:
            self._reject(t, host, found)
            return "reject"
        found = _CONNECT_FAIL.match(text)
        if found:
            self.connect_failures.append(
                {
                    "t": t + 0.5,
                    "host": host,
                    "server": found.group("server"),
                    "reason": found.group("reason"),
                }
            )
            return "connect to"
        if _SESSION.match(text):
            return "smtpd session"
        if _LIFECYCLE.match(text):
            return "lifecycle"
        return None

    def _reject(self, t: float, host: str, m: re.Match[str]) -> None:
        fields = dict(re.findall(r"(\w+)=<?([^<>\s,]*)>?", m.group("fields")))
        self.rejects.append(
            {
                "t": t + 0.5,
                "host": host,
                "action": m.group("action"),
                "stage": m.group("stage"),
                "client": m.group("client"),
                "code": int(m.group("code")),
                "dsn": m.group("dsn") or "",
                "reply": m.group("reply"),
                "sender": fields.get("from", ""),
                "rcpt": fields.get("to", ""),
            }
        )

    def _delivery(self, t: float, host: str, daemon: str, m: re.Match[str]) -> None:
        qid = m.group("qid")
        first_seen = (host, qid) not in self.current
        f = self._file(host, qid, t, "pickup", False)
        status, text, relay = m.group("status"), m.group("text"), m.group("relay")
        rcpt = m.group("rcpt")
        a, b, c, d = (float(m.group(k)) for k in "abcd")
        lo, hi = delay_bounds(m.group("delay"))
        if first_seen and qid not in self.arrivals:
            # The log begins after this file arrived (a rotated log, a sample): its
            # arrival is only known through delay=, not at this line's second.
            f.t_arrival = (t - hi, t + 1.0 - lo)
        lo, hi = max(t, f.t_arrival[0] + lo), min(t + 1.0, f.t_arrival[1] + hi)
        t_end = (lo + hi) / 2 if lo <= hi else t + 0.5
        peer = "none" if relay == "none" else relay.split("[", 1)[0]
        r = f.rcpts.setdefault(rcpt, _Rcpt())
        r.dsn, r.reply = m.group("dsn"), _reply_of(text)
        if relay == "local" or daemon == "discard":  # the chain ends here, without SMTP
            r.status, r.t_final, r.relay_local = status, t_end, True
            return
        r.attempts += 1
        phase = _phase(status, relay, text)
        self.attempts.append(
            {
                "msg_id": f.index,  # the file for now; its message at the end
                "rcpt": rcpt,
                "host": host,
                "peer": peer,
                "t_start": t_end - c - d,
                "t_end": t_end,
                "outcome": status if status in ("sent", "deferred", "bounced") else "other",
                "code": _code(status, text),
                "dsn": m.group("dsn"),
                "phase": phase,
                "queue_s": a + b,
                "conn_s": c,
                "xfer_s": d,
                "queue_id": f.qid,
                # conn_use= only past the first use; no session, no connection (results.md)
                "conn_use": int(m.group("conn_use") or 1) if relay != "none" else 0,
                "conn_error": text if relay == "none" and phase == "connect" else "",
                "delay_s": float(m.group("delay")),
                "reply": _reply_of(text),
                "daemon": daemon,
            }
        )
        if status in ("sent", "bounced"):
            r.status, r.t_final = status, t_end
            queued = _QUEUED_AS.search(text) if status == "sent" else None
            if queued:
                self.links.append(_Link(f.index, queued.group("qid"), t_end, rcpt))

    def _chains(self) -> tuple[list[int], dict[tuple[int, str], int]]:
        """Each file's message (the first file of its chain) and, for a recipient sent
        on, the file that holds it next."""
        by_qid: dict[str, list[_File]] = {}
        for f in self.files:
            by_qid.setdefault(f.qid, []).append(f)
        parent: dict[int, int] = {}
        onward: dict[tuple[int, str], int] = {}
        for link in self.links:
            # the file of that id that arrived nearest the 'sent' line (ids are reused)
            near = [f for f in by_qid.get(link.qid, []) if abs(f.t_arrival[0] - link.t) < 60]
            if not near:
                continue
            nxt = min(near, key=lambda f: abs(f.t_arrival[0] - link.t))
            if nxt.index != link.source:
                parent[nxt.index] = link.source
                onward[(link.source, link.rcpt)] = nxt.index
        root = []
        for f in self.files:
            at, seen = f.index, 0
            while at in parent and seen < len(self.files):
                at, seen = parent[at], seen + 1
            root.append(at)
        return root, onward

    def result(self) -> PostfixLog:
        root, onward = self._chains()
        first = sorted(set(root))
        msg_of_root = {r: n for n, r in enumerate(first)}
        msg_of = [msg_of_root[r] for r in root]
        hops_in: dict[int, int] = {}
        client: dict[int, str] = {}  # a message's first client=, on whichever hop it came
        for f in self.files:
            if f.client:
                client.setdefault(root[f.index], f.client)
        incoming = {n: s for (s, _), n in onward.items()}
        for f in self.files:  # a chain's files are in the log's order, parents first
            up = incoming.get(f.index)
            hops_in[f.index] = hops_in.get(up, 0) + 1 if up is not None else int(f.via_smtp)
        msgs = pd.DataFrame(
            [
                {
                    "msg_id": msg_of_root[r],
                    "queue_id": self.files[r].qid,
                    "sender": self.files[r].sender,
                    "size_bytes": self.files[r].size,
                    "n_rcpt": self.files[r].nrcpt or len(self.files[r].rcpts),
                    "t_submit": sum(self.files[r].t_arrival) / 2,
                    "origin": self.files[r].origin,
                    "client": client.get(r, ""),
                }
                for r in first
            ],
            columns=[
                "msg_id",
                "queue_id",
                "sender",
                "size_bytes",
                "n_rcpt",
                "t_submit",
                "origin",
                "client",
            ],
        )
        rows = []
        for r_index in first:
            for rcpt in self.files[r_index].rcpts:
                rows.append(self._recipient(r_index, rcpt, msg_of_root[r_index], onward, hops_in))
        recipients = pd.DataFrame(
            rows,
            columns=[
                "msg_id",
                "rcpt",
                "domain",
                "status",
                "t_final",
                "delay_s",
                "attempts",
                "dsn",
                "reply",
                "hops",
            ],
        )
        attempts = pd.DataFrame(
            self.attempts,
            columns=[
                "msg_id",
                "rcpt",
                "host",
                "peer",
                "t_start",
                "t_end",
                "outcome",
                "code",
                "dsn",
                "phase",
                "queue_s",
                "conn_s",
                "xfer_s",
                "conn_use",
                "conn_error",
                "queue_id",
                "delay_s",
                "reply",
                "daemon",
            ],
        )
        attempts["msg_id"] = [msg_of[i] for i in attempts["msg_id"]]
        _types(
            msgs,
            {
                "msg_id": "int64",
                "size_bytes": "int64",
                "n_rcpt": "int32",
                "t_submit": "float64",
                "origin": "category",
            },
        )
        _types(
            recipients,
            {
                "msg_id": "int64",
                "domain": "category",
                "status": "category",
                "attempts": "int32",
                "dsn": "category",
                "hops": "int16",
            },
        )
        _types(
            attempts,
            {
                "msg_id": "int64",
                "host": "category",
                "peer": "category",
                "outcome": "category",
                "code": "int16",
                "dsn": "category",
                "phase": "category",
                "conn_use": "int16",
                "conn_error": "category",
            },
        )
        rejects = pd.DataFrame(
            self.rejects,
            columns=[
                "t",
                "host",
                "action",
                "stage",
                "client",
                "code",
                "dsn",
                "reply",
                "sender",
                "rcpt",
            ],
        )
        failures = pd.DataFrame(self.connect_failures, columns=["t", "host", "server", "reason"])
        return PostfixLog(
            msgs, recipients, attempts, rejects, failures, self.counts, self.unknown, self.origin
        )

    def _recipient(
        self,
        at: int,
        rcpt: str,
        msg: int,
        onward: Mapping[tuple[int, str], int],
        hops_in: Mapping[int, int],
    ) -> dict[str, Any]:
        """A recipient's row: followed along its chain to the last file that has it."""
        t_submit = sum(self.files[at].t_arrival) / 2
        attempts = 0
        while True:
            r = self.files[at].rcpts[rcpt]
            attempts += r.attempts
            nxt = onward.get((at, rcpt))
            if nxt is None or rcpt not in self.files[nxt].rcpts:
                break
            at = nxt
        hops = hops_in[at]
        status = r.status
        if status == "sent":
            status = "delivered" if nxt is None else "pending"  # pending: the next file
            hops += 0 if r.relay_local else 1
        final = status in _FINAL
        return {
            "msg_id": msg,
            "rcpt": rcpt,
            "domain": rcpt.rpartition("@")[2],
            "status": status,
            "t_final": r.t_final if final else float("nan"),
            "delay_s": r.t_final - t_submit if final else float("nan"),
            "attempts": attempts,
            "dsn": r.dsn if final else "",
            "reply": r.reply if final else "",
            "hops": hops,
        }


def _types(frame: pd.DataFrame, types: Mapping[str, Any]) -> None:
    for column, dtype in types.items():
        frame[column] = frame[column].astype(dtype)


def read_postfix_log(
    source: str | Path | Iterable[str],
    *,
    origin: datetime | None = None,
    year: int | None = None,
    arrivals: Mapping[str, float] | None = None,
) -> PostfixLog:
    """Read a maillog (a path, or its lines) into a :class:`PostfixLog`.

    ``origin``: the time that is 0 s in the tables (default: the first line's second);
    ``year``: the year of time stamps that have none (default: the origin's, else this
    year); ``arrivals``: exact arrival times (seconds since ``origin``) by queue id."""
    reader = _Reader(origin, year, arrivals)
    if isinstance(source, str | Path):
        with Path(source).open(encoding="utf-8", errors="replace") as lines:
            for number, raw in enumerate(lines, 1):
                reader.line(number, raw)
    else:
        for number, raw in enumerate(source, 1):
            reader.line(number, raw)
    return reader.result()
