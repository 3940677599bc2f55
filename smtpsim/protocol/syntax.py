"""Lines to events and events to lines: the SMTP grammar (RFC 5321 section 4.1).

Parsing never raises on remote input: a command line either becomes a ``Command`` or a
``CommandError`` carrying the reply the RFC prescribes (500, 501, 502, 555). Writing
raises ``LocalProtocolError`` on values that cannot be sent (our own bug).

Lines are decoded with ``surrogateescape`` so that any byte sequence gives a string
and writes back to the same bytes: replies as ASCII, commands as UTF-8 (RFC 6531
section 3.3: under SMTPUTF8 an address may hold UTF-8; whether it may in a given
transaction is the server's check, ``ServerConnection``).
"""

from __future__ import annotations

import re
import string

from . import replies as R
from .errors import LocalProtocolError, RemoteProtocolError
from .events import (
    Auth,
    AuthResponse,
    Bdat,
    Command,
    CommandError,
    Data,
    Hello,
    Help,
    Mail,
    Message,
    Noop,
    Params,
    Quit,
    Rcpt,
    Rset,
    StartTLS,
    Vrfy,
)
from .replies import Reply

__all__ = [
    "dot_stuff",
    "filler",
    "format_command",
    "format_reply",
    "normalize_newlines",
    "parse_address",
    "parse_command",
    "parse_reply_line",
]

ENCODING = "ascii"
ERRORS = "surrogateescape"

MAX_LOCAL_PART = 64  # RFC 5321 section 4.5.3.1.1
MAX_DOMAIN = 255  # section 4.5.3.1.2
MAX_PATH = 256  # section 4.5.3.1.3

# dot-atom or quoted-string local part; a domain or an address literal (section 4.1.2).
# RFC 6531 section 3.3 adds UTF8-non-ascii to atext, qtext and sub-domains (U-labels):
# any character past ASCII that is not a lone surrogate (bytes that were not UTF-8).
# A quoted local part takes any octet but '"', '\\', CR and LF, as it always did here:
# Postfix too has never refused 8-bit local parts (smtpd.c, mail_cmd).
_LET_DIG = string.ascii_letters + string.digits
_ATEXT_CHARS = _LET_DIG + "!#$%&'*+-/=?^_`{|}~"  # RFC 5322 section 3.2.3


def _with_utf8(ascii_chars: str) -> str:
    """A character class of ``ascii_chars`` and every UTF8-non-ascii character (not a
    lone surrogate), written as what it excludes: the other ASCII characters and the
    surrogates. The same set as ``[...\\u0080-\\ud7ff\\ue000-\\U0010ffff]``, but the
    regular expression compiler turns a large range of the Basic Multilingual Plane
    into a 64 K-entry map, 4 ms each of the 20 classes below: most of the time it
    took to import the protocol package (issue 10)."""
    excluded = "".join(f"\\x{c:02x}" for c in range(128) if chr(c) not in ascii_chars)
    return f"[^{excluded}\\ud800-\\udfff]"


_QUOTED = r'"(?:[^"\\\r\n]|\\.)*"'
_ATEXT = _with_utf8(_ATEXT_CHARS)
_LOCAL = rf"(?:{_ATEXT}+(?:\.{_ATEXT}+)*|{_QUOTED})"
_LABEL = rf"{_with_utf8(_LET_DIG)}(?:{_with_utf8(_LET_DIG + '-')}*{_with_utf8(_LET_DIG)})?"
_DOMAIN = rf"(?:{_LABEL}(?:\.{_LABEL})*\.?|\[[^\[\]\\\s]+\])"
_MAILBOX = re.compile(rf"^({_LOCAL})@({_DOMAIN})$")
# The same without RFC 6531: what a server that does not offer SMTPUTF8 takes.
_ATEXT_ASCII = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LABEL_ASCII = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_MAILBOX_ASCII = re.compile(
    rf"^(?:{_ATEXT_ASCII}+(?:\.{_ATEXT_ASCII}+)*|{_QUOTED})"
    rf"@(?:{_LABEL_ASCII}(?:\.{_LABEL_ASCII})*\.?|\[[^\[\]\\\s]+\])$"
)
_SOURCE_ROUTE = re.compile(rf"^@{_DOMAIN}(?:,@{_DOMAIN})*:")
_PARAM_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")
_PARAM_VALUE = re.compile(r"^[\x21-\x3c\x3e-\x7e]+$")  # esmtp-value, RFC 5321 4.1.2
_PATH_ARG = re.compile(r"^(?P<key>FROM|TO):\s*(?P<path><[^<>]*>|[^\s<>]+)(?P<rest>.*)$", re.I)
_NEWLINES = re.compile(rb"\r\n|\r|\n")
_REPLY_LINE = re.compile(r"^([2-5][0-9][0-9])([ -]|$)(.*)$", re.S)
_ENHANCED_PREFIX = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})(?: |$)")


