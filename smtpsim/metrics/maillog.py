"""A run as a Postfix maillog, derived from the result tables alone.

``write_maillog(result, path)`` writes one syslog file for all the hosts of a run
(the syslog host field is the host key), in the format of Postfix 3.10 and older
(Postfix smtpd.c, log_adhoc.c): smtpd ``connect from`` / ``client=`` / ``reject:`` lines, pickup,
cleanup ``message-id=``, qmgr ``from=<...>, size=N, nrcpt=N (queue active)``, one
``to=<...>, relay=..., delay=D, delays=a/b/c/d, dsn=X.Y.Z, status=...`` line per
delivery attempt and recipient, local mailbox deliveries, ``status=expired``
lines, bounce notifications and ``removed`` lines. There is never a ``tls=``
field, which pflogsumm 1.1.5 cannot parse (Postfix smtpd.c, log_adhoc.c; pflogsumm 1.1.5).

How the tables become queue files (one queue id each):

- a flow's message is a local submission at the flow's client host
  (``traffic.NAME``, logged as ``pickup``), since that host runs a queue manager and
  SMTP client like any other: its submission attempts appear as ``smtp`` lines;
- an SMTP session (attempt rows sharing ``msg_id, host, peer, t_start, t_end``)
  with at least one ``sent`` recipient creates a queue file at the peer at
  ``t_end``, holding the sent recipients;
- a bounce message is a queue file at the host where the original failed, made
  at its ``t_submit`` by the bounce daemon (no ``client=`` or ``pickup`` line).

``expected_totals(result)`` gives the Grand Totals pflogsumm reports for that log,
computed from the tables (``docs/results.md``, "maillog").

Only the reply that decided a recipient is in the tables (``recipients.reply``);
the text of other failed attempts is rebuilt from their code, enhanced code and
phase. Host names and addresses come from ``result.meta['hosts']``
(``{key: {'name': ..., 'ip': ...}}``, see ``host_table``); without it the key is
the name and ``0.0.0.0`` the address.
"""

from __future__ import annotations

import gc
import hashlib
import io
import mmap
import tempfile
from array import array
from bisect import bisect_right
from collections.abc import Generator, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

import numpy as np
import pandas as pd

from ..sim.dsn import bounce_size

if TYPE_CHECKING:
    from .result import RunResult

__all__ = [
    "DEFAULT_START",
    "expected_totals",
    "format_tv",
    "host_table",
    "maillog_lines",
    "queue_id",
    "rejected_mask",
    "write_maillog",
]

DEFAULT_START = "2026-01-05T00:00:00"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MILLION = 1_000_000
_POW10 = (1, 10, 100, 1000, 10_000, 100_000, 1_000_000)
# Postfix formats delays with 2 significant digits and delay_logging_resolution_limit=2.
_DELAY_SIG_DIG = 2
_DELAY_MAX_DIG = 2
# Phases after which the server has seen RCPT: a refusal there is a smtpd reject.
_REJECT_PHASES = frozenset({"rcpt", "data", "content"})
_CMD = {
    "helo": "EHLO",
    "starttls": "STARTTLS",
    "auth": "AUTH",
    "mail": "MAIL FROM",
    "rcpt": "RCPT TO",
    "data": "DATA",
    "content": "end of DATA",
}
_WHILE = {
    "greeting": "receiving the initial server greeting",
    "helo": "performing the EHLO handshake",
    "starttls": "performing the STARTTLS handshake",
    "auth": "performing SASL authentication",
    "mail": "sending MAIL FROM",
    "rcpt": "sending RCPT TO",
    "data": "sending DATA command",
    "content": "sending end of data -- message may be sent more than once",
}
# RFC 3463 (and later) subject.detail texts, for replies the tables do not keep.
_DSN_TEXT = {
    "0.0": "Other undefined status",
    "1.1": "Bad destination mailbox address",
    "1.2": "Bad destination system address",
    "1.10": "Recipient address has null MX",
    "2.0": "Other or undefined mailbox status",
    "2.1": "Mailbox disabled",
    "2.2": "Mailbox full",
    "3.0": "Other or undefined mail system status",
    "3.1": "Mail system full",
    "3.2": "System not accepting network messages",
    "3.4": "Message too big for system",
    "4.1": "No answer from host",
    "4.2": "Bad connection",
    "4.3": "Directory server failure",
    "4.5": "System congestion",
    "4.6": "Routing loop detected",
    "5.1": "Invalid command",
    "5.3": "Too many recipients",
    "7.0": "Other or undefined security status",
    "7.1": "Delivery not authorized, message refused",
}
# Lines kept as strings before they are encoded to the scratch file (about 6 MB).
_CHUNK_LINES = 50_000
_NEWLINE = ord("\n")
# The last digit of the fixed process id of each long-lived daemon of a host.
# What Postfix's bounce daemon logs for a delay warning and a success notice
# (bounce_warn_service.c: "sender delay notification"; bounce_trace_service.c:
# "sender delivery status notification"), beside "sender non-delivery notification".
_REPORT_LINES = {
    "delay": "sender delay notification",
    "success": "sender delivery status notification",
}
_DAEMONS = {"qmgr": 1, "pickup": 2, "cleanup": 3, "bounce": 4, "local": 5, "error": 6}
# smtpd's stage of a refusal, by the phase it was recorded in (smtpd.c: the command).
_STAGE = {"rcpt": "RCPT", "data": "DATA", "content": "END-OF-MESSAGE"}
# Failures of a whole site: the reason qmgr keeps for a dead destination (qmgr_deliver.c).
_SITE_PHASES = frozenset({"connect", "greeting", "helo", "dns"})
_SUSPENDED = "delivery temporarily suspended: "
# A server broke the protocol (smtpsim.protocol.replies.protocol_error, smtp_trouble.c).
_PROTOCOL_ERROR = "Protocol error: "
# The client's own bounce of a message that needs SMTPUTF8 (smtp_proto.c, Postfix 3.7):
# its words name the server already, no "host ... said".
_SMTPUTF8_REQUIRED = "SMTPUTF8 is required, but was not offered by host "


# --- numbers and names ------------------------------------------------------------------------


def format_tv(seconds: float, sig_dig: int = _DELAY_SIG_DIG, max_dig: int = _DELAY_MAX_DIG) -> str:
    """A time as Postfix's ``format_tv()`` prints it (``src/util/format_tv.c``): at most
    ``sig_dig`` significant digits and ``max_dig`` decimals, whole seconds from 100 s
    on (for the defaults), no trailing zeros: 0.004 -> ``0``, 1.25 -> ``1.3``,
    99.6 -> ``100``. Negative values (rounding noise) count as 0."""
    if sig_dig == _DELAY_SIG_DIG and max_dig == _DELAY_MAX_DIG:
        return _format_delay(seconds)
    if not 0 <= max_dig <= 6 or not 1 <= sig_dig <= 6:
        raise ValueError("format_tv: sig_dig must be 1..6 and max_dig 0..6")
    return _format_tv_loop(seconds, sig_dig, max_dig)


