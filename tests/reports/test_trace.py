"""``smtpsim trace``: what a user copies from the maillog finds the message, and the
journey shows every attempt and the bounce notice's own journey."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
from report_helpers import smtpsim_cli

from smtpsim.metrics.result import RunResult
from smtpsim.reports.trace import find_messages, journey, queue_ids


def _bounced_line(run_dir: Path) -> re.Match[str]:
    log = (run_dir / "maillog").read_text()
    match = re.search(r" postfix/smtp\[\d+\]: ([0-9A-F]{10}): to=<([^>]+)>.*status=bounced", log)
    assert match is not None
    return match


def test_queue_id_from_the_maillog_finds_its_message(run_dir: Path) -> None:
    result = RunResult.read(run_dir)
    qid, rcpt = _bounced_line(run_dir).groups()
    [mid] = find_messages(result, qid, run_dir)
    r = result.recipients
    assert rcpt in set(r.loc[r["msg_id"] == mid, "rcpt"])
    # the message-id line of the maillog names the same message
    log = (run_dir / "maillog").read_text()
    assert re.search(rf"{qid}: message-id=<{mid}\.smtpsim@", log)
    # the same ids without the maillog file: made again from the tables
    assert queue_ids(result, None, [mid])[mid] == queue_ids(result, run_dir, [mid])[mid]


def test_trace_shows_every_attempt_and_the_bounce_notice(run_dir: Path) -> None:
    qid, _ = _bounced_line(run_dir).groups()
    done = smtpsim_cli("trace", str(run_dir), qid)
    assert done.returncode == 0, done.stderr
    result = RunResult.read(run_dir)
    [mid] = find_messages(result, qid, run_dir)
    attempts = result.attempts[result.attempts["msg_id"] == mid]
    text = done.stdout
    assert f"attempts ({len(attempts)}), hop by hop" in text
    assert qid in text and "bounced" in text and "5.1.1" in text
    assert "bounce notice sent for it" in text
    j = journey(result, mid, run_dir)
    [notice] = j.notices
    assert notice.is_bounce and notice.original == mid
    assert list(notice.recipients["rcpt"]) == [result.messages.loc[mid, "sender"]]


def test_message_id_with_or_without_brackets(run_dir: Path) -> None:
    result = RunResult.read(run_dir)
    log = (run_dir / "maillog").read_text()
    msgid = re.search(r"message-id=(<(\d+)\.smtpsim@[^>]+>)", log)
    assert msgid is not None
    mid = int(msgid.group(2))
    assert find_messages(result, msgid.group(1)) == [mid]
    assert find_messages(result, msgid.group(1).strip("<>")) == [mid]
    assert find_messages(result, str(mid)) == [mid]


def test_an_address_lists_all_its_messages(run_dir: Path) -> None:
    result = RunResult.read(run_dir)
    m = result.messages
    sender = str(m.loc[m["origin"].astype(str) != "bounce", "sender"].value_counts().index[0])
    expected = set(m.loc[m["sender"] == sender, "msg_id"]) | set(
        result.recipients.loc[result.recipients["rcpt"] == sender, "msg_id"]
    )
    assert len(expected) > 1
    done = smtpsim_cli("trace", str(run_dir), f"<{sender}>")
    assert done.returncode == 0, done.stderr
    assert f"{len(expected)} messages match" in done.stdout
    listed = {
        int(line.split()[0])
        for line in done.stdout.splitlines()[1:]
        if line.strip() and line.split()[0].isdigit()
    }
    assert listed == expected


def test_timeline_figure(run_dir: Path, tmp_path: Path) -> None:
    qid, _ = _bounced_line(run_dir).groups()
    png = tmp_path / "trip.png"
    done = smtpsim_cli("trace", str(run_dir), qid, "--plot", str(png))
    assert done.returncode == 0, done.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from smtpsim.reports.trace import timeline_figure

    result = RunResult.read(run_dir)
    [mid] = find_messages(result, qid, run_dir)
    fig = timeline_figure([journey(result, mid, run_dir)])
    rows = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    hosts = pd.unique(
        pd.concat(
            [
                result.attempts.loc[result.attempts["msg_id"] == mid, c].astype(str)
                for c in ("host", "peer")
            ]
        )
    )
    assert set(rows) == ({*hosts} - {"none"}) | {"mailbox"} | set(
        result.attempts.loc[
            result.attempts["msg_id"].isin(
                [n.msg_id for n in journey(result, mid, run_dir).notices]
            ),
            "host",
        ].astype(str)
    )


def test_unknown_keys_fail_on_one_line(run_dir: Path) -> None:
    for key in ("0123456789", "nobody@nowhere.example", "99999999", "what?"):
        done = smtpsim_cli("trace", str(run_dir), key)
        assert done.returncode == 2, key
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, key


def test_log_prints_the_maillog_lines_of_its_queue_ids(run_dir: Path) -> None:
    match = _bounced_line(run_dir)
    done = smtpsim_cli("trace", str(run_dir), match.group(1), "--log")
    assert done.returncode == 0, done.stderr
    log_part = done.stdout.split("maillog lines:\n")[1]
    bounced = next(
        line for line in (run_dir / "maillog").read_text().splitlines() if match.group(0) in line
    )
    assert bounced in log_part.splitlines()  # the reply's text as the log gives it
    assert "sender non-delivery notification" in log_part