# --- Addresses and parameters -----------------------------------------------------------


def parse_address(path: str, *, null_ok: bool) -> str | None:
    """The mailbox in a reverse- or forward-path, or ``None`` when it is malformed.

    Accepts ``<local@domain>``, a bare ``local@domain`` (as Postfix does with its
    default ``strict_rfc821_envelopes = no``), ``<>`` where ``null_ok`` (the null
    reverse-path of bounces), ``<postmaster>`` (RFC 5321 section 4.1.1.3), and drops a
    source route (``<@relay:u@d>``, section 4.1.1.3: MUST accept and MAY ignore).
    """
    if path.startswith("<"):
        if not path.endswith(">"):
            return None
        path = path[1:-1]
    if path == "":
        return "" if null_ok else None
    if len(path) > MAX_PATH - 2:
        return None
    route = _SOURCE_ROUTE.match(path)
    if route is not None:
        path = path[route.end() :]
    if not null_ok and path.lower() == "postmaster":
        return path
    m = _MAILBOX.match(path)
    if m is None or len(m.group(1)) > MAX_LOCAL_PART or len(m.group(2)) > MAX_DOMAIN:
        return None
    return path


def ascii_mailbox(mailbox: str) -> bool:
    """Whether ``mailbox`` (from ``parse_address``) is a mailbox without RFC 6531: 8-bit
    octets only inside a quoted local part, as a server without SMTPUTF8 takes them."""
    raw = mailbox.encode("utf-8", ERRORS).decode(ENCODING, ERRORS)
    return mailbox == "postmaster" or _MAILBOX_ASCII.match(raw) is not None


def _parse_params(text: str) -> Params | str:
    """ESMTP parameters ``KEY[=VALUE] ...``; a string names the first bad one."""
    out: list[tuple[str, str | None]] = []
    for word in text.split():
        key, eq, value = word.partition("=")
        if not _PARAM_KEY.match(key) or (eq and not _PARAM_VALUE.match(value)):
            return word
        out.append((key.upper(), value if eq else None))
    return tuple(out)


def _format_params(params: Params) -> str:
    return "".join(f" {k}" if v is None else f" {k}={v}" for k, v in params)


# --- Commands -----------------------------------------------------------------------------


def _path_command(verb: str, arg: str) -> Command | CommandError:
    is_mail = verb == "MAIL"
    syntax = R.SYNTAX_MAIL if is_mail else R.SYNTAX_RCPT
    m = _PATH_ARG.match(arg)
    if m is None or m.group("key").upper() != ("FROM" if is_mail else "TO"):
        return CommandError(verb, syntax)
    address = parse_address(m.group("path"), null_ok=is_mail)
    if address is None:
        return CommandError(verb, R.BAD_SENDER if is_mail else R.BAD_RECIPIENT)
    rest = m.group("rest")
    if rest and not rest[0].isspace():
        return CommandError(verb, syntax)
    params = _parse_params(rest)
    if isinstance(params, str):
        return CommandError(verb, R.bad_parameter(params))
    if is_mail:
        return Mail(address, params)
    return Rcpt(address, params)


