"""Fixtures for interop tests: `smtpsim serve` subprocesses and TLS material."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from interop_helpers import Serve, TLSFiles, make_tls_files, start_serve


@pytest.fixture(scope="session")
def serve_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Serve]]:
    """Start servers with `serve_factory(*args)`; all are stopped (and checked) at the end."""
    started: list[Serve] = []

    def start(*args: str) -> Serve:
        server = start_serve(tmp_path_factory.mktemp("serve"), *args)
        started.append(server)
        return server

    yield start
    codes = [server.stop() for server in started]
    assert codes == [0] * len(codes), f"smtpsim serve exit codes on SIGTERM: {codes}"


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def plain_server(serve_factory: Callable[..., Serve]) -> Serve:
    """A server without PIPELINING that refuses relaying permanently (554 5.7.1)."""
    return serve_factory(
        "--domain", "example.org", "--no-pipelining", "--relay-denied", "permanent"
    )


ALICE, BOB = "alice@example.org", "bob@example.org"
MAX_SIZE = 100_000


@pytest.fixture(scope="session")
def server(serve_factory: Callable[..., Serve], tls_files: TLSFiles) -> Serve:
    """The main server: users alice and bob of example.org, AUTH, SIZE, STARTTLS."""
    return serve_factory(
        "--domain",
        "example.org",
        "--user",
        ALICE,
        "--user",
        BOB,
        "--auth-user",
        "alice:s3cret",
        "--max-size",
        str(MAX_SIZE),
        "--hostname",
        "mx.example.org",
        "--tls-cert",
        str(tls_files.cert),
        "--tls-key",
        str(tls_files.key),
    )
