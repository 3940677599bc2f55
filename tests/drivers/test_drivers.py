"""The asyncio drivers in-process: what only real sockets and clocks can show.

Timers (the server's idle timeout, the client's reply timeouts), the connection
limit, TLS edge cases (plaintext injected after STARTTLS in either direction, a
failed handshake), store failures, queue ids and the maildir writer.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import trustme

from smtpsim.drivers import (
    ConnectError,
    MaildirWriter,
    QueueIds,
    SendError,
    SMTPServer,
    send_message,
)
from smtpsim.drivers.tls import client_context
from smtpsim.mail import Client, Envelope, LocalRecipients, parse_injection
from smtpsim.protocol import ClientTimeouts, Message, ServerConfig

SHORT = ClientTimeouts(
    connect=2,
    helo=0.3,
    mail=2,
    rcpt=2,
    data_init=2,
    data_xfer=2,
    data_done=2,
    quit=2,
    rset=2,
    starttls=2,
    other=2,
)
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def run(coro: Awaitable[object]) -> object:
    return asyncio.run(asyncio.wait_for(coro, 10))  # type: ignore[arg-type]


async def open_raw(server: SMTPServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = server.address
    return await asyncio.open_connection(host, port)


async def read_reply(reader: asyncio.StreamReader) -> list[bytes]:
    """All lines of one reply."""
    lines = []
    while True:
        line = await reader.readline()
        assert line, "connection closed"
        lines.append(line.rstrip(b"\r\n"))
        if line[3:4] != b"-":
            return lines


async def with_fake_server(handler: Handler, body: Callable[[int], Awaitable[object]]) -> object:
    """Run ``body(port)`` against a hand-written server on 127.0.0.1."""
    fake = await asyncio.start_server(handler, "127.0.0.1", 0)
    try:
        return await body(fake.sockets[0].getsockname()[1])
    finally:
        fake.close()


def send_to(port: int, **kwargs: object) -> Awaitable[object]:
    options: dict[str, object] = dict(
        helo="client.example",
        sender="a@example.net",
        recipients=["b@example.org"],
        message=b"Subject: t\r\n\r\nhi\r\n",
        timeouts=SHORT,
    )
    options.update(kwargs)
    return send_message("127.0.0.1", port, **options)  # type: ignore[arg-type]


# --- server -------------------------------------------------------------------------------


def test_idle_client_gets_421_442_and_is_disconnected() -> None:
    async def main() -> None:
        lines: list[str] = []
        async with SMTPServer(
            ServerConfig(hostname="mx.test", idle_timeout=0.2), log=lines.append
        ) as server:
            reader, writer = await open_raw(server)
            assert (await read_reply(reader))[0].startswith(b"220 mx.test")
            writer.write(b"EHLO c.test\r\n")
            await read_reply(reader)
            assert await read_reply(reader) == [b"421 4.4.2 mx.test Error: timeout exceeded"]
            assert await reader.read() == b""
            writer.close()
        assert "timeout after EHLO from unknown[127.0.0.1]" in lines

    run(main())


def test_connections_over_the_limit_get_421_and_are_closed() -> None:
    async def main() -> None:
        async with SMTPServer(
            ServerConfig(hostname="mx.test"), max_connections=1, log=lambda line: None
        ) as server:
            first_reader, first = await open_raw(server)
            assert (await read_reply(first_reader))[0].startswith(b"220 ")
            second_reader, second = await open_raw(server)
            reply = await read_reply(second_reader)
            assert reply == [b"421 4.3.2 Service not available, closing transmission channel"]
            assert await second_reader.read() == b""
            first.write(b"QUIT\r\n")
            assert await read_reply(first_reader) == [b"221 2.0.0 Bye"]
            assert await first_reader.read() == b""
            second.close()
            first.close()
            for _ in range(100):  # the slot frees once the first session has ended
                if server.connections == 0:
                    break
                await asyncio.sleep(0.01)
            third_reader, third = await open_raw(server)
            assert (await read_reply(third_reader))[0].startswith(b"220 ")
            third.close()

    run(main())


def test_a_failing_store_gets_451_430_and_the_session_goes_on() -> None:
    def broken_store(queue_id: str, envelope: Envelope, message: Message, client: Client) -> None:
        raise OSError(28, "No space left on device")

    async def main() -> None:
        lines: list[str] = []
        async with SMTPServer(ServerConfig(), store=broken_store, log=lines.append) as server:
            port = server.address[1]
            result = await send_to(port)
            assert str(result.reply_for("b@example.org")) == (  # type: ignore[attr-defined]
                "451 4.3.0 Error: queue file write error"
            )
            assert any("No space left on device" in line for line in lines)

    run(main())


def test_an_injected_421_at_connect_closes_the_session_for_every_recipient() -> None:
    async def main() -> None:
        injection = parse_injection("connect:421 4.7.0 Try again later")
        async with SMTPServer(
            ServerConfig(), policies=[injection], log=lambda line: None
        ) as server:
            result = await send_to(server.address[1], recipients=["x@example.org", "y@example.org"])
            replies = [str(reply) for _, reply in result.replies]  # type: ignore[attr-defined]
            assert replies == ["421 4.7.0 Try again later"] * 2

    run(main())


def test_a_sender_with_raw_8bit_bytes_is_stored_as_sent_and_logged_printably(
    tmp_path: Path,
) -> None:
    async def main() -> list[str]:
        lines: list[str] = []
        async with SMTPServer(
            ServerConfig(), store=MaildirWriter(tmp_path), log=lines.append
        ) as server:
            reader, writer = await open_raw(server)
            await read_reply(reader)
            writer.write(
                b'HELO c.test\r\nMAIL FROM:<"\xc3\xa9"@example.net>\r\n'
                b"RCPT TO:<b@example.org>\r\nDATA\r\n"
            )
            for _ in range(4):
                await read_reply(reader)
            writer.write(b"Subject: x\r\n\r\nhi\r\n.\r\n")
            assert await read_reply(reader) == [b"250 2.0.0 Ok: queued as 0000000001"]
            writer.close()
        return lines

    lines = run(main())
    # read as UTF-8 since RFC 6531 support: the two octets are one character
    assert '0000000001: from=<"\\xe9"@example.net>, to=<b@example.org>' in lines[0]
    stored = (tmp_path / "0000000001.eml").read_bytes()
    assert stored.startswith(b'Return-Path: <"\xc3\xa9"@example.net>\r\n')


@pytest.fixture(scope="module")
def tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context trusting it) for 127.0.0.1."""
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return server_context, client