_NO_ARGS: dict[str, Command] = {
    "DATA": Data(),
    "RSET": Rset(),
    "QUIT": Quit(),
    "STARTTLS": StartTLS(),
}
# Known commands smtpsim does not implement: 502, not 500 (RFC 5321 section 4.2.4).
_NOT_IMPLEMENTED = frozenset({"EXPN", "TURN", "ETRN", "SEND", "SOML", "SAML", "ATRN"})
_MAX_CHUNK_DIGITS = 18  # a chunk size that fits in 63 bits (Postfix: off_cvt_string)


def _bdat_command(arg: str) -> Bdat | CommandError:
    """``BDAT count [LAST]`` (RFC 3030 section 2); the chunk itself follows the line
    and is read by the server (``content`` is ``None`` here).

    A malformed BDAT is answered with 521 and the connection closed, as Postfix does
    (smtpd.c, bdat_cmd): the octets that follow cannot be told from commands.
    """
    words = arg.split()
    if (
        not 1 <= len(words) <= 2
        or not words[0].isascii()
        or not words[0].isdigit()
        or len(words[0]) > _MAX_CHUNK_DIGITS
        or (len(words) == 2 and words[1].upper() != "LAST")
    ):
        return CommandError("BDAT", R.BDAT_SYNTAX, closes=True)
    return Bdat(int(words[0]), len(words) == 2)


def parse_command(line: str) -> Command | CommandError:
    """One command line, without its CRLF, to a command or the error reply for it."""
    verb, _, arg = line.partition(" ")
    verb = verb.upper()
    arg = arg.strip(" ")
    if verb in ("MAIL", "RCPT"):
        return _path_command(verb, arg)
    if verb in _NO_ARGS:
        return CommandError(verb, R.SYNTAX_NO_ARGS) if arg else _NO_ARGS[verb]
    if verb in ("EHLO", "HELO"):
        if not arg or " " in arg:
            return CommandError(verb, R.SYNTAX_HELO)
        return Hello(arg, extended=verb == "EHLO")
    if verb == "NOOP":
        return Noop(arg)
    if verb == "VRFY":
        return Vrfy(arg) if arg else CommandError(verb, R.SYNTAX_VRFY)
    if verb == "HELP":
        return Help(arg)
    if verb == "BDAT":
        return _bdat_command(arg)
    if verb == "AUTH":
        mech, _, initial = arg.partition(" ")
        if not mech or " " in initial.strip():
            return CommandError(verb, R.SYNTAX_AUTH)
        return Auth(mech.upper(), initial.strip() or None)
    if verb in _NOT_IMPLEMENTED:
        return CommandError(verb, R.NOT_IMPLEMENTED)
    return CommandError(verb, R.UNKNOWN_COMMAND)


def format_command(command: Command) -> bytes:
    """The command line with its CRLF; for ``Message``, the dot-stuffed content and dot."""
    if isinstance(command, Message):
        return message_bytes(command)
    if isinstance(command, Mail):
        line = f"MAIL FROM:<{command.sender}>{_format_params(command.params)}"
    elif isinstance(command, Rcpt):
        if not command.recipient:
            raise LocalProtocolError("RCPT needs a recipient")
        line = f"RCPT TO:<{command.recipient}>{_format_params(command.params)}"
    elif isinstance(command, Hello):
        line = f"{command.verb} {command.domain}"
    elif isinstance(command, Noop | Help):
        line = f"{command.verb} {command.argument}" if command.argument else command.verb
    elif isinstance(command, Vrfy):
        line = f"VRFY {command.argument}"
    elif isinstance(command, Auth):
        line = f"AUTH {command.mechanism}"
        if command.initial_response is not None:
            line += f" {command.initial_response}"
    elif isinstance(command, AuthResponse):
        line = command.line
    elif isinstance(command, Bdat):
        return bdat_bytes(command)
    else:
        line = command.verb
    if "\r" in line or "\n" in line:
        raise LocalProtocolError(f"line break inside a command: {line!r}")
    # UTF-8 only where RFC 6531 puts it: in the addresses (whether the server agreed
    # to SMTPUTF8 is the session's business, ``ClientSession``)
    if not line.isascii() and not isinstance(command, Mail | Rcpt):
        raise LocalProtocolError(f"non-ASCII command: {line!r}")
    return line.encode("utf-8", ERRORS) + b"\r\n"


