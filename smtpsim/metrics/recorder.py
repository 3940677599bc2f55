"""The columnar recorder: typed arrays during the run, tables after it.

Strings with few distinct values (host names, domains, DSN codes, reply texts) are
interned: each column stores small integer codes and one table of distinct values.
Recipient addresses are mostly distinct (a million mailboxes), and a Python string
with its entry in an intern table costs about 120 bytes: they are packed instead,
end to end as UTF-8 in one buffer (``Packed``), so that a whole recipient row costs
about 60 bytes (``benchmarks/bench_3hop.py`` measures it). No pandas here: ``tables``
builds the DataFrames from these buffers.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from itertools import pairwise

from ..sim.trace import STATUSES, Recorder

__all__ = ["ColumnarRecorder", "Interned", "Packed"]

_STATUS_CODE = {s: i for i, s in enumerate(STATUSES)}


class Interned:
    """A column of strings stored as codes into a list of distinct values."""

    __slots__ = ("codes", "index", "values")

    def __init__(self) -> None:
        self.codes = array("i")
        self.values: list[str] = []
        self.index: dict[str, int] = {}

    def code(self, value: str) -> int:
        code = self.index.get(value)
        if code is None:
            code = self.index[value] = len(self.values)
            self.values.append(value)
        return code

    def append(self, value: str) -> None:
        code = self.index.get(value)
        if code is None:
            code = self.code(value)
        self.codes.append(code)

    def set(self, i: int, value: str) -> None:
        self.codes[i] = self.code(value)

    def __len__(self) -> int:
        return len(self.codes)

    def decoded(self) -> list[str]:
        values = self.values
        return [values[c] for c in self.codes]


class Packed:
    """A column of strings stored end to end as UTF-8 in one buffer, with the end
    offset of each: 4 bytes per string beside its own bytes, no object per string.
    The buffer holds at most 4 GiB (``array("I")`` offsets; about 150 million
    addresses): past that ``append`` raises ``OverflowError``."""

    __slots__ = ("data", "ends")

    def __init__(self) -> None:
        self.data = bytearray()
        self.ends = array("I")

    def append(self, value: str) -> None:
        data = self.data
        data += value.encode()
        self.ends.append(len(data))

    def __len__(self) -> int:
        return len(self.ends)

    def nbytes(self) -> int:
        """What the column holds: its bytes and its offsets."""
        return len(self.data) + self.ends.itemsize * len(self.ends)

    def decoded(self) -> list[str]:
        data, ends = self.data, self.ends
        if data.isascii():  # one decode, then slices of a str (byte = character)
            text = data.decode("ascii")
            return [text[a:b] for a, b in pairwise([0, *ends])]
        return [data[a:b].decode() for a, b in pairwise([0, *ends])]


class ColumnarRecorder(Recorder):
    """Implements ``smtpsim.sim.trace.Recorder``."""

    def __init__(self, *, attempts: bool = True, levels: bool = True) -> None:
        # messages
        self.m_sender = Interned()
        self.m_size = array("q")
        self.m_n_rcpt = array("i")
        self.m_t_submit = array("d")
        self.m_origin = Interned()
        self.m_notice = Interned()  # "", or the kind of a notice (sim.dsn.NOTICE_KINDS)
        # recipients
        self.r_msg = array("i")  # a run's message ids stay under 2**31
        self.r_rcpt = Packed()
        self.r_domain = Interned()
        self.r_status = array("b")
        self.r_t_final = array("d")
        self.r_attempts = array("i")
        self.r_dsn = Interned()
        self.r_reply = Interned()
        self.r_hops = array("h")
        self.r_custody = Interned()  # the host whose queue holds it (while pending)
        # attempts
        self.keep_attempts = attempts
        self.a_msg = array("q")
        self.a_row = array("q")
        self.a_host = Interned()
        self.a_peer = Interned()
        self.a_t_start = array("d")
        self.a_t_end = array("d")
        self.a_outcome = Interned()
        self.a_code = array("h")
        self.a_dsn = Interned()
        self.a_phase = Interned()
        self.a_queue_s = array("d")
        self.a_conn_s = array("d")
        self.a_xfer_s = array("d")
        self.a_conn_use = array("h")
        self.a_conn_error = Interned()  # a handful of texts: one per server and reason
        # levels: one row per change, which names its series (a host's metric)
        self.keep_levels = levels
        self.l_t = array("d")
        self.l_series = array("i")
        self.l_value = array("q")
        self.level_hosts: list[str] = []  # by series
        self.level_metrics: list[str] = []
        self._level_last: list[int] = []  # each series' last row (-1 before its first)
        self._series: dict[tuple[str, str], int] = {}
        self._nan = float("nan")
        # retrieval (issue 13): rows fetched from their mailbox, and when. Two arrays
        # appended on each fetch rather than a column per recipient, so that runs
        # without an access service pay nothing; ``retrieval`` says whether the run
        # has one (then the recipients table gains ``t_fetched``).
        self.retrieval = False
        self.f_row = array("q")
        self.f_t = array("d")
        # TLS between servers (issue 14): one row per session whose TLS was decided,
        # for the TLS report; ``tls`` says whether the run models TLS (then the
        # results gain the ``tls_report`` table).
        self.tls = False
        self.s_t = array("d")
        self.s_host = Interned()
        self.s_peer = Interned()
        self.s_domain = Interned()
        self.s_policy = Interned()
        self.s_result = Interned()
        self.s_level = Interned()
        self.s_encrypted = array("b")
        self.s_attacked = array("b")
        self.s_sent = array("q")
        self.s_blocked = array("q")
        # recipients not yet final, and what to call once when that count falls to 0
        # (a drained run ends then: ``smtpsim.simulation``)
        self.pending = 0
        self.on_settled: Callable[[], object] | None = None

    def message(
        self, sender: str, size: int, n_rcpt: int, t: float, origin: str, notice: str = ""
    ) -> int:
        msg_id = len(self.m_size)
        self.m_notice.append(notice)
        self.m_sender.append(sender)
        self.m_size.append(size)
        self.m_n_rcpt.append(n_rcpt)
        self.m_t_submit.append(t)
        self.m_origin.append(origin)
        return msg_id

    def recipient(self, msg_id: int, address: str, domain: str, host: str) -> int:
        row = len(self.r_msg)
        self.r_msg.append(msg_id)
        self.r_rcpt.append(address)
        self.r_domain.append(domain)
        self.r_status.append(0)
        self.r_t_final.append(self._nan)
        self.r_attempts.append(0)
        self.r_dsn.append("")
        self.r_reply.append("")
        self.r_hops.append(0)
        self.r_custody.append(host)
        self.pending += 1
        return row

    def final(self, row: int, status: str, t: float, dsn: str, reply: str) -> None:
        if self.r_status[row] != 0:
            raise RuntimeError(
                f"recipient row {row} is already {STATUSES[self.r_status[row]]}, now {status}"
            )
        self.r_status[row] = _STATUS_CODE[status]
        self.r_t_final[row] = t
        self.r_dsn.set(row, dsn)
        self.r_reply.set(row, reply)
        self.pending -= 1
        if not self.pending and self.on_settled is not None:
            settled, self.on_settled = self.on_settled, None
            settled()

    def hop(self, row: int, host: str) -> None:
        self.r_hops[row] += 1
        self.r_custody.set(row, host)

    def holds(self, row: int, host: str) -> bool:
        custody = self.r_custody
        return self.r_status[row] == 0 and custody.codes[row] == custody.index.get(host)

    def in_custody(self, host: str) -> list[int]:
        code = self.r_custody.index.get(host)
        if code is None:
            return []
        custody, status = self.r_custody.codes, self.r_status
        return [row for row, c in enumerate(custody) if c == code and status[row] == 0]

    def attempt(
        self,
        row: int,
        *,
        host: str,
        peer: str,
        t_start: float,
        t_end: float,
        outcome: str,
        code: int,
        dsn: str,
        phase: str,
        queue_s: float,
        conn_s: float,
        xfer_s: float,
        conn_use: int = 0,
        conn_error: str = "",
    ) -> None:
        """One delivery attempt for the recipient of ``row`` (its message is the row's)."""
        self.r_attempts[row] += 1
        if not self.keep_attempts:
            return
        self.a_msg.append(self.r_msg[row])
        self.a_row.append(row)
        self.a_t_start.append(t_start)
        self.a_t_end.append(t_end)
        self.a_code.append(code)
        self.a_queue_s.append(queue_s)
        self.a_conn_s.append(conn_s)
        self.a_xfer_s.append(xfer_s)
        self.a_conn_use.append(conn_use)
        # The six interned columns, inlined (written out: a loop over (column, value)
        # pairs measured slower than the six Interned.append calls it replaced). An
        # attempt row is written per recipient and hop. A value seen before (nearly all
        # of them) is one dict look-up; a new one goes through ``Interned.code``.
        column = self.a_host
        known = column.index.get(host)
        column.codes.append(known if known is not None else column.code(host))
        column = self.a_peer
        known = column.index.get(peer)
        column.codes.append(known if known is not None else column.code(peer))
        column = self.a_outcome
        known = column.index.get(outcome)
        column.codes.append(known if known is not None else column.code(outcome))
        column = self.a_dsn
        known = column.index.get(dsn)
        column.codes.append(known if known is not None else column.code(dsn))
        column = self.a_phase
        known = column.index.get(phase)
        column.codes.append(known if known is not None else column.code(phase))
        column = self.a_conn_error
        known = column.index.get(conn_error)
        column.codes.append(known if known is not None else column.code(conn_error))

    def fetched(self, row: int, t: float) -> None:
        """The delivered recipient of ``row`` was fetched from its mailbox by its
        user's mail client (POP3/IMAP) at ``t``."""
        self.f_row.append(row)
        self.f_t.append(t)

    def tls_session(
        self,
        t: float,
        host: str,
        peer: str,
        domain: str,
        policy_type: str,
        result: str,
        level: str,
        encrypted: bool,
        attacked: bool,
        sent: int,
        blocked: int,
    ) -> None:
        """A session from ``host`` to ``peer`` for ``domain`` that reached its TLS
        verdict (``smtpsim.mail.tls.TlsPlan``): ``sent`` recipients the server took,
        ``blocked`` recipients the TLS failure left deferred; ``attacked``: an attacker
        sat on the path (and read what went in the clear)."""
        self.s_t.append(t)
        self.s_host.append(host)
        self.s_peer.append(peer)
        self.s_domain.append(domain)
        self.s_policy.append(policy_type)
        self.s_result.append(result)
        self.s_level.append(level)
        self.s_encrypted.append(1 if encrypted else 0)
        self.s_attacked.append(1 if attacked else 0)
        self.s_sent.append(sent)
        self.s_blocked.append(blocked)

    def level_series(self, host: str, metric: str) -> int:
        series = self._series.get((host, metric))
        if series is None:
            series = self._series[(host, metric)] = len(self.level_hosts)
            self.level_hosts.append(host)
            self.level_metrics.append(metric)
            self._level_last.append(-1)
        return series

    def level(self, t: float, series: int, value: int) -> None:
        if not self.keep_levels:
            return
        last = self._level_last[series]
        if last >= 0 and self.l_t[last] == t:
            self.l_value[last] = value  # several changes at one instant: keep the last
            return
        self._level_last[series] = len(self.l_t)
        self.l_t.append(t)
        self.l_series.append(series)
        self.l_value.append(value)

    def status_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for code in self.r_status:
            counts[STATUSES[code]] += 1
        return counts
