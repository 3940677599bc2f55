"""What every subcommand shares: the parser class, argument types, error output.

The rule for errors: one line on stderr, ``smtpsim CMD: error: ...``, never a
traceback; exit status 2 for a bad command line (unknown flag, malformed value,
unreadable file named on the command line), 1 for a failure while running (a server
that cannot be reached, a port that cannot be bound).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypeAlias

from ..protocol.syntax import parse_address

if TYPE_CHECKING:
    from ..metrics.result import RunResult
    from ..metrics.run_dir import RunInfo

__all__ = [
    "EXIT_FAILURE",
    "EXIT_USAGE",
    "CliParser",
    "Subparsers",
    "address",
    "default_out",
    "fail",
    "host_port",
    "non_negative_int",
    "seed",
    "sender_address",
    "user_pass",
]

EXIT_FAILURE = 1
EXIT_USAGE = 2

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*\.?$")


class CliParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line that points to ``--help``,
    instead of the usage text followed by the error."""

    def error(self, message: str) -> NoReturn:
        message = " ".join(message.split())  # always one line
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# What ``add_subparsers`` of a ``CliParser`` returns: each subcommand's ``add_parser``
# adds its own parser to it.
Subparsers: TypeAlias = "argparse._SubParsersAction[CliParser]"


def fail(prog: str, message: str, status: int = EXIT_FAILURE) -> int:
    """Report a runtime failure on one line of stderr; returns the exit status."""
    print(f"{prog}: error: {' '.join(message.split())}", file=sys.stderr)
    return status


# --- argument types: each raises ArgumentTypeError, which argparse reports as a usage error


def host_port(text: str, default_port: int | None = None) -> tuple[str, int]:
    """``HOST:PORT``, ``[IPV6]:PORT``, or ``HOST`` when there is a ``default_port``."""
    if text.startswith("["):
        host, sep, port_text = text[1:].partition("]")
        if not sep or (port_text and not port_text.startswith(":")):
            raise argparse.ArgumentTypeError(f"expected [IPV6]:PORT, got {text!r}")
        port_text = port_text[1:]
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    elif ":" in text:
        raise argparse.ArgumentTypeError(f"write an IPv6 address in brackets: [{text}]:PORT")
    else:
        host, port_text = text, ""
    if not host:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    if not port_text:
        if default_port is None:
            raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
        return host, default_port
    if not port_text.isdigit() or int(port_text) > 65535:
        raise argparse.ArgumentTypeError(
            f"port must be a number from 0 to 65535, got {port_text!r}"
        )
    return host, int(port_text)


def _printable(text: str) -> None:
    # UTF-8 addresses are taken (RFC 6531: sent under SMTPUTF8); control characters not.
    if not text.isprintable():
        raise argparse.ArgumentTypeError(f"only printable addresses: {text!r}")


def address(text: str) -> str:
    """A mailbox ``local@domain`` (angle brackets allowed)."""
    _printable(text)
    mailbox = parse_address(text.strip(), null_ok=False)
    if not mailbox:
        raise argparse.ArgumentTypeError(f"not a mail address (local@domain): {text!r}")
    return mailbox


def sender_address(text: str) -> str:
    """A mailbox, or ``""`` / ``<>`` for the null sender of bounces."""
    _printable(text)
    mailbox = parse_address(text.strip(), null_ok=True)
    if mailbox is None:
        raise argparse.ArgumentTypeError(f"not a mail address (local@domain or <>): {text!r}")
    return mailbox


def domain(text: str) -> str:
    """A domain name, lower-cased; U-labels too (RFC 6531 section 3.3: the mail of an
    internationalized domain comes under SMTPUTF8, which ``smtpsim serve`` offers)."""
    if text.isascii():
        valid = bool(_HOSTNAME.match(text))
    else:  # the protocol core's grammar for the domain of a UTF-8 address
        valid = "@" not in text and parse_address(f"postmaster@{text}", null_ok=False) is not None
    if not valid or len(text.encode()) > 255:
        raise argparse.ArgumentTypeError(f"not a domain name: {text!r}")
    return text.lower().rstrip(".")


def hostname(text: str) -> str:
    """A host name as used in HELO and greetings."""
    if not _HOSTNAME.match(text) or len(text) > 255:
        raise argparse.ArgumentTypeError(f"not a host name: {text!r}")
    return text


def user_pass(text: str) -> tuple[str, str]:
    """``USER:PASS``; the password may contain ``:``."""
    user, sep, password = text.partition(":")
    if not sep or not user:
        raise argparse.ArgumentTypeError(f"expected USER:PASS, got {text!r}")
    return user, password


def non_negative_int(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return int(text)


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return int(text)


def seed(text: str) -> int:
    """A random seed: a whole number from 0 to 2**64 - 1 (``scenario.bounds.MAX_SEED``)."""
    from ..scenario.bounds import MAX_SEED

    digits = text.strip()
    if not (digits.isascii() and digits.isdigit()) or int(digits) > MAX_SEED:
        raise argparse.ArgumentTypeError(
            f"expected a seed, a whole number from 0 to {MAX_SEED}, got {text!r}"
        )
    return int(text)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}")
    return value


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def default_out(name: str) -> Path:
    """``results/<name>``, where ``name`` (from a scenario's ``name``, which any text
    may be) is made one safe path segment: characters other than letters, digits,
    ``.``, ``_`` and ``-`` become ``_``, and leading dots go, so that
    ``name: "../../escaped"`` or ``name: /etc`` never writes outside ``./results``."""
    segment = _UNSAFE.sub("_", name).lstrip(".") or "run"
    return Path("results") / segment


def read_results(directory: Path, prog: str) -> tuple[RunResult, RunInfo] | int:
    """The ``RunResult`` in ``directory`` and the ``RunInfo`` saying which run it is;
    or the exit status of a failure reported on one line (a directory that is not one
    complete run: ``smtpsim.metrics.run_dir``). A run written without a manifest is
    read after a warning on stderr."""
    from ..metrics.result import RunResult
    from ..metrics.run_dir import RunDirError

    try:
        result = RunResult.read(directory)  # checks the directory first
    except RunDirError as error:
        return fail(prog, str(error), EXIT_USAGE)
    except Exception as error:  # damaged files: pyarrow, pandas and json raise many types
        return fail(
            prog,
            f"cannot read the results in {directory}: {type(error).__name__}: {error}",
            EXIT_USAGE,
        )
    info = result.source
    assert info is not None  # read() always says what it checked
    if info.warning:
        print(f"{prog}: warning: {info.warning}", file=sys.stderr)
    return result, info
