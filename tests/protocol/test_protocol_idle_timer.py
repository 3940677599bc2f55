"""The server's idle timer limits each wait for input (Postfix's smtpd_timeout), so
message content that keeps arriving restarts it, and silence still ends the session."""

from __future__ import annotations

from smtpsim.protocol import NEED_DATA, IdleTimedOut, ServerConfig, ServerConnection, replies
from smtpsim.protocol import states as S


def in_data(now: float = 0.0) -> ServerConnection:
    conn = ServerConnection(ServerConfig(hostname="mx.example", idle_timeout=300.0), now=now)
    conn.send(replies.greeting("mx.example"), now)
    for line in (
        b"EHLO c\r\n",
        b"MAIL FROM:<a@b.example>\r\n",
        b"RCPT TO:<c@d.example>\r\n",
        b"DATA\r\n",
    ):
        conn.receive_data(line, now)
        assert conn.next_event(now) is not NEED_DATA
        conn.send(conn.standard_reply(), now)
    assert conn.state == S.DATA
    return conn


def test_content_arriving_restarts_the_timer():
    conn = in_data()
    t = 0.0
    for _ in range(10):  # 10 chunks, 200 s apart: 2000 s in all, never 300 s silent
        t += 200.0
        assert conn.handle_timer(t) is None
        conn.receive_data(b"x" * 70 + b"\r\n", t)
        assert conn.next_event(t) is NEED_DATA
    assert conn.get_timer() == t + 300.0
    conn.receive_data(b".\r\n", t)
    assert conn.next_event(t).size == 720


def test_silence_still_times_out_and_bytes_without_a_time_do_not_restart_it():
    conn = in_data()
    conn.receive_data(b"some content\r\n")  # no time given: the timer is not restarted
    assert conn.next_event(10.0) is NEED_DATA
    assert conn.handle_timer(299.0) is None
    event = conn.handle_timer(300.0)
    assert isinstance(event, IdleTimedOut) and event.reply.code == 421
    conn.send(event.reply, 300.0)
    assert conn.state == S.CLOSED
