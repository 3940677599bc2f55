"""Storing accepted messages as files: ``DIR/<QUEUEID>.eml``, one file per message.

This is the ``Store`` of ``smtpsim serve --maildir DIR``: a place where a test or a
person can look at what the server accepted. Each file is the message as received
(CRLF line ends, dot-stuffing undone) with two header lines put in front, as a local
delivery agent does: ``Return-Path: <sender>`` and ``X-Envelope-To:`` with the
accepted recipients, since the envelope is otherwise lost once the message is stored.

It is not a Maildir++ tree (no ``tmp/new/cur``): one flat directory is what the
tools and tests need. A file is written under a temporary name and renamed, so a
reader never sees half a message, and an existing file is never overwritten.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..mail import Client, Envelope
from ..protocol import Message

__all__ = ["MaildirWriter"]

_QUEUE_FILE = re.compile(r"^([0-9A-F]{10})\.eml$")


class MaildirWriter:
    """A ``Store`` that writes each message once as ``directory/<QUEUEID>.eml``."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def path_of(self, queue_id: str) -> Path:
        return self.directory / f"{queue_id}.eml"

    def next_queue_number(self) -> int:
        """One more than the highest queue id already stored here (1 if none).

        A server that reuses a directory starts its ``QueueIds`` here, so that a new
        run never collides with the files of an earlier one.
        """
        highest = 0
        for entry in self.directory.iterdir():
            m = _QUEUE_FILE.match(entry.name)
            if m is not None:
                highest = max(highest, int(m.group(1), 16))
        return highest + 1

    def __call__(self, queue_id: str, envelope: Envelope, message: Message, client: Client) -> None:
        final = self.path_of(queue_id)
        if final.exists():
            raise FileExistsError(f"{final} exists: queue ids must be unique")
        head = (
            f"Return-Path: <{_one_line(envelope.sender)}>\r\n"
            f"X-Envelope-To: {', '.join(f'<{_one_line(r)}>' for r in envelope.recipients)}\r\n"
        ).encode("utf-8", "surrogateescape")
        temporary = self.directory / f".{queue_id}.eml.tmp"
        # Blocking file I/O in the event loop: messages are small and this is a test
        # server; a thread hop per message would buy nothing measurable.
        with open(temporary, "xb") as f:
            f.write(head)
            f.write(message.content or b"")
        os.replace(temporary, final)


def _one_line(text: str) -> str:
    """No CR or LF inside a header line, whatever an address contained."""
    return text.replace("\r", "").replace("\n", "")
