"""Helpers for interop tests: `smtpsim serve` as a real subprocess, TLS material, and
scripted (hostile) servers for `smtpsim send`.

Each server listens on 127.0.0.1 with port 0; its first stdout line names the port.
Its stdout goes to a file (never a pipe that nobody drains), so tests can read the
log lines too. At the end every server gets SIGTERM and must exit 0 in time.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import trustme

STARTUP_TIMEOUT = 15.0


@dataclass
class Serve:
    """A running `smtpsim serve`."""

    proc: subprocess.Popen[bytes]
    host: str
    port: int
    maildir: Path
    stdout: Path

    def log(self) -> str:
        return self.stdout.read_text()

    def stored(self) -> list[Path]:
        return sorted(self.maildir.glob("*.eml"))

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise


def start_serve(directory: Path, *args: str) -> Serve:
    """Start `python -m smtpsim serve --listen 127.0.0.1:0 --maildir DIR ARGS...`."""
    maildir = directory / "maildir"
    stdout = directory / "stdout.txt"
    stderr = directory / "stderr.txt"
    command = [
        sys.executable,
        "-m",
        "smtpsim",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--maildir",
        str(maildir),
        *args,
    ]
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        proc = subprocess.Popen(command, stdout=out, stderr=err, env=_env())
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        first = stdout.read_text().split("\n", 1)
        if len(first) == 2:  # a complete first line
            prefix = "smtpsim serve: listening on "
            assert first[0].startswith(prefix), first[0]
            host, _, port = first[0][len(prefix) :].rpartition(":")
            return Serve(proc, host, int(port), maildir, stdout)
        if proc.poll() is not None:
            raise AssertionError(f"smtpsim serve exited: {stderr.read_text()}")
        time.sleep(0.02)
    proc.kill()
    raise AssertionError("smtpsim serve did not report its port in time")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass(frozen=True)
class TLSFiles:
    ca: Path  # PEM of the CA that signed the server certificate
    cert: Path
    key: Path


def make_tls_files(directory: Path) -> TLSFiles:
    """A throwaway CA and a certificate for localhost and 127.0.0.1 (trustme)."""
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    files = TLSFiles(directory / "ca.pem", directory / "cert.pem", directory / "key.pem")
    ca.cert_pem.write_to_path(str(files.ca))
    cert.private_key_pem.write_to_path(str(files.key))
    for i, pem in enumerate(cert.cert_chain_pems):
        pem.write_to_path(str(files.cert), append=i > 0)
    return files


# --- scripted hostile servers --------------------------------------------------------------

Script = Callable[[socket.socket, BinaryIO], None]
"""Plays one server's side: write with ``sock.sendall``, read lines with ``reader``."""


@contextlib.contextmanager
def scripted_server(script: Script) -> Iterator[int]:
    """A one-connection server on 127.0.0.1 that plays ``script``; yields its port.

    After the script the server waits (at most ``SCRIPT_LINGER`` s) for the client to
    close, so that what the client does on its own is what the test sees; it never
    outlives the ``with`` block.
    """
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(STARTUP_TIMEOUT)
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        try:
            sock, _ = listener.accept()
        except OSError:
            return
        with sock, sock.makefile("rb") as reader:
            sock.settimeout(SCRIPT_LINGER)
            try:
                script(sock, reader)
                while not stop.is_set() and sock.recv(65536):
                    pass
            except OSError:  # the client went away, or the linger time is over
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        listener.close()
        thread.join(SCRIPT_LINGER + 1)


SCRIPT_LINGER = 10.0