def test_starttls_is_offered_only_with_a_certificate(tls) -> None:
    server_context, _ = tls
    with_tls = SMTPServer(ServerConfig(starttls=False), ssl_context=server_context)
    without = SMTPServer(ServerConfig(starttls=True))
    assert with_tls.config.starttls and not without.config.starttls


def test_commands_pipelined_after_starttls_in_the_clear_are_discarded(tls) -> None:
    server_context, client_context_ = tls

    async def main() -> None:
        lines: list[str] = []
        async with SMTPServer(
            ServerConfig(hostname="mx.test"), ssl_context=server_context, log=lines.append
        ) as server:
            reader, writer = await open_raw(server)
            await read_reply(reader)
            writer.write(b"EHLO c.test\r\n")
            assert b"250-STARTTLS" in await read_reply(reader)
            # The attack of CVE-2011-0411: a command injected after STARTTLS.
            writer.write(b"STARTTLS\r\nHELP\r\n")
            assert await read_reply(reader) == [b"220 2.0.0 Ready to start TLS"]
            await writer.start_tls(client_context_, server_hostname="127.0.0.1")
            writer.write(b"NOOP\r\n")
            # The first reply over TLS answers NOOP (250), not HELP (214): the
            # command sent in the clear was never executed.
            assert await read_reply(reader) == [b"250 2.0.0 Ok"]
            writer.write(b"EHLO c.test\r\n")
            ehlo = await read_reply(reader)
            assert b"250-STARTTLS" not in ehlo and b"250 STARTTLS" not in ehlo
            writer.write(b"QUIT\r\n")
            assert await read_reply(reader) == [b"221 2.0.0 Bye"]
            writer.close()

    run(main())


