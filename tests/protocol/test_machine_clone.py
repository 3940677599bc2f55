"""``clone`` on the connection machines: the session memo hands out copies of a kept
connection, so a clone must carry every attribute and share no container."""

from __future__ import annotations

from smtpsim.protocol import replies
from smtpsim.protocol.client import ClientConnection
from smtpsim.protocol.events import Hello, Mail
from smtpsim.protocol.server import ServerConfig, ServerConnection


def _attributes(obj: object) -> list[str]:
    names = getattr(type(obj), "__slots__", None) or getattr(type(obj), "__mypyc_attrs__", ())
    return list(names)


def _exchange() -> tuple[ClientConnection, ServerConnection]:
    """Both machines part-way through a session: extensions known, a command pending,
    bytes buffered."""
    client = ClientConnection(now=1.0)
    client.receive_data(b"220 mx.example ESMTP\r\n")
    client.next_event()
    client.send(Hello("client.example"))
    client.receive_data(b"250-mx.example\r\n250 PIPELINING\r\n")
    client.next_event()
    client.send(Mail("a@example.org"))
    client.receive_data(b"250 2.1.0")  # half a reply, buffered
    server = ServerConnection(ServerConfig(), now=1.0)
    server.send(replies.greeting("mx.example"))
    server.receive_data(b"EHLO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@exa")
    server.next_event()
    return client, server


def test_clone_carries_every_attribute_and_shares_no_container() -> None:
    for machine in _exchange():
        twin = machine.clone()  # type: ignore[attr-defined]
        assert type(twin) is type(machine)
        for name in _attributes(machine):
            mine, theirs = getattr(machine, name), getattr(twin, name)
            assert mine == theirs, name
            if isinstance(mine, (dict, list, bytearray)) or type(mine).__name__ == "deque":
                assert mine is not theirs, name
