"""The maillog's line formats (Postfix smtpd.c, log_adhoc.c), Postfix's number formatting, and a
Python reading of the log with pflogsumm 1.1.5's own regexes (pflogsumm 1.1.5), so that
the counts are checked even where pflogsumm is not installed."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from maillog_helpers import QUICKSTART, run_quickstart

from smtpsim.cli.main import main
from smtpsim.metrics.maillog import (
    expected_totals,
    format_tv,
    maillog_lines,
    queue_id,
    rejected_mask,
    write_maillog,
)
from smtpsim.metrics.result import RunResult

# pflogsumm 1.1.5's regexes (Debian pflogsumm 1.1.5-8, lines 630 and 642).
TRADITIONAL = re.compile(r"^(...) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) \S+ (.+)$")
PROGRAM_QID = re.compile(r"^(?:postfix)(?:/(?:smtps|submission))?/([^\[:]*).*?: ([^:\s]+)")
DELIVERY = re.compile(
    r"to=<([^>]*)>, (?:orig_to=<[^>]*>, )?relay=([^,]+), (?:conn_use=[^,]+, )?"
    r"delay=([^,]+), (?:delays=[^,]+, )?(?:dsn=[^,]+, )?status=(\S+)(.*)$"
)
CLIENT = re.compile(r"\[\d+\]: \w+: client=(.+?)(,|$)")
REJECT = re.compile(r"\[\d+\]: \w+: (reject(?:_warning)?|hold|discard): ")
# Postfix's own line shapes (Postfix smtpd.c, log_adhoc.c)
FULL_DELIVERY = re.compile(
    r"^(?P<qid>[0-9A-F]{10}): to=<(?P<to>[^>]*)>, relay=(?P<relay>none|local|[^\[,]+\[[\d.]+\]:25),"
    r"(?: conn_use=(?P<conn_use>[2-9]|[1-9]\d+),)?"
    r" delay=(?P<delay>[\d.]+), delays=(?P<a>[\d.]+)/(?P<b>[\d.]+)/(?P<c>[\d.]+)/(?P<d>[\d.]+),"
    r" dsn=(?P<dsn>[245]\.\d{1,3}\.\d{1,3}),"
    r" status=(?P<status>sent|deferred|bounced) \((?P<text>.+)\)$"
)
NUMBER = re.compile(r"^(0|[1-9]\d*)(\.\d?[1-9])?$")  # no trailing zeros, at most 2 decimals
LINE = re.compile(r"^(\w{3}) ([ \d]\d) (\d\d:\d\d:\d\d) (\S+) postfix/(\w+)\[(\d+)\]: (.*)$")


def mini_pflogsumm(lines: list[str]) -> dict[str, int]:
    """The Grand Totals as pflogsumm 1.1.5 counts them (its parsing loop, reduced to
    the message counts)."""
    totals = Counter[str]()
    deferred_ids: set[str] = set()
    for line in lines:
        m = TRADITIONAL.match(line)
        assert m is not None, line
        rest = m.group(6)
        pq = PROGRAM_QID.match(rest)
        assert pq is not None, line
        cmd, qid = pq.groups()
        if qid == "reject":
            totals["rejected"] += 1
        elif cmd in ("smtpd", "postscreen"):
            if CLIENT.search(rest):
                totals["received"] += 1
            elif (r := REJECT.search(rest)) and r.group(1) == "reject":
                totals["rejected"] += 1
        elif re.search(r"from=<([^>]*)>, size=(\d+)", rest):
            continue
        elif d := DELIVERY.search(rest):
            status, remainder = d.group(4), d.group(5)
            if status == "sent" and "forwarded as " not in remainder:
                totals["delivered"] += 1
            elif status == "deferred":
                totals["deferrals"] += 1
                deferred_ids.add(qid)
            elif status == "bounced":
                totals["bounced"] += 1
        elif cmd == "pickup" and re.search(r": (sender|uid)=", rest):
            totals["received"] += 1
    totals["deferred"] = len(deferred_ids)
    return {
        k: totals[k]
        for k in ("received", "delivered", "deferred", "deferrals", "bounced", "rejected")
    }


def read(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


# --- format_tv -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        # Postfix's own outputs (format_tv.c, run there)
        (0.004, "0"),
        (0.005, "0.01"),
        (0.123, "0.12"),
        (0.999, "1"),
        (1.234, "1.2"),
        (1.25, "1.3"),
        (12.34, "12"),
        (12.5, "13"),
        (99.6, "100"),
        (120.7, "121"),
        (301.2, "301"),
        # and a few more
        (0.0, "0"),
        (-1e-12, "0"),
        (0.05, "0.05"),
        (0.1, "0.1"),
        (0.0149, "0.01"),
        (1.0, "1"),
        (5.0, "5"),
        (9.96, "10"),
        (30.0, "30"),
        (100.0, "100"),
        (432000.4, "432000"),
    ],
)
def test_format_tv_matches_postfix(seconds: float, text: str) -> None:
    assert format_tv(seconds) == text


def test_format_tv_other_precisions() -> None:
    assert format_tv(1.23456, 6, 6) == "1.23456"
    assert format_tv(0.5, 1, 0) == "1"
    assert format_tv(0.123, 1, 2) == "0.1"
    with pytest.raises(ValueError):
        format_tv(1.0, 0, 2)


def test_the_delay_formats_in_closed_form_and_in_bulk_match_postfix_loop() -> None:
    """``_format_delay`` (one value) and ``_format_delays`` (a column) give what
    ``format_tv.c``'s loop gives at the default precision, at the edges where the
    resolution changes (0.995, 9.95, 99.5) and at random values of every size."""
    import random

    from smtpsim.metrics import maillog

    rng = random.Random(3)
    edges = [0.0, -0.0, -1.0, 1e-7, 0.004999, 0.005, 0.994999, 0.995, 9.949999, 9.95, 99.5]
    values = edges + [10 ** rng.uniform(-4, 5) for _ in range(20_000)]
    values += [k / 1e6 for k in range(990_000, 1_010_000, 3)]
    expected = [maillog._format_tv_loop(x, 2, 2) for x in values]
    assert [maillog._format_delay(x) for x in values] == expected
    assert maillog._format_delays(np.array(values)).tolist() == expected
    assert len(set(expected)) > 1_000


def test_queue_ids_are_short_upper_case_hex_and_deterministic() -> None:
    qid = queue_id(7, "out")
    assert re.fullmatch(r"[0-9A-F]{10}", qid)
    assert qid == queue_id(7, "out")
    assert (
        len({queue_id(7, "out"), queue_id(7, "msa"), queue_id(8, "out"), queue_id(7, "out", 1)})
        == 4
    )


# --- line formats ---------------------------------------------------------------------------


@pytest.mark.parametrize("log", ["quickstart_log", "outage_log"])
def test_every_line_has_the_syslog_prefix_and_no_tls_field(
    log: str, request: pytest.FixtureRequest
) -> None:
    lines = read(request.getfixturevalue(log))
    assert lines
    start = datetime(2026, 1, 5)
    previous = start
    stamps: dict[str, datetime] = {}
    for line in lines:
        m = LINE.match(line)
        assert m is not None, line
        prefix = TRADITIONAL.match(line)
        assert prefix is not None and PROGRAM_QID.match(prefix.group(6)), line
        stamp = line[:15]
        when = stamps.get(stamp)
        if when is None:
            when = stamps[stamp] = datetime.strptime(f"2026 {stamp}", "%Y %b %d %H:%M:%S")
        assert when >= previous, f"lines out of order at {line}"
        previous = when
        assert m.group(5) in {
            "smtpd",
            "pickup",
            "cleanup",
            "qmgr",
            "smtp",
            "local",
            "bounce",
            "error",
        }
        assert "tls=" not in line
    assert previous - start < timedelta(hours=2)


@pytest.mark.parametrize("log", ["quickstart_log", "outage_log"])
def test_delivery_lines_match_pflogsumm_and_postfix(
    log: str, request: pytest.FixtureRequest
) -> None:
    lines = read(request.getfixturevalue(log))
    seen = Counter[str]()
    for line in lines:
        if "to=<" not in line or "reject:" in line:
            continue
        text = LINE.match(line).group(7)  # type: ignore[union-attr]
        assert DELIVERY.search(text), line
        m = FULL_DELIVERY.match(text)
        assert m is not None, line
        numbers = [m.group(k) for k in ("delay", "a", "b", "c", "d")]
        assert all(NUMBER.match(n) for n in numbers), line
        delay, *parts = (float(n) for n in numbers)
        assert abs(sum(parts) - delay) <= 0.1 * delay + 0.05, line
        seen[m.group("status")] += 1
        if m.group("status") == "sent" and m.group("relay") != "local":
            assert re.fullmatch(r"250 2\.0\.0 Ok: queued as [0-9A-F]{10}", m.group("text"))
    assert seen["sent"] > 0


def test_sent_lines_name_the_queue_id_the_peer_logged(quickstart_log: Path) -> None:
    lines = read(quickstart_log)
    clients = {}  # (host, qid) -> client
    for line in lines:
        m = LINE.match(line)
        assert m is not None
        if m.group(5) == "smtpd" and ": client=" in m.group(7):
            qid, _, client = m.group(7).partition(": client=")
            clients[(m.group(4), qid)] = client
    names = {
        "msa.corp.example": "msa",
        "out.corp.example": "out",
        "mx1.bigmail.example": "mx1",
        "mx2.bigmail.example": "mx2",
        "mx.smallorg.example": "mx-small",
        "mail.partner.example": "mx-partner",
    }
    checked = 0
    for line in lines:
        m = re.search(
            r" (\S+) postfix/smtp\[\d+\]: \w+: .*relay=([^\[]+)\[.*queued as (\w+)\)$", line
        )
        if m:
            sender, relay, qid = m.groups()
            assert (names[relay], qid) in clients, line
            assert clients[(names[relay], qid)].startswith(
                {"traffic.staff": "staff.clients.sim.example"}.get(sender, f"{sender}.")
            )
            checked += 1
    assert checked > 1000


def test_each_queue_file_has_one_cleanup_line_and_its_size_line_after_client(
    quickstart_log: Path,
) -> None:
    cleanup = Counter[tuple[str, str]]()
    received: set[tuple[str, str]] = set()
    size_after_client = 0
    for line in read(quickstart_log):
        m = LINE.match(line)
        assert m is not None
        host, program, text = m.group(4), m.group(5), m.group(7)
        qid = text.split(":", 1)[0]
        if program == "cleanup":
            cleanup[(host, qid)] += 1
        elif ": client=" in text or program == "pickup":
            received.add((host, qid))
        elif program == "qmgr" and "size=" in text and (host, qid) in received:
            size_after_client += 1
    assert set(cleanup.values()) == {1}
    assert received <= set(cleanup)
    assert size_after_client >= len(received)


def test_rejects_follow_the_smtpd_format(quickstart_log: Path) -> None:
    rejects = [line for line in read(quickstart_log) if "reject:" in line]
    assert rejects
    shape = re.compile(
        r" postfix/smtpd\[\d+\]: (NOQUEUE|[0-9A-F]{10}): reject: RCPT from [^\[]+\[[\d.]+\]: "
        r"550 5\.1\.1 <([^>]+)>: Recipient address rejected: [^;]+; from=<[^>]*> to=<([^>]+)> "
        r"proto=ESMTP helo=<[^>]+>$"
    )
    for line in rejects:
        m = shape.search(line)
        assert m is not None, line
        assert m.group(2) == m.group(3)


def test_outage_sequences(outage_log: Path, outage: RunResult) -> None:
    lines = read(outage_log)
    by_qid: dict[str, list[str]] = defaultdict(list)
    for line in lines:
        m = LINE.match(line)
        assert m is not None
        qid = m.group(7).split(":", 1)[0]
        if re.fullmatch(r"[0-9A-F]{10}", qid):
            by_qid[qid].append(m.group(5) + ": " + m.group(7).split(": ", 1)[1])
    # a dead destination: qmgr hands the deferral to the retry service, error(8), which
    # logs relay=none and "delivery temporarily suspended" (Postfix 3.7 qmgr_message.c)
    suspended = [line for line in lines if " postfix/error[" in line and "status=deferred" in line]
    assert suspended
    assert not [line for line in lines if " postfix/qmgr[" in line and "status=deferred" in line]
    assert all(
        "relay=none" in line
        and "delays=" in line
        and line.endswith(")")
        and "(delivery temporarily suspended: connect to mx.smallorg.example" in line
        for line in suspended
    )
    # an expiry: expired, non-delivery notification, removed; the bounce goes to msa
    expired = [
        q
        for q, entries in by_qid.items()
        if any("status=expired, returned to sender" in e for e in entries)
    ]
    n_expired = (outage.recipients["status"] == "expired").sum()
    assert 0 < len(expired) <= n_expired
    for qid in expired:
        entries = by_qid[qid]
        tail = [e.split(": ", 1)[0] for e in entries[-3:]]
        assert tail == ["qmgr", "bounce", "qmgr"], entries
        assert entries[-1] == "qmgr: removed"
        new = entries[-2].rsplit(" ", 1)[1]
        bounce = by_qid[new]
        assert bounce[0].startswith("cleanup: message-id=<")
        assert bounce[1].startswith("qmgr: from=<>, size=")
        assert any("status=sent" in e for e in bounce)
    # a message deferred, retried later: a second "(queue active)" line
    retried = [
        q for q, entries in by_qid.items() if sum("(queue active)" in e for e in entries) > 1
    ]
    assert retried


def test_each_status_line_corresponds_to_a_row(outage_log: Path, outage: RunResult) -> None:
    text = outage_log.read_text()
    a = outage.attempts
    assert text.count("status=deferred") == (a["outcome"] == "deferred").sum()
    assert text.count("status=bounced") == (a["outcome"] == "bounced").sum()
    assert text.count("relay=local,") == (outage.recipients["status"] == "delivered").sum()
    assert text.count(": reject: ") == rejected_mask(a).sum()
    assert text.count("status=expired") <= (outage.recipients["status"] == "expired").sum()
    # every bounce message was paired with the failure it reports
    bounces = (outage.messages["origin"] == "bounce").sum()
    assert text.count(": sender non-delivery notification: ") == bounces > 0


@pytest.mark.parametrize("log", ["quickstart_log", "outage_log"])
def test_pflogsumm_rules_give_the_expected_totals(log: str, request: pytest.FixtureRequest) -> None:
    result = request.getfixturevalue(log.removesuffix("_log"))
    assert mini_pflogsumm(read(request.getfixturevalue(log))) == expected_totals(result)


def test_expected_totals_by_hand(outage: RunResult) -> None:
    totals = expected_totals(outage)
    r, a = outage.recipients, outage.attempts
    assert totals["bounced"] == (r["status"] == "bounced").sum() > 0
    assert totals["deferrals"] == (a["outcome"] == "deferred").sum() > 0
    # no message reaches a host twice here: queue files = (message, host) pairs
    deferred = a[a["outcome"] == "deferred"]
    assert totals["deferred"] == len(deferred[["msg_id", "host"]].drop_duplicates()) > 0
    sent = a[a["outcome"] == "sent"]
    assert totals["delivered"] == len(sent) + (r["status"] == "delivered").sum()
    assert totals["rejected"] == len(a[(a["dsn"] == "5.1.1")])


# --- host names, determinism, files ----------------------------------------------------------


def first_messages(result: RunResult, n: int, **changes: object) -> RunResult:
    """The tables of the first ``n`` messages only (bounces come after their originals)."""
    return dataclasses.replace(
        result,
        messages=result.messages[result.messages["msg_id"] < n],
        recipients=result.recipients[result.recipients["msg_id"] < n],
        attempts=result.attempts[result.attempts["msg_id"] < n],
        **changes,
    )


def test_without_host_names_the_key_is_the_name(quickstart: RunResult) -> None:
    bare = first_messages(quickstart, 500, meta={})
    lines = list(maillog_lines(bare))
    assert any("connect from traffic.staff[0.0.0.0]" in line for line in lines)
    assert any("relay=mx1[0.0.0.0]:25" in line for line in lines)
    assert mini_pflogsumm(lines) == expected_totals(bare)


def test_same_tables_same_log_and_start_moves_the_clock(quickstart: RunResult) -> None:
    small = first_messages(quickstart, 50)
    first = list(maillog_lines(small))
    assert first == list(maillog_lines(small))
    assert first[0].startswith("Jan  5 00:00:00 ")
    later = list(maillog_lines(small, start="2026-03-14T23:59:59"))
    assert later[0].startswith("Mar 14 23:59:59 ")
    assert later[-1].startswith("Mar 15 00:")
    assert [line[16:] for line in later] == [line[16:] for line in first]


def test_write_puts_the_maillog_beside_the_tables(tmp_path: Path) -> None:
    result = run_quickstart(until=120.0)
    result.write(tmp_path / "with")
    assert (tmp_path / "with" / "maillog").read_text() == "\n".join(maillog_lines(result)) + "\n"
    result.write(tmp_path / "without", maillog=False)
    assert not (tmp_path / "without" / "maillog").exists()
    # CSV tables read back give the same log (empty strings come back as NaN)
    result.write(tmp_path / "csv", fmt="csv", maillog=False)
    again = RunResult.read(tmp_path / "csv")
    again.meta["hosts"] = result.meta["hosts"]
    write_maillog(again, tmp_path / "csv" / "maillog")
    assert (tmp_path / "csv" / "maillog").read_text() == (tmp_path / "with" / "maillog").read_text()


def test_no_maillog_without_the_attempts_table(tmp_path: Path) -> None:
    result = run_quickstart(until=60.0, overrides=("simulation.record_attempts=false",))
    assert not result.has_attempts
    result.write(tmp_path)
    assert not (tmp_path / "maillog").exists()
    with pytest.raises(ValueError, match="attempts"):
        write_maillog(result, tmp_path / "maillog")


def test_cli_writes_the_maillog_unless_told_not_to(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def run(*extra: str) -> int:
        return main(["run", str(QUICKSTART), "--until", "30s", "--no-plots", *extra])

    assert run("--out", str(tmp_path / "a")) == 0
    assert (tmp_path / "a" / "maillog").stat().st_size > 0
    assert "maillog" in capsys.readouterr().out
    assert run("--out", str(tmp_path / "b"), "--no-maillog", "--quiet") == 0
    assert (tmp_path / "b" / "messages.parquet").exists()
    assert not (tmp_path / "b" / "maillog").exists()
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    helptext = capsys.readouterr().out
    assert "--no-maillog" in helptext and "pflogsumm" in helptext


def test_the_log_keeps_few_lines_and_gives_them_back_sorted(tmp_path: Path) -> None:
    """``_Log`` keeps at most ``chunk`` lines as strings (the rest are bytes in its
    scratch file); what it gives back is every line, sorted by time with ties in the
    order added, as one sort of (time, order added) would, including lines that are
    not ASCII."""
    import random

    from smtpsim.metrics import maillog

    rng = random.Random(5)
    log = maillog._Log({}, ["a", "b"], datetime(2026, 1, 5), tmp_path, chunk=100)
    added = []
    for n in range(2_345):
        t = rng.choice([rng.uniform(0, 3600), float(rng.randrange(60))])  # many ties
        log.add(t, "a", "smtp", 1, f"line {n}\twith a tab, é")
        added.append((t, n))
        assert len(log._pending) < 100
    assert (tmp_path / "lines").stat().st_size > 2_300 * 40  # all but 45 lines on disk
    lines = list(log.lines())
    expected = [f"line {n}\twith a tab, é" for _, n in sorted(added)]
    assert [line.split(": ", 1)[1] for line in lines] == expected


@pytest.mark.interpreted  # patches the module's constant and _Log._spill
def test_the_maillog_does_not_depend_on_the_chunk_size(
    quickstart: RunResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from smtpsim.metrics import maillog

    monkeypatch.setattr(maillog, "_CHUNK_LINES", 10**9)
    whole = write_maillog(quickstart, tmp_path / "whole")  # one block
    spills = []
    original = maillog._Log._spill

    def counting(self: maillog._Log) -> None:
        spills.append(len(self._pending))
        original(self)

    monkeypatch.setattr(maillog, "_CHUNK_LINES", 1_000)
    monkeypatch.setattr(maillog._Log, "_spill", counting)
    spilled = write_maillog(quickstart, tmp_path / "spilled")
    assert len(spills) > 10 and set(spills[:-1]) == {1_000}
    assert spilled.read_bytes() == whole.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spilled", "whole"]  # scratch removed


def test_the_builder_makes_no_reference_cycles(quickstart: RunResult, tmp_path: Path) -> None:
    """The maillog is built with the cycle collector paused (``_no_cycle_collection``),
    which costs no memory only because everything it makes is freed by reference
    counting: after a build, the collector finds nothing, and it is on again."""
    import gc

    write_maillog(quickstart, tmp_path / "warm")  # lazy imports and caches made first
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)  # keep what the collector would free, to count it
    try:
        write_maillog(quickstart, tmp_path / "maillog")
        assert gc.isenabled()
        gc.collect()
        assert gc.garbage == []
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