def test_client_and_server_deliver_over_starttls(tls, tmp_path: Path) -> None:
    server_context, client_context_ = tls

    async def main() -> None:
        store = MaildirWriter(tmp_path)
        async with SMTPServer(
            ServerConfig(), ssl_context=server_context, store=store, log=lambda line: None
        ) as server:
            lines: list[str] = []
            result = await send_to(
                server.address[1],
                starttls="require",
                ssl_context=client_context_,
                transcript=lines.append,
            )
            assert result.delivered == ("b@example.org",)  # type: ignore[attr-defined]
            assert any(line.startswith("-- TLS established: TLS") for line in lines)
            ehlos = [i for i, line in enumerate(lines) if line.startswith("C: EHLO")]
            assert len(ehlos) == 2  # EHLO again after the handshake (RFC 3207)
        assert [p.name for p in tmp_path.glob("*.eml")] == ["0000000001.eml"]

    run(main())


# --- client -------------------------------------------------------------------------------


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read()  # never greets


async def greets_then_closes(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"220 fake ESMTP\r\n")
    await reader.readline()
    writer.close()


async def injects_after_starttls(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    writer.write(b"220 fake ESMTP\r\n")
    await reader.readline()
    writer.write(b"250-fake\r\n250 STARTTLS\r\n")
    await reader.readline()
    writer.write(b"220 Go ahead\r\n250 injected\r\n")  # a reply smuggled before TLS
    await reader.read()


async def not_smtp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    await reader.read()


def test_client_reply_timeout_gives_a_451_442_outcome() -> None:
    result = run(with_fake_server(silent, lambda port: send_to(port)))
    reply = result.reply_for("b@example.org")  # type: ignore[attr-defined]
    assert (reply.code, reply.enhanced) == (451, "4.4.2")
    assert reply.text == "conversation timed out while receiving the initial server greeting"


def test_client_lost_connection_gives_a_451_442_outcome() -> None:
    result = run(with_fake_server(greets_then_closes, lambda port: send_to(port)))
    reply = result.reply_for("b@example.org")  # type: ignore[attr-defined]
    assert str(reply) == "451 4.4.2 lost connection while performing the EHLO handshake"


def test_client_refuses_data_smuggled_after_the_reply_to_starttls() -> None:
    result = run(
        with_fake_server(injects_after_starttls, lambda port: send_to(port, starttls="require"))
    )
    reply = result.reply_for("b@example.org")  # type: ignore[attr-defined]
    assert str(reply) == (
        "451 4.5.0 Protocol error: host 127.0.0.1[127.0.0.1] sent data after its reply to STARTTLS"
    )
    assert result.error == str(reply)  # type: ignore[attr-defined]


def test_client_defers_for_a_peer_that_is_not_smtp() -> None:
    result = run(with_fake_server(not_smtp, lambda port: send_to(port)))
    reply = result.reply_for("b@example.org")  # type: ignore[attr-defined]
    assert str(reply) == (
        "451 4.5.0 Protocol error: host 127.0.0.1[127.0.0.1] sent a malformed reply line: "
        "'HTTP/1.1 400 Bad Request' while receiving the initial server greeting"
    )
    assert result.delivered == ()  # type: ignore[attr-defined]


async def data_gets_250(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accepts the envelope, then answers DATA with 250 instead of 354."""
    writer.write(b"220 fake ESMTP\r\n")
    await reader.readline()
    writer.write(b"250-fake\r\n250 PIPELINING\r\n")
    for _ in range(3):  # MAIL, RCPT, DATA
        await reader.readline()
    writer.write(b"250 2.1.0 ok\r\n250 2.1.5 ok\r\n250 2.0.0 queued as FAKE\r\n")
    await reader.read()


def test_client_does_not_report_a_delivery_for_a_250_to_data() -> None:
    lines: list[str] = []
    result = run(
        with_fake_server(data_gets_250, lambda port: send_to(port, transcript=lines.append))
    )
    assert result.delivered == ()  # type: ignore[attr-defined]
    assert str(result.reply_for("b@example.org")) == (  # type: ignore[attr-defined]
        "451 4.5.0 Protocol error: host 127.0.0.1[127.0.0.1] said: 250 2.0.0 queued as FAKE "
        "(in reply to DATA command)"
    )
    assert not any(line.startswith("C: <message") for line in lines)  # no content sent
    assert "C: QUIT" not in lines  # the connection is broken: closed without QUIT


async def endless_line(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"220 fake ESMTP\r\n")
    await reader.readline()
    for _ in range(20):  # 20 KiB of a reply line that never ends, then silence
        writer.write(b"250-" + b"x" * 1024)
        await writer.drain()
    await reader.read()


def test_client_gives_up_on_an_endless_reply_line() -> None:
    """Beyond the core's reply-line bound the line is refused as it is, without
    waiting for the rest (or for a timeout: the reply is not a 4.4.2 one)."""
    result = run(with_fake_server(endless_line, lambda port: send_to(port)))
    assert str(result.reply_for("b@example.org")) == (  # type: ignore[attr-defined]
        "451 4.5.0 Protocol error: host 127.0.0.1[127.0.0.1] sent a reply line longer than "
        "4096 octets (in reply to EHLO command)"
    )


def test_client_tls_verification_failure_is_a_send_error(tls) -> None:
    server_context, _ = tls

    async def main() -> None:
        async with SMTPServer(
            ServerConfig(), ssl_context=server_context, log=lambda line: None
        ) as server:
            await send_to(
                server.address[1], starttls="require", ssl_context=client_context()
            )  # system store: not trusted

    failed = r"TLS handshake with 127\.0\.0\.1:\d+ failed: .*CERTIFICATE"
    with pytest.raises(SendError, match=failed):
        run(main())


def test_connect_errors_are_one_line_connect_errors() -> None:
    async def main() -> None:
        fake = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = fake.sockets[0].getsockname()[1]
        fake.close()
        await fake.wait_closed()
        await send_to(port)

    with pytest.raises(ConnectError, match=r"^connect to 127\.0\.0\.1:\d+: Connection refused$"):
        run(main())


# --- queue ids and the maildir ------------------------------------------------------------


def test_queue_ids_are_ten_upper_case_hex_digits_from_a_counter() -> None:
    ids = QueueIds(0xABC)
    assert [ids(), ids()] == ["0000000ABC", "0000000ABD"]
    assert all(re.fullmatch(r"[0-9A-F]{10}", QueueIds()()) for _ in range(3))


def test_maildir_writes_each_message_once_with_envelope_headers(tmp_path: Path) -> None:
    store = MaildirWriter(tmp_path / "md")
    assert store.next_queue_number() == 1
    envelope = Envelope("a@example.net", ("b@example.org", "c@example.org"), 9)
    store("00000000FF", envelope, Message.of(b"Hi: x\r\n\r\nyo\r\n"), Client("192.0.2.1"))
    path = tmp_path / "md" / "00000000FF.eml"
    assert path.read_bytes() == (
        b"Return-Path: <a@example.net>\r\n"
        b"X-Envelope-To: <b@example.org>, <c@example.org>\r\n"
        b"Hi: x\r\n\r\nyo\r\n"
    )
    assert store.next_queue_number() == 0x100  # a new run continues after the files here
    with pytest.raises(FileExistsError):
        store("00000000FF", envelope, Message.of(b"other\r\n"), Client("192.0.2.1"))
    assert path.read_bytes().endswith(b"yo\r\n")  # not overwritten
    assert [p.name for p in (tmp_path / "md").iterdir()] == ["00000000FF.eml"]


def test_server_with_local_recipients_stores_only_accepted_ones(tmp_path: Path) -> None:
    async def main() -> None:
        lines: list[str] = []
        store = MaildirWriter(tmp_path)
        policies = [LocalRecipients(["example.org"], ["b@example.org"])]
        async with SMTPServer(
            ServerConfig(),
            policies=policies,
            store=store,
            queue_ids=QueueIds(store.next_queue_number()),
            log=lines.append,
        ) as server:
            for _ in range(2):
                result = await send_to(
                    server.address[1], recipients=["b@example.org", "z@example.org"]
                )
                assert result.delivered == ("b@example.org",)  # type: ignore[attr-defined]
        assert sorted(p.name for p in tmp_path.glob("*.eml")) == [
            "0000000001.eml",
            "0000000002.eml",
        ]
        accepted = [line for line in lines if re.match(r"[0-9A-F]{10}: ", line)]
        assert accepted[0].startswith("0000000001: from=<a@example.net>, to=<b@example.org>,")

    run(main())