# --- Message content -----------------------------------------------------------------------


def normalize_newlines(content: bytes) -> bytes:
    """Bare CR and bare LF become CRLF, and the content ends with CRLF (unless empty).

    RFC 5321 section 2.3.8: CR and LF MUST only occur together as CRLF. Doing this
    before dot-stuffing is what keeps a message from ending early at a receiver that
    accepts bare LF as a line end (the "SMTP smuggling" family of bugs).
    """
    content = _NEWLINES.sub(b"\r\n", content)
    if content and not content.endswith(b"\r\n"):
        content += b"\r\n"
    return content


def dot_stuff(content: bytes) -> bytes:
    """Prefix every line that starts with ``.`` with one more (section 4.5.2)."""
    stuffed = content.replace(b"\r\n.", b"\r\n..")
    return b"." + stuffed if stuffed.startswith(b".") else stuffed


def filler(size: int) -> bytes:
    """``size`` octets of plain text in 78-character lines: the body the simulator's
    wire mode sends when only a message's size is known.

    It is already wire text (CRLF line ends, no line starting with a dot), so exactly
    ``size`` octets arrive; size 1 is the exception, as no one-octet text ends with CRLF.
    """
    line = b"x" * 76 + b"\r\n"
    full, rest = divmod(size, len(line))
    if rest == 1 and full:
        full, rest = full - 1, rest + len(line)  # a 79-octet last line, not a lone CR
    tail = b"" if rest == 0 else (b"x" * (rest - 2) + b"\r\n" if rest >= 2 else b"\r\n"[:rest])
    return line * full + tail


def bdat_bytes(chunk: Bdat) -> bytes:
    """``BDAT size [LAST]``, CRLF, and the chunk's octets as they are (RFC 3030)."""
    content = chunk.content if chunk.content is not None else filler(chunk.size)
    if len(content) != chunk.size:
        raise LocalProtocolError(f"BDAT {chunk.size} with {len(content)} octets")
    line = f"BDAT {chunk.size} LAST\r\n" if chunk.last else f"BDAT {chunk.size}\r\n"
    return line.encode(ENCODING) + content


def message_bytes(message: Message) -> bytes:
    content = message.content if message.content is not None else filler(message.size)
    return dot_stuff(normalize_newlines(content)) + b".\r\n"


# --- Replies ---------------------------------------------------------------------------------


def format_reply(reply: Reply, *, enhanced: bool = True) -> bytes:
    """The reply's lines, ``code-text`` then ``code text`` (section 4.2.1).

    With ``enhanced`` (the server offers ENHANCEDSTATUSCODES, RFC 2034) every line
    carries the enhanced code.
    """
    prefix = f"{reply.enhanced} " if enhanced and reply.enhanced else ""
    lines = reply.text.split("\n")
    last = len(lines) - 1
    out = [
        f"{reply.code}{' ' if i == last else '-'}{prefix}{text}\r\n" for i, text in enumerate(lines)
    ]
    return "".join(out).encode(ENCODING, ERRORS)


def parse_reply_line(line: str) -> tuple[int, bool, str]:
    """``(code, is_last, text)`` of one reply line; raises ``RemoteProtocolError``."""
    m = _REPLY_LINE.match(line)
    if m is None:
        raise RemoteProtocolError(f"malformed reply line: {line[:80]!r}")
    return int(m.group(1)), m.group(2) != "-", m.group(3)


def build_reply(code: int, texts: list[str]) -> Reply:
    """A ``Reply`` from the texts of its lines, taking the enhanced code off each line
    when the first one carries one of the right class (RFC 2034 section 3)."""
    m = _ENHANCED_PREFIX.match(texts[0])
    if m is None or m.group(1) != str(code)[0]:
        return Reply(code, None, "\n".join(texts))
    enhanced = f"{m.group(1)}.{m.group(2)}.{m.group(3)}"
    n = len(enhanced)
    stripped = [t[n + 1 :] if t.startswith(enhanced) else t for t in texts]
    return Reply(code, enhanced, "\n".join(stripped))