def _format_tv_loop(seconds: float, sig_dig: int, max_dig: int) -> str:
    """``format_tv`` as ``format_tv.c`` computes it, for any precision."""
    micro = int(seconds * _MILLION + 0.5) if seconds > 0 else 0
    sec, usec = divmod(micro, _MILLION)
    ures = _MILLION // _POW10[max_dig]
    wid = _POW10[sig_dig]
    # Coarser resolution for large numbers, or for small ones with many digits.
    if ures < _MILLION:
        if sec > 0:
            n = 1
            while sec >= n and n <= wid // 10:
                n *= 10
            ures = (_MILLION // wid) * n
        else:
            while usec >= wid * ures:
                ures *= 10
    if ures > 1:  # round half up at the resolution
        usec += ures // 2
        if usec >= _MILLION:
            sec += 1
            usec -= _MILLION
    out = str(sec)
    if usec >= ures:
        digits = []
        rem, n = usec, _MILLION // 10
        while rem >= ures and n > 0:
            digits.append("0123456789"[rem // n])
            rem %= n
            n //= 10
        out += "." + "".join(digits)
    return out


def _format_delay(seconds: float) -> str:
    """``format_tv`` for Postfix's defaults (2 significant digits, 2 decimals), every
    maillog delay: the general loop above worked out for them. Under 1 s, hundredths
    (0.015 -> ``0.02``); under 10 s, tenths (1.25 -> ``1.3``); whole seconds from 10 s
    on, each rounded half up from the microsecond and without trailing zeros. A test
    holds it equal to the general loop."""
    if seconds <= 0:
        return "0"
    return _hundredths_text(_hundredths(int(seconds * _MILLION + 0.5)))


def _hundredths(micro: int) -> int:
    """A delay in microseconds rounded as ``_format_delay`` says, in hundredths."""
    if micro < _MILLION:  # hundredths; 0.995 and up round to 1
        return (micro + 5_000) // 10_000
    if micro < 10 * _MILLION:  # tenths (9.95 and up round to 10)
        return (micro + 50_000) // 100_000 * 10
    return (micro + 500_000) // _MILLION * 100


def _hundredths_text(hundredths: int) -> str:
    """``250`` -> ``2.5``, ``300`` -> ``3``, ``7`` -> ``0.07`` (each worked out once:
    delays repeat)."""
    text = _HUNDREDTHS.get(hundredths)
    if text is None:
        whole, part = divmod(hundredths, 100)
        text = f"{whole}.{part:02d}".rstrip("0") if part else str(whole)
        if len(_HUNDREDTHS) < _HUNDREDTHS_KEPT:
            _HUNDREDTHS[hundredths] = text
    return text


# The texts of delays up to about 28 hours at the most, in hundredths (a few MB).
_HUNDREDTHS: dict[int, str] = {}
_HUNDREDTHS_KEPT = 100_000


def _format_delays(seconds: np.ndarray) -> np.ndarray:
    """``_format_delay`` of each value, as an array of str objects: the rounding in
    bulk, the text once per distinct result."""
    values = np.asarray(seconds, dtype=np.float64)
    micro = np.where(values > 0, np.floor(values * _MILLION + 0.5), 0.0).astype(np.int64)
    hundredths = np.where(
        micro < _MILLION,
        (micro + 5_000) // 10_000,
        np.where(
            micro < 10 * _MILLION,
            (micro + 50_000) // 100_000 * 10,
            (micro + 500_000) // _MILLION * 100,
        ),
    )
    distinct, inverse = np.unique(hundredths, return_inverse=True)
    texts = np.array([_hundredths_text(h) for h in distinct.tolist()], dtype=object)
    return texts[inverse.reshape(-1)]


class NamedHost(Protocol):
    """What ``host_table`` reads of a model's host: its name and its address."""

    @property
    def name(self) -> object: ...

    @property
    def ip(self) -> object: ...


def host_table(hosts: Mapping[str, NamedHost]) -> dict[str, dict[str, str]]:
    """``meta['hosts']`` for a run: ``{key: {'name': ..., 'ip': ...}}`` from a model's
    ``hosts`` (anything with ``.name`` and ``.ip``, flow client hosts included)."""
    return {
        key: {"name": str(h.name), "ip": str(h.ip) if h.ip else "0.0.0.0"}
        for key, h in sorted(hosts.items())
    }


def queue_id(msg_id: int, host: str, copy: int = 0, salt: int = 0) -> str:
    """The deterministic short queue id (10 upper-case hex digits) of the ``copy``-th
    queue file of message ``msg_id`` at ``host``."""
    digest = hashlib.blake2b(f"{msg_id}/{host}/{copy}/{salt}".encode(), digest_size=5)
    return digest.hexdigest().upper()


def _text(column: pd.Series) -> pd.Series:
    """A string column as str objects, missing values (an empty string read back from
    CSV) as ``""``. Equal values share one object (the column is factorized), so the
    builder's per-row lists hold pointers, not a copy of each string per row."""
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    labels = np.array([str(u) for u in uniques] + [""], dtype=object)
    return pd.Series(labels[codes], index=column.index, dtype=object)


def _start_time(start: str | datetime) -> datetime:
    return start if isinstance(start, datetime) else datetime.fromisoformat(start)


def _dsn_text(dsn: str) -> str:
    _, _, rest = dsn.partition(".")
    return _DSN_TEXT.get(rest, "Error")


def _split_reply(reply: str) -> tuple[str, str]:
    """``"550 5.1.1 text"`` -> ``("550 5.1.1", "text")``."""
    parts = reply.split(" ", 2)
    if len(parts) == 3 and parts[0].isdigit() and parts[1][:1].isdigit() and "." in parts[1]:
        return f"{parts[0]} {parts[1]}", parts[2]
    if len(parts) >= 2 and parts[0].isdigit():
        return parts[0], reply[len(parts[0]) + 1 :]
    return "", reply


# --- the correspondence with pflogsumm --------------------------------------------------------


def rejected_mask(attempts: pd.DataFrame) -> pd.Series:
    """The attempt rows that a receiving smtpd logs as ``reject:`` (pflogsumm's
    "rejected"): refused by a server (``peer`` is a host, outcome ``deferred`` or
    ``bounced``) once the session had reached RCPT (phase ``rcpt``, ``data`` or
    ``content``), except the client's own network errors (enhanced code 4.4.x:
    timeouts, lost connections)."""
    if attempts.empty:
        return pd.Series(np.zeros(0, dtype=bool), index=attempts.index)
    peer = _text(attempts["peer"])
    outcome = _text(attempts["outcome"])
    phase = _text(attempts["phase"])
    dsn = _text(attempts["dsn"])
    mask = (
        (peer != "none")
        & (outcome != "sent")
        & phase.isin(_REJECT_PHASES)
        & ~dsn.str.startswith("4.4.")
    )
    return mask


def expected_totals(result: RunResult) -> dict[str, int]:
    """pflogsumm 1.1.5's Grand Totals for this run's maillog, from the tables:

    - ``received``: messages submitted by flows (a ``pickup`` line each; not those
      whose every recipient is ``unsent``: no server saw them) plus SMTP
      sessions that passed a message on (a ``client=`` line each: distinct
      ``msg_id, host, peer, t_start, t_end`` among ``sent`` attempts);
    - ``delivered``: ``sent`` attempts plus recipients ``delivered`` (the mailbox);
    - ``deferrals``: ``deferred`` attempts; ``deferred``: queue files with at least
      one, i.e. distinct (message, host, arrival at that host);
    - ``bounced``: ``bounced`` attempts (= recipients ``bounced``; expired ones are
      not counted, as with real Postfix logs);
    - ``rejected``: the rows of ``rejected_mask``.
    """
    messages, recipients, attempts = result.messages, result.recipients, result.attempts
    outcome = _text(attempts["outcome"])
    sent = attempts[outcome == "sent"]
    sessions = (
        sent[["msg_id", "host", "peer", "t_start", "t_end"]]
        .astype({"host": str, "peer": str})
        .drop_duplicates()
    )
    flows = _count(_text(messages["origin"]) != "bounce")
    status = _text(recipients["status"])
    if _count(status == "unsent"):
        sent_any = recipients.loc[(status != "unsent").to_numpy(), "msg_id"].unique()
        submitted = messages["msg_id"].isin(sent_any).to_numpy()
        flows = _count((_text(messages["origin"]) != "bounce").to_numpy() & submitted)
    deferred_rows = attempts[outcome == "deferred"]
    return {
        "received": flows + len(sessions),
        "delivered": len(sent) + _count(_text(recipients["status"]) == "delivered"),
        "deferred": _deferred_queue_files(sent, deferred_rows),
        "deferrals": len(deferred_rows),
        "bounced": _count(outcome == "bounced"),
        "rejected": _count(rejected_mask(attempts)),
    }


def _count(values: pd.Series | np.ndarray) -> int:
    """How many of ``values`` are true (non-zero), as a Python int. Not
    ``Series.sum()``: pandas-stubs type it as ``int`` while it returns a
    ``numpy.int64``, which the compiled build then refuses (a TypeError); numpy
    counts an array into a Python int."""
    return int(np.count_nonzero(np.asarray(values)))


def _deferred_queue_files(sent: pd.DataFrame, deferred: pd.DataFrame) -> int:
    """Distinct queue files among ``deferred`` rows: the copy of a message at a host is
    the last arrival (a ``sent`` attempt to that host) of the recipient before the
    attempt; none means the copy made at that host (a submission or a bounce)."""
    if deferred.empty:
        return 0
    left = pd.DataFrame(
        {
            "msg_id": deferred["msg_id"].to_numpy(),
            "rcpt": _text(deferred["rcpt"]).to_numpy(),
            "host": _text(deferred["host"]).to_numpy(),
            "t": deferred["t_start"].to_numpy(dtype=float),
        }
    ).sort_values("t", kind="stable")
    right = pd.DataFrame(
        {
            "msg_id": sent["msg_id"].to_numpy(),
            "rcpt": _text(sent["rcpt"]).to_numpy(),
            "host": _text(sent["peer"]).to_numpy(),
            "t": sent["t_end"].to_numpy(dtype=float),
        }
    ).sort_values("t", kind="stable")
    right["arrival"] = right["t"]
    merged = pd.merge_asof(
        left,
        right,
        on="t",
        by=["msg_id", "rcpt", "host"],
        direction="backward",
        allow_exact_matches=True,
    )
    merged["arrival"] = merged["arrival"].fillna(-1.0)
    return len(merged.drop_duplicates(["msg_id", "host", "arrival"]))


# --- the log -----------------------------------------------------------------------------------


class _QueueFile:
    """One message at one host, from its arrival to its removal."""

    __slots__ = (
        "expired",
        "failed",
        "host",
        "kind",
        "local",
        "msg",
        "notices",
        "qid",
        "rcpts",
        "rows",
        "t",
    )

    def __init__(self, msg: int, host: str, t: float, kind: str, rcpts: list[str]) -> None:
        self.msg = msg
        self.host = host
        self.t = t
        self.kind = kind  # "pickup", "smtpd", "bounce" or "orphan"
        self.rcpts = rcpts
        self.qid = ""
        self.rows: list[int] = []  # attempt rows made from this queue file
        # Mostly empty: tuples (the empty one is shared) rather than a list each.
        self.local: tuple[tuple[str, float], ...] = ()  # mailbox deliveries
        self.expired: tuple[float, ...] = ()  # times of expiries
        # notices sent about it: (time, new qid, kind as in sim.dsn.NOTICE_KINDS)
        self.notices: tuple[tuple[float, str, str], ...] = ()
        self.failed: tuple[tuple[str, float], ...] = ()  # bounced or expired: (rcpt, left at)

    def release(self) -> None:
        """Forget what only its own lines needed (its qid stays: others name it)."""
        self.rows, self.rcpts = [], []
        self.local = self.expired = self.notices = self.failed = ()


class _Log:
    """Collects the lines with their time and gives them back sorted by (time, order
    added).

    The lines of a run outnumber its attempt rows about five to one (1.9 million for
    mx-outage), so they are not kept as Python strings: every ``chunk`` lines are
    encoded together and appended to a scratch file in ``spill_dir`` (in memory
    without one), and only each line's time and end offset stay in memory (16 bytes a
    line). ``chunks`` sorts the times once (a stable sort: lines of one instant keep
    the order they were added) and copies each line's bytes from the scratch file,
    memory-mapped, in that order."""

    def __init__(
        self,
        hosts: Mapping[str, Mapping[str, str]],
        keys: Iterable[str],
        start: datetime,
        spill_dir: Path | None = None,
        chunk: int | None = None,
    ) -> None:
        self.hosts = hosts
        self.index = {key: i for i, key in enumerate(sorted(set(keys)))}
        self._pids: dict[str, int] = {}
        self._start = start
        self._stamps: dict[int, str] = {}
        self._times = array("d")
        self._ends = array("q")  # each line's end in the scratch file (after its newline)
        self._pending: list[str] = []  # lines not yet in the scratch file
        self._chunk = chunk or _CHUNK_LINES
        self._scratch: BinaryIO = (
            (spill_dir / "lines").open("w+b") if spill_dir is not None else io.BytesIO()
        )
        self._size = 0  # bytes in the scratch file
        self._addrs: dict[str, str] = {}
        self._daemons: dict[tuple[str, str], int] = {}

    def add(self, t: float, host: str, program: str, pid: int, text: str) -> None:
        """A line at simulated time ``t``, after the syslog time stamp of its whole
        second (each second's stamp is made once)."""
        if "\n" in text:  # one log line per event, whatever a reply held
            text = " ".join(text.splitlines())
        self._times.append(t)
        second = int(t) if t > 0 else 0  # floor: t is finite and below 2**63
        stamp = self._stamps.get(second)
        if stamp is None:
            stamp = self._stamp(second)
        self._pending.append(f"{stamp} {host} postfix/{program}[{pid}]: {text}")
        if len(self._pending) >= self._chunk:
            self._spill()

    def _stamp(self, second: int) -> str:
        """The syslog time stamp of a whole second of simulated time, made and kept
        (``add`` looks it up first)."""
        when = self._start + timedelta(seconds=second)
        # the fields, not strftime("%H:%M:%S"): the same text, without building a
        # struct_time for each of a day's 86,400 seconds
        stamp = self._stamps[second] = (
            f"{_MONTHS[when.month - 1]} {when.day:2d} "
            f"{when.hour:02d}:{when.minute:02d}:{when.second:02d}"
        )
        return stamp

    def _spill(self) -> None:
        """The pending lines into the scratch file as one encoded block; their ends
        are where the block's newlines are (a line holds none: ``add``)."""
        if not self._pending:
            return
        data = ("\n".join(self._pending) + "\n").encode("utf-8")
        ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == _NEWLINE) + (self._size + 1)
        self._ends.frombytes(ends.astype(np.int64).tobytes())
        self._scratch.write(data)
        self._size += len(data)
        self._pending = []

    def __len__(self) -> int:
        return len(self._times)

    def chunks(self, lines: int = _CHUNK_LINES) -> Iterator[bytes]:
        """Every line added, UTF-8 with its newline, in (time, order added) order, in
        blocks of ``lines`` lines; once (the scratch file is closed after)."""
        self._spill()
        order = np.argsort(np.frombuffer(self._times, dtype=np.float64), kind="stable")
        ends = np.frombuffer(self._ends, dtype=np.int64)
        starts = np.concatenate(([0], ends[:-1])) if len(ends) else ends
        scratch, self._scratch = self._scratch, io.BytesIO()
        try:
            if not self._size:
                return
            scratch.flush()
            with _mapped(scratch) as data:
                for k in range(0, len(order), lines):
                    rows = order[k : k + lines]
                    block = b"".join(
                        [
                            data[a:b]
                            for a, b in zip(starts[rows].tolist(), ends[rows].tolist(), strict=True)
                        ]
                    )
                    if isinstance(data, mmap.mmap):
                        # the pages read stay in the page cache, not in this process's
                        # memory: a 200 MB maillog would otherwise add 200 MB to its RSS
                        data.madvise(mmap.MADV_DONTNEED)
                    yield block
        finally:
            scratch.close()

    def name(self, key: str) -> str:
        info = self.hosts.get(key)
        return str(info.get("name") or key) if info else key

    def addr(self, key: str) -> str:
        """``name[ip]`` of a host (worked out once per host)."""
        addr = self._addrs.get(key)
        if addr is None:
            info = self.hosts.get(key)
            ip = str(info.get("ip") or "0.0.0.0") if info else "0.0.0.0"
            addr = self._addrs[key] = f"{self.name(key)}[{ip}]"
        return addr

    def pid(self, host: str, program: str) -> int:
        """A fixed process id for a host's long-lived daemons."""
        pid = self._daemons.get((host, program))
        if pid is None:
            base = 1000 * (self.index.get(host, 0) + 1)
            pid = self._daemons[(host, program)] = base + _DAEMONS[program]
        return pid

    def session_pid(self, host: str) -> int:
        """A new smtpd or smtp process id at ``host`` (900 of them, reused in turn)."""
        n = self._pids.get(host, 0)
        self._pids[host] = n + 1
        return 1000 * (self.index.get(host, 0) + 1) + 100 + n % 900

    def lines(self) -> Iterator[str]:
        """Every line added (without its newline), in (time, order added) order; once."""
        for block in self.chunks():
            yield from block.decode("utf-8").split("\n")[:-1]


@contextmanager
def _mapped(scratch: BinaryIO) -> Iterator[mmap.mmap | memoryview]:
    """The scratch file's bytes: memory-mapped from disk, or the in-memory buffer."""
    if isinstance(scratch, io.BytesIO):
        with scratch.getbuffer() as view:
            yield view
        return
    with mmap.mmap(scratch.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        yield mapped


def maillog_lines(
    result: RunResult,
    *,
    start: str | datetime = DEFAULT_START,
    hosts: Mapping[str, Mapping[str, str]] | None = None,
    spill_dir: str | Path | None = None,
) -> Generator[str, None, None]:
    """The maillog of ``result`` (a ``RunResult``), line by line, sorted by time (lines
    of one instant in the order of events). ``start`` is the wall-clock time of
    simulated time 0; ``hosts`` defaults to ``result.meta['hosts']``. The lines wait
    in a scratch file in a temporary directory (in ``spill_dir``, default the
    system's), removed when the lines are exhausted or the iterator is closed."""
    for block in _blocks(result, start, hosts, spill_dir):
        yield from block.decode("utf-8").split("\n")[:-1]


def write_maillog(
    result: RunResult,
    path: str | Path,
    *,
    start: str | datetime = DEFAULT_START,
    hosts: Mapping[str, Mapping[str, str]] | None = None,
) -> Path:
    """Write ``maillog_lines(result)`` to ``path``, each line ending in a newline (the
    lines wait in a scratch file beside it meanwhile); returns the path."""
    target = Path(path)
    blocks = _blocks(result, start, hosts, target.parent)
    try:
        with target.open("wb") as f:
            for block in blocks:
                f.write(block)
    finally:
        blocks.close()
    return target


def _blocks(
    result: RunResult,
    start: str | datetime,
    hosts: Mapping[str, Mapping[str, str]] | None,
    spill_dir: str | Path | None,
) -> Generator[bytes, None, None]:
    """The maillog's lines as ``_Log.chunks`` gives them, the scratch directory removed
    when they are exhausted or the generator is closed."""
    with tempfile.TemporaryDirectory(prefix=".maillog-", dir=spill_dir) as scratch:
        with _no_cycle_collection():
            builder = _Builder(
                result,
                hosts if hosts is not None else result.meta.get("hosts") or {},
                _start_time(start),
                Path(scratch),
            )
            builder.build()
        log = builder.log
        del builder  # the queue files and columns: only the lines are needed now
        yield from log.chunks()


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Python's cycle collector paused: the builder makes hundreds of thousands of
    objects (queue files, their lists, the lines) and no reference cycles, so every
    collection the allocations would trigger finds nothing; they cost about a sixth
    of the build (benchmarks/RESULTS.md). Reference counting frees everything as
    usual."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Builder:
    """Queue files from the tables, then their lines (``build``)."""

    # build() lets go of its look-up tables once they are used (mypyc allows `del` of
    # the attributes named here)
    __deletable__ = ["at_host", "used_qids", "rows_of", "origin_qf", "failure_row", "report_of"]

    def __init__(
        self,
        result: RunResult,
        hosts: Mapping[str, Mapping[str, str]],
        start: datetime,
        spill_dir: Path | None = None,
    ) -> None:
        m, r, a = result.messages, result.recipients, result.attempts
        if a.empty and len(r) and _count(r["attempts"]) > 0:
            raise ValueError(
                "the maillog needs the attempts table, which this run did not "
                "record (simulation.record_attempts: false)"
            )
        ids: list[int] = m["msg_id"].tolist()
        self.row_of = {mid: i for i, mid in enumerate(ids)}
        self.sender: list[str] = _text(m["sender"]).tolist()
        self.size = _ints(m["size_bytes"])
        self.t_submit = _floats(m["t_submit"])
        self.origin: list[str] = _text(m["origin"]).tolist()
        # the kind of each notice (sim.dsn.NOTICE_KINDS); tables from before the column
        # hold failure notices only
        self.notice: list[str] = (
            _text(m["notice"]).tolist()
            if "notice" in m.columns
            else ["failure" if o == "bounce" else "" for o in self.origin]
        )
        # recipients
        self.rcpts: dict[int, list[str]] = {}
        self.final: dict[tuple[int, str], tuple[str, float, str, str]] = {}
        for mid, rcpt, status, t_final, dsn, reply in zip(
            r["msg_id"].tolist(),
            _text(r["rcpt"]).tolist(),
            _text(r["status"]).tolist(),
            r["t_final"].tolist(),
            _text(r["dsn"]).tolist(),
            _text(r["reply"]).tolist(),
            strict=True,
        ):
            self.rcpts.setdefault(mid, []).append(rcpt)
            self.final[(mid, rcpt)] = (status, t_final, dsn, reply)
        # attempts
        # numbers in typed arrays (8 bytes a row, not a Python object each)
        self.a_msg = _ints(a["msg_id"])
        self.a_rcpt: list[str] = _text(a["rcpt"]).tolist()
        self.a_host: list[str] = _text(a["host"]).tolist()
        self.a_peer: list[str] = _text(a["peer"]).tolist()
        self.a_start = _floats(a["t_start"])
        self.a_end = _floats(a["t_end"])
        self.a_outcome: list[str] = _text(a["outcome"]).tolist()
        self.a_code = _ints(a["code"])
        self.a_dsn: list[str] = _text(a["dsn"]).tolist()
        self.a_phase: list[str] = _text(a["phase"]).tolist()
        self.a_queue = _floats(a["queue_s"])
        self.a_conn = _floats(a["conn_s"])
        self.a_xfer = _floats(a["xfer_s"])
        # tables written before these columns existed: no session reuse, no words
        zeros = pd.Series(np.zeros(len(a), dtype=np.int64))
        self.a_conn_use = _ints(a.get("conn_use", zeros))
        self.a_conn_error: list[str] = (
            _text(a["conn_error"]).tolist() if "conn_error" in a else [""] * len(a)
        )
        self.site_failures: dict[tuple[str, str], tuple[list[float], list[int]]] | None = None
        self.a_rejected = bytes(rejected_mask(a).to_numpy(dtype=np.uint8))
        keys = set(self.a_host) | set(self.a_peer) | set(hosts)
        keys.discard("none")
        self.log = _Log(hosts, keys, start, spill_dir)
        self.queue_files: list[_QueueFile] = []
        # the queue files of each message at each host, in the order they were made
        # (the key packs message and host in one int: a tuple costs three objects)
        self.at_host: dict[int, list[_QueueFile]] = {}
        self.host_ids: dict[str, int] = {}
        self.qf_of_row: list[_QueueFile | None] = [None] * len(self.a_msg)
        self.used_qids: set[str] = set()
        self.failure_row: dict[int, int] = {}  # bounce msg_id -> the attempt that failed
        # delay and success notices: msg_id -> (kind, the attempt row it reports, or
        # the original's (msg_id, recipient) delivered to a mailbox at the notice's time)
        self.report_of: dict[int, tuple[str, int, tuple[int, str] | None]] = {}
        self.peer_for: dict[tuple[str, str], str] | None = None
        self.origin_qf: dict[int, _QueueFile] = {}  # where each message was made
        # SMTP sessions: attempt rows sharing (msg_id, host, peer, t_start, t_end)
        self.sid, self.s_rows, self.s_first = self._session_index(a)
        self.session_qf: list[_QueueFile | None] = [None] * (len(self.s_first) - 1)
        self.logged = bytearray(len(self.s_first) - 1)
        # attempt rows per (message, recipient), by time
        self.rows_of: dict[tuple[int, str], list[int]] = {}
        for i in np.lexsort((a["t_start"].to_numpy(), a["t_end"].to_numpy())).tolist():
            self.rows_of.setdefault((self.a_msg[i], self.a_rcpt[i]), []).append(i)

    @staticmethod
    def _session_index(a: pd.DataFrame) -> tuple[array[int], array[int], array[int]]:
        """Each attempt row's session id (-1 without a peer), and the rows of each
        session (``s_rows[s_first[k]:s_first[k + 1]]``, by row). Ids follow the order
        of (t_end, t_start, msg_id, host, peer), in which sessions make queue files."""
        peer = _text(a["peer"]).to_numpy()
        rows = np.flatnonzero(peer != "none")
        keys = [
            a["t_end"].to_numpy()[rows],
            a["t_start"].to_numpy()[rows],
            a["msg_id"].to_numpy()[rows],
            _rank(_text(a["host"]).to_numpy()[rows]),
            _rank(peer[rows]),
        ]
        order = np.lexsort(keys[::-1])  # stable: a session's rows stay in row order
        ordered = rows[order]
        new = np.ones(len(ordered), dtype=bool)
        for key in keys:
            k = key[order]
            new[1:] &= k[1:] == k[:-1]
        new = ~new
        if len(new):
            new[0] = True
        sid = np.full(len(a), -1, dtype=np.int64)
        sid[ordered] = np.cumsum(new) - 1
        first = np.append(np.flatnonzero(new), len(ordered))
        return (
            array("q", sid.tobytes()),
            array("q", ordered.astype(np.int64).tobytes()),
            array("q", first.astype(np.int64).tobytes()),
        )

    # --- queue files --------------------------------------------------------------------------

    def _new_qf(self, qf: _QueueFile) -> _QueueFile:
        made = self.at_host.setdefault(self._host_key(qf.msg, qf.host), [])
        n = len(made)  # the copy number of the message at this host
        salt = 0
        qid = queue_id(qf.msg, qf.host, n)
        while qid in self.used_qids:
            salt += 1
            qid = queue_id(qf.msg, qf.host, n, salt)
        self.used_qids.add(qid)
        qf.qid = qid
        self.queue_files.append(qf)
        made.append(qf)
        return qf

    def _host_key(self, msg: int, host: str) -> int:
        return msg << 20 | self.host_ids.setdefault(host, len(self.host_ids))

    def build(self) -> None:
        self._submissions()
        self._sessions()
        self._bounces()
        self._assign()
        del self.at_host, self.used_qids  # every queue file is made
        self._finals()
        del self.rows_of, self.origin_qf, self.failure_row, self.report_of
        self._row_texts()
        times = np.array([qf.t for qf in self.queue_files], dtype=np.float64)
        for k in np.argsort(times, kind="stable").tolist():
            qf = self.queue_files[k]
            self._log_queue_file(qf)
            qf.release()

    def _row_texts(self) -> None:
        """The parts of each attempt row's delivery line that are the row's alone, by
        column: ``to=<rcpt>, relay=peer:25, `` and ``conn/xfer`` (the last two of
        ``delays=``); the rest depends on the queue file's passes (``_log_queue_file``)."""
        log = self.log
        relays = {
            peer: (f"{log.addr(peer)}:25" if peer != "none" else "none")
            for peer in set(self.a_peer)
        }
        # each distinct text made once (retries repeat a recipient and its relay, and
        # delays repeat): memory for the distinct ones only, while the queue files,
        # the largest part, are all held
        # conn_use=N past a connection's first use, as log_adhoc.c writes it
        heads: dict[tuple[str, str, int], str] = {}
        self.a_head = [
            heads.get((r, p, u))
            or heads.setdefault(
                (r, p, u),
                f"to=<{r}>, relay={relays[p]}, " + (f"conn_use={u}, " if u > 1 else ""),
            )
            for r, p, u in zip(self.a_rcpt, self.a_peer, self.a_conn_use, strict=True)
        ]
        conn = _format_delays(np.frombuffer(self.a_conn, dtype=np.float64)).tolist()
        xfer = _format_delays(np.frombuffer(self.a_xfer, dtype=np.float64)).tolist()
        pairs: dict[tuple[str, str], str] = {}
        self.a_conn_xfer = [
            pairs.get((c, x)) or pairs.setdefault((c, x), f"{c}/{x}")
            for c, x in zip(conn, xfer, strict=True)
        ]
        # a queue manager's line, not smtp's: 1 qmgr itself (a loop), 2 a deferral of
        # a dead destination, which qmgr hands to the retry service, error(8), in
        # Postfix 3.x (qmgr_message.c: qmgr_error_queue(MAIL_SERVICE_RETRY, ...))
        self.a_qmgr = bytes(
            (2 if o == "deferred" else 1) if p == "qmgr" else 0
            for p, o in zip(self.a_phase, self.a_outcome, strict=True)
        )

    def _submissions(self) -> None:
        """Flow messages: a local submission at the host of their first attempt."""
        first_host: dict[int, str] = {}
        for i in np.argsort(np.asarray(self.a_start), kind="stable").tolist():
            first_host.setdefault(self.a_msg[i], self.a_host[i])
        final = self.final
        for mid, row in self.row_of.items():
            origin = self.origin[row]
            if origin == "bounce":
                continue
            rcpts = self.rcpts.get(mid, [])
            if rcpts and all(final.get((mid, r), ("",))[0] == "unsent" for r in rcpts):
                continue  # its mail client never submitted it: no server logged it
            host = first_host.get(mid, f"traffic.{origin}")
            self.origin_qf[mid] = self._new_qf(
                _QueueFile(mid, host, self.t_submit[row], "pickup", self.rcpts.get(mid, []))
            )

    def _sessions(self) -> None:
        """A queue file at the peer for each session that passed the message on."""
        for k in range(len(self.session_qf)):
            rows = self.s_rows[self.s_first[k] : self.s_first[k + 1]]
            sent = [self.a_rcpt[i] for i in rows if self.a_outcome[i] == "sent"]
            if sent:
                i = rows[0]
                self.session_qf[k] = self._new_qf(
                    _QueueFile(self.a_msg[i], self.a_peer[i], self.a_end[i], "smtpd", sent)
                )

    def _bounces(self) -> None:
        """Each bounce message, at the host where its original failed. The original is
        a message from the bounce's recipient with recipients that failed (bounced or
        expired) at the bounce's t_submit: one bounce per message, host and pass."""
        # failures: (sender, time) -> [(msg_id, deciding attempt row, recipients failed)]
        groups: dict[tuple[int, float, str], tuple[int, list[str]]] = {}
        for (mid, rcpt), (status, t_final, _, _) in self.final.items():
            if status not in ("bounced", "expired"):
                continue
            rows = [i for i in self.rows_of.get((mid, rcpt), []) if self.a_end[i] <= t_final + 1e-9]
            if rows:
                key = (mid, t_final, self.a_host[rows[-1]])
                groups.setdefault(key, (rows[-1], []))[1].append(rcpt)
        failed: dict[tuple[str, float], list[tuple[int, int, int]]] = {}
        for (mid, t_final, _), (i, rcpts) in sorted(groups.items()):
            row = self.row_of.get(mid)
            if row is not None and self.sender[row] != "":
                failed.setdefault((self.sender[row], round(t_final, 6)), []).append(
                    (mid, i, len(rcpts))
                )
        reported = self._reported() if any(k in _REPORT_LINES for k in self.notice) else ({}, {})
        for mid, row in self.row_of.items():
            if self.origin[row] != "bounce":
                continue
            rcpts = self.rcpts.get(mid, [])
            t = self.t_submit[row]
            kind = self.notice[row]
            if kind in _REPORT_LINES:
                if self._pair_report(mid, kind, rcpts, t, reported):
                    continue
                candidates = []
            else:
                candidates = failed.get((rcpts[0], round(t, 6)), []) if rcpts else []
            if candidates:
                # two failures of one sender at one instant: the notice's size tells
                pick = next(
                    (
                        c
                        for c in candidates
                        if bounce_size(self.size[self.row_of[c[0]]], c[2]) == self.size[row]
                    ),
                    candidates[0],
                )
                candidates.remove(pick)
                host = self.a_host[pick[1]]
                self.failure_row[mid] = pick[1]
            else:
                rows = [i for r in rcpts for i in self.rows_of.get((mid, r), [])]
                if not rows:
                    continue  # no trace of it anywhere: nothing to log
                host = self.a_host[min(rows, key=lambda i: self.a_start[i])]
            self.origin_qf[mid] = self._new_qf(_QueueFile(mid, host, t, "bounce", rcpts))

    def _reported(
        self,
    ) -> tuple[
        dict[tuple[str, float, str], list[int]], dict[tuple[str, float], list[tuple[int, str]]]
    ]:
        """What a delay or success notice can report, by sender and time: attempt rows
        deferred or sent (relayed) then, by outcome, and mailbox deliveries."""
        rows: dict[tuple[str, float, str], list[int]] = {}
        for i in range(len(self.a_msg)):
            outcome = self.a_outcome[i]
            row = self.row_of.get(self.a_msg[i])
            if row is not None and self.sender[row] and outcome in ("deferred", "sent"):
                key = (self.sender[row], round(self.a_end[i], 6), outcome)
                rows.setdefault(key, []).append(i)
        delivered: dict[tuple[str, float], list[tuple[int, str]]] = {}
        for (mid, rcpt), (status, t_final, _, _) in self.final.items():
            row = self.row_of.get(mid)
            if status == "delivered" and row is not None and self.sender[row]:
                delivered.setdefault((self.sender[row], round(t_final, 6)), []).append((mid, rcpt))
        return rows, delivered

    def _pair_report(
        self,
        mid: int,
        kind: str,
        rcpts: list[str],
        t: float,
        reported: tuple[
            dict[tuple[str, float, str], list[int]], dict[tuple[str, float], list[tuple[int, str]]]
        ],
    ) -> bool:
        """Make the queue file of a delay or success notice at the host that sent it,
        paired with what it reports: a deferral at its time (delay), a mailbox delivery
        or a relay (success). False when nothing matches (then placed as a bounce)."""
        if not rcpts:
            return False
        rows, delivered = reported
        key = (rcpts[0], round(t, 6))
        if kind == "success":
            for orig, rcpt in delivered.get(key, []):
                qf = self._final_queue_file(orig, rcpt)
                if qf is not None:
                    self.report_of[mid] = (kind, -1, (orig, rcpt))
                    self.origin_qf[mid] = self._new_qf(_QueueFile(mid, qf.host, t, "bounce", rcpts))
                    return True
        found = rows.get((*key, "deferred" if kind == "delay" else "sent"))
        if not found:
            return False
        i = found.pop(0)
        self.report_of[mid] = (kind, i, None)
        self.origin_qf[mid] = self._new_qf(_QueueFile(mid, self.a_host[i], t, "bounce", rcpts))
        return True

    def _assign(self) -> None:
        """Each attempt row to the queue file it was made from: the latest arrival of its
        recipient at its host before it started."""
        arrival = attrgetter("t")
        for i in range(len(self.a_msg)):
            rcpt = self.a_rcpt[i]
            made = self.at_host.get(self._host_key(self.a_msg[i], self.a_host[i]), ())
            qfs = [qf for qf in made if rcpt in qf.rcpts]  # in the order they were made
            if not qfs:
                row = self.row_of.get(self.a_msg[i])
                t = self.t_submit[row] if row is not None else self.a_start[i]
                qfs = [
                    self._new_qf(
                        _QueueFile(
                            self.a_msg[i], self.a_host[i], min(t, self.a_start[i]), "orphan", [rcpt]
                        )
                    )
                ]
            if len(qfs) == 1:
                qf = qfs[0]
            else:
                k = bisect_right(qfs, self.a_start[i] + 1e-9, key=arrival) - 1
                qf = qfs[max(k, 0)]
            self.qf_of_row[i] = qf
            qf.rows.append(i)

    def _finals(self) -> None:
        """Mailbox deliveries, failures, expiries and bounce notices, on the queue file
        where each happened (``_left`` turns them into when each recipient left)."""
        for (mid, rcpt), (status, t_final, _, _) in self.final.items():
            if status == "delivered":
                qf = self._final_queue_file(mid, rcpt)
                if qf is not None:
                    qf.local += ((rcpt, t_final),)
            elif status in ("bounced", "expired"):
                rows = self.rows_of.get((mid, rcpt), [])
                if not rows:
                    continue
                qf = self.qf_of_row[rows[-1]]
                if qf is None:
                    continue
                qf.failed += ((rcpt, max(t_final, self.a_end[rows[-1]])),)
                if status == "expired" and t_final not in qf.expired:
                    qf.expired += (t_final,)
        # bounce notices: from the queue file of the attempt that decided the failure
        for mid, i in self.failure_row.items():
            bounce = self.origin_qf[mid]
            source = self.qf_of_row[i]
            if source is not None:
                source.notices += ((bounce.t, bounce.qid, "failure"),)
        for mid, (kind, i, delivered) in self.report_of.items():
            notice = self.origin_qf[mid]
            where = self.qf_of_row[i] if delivered is None else self._final_queue_file(*delivered)
            if where is not None:
                where.notices += ((notice.t, notice.qid, kind),)

    def _left(self, qf: _QueueFile) -> dict[str, float]:
        """When each recipient that left ``qf`` did: its last ``sent`` attempt from it,
        unless it reached a mailbox, bounced or expired there (computed when the queue
        file is logged, not kept for all of them)."""
        done: dict[str, float] = {}
        for i in qf.rows:
            if self.a_outcome[i] == "sent":
                rcpt = self.a_rcpt[i]
                done[rcpt] = max(done.get(rcpt, 0.0), self.a_end[i])
        for rcpt, t in qf.local:
            done[rcpt] = t
        for rcpt, t in qf.failed:
            done[rcpt] = t
        return done

    def _final_queue_file(self, mid: int, rcpt: str) -> _QueueFile | None:
        """Where a delivered recipient reached its mailbox: the queue file its last
        sent attempt made, or the one the message started in."""
        rows = [i for i in self.rows_of.get((mid, rcpt), []) if self.a_outcome[i] == "sent"]
        if rows:
            return self.session_qf[self.sid[rows[-1]]]
        qf = self.origin_qf.get(mid)
        return qf if qf is not None and rcpt in qf.rcpts else None

    # --- lines -------------------------------------------------------------------------------

    def _log_session(self, k: int) -> None:
        """What the receiving smtpd logs of a session: connect, client=, rejects,
        disconnect (logged with the sending queue file, so that at one instant the
        sender's lines come first and the receiver's client= before its qmgr line)."""
        log = self.log
        if self.logged[k]:
            return
        self.logged[k] = 1
        rows = self.s_rows[self.s_first[k] : self.s_first[k + 1]]
        i = rows[0]
        mid, host, peer = self.a_msg[i], self.a_host[i], self.a_peer[i]
        t_start, t_end = self.a_start[i], self.a_end[i]
        pid = log.session_pid(peer)
        client = log.addr(host)
        log.add(t_start, peer, "smtpd", pid, f"connect from {client}")
        t_mail = min(max(t_end - self.a_xfer[rows[0]], t_start), t_end)
        qf = self.session_qf[k]
        if qf is not None:
            log.add(t_mail, peer, "smtpd", pid, f"{qf.qid}: client={client}")
        row = self.row_of.get(mid)
        sender = self.sender[row] if row is not None else ""
        for i in rows:
            if not self.a_rejected[i]:
                continue
            rcpt = self.a_rcpt[i]
            stage = self._stage(i)
            reply = self._reply_text(i)
            log.add(
                t_mail,
                peer,
                "smtpd",
                pid,
                f"{qf.qid if qf is not None else 'NOQUEUE'}: reject: {stage} from "
                f"{client}: {reply}; from=<{sender}> to=<{rcpt}> proto=ESMTP "
                f"helo=<{log.name(host)}>",
            )
        log.add(t_end, peer, "smtpd", pid, f"disconnect from {client}")

    def _stage(self, i: int) -> str:
        """The smtpd stage of a refusal: RCPT for a refused recipient, DATA, or
        END-OF-MESSAGE when the message was refused after its data."""
        return _STAGE.get(self.a_phase[i], "RCPT")

    def _log_queue_file(self, qf: _QueueFile) -> None:
        log = self.log
        host = qf.host
        row = self.row_of.get(qf.msg)
        sender = self.sender[row] if row is not None else ""
        size = self.size[row] if row is not None else 0
        qmgr = log.pid(host, "qmgr")
        if qf.kind == "pickup":
            log.add(
                qf.t, host, "pickup", log.pid(host, "pickup"), f"{qf.qid}: uid=1000 from=<{sender}>"
            )
        domain = sender.rpartition("@")[2] if sender else log.name(host)
        log.add(
            qf.t,
            host,
            "cleanup",
            log.pid(host, "cleanup"),
            f"{qf.qid}: message-id=<{qf.msg}.smtpsim@{domain}>",
        )
        active = f"{qf.qid}: from=<{sender}>, size={size}, nrcpt={len(qf.rcpts)} (queue active)"
        log.add(qf.t, host, "qmgr", qmgr, active)
        # delivery attempts, by active pass (the columns bound to names: the hot loop)
        a_start, a_end, a_queue, a_outcome = self.a_start, self.a_end, self.a_queue, self.a_outcome
        a_peer, a_qmgr, a_head, a_dsn = self.a_peer, self.a_qmgr, self.a_head, self.a_dsn
        a_conn_xfer, sid, add, t0, qid = self.a_conn_xfer, self.sid, log.add, qf.t, qf.qid
        rows = sorted(qf.rows, key=lambda i: (a_start[i], a_end[i], i))
        pass_start, pass_end, deferral = t0, t0, False
        smtp_pids: dict[tuple[str, float], int] = {}
        for i in rows:
            start, end, queue, outcome = a_start[i], a_end[i], a_queue[i], a_outcome[i]
            if deferral and start > pass_end:
                pass_start = max(min(t0 + queue, start), pass_end)
                add(pass_start, host, "qmgr", qmgr, active)
                deferral = False
            pass_end = max(pass_end, end)
            deferral = deferral or outcome == "deferred"
            a = min(max(pass_start - t0, 0.0), max(queue, 0.0))
            peer = a_peer[i]
            if peer != "none":
                self._log_session(sid[i])
            if a_qmgr[i] == 1:
                program, pid = "qmgr", qmgr
            elif a_qmgr[i] == 2:
                program, pid = "error", log.pid(host, "error")
            else:
                program = "smtp"
                pid_key = (peer, start)
                known = smtp_pids.get(pid_key)
                if known is not None:
                    pid = known
                else:
                    pid = smtp_pids[pid_key] = log.session_pid(host)
                    failed = self.a_conn_error[i]
                    if failed.startswith("connect to "):
                        # smtp_connect.c logs each failed connection on its own
                        # (msg_info), before the recipients' deferral lines
                        add(end, host, "smtp", pid, failed)
            add(
                end,
                host,
                program,
                pid,
                f"{qid}: {a_head[i]}delay={_format_delay(end - t0)}, "
                f"delays={_format_delay(a)}/{_format_delay(queue - a)}/{a_conn_xfer[i]}, "
                f"dsn={a_dsn[i]}, status={outcome} ({self._status_text(i)})",
            )
        for rcpt, t in qf.local:
            a = max(t - qf.t, 0.0)
            log.add(
                t,
                host,
                "local",
                log.pid(host, "local"),
                f"{qf.qid}: to=<{rcpt}>, relay=local, delay={format_tv(a)}, "
                f"delays={format_tv(a)}/0/0/0, dsn=2.0.0, status=sent (delivered to mailbox)",
            )
        for t in qf.expired:
            log.add(
                t,
                host,
                "qmgr",
                qmgr,
                f"{qf.qid}: from=<{sender}>, status=expired, returned to sender",
            )
        for t, new, kind in qf.notices:
            log.add(
                t,
                host,
                "bounce",
                log.pid(host, "bounce"),
                f"{qf.qid}: {_REPORT_LINES.get(kind, 'sender non-delivery notification')}: {new}",
            )
        done = self._left(qf)
        if qf.rcpts and all(r in done for r in qf.rcpts):
            t_removed = max(done.values())
            if qf.rows:
                t_removed = max(t_removed, max(self.a_end[i] for i in qf.rows))
            log.add(t_removed, host, "qmgr", qmgr, f"{qf.qid}: removed")

    # --- reply texts --------------------------------------------------------------------------

    def _known_reply(self, i: int) -> str | None:
        """The recipient's recorded reply, when it has this attempt's code and dsn."""
        final = self.final.get((self.a_msg[i], self.a_rcpt[i]))
        if final is None or final[0] in ("delivered", "pending"):
            return None
        reply = final[3]
        head, _ = _split_reply(reply)
        code, dsn = self.a_code[i], self.a_dsn[i]
        if head == f"{code} {dsn}":
            return reply
        if code >= 500 and dsn.startswith("4.") and head == f"{code} 5{dsn[1:]}":
            return reply  # a 5xx greeting deferred as 4.x.x (smtp_skip_5xx_greeting)
        return None

    def _reply_text(self, i: int) -> str:
        """``CODE DSN text`` of a server's refusal: the recorded reply, or one made of
        the code, the enhanced code and its RFC 3463 meaning."""
        known = self._known_reply(i)
        if known is not None:
            return known
        code, dsn = self.a_code[i], self.a_dsn[i]
        if code >= 500 and dsn.startswith("4."):  # the server said 5.x.x; Postfix made it 4
            dsn = "5" + dsn[1:]
        if self.a_phase[i] == "rcpt":
            return f"{code} {dsn} <{self.a_rcpt[i]}>: Recipient address rejected: {_dsn_text(dsn)}"
        return f"{code} {dsn} {_dsn_text(dsn)}"

    def _server_of(self, host: str, rcpt: str) -> str:
        """The server ``host`` talked to for ``rcpt``'s domain (for connection failures,
        whose server the tables do not name), or the domain itself."""
        domain = rcpt.rpartition("@")[2]
        if self.peer_for is None:
            self.peer_for = {}
            for h, r, p in zip(self.a_host, self.a_rcpt, self.a_peer, strict=True):
                if p != "none":
                    self.peer_for.setdefault((h, r.rpartition("@")[2]), p)
        peer = self.peer_for.get((host, domain))
        return self.log.addr(peer) + ":25" if peer is not None else domain

    def _site_failure_before(self, i: int) -> int | None:
        """The last site failure (connect, greeting, EHLO, DNS) of ``i``'s host for
        ``i``'s domain that ended by ``i``'s time: the reason qmgr keeps for a dead
        destination and repeats in each "delivery temporarily suspended" deferral
        (qmgr_deliver.c)."""
        if self.site_failures is None:
            found: dict[tuple[str, str], tuple[list[float], list[int]]] = {}
            order = np.argsort(np.asarray(self.a_end), kind="stable").tolist()
            for j in order:
                if self.a_outcome[j] == "deferred" and self.a_phase[j] in _SITE_PHASES:
                    key = (self.a_host[j], self.a_rcpt[j].rpartition("@")[2])
                    times, rows = found.setdefault(key, ([], []))
                    times.append(self.a_end[j])
                    rows.append(j)
            self.site_failures = found
        entry = self.site_failures.get((self.a_host[i], self.a_rcpt[i].rpartition("@")[2]))
        if entry is None:
            return None
        k = bisect_right(entry[0], self.a_end[i])
        return entry[1][k - 1] if k else None

    def _status_text(self, i: int) -> str:
        """The text in parentheses after ``status=``."""
        outcome, phase, peer = self.a_outcome[i], self.a_phase[i], self.a_peer[i]
        if outcome == "sent":
            qf = self.session_qf[self.sid[i]]
            return f"250 2.0.0 Ok: queued as {qf.qid if qf is not None else 'NOQUEUE'}"
        dsn = self.a_dsn[i]
        known = self._known_reply(i)
        own = _split_reply(known)[1] if known is not None else None
        if peer == "none":  # Postfix's own words: no server said anything
            if phase == "dns" and own is None:
                domain = self.a_rcpt[i].rpartition("@")[2]
                return (
                    "Host or domain name not found. Name service error for "
                    f"name={domain} type=MX: Host not found, try again"
                )
            suspended = phase == "qmgr" and dsn.startswith("4.")
            if own is not None:
                text = own.removeprefix(_SUSPENDED)
            elif self.a_conn_error[i]:  # the client's own words, recorded
                text = self.a_conn_error[i]
            elif suspended and (site := self._site_failure_before(i)) is not None:
                text = self._status_text(site).removeprefix(_SUSPENDED)
            else:  # tables without the words: a guess
                server = self._server_of(self.a_host[i], self.a_rcpt[i])
                text = f"connect to {server}: Connection timed out"
            return _SUSPENDED + text if suspended else text
        server = self.log.addr(peer)
        if own is not None and own.startswith((_PROTOCOL_ERROR, _SMTPUTF8_REQUIRED)):
            return own  # the client's words already name the server (and the command)
        if self.a_conn_error[i].startswith(_TLS_OWN):
            return self.a_conn_error[i]  # its TLS policy refused the server (smtp_proto.c)
        if dsn.startswith("4.4."):  # the client's own trouble with this server
            if own is not None:
                return own
            return f"conversation with {server} timed out while {_WHILE.get(phase, 'talking')}"
        reply = self._reply_text(i)
        if phase == "greeting":
            return f"host {server} refused to talk to me: {reply}"
        command = _CMD.get(phase, phase)
        return f"host {server} said: {reply} (in reply to {command} command)"


# The SMTP client's own words when TLS falls short of its policy (Postfix smtp_proto.c,
# smtpsim.mail.tls): logged as they are, not as something the server said.
_TLS_OWN = ("TLS is required, but was not offered by host ", "Server certificate not verified")


def _ints(column: pd.Series) -> array[int]:
    """An integer column as a typed array of int64."""
    return array("q", column.to_numpy(dtype=np.int64).tobytes())


def _floats(column: pd.Series) -> array[float]:
    """A numeric column as a typed array of float64."""
    return array("d", column.to_numpy(dtype=np.float64).tobytes())


def _rank(values: np.ndarray) -> np.ndarray:
    """Each string's rank in sorted order (equal strings, equal ranks)."""
    codes, uniques = pd.factorize(values)
    rank = np.empty(len(uniques), dtype=np.int64)
    rank[np.argsort(np.asarray(uniques, dtype=object), kind="stable")] = np.arange(len(uniques))
    ranks: np.ndarray = rank[codes]
    return ranks
