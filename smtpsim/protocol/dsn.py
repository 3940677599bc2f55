"""The DSN extension's parameters (RFC 3461): what a client asks for when it hands a
message over, and how a server checks it.

``MAIL FROM:<s> RET=FULL|HDRS ENVID=xtext`` and ``RCPT TO:<r>
NOTIFY=NEVER|SUCCESS,FAILURE,DELAY ORCPT=addr-type;xtext`` (RFC 3461 section 4).
The checks and their replies are Postfix's (``smtpd.c``, ``mail_cmd`` and
``rcpt_cmd``; ``global/dsn_mask.c``, ``global/xtext.c``):

- a parameter given twice, or a value that does not parse, is ``501 5.5.4`` with
  Postfix's wording per parameter ("Bad RET parameter syntax", "Error: Bad NOTIFY
  parameter syntax", ...);
- a server whose DSN support is off (``smtpd_discard_ehlo_keywords = dsn``) answers
  every DSN parameter with ``501 5.7.1 DSN support is disabled``;
- NOTIFY is ``NEVER`` alone or a comma-separated set of the others, in any case
  (``DSN_NOTIFY_OK``); RET is ``FULL`` or ``HDRS``; ENVID must decode (xtext: ``+``
  and two hex digits) to printable text; ORCPT needs a non-empty address type before
  its ``;`` and a decodable address (Postfix decodes the ``utf-8`` type's unitext too;
  here it is read as xtext, which accepts the same ASCII forms).

The values are kept as frozen objects (``MailDsn``, ``RcptDsn``) that a client
turns back into parameters (``mail_params``, ``rcpt_params``) when, and only when,
the server offered DSN (RFC 3461 section 4.1: a client MUST NOT send them otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass

from .replies import Reply

__all__ = [
    "DSN_DISABLED",
    "NOTIFY_DEFAULT",
    "NOTIFY_WORDS",
    "NO_MAIL_DSN",
    "NO_RCPT_DSN",
    "MailDsn",
    "RcptDsn",
    "check_mail_param",
    "check_rcpt_param",
    "mail_dsn",
    "mail_params",
    "parse_notify",
    "rcpt_dsn",
    "rcpt_params",
    "xtext_decode",
    "xtext_encode",
]

NOTIFY_WORDS = ("SUCCESS", "FAILURE", "DELAY")
"""The NOTIFY conditions other than NEVER, in Postfix's order (``dsn_mask.c``)."""

NOTIFY_DEFAULT = frozenset({"FAILURE", "DELAY"})
"""What Postfix does for a recipient given without NOTIFY (``dsn_mask.h``: the
receiver may choose FAILURE or FAILURE,DELAY, RFC 3461 section 4.1; Postfix takes both)."""

DSN_DISABLED = Reply(501, "5.7.1", "DSN support is disabled")
BAD_RET = Reply(501, "5.5.4", "Bad RET parameter syntax")
BAD_ENVID = Reply(501, "5.5.4", "Bad ENVID parameter syntax")
BAD_NOTIFY = Reply(501, "5.5.4", "Error: Bad NOTIFY parameter syntax")
BAD_ORCPT = Reply(501, "5.5.4", "Error: Bad ORCPT parameter syntax")

_HEX = "0123456789abcdefABCDEF"


def xtext_decode(text: str) -> str | None:
    """The text an xtext stands for, or ``None`` when a ``+`` is not followed by two
    hex digits (RFC 3461 section 4; Postfix ``xtext_unquote`` also takes lower case)."""
    if "+" not in text:
        return text
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "+":
            pair = text[i + 1 : i + 3]
            if len(pair) != 2 or pair[0] not in _HEX or pair[1] not in _HEX:
                return None
            out.append(chr(int(pair, 16)))
            i += 3
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def xtext_encode(text: str) -> str:
    """``text`` as xtext: ``!`` to ``~`` as they are except ``+`` and ``=``, every
    other character as ``+`` and two upper-case hex digits (RFC 3461 section 4).
    Characters above U+00FF cannot be written; they are the caller's bug."""
    out: list[str] = []
    for ch in text:
        code = ord(ch)
        if 0x21 <= code <= 0x7E and ch != "+" and ch != "=":
            out.append(ch)
        elif code <= 0xFF:
            out.append(f"+{code:02X}")
        else:
            raise ValueError(f"cannot write {ch!r} as xtext")
    return "".join(out)


def parse_notify(value: str) -> frozenset[str] | None:
    """The NOTIFY conditions, or ``None`` when the value is not NEVER alone or a set
    of SUCCESS, FAILURE and DELAY (``dsn_notify_mask``). NEVER is the empty set."""
    words = [w.upper() for w in value.replace(",", " ").split()]
    if not words:
        return None
    if words == ["NEVER"]:
        return frozenset()
    if any(w not in NOTIFY_WORDS for w in words):
        return None
    return frozenset(words)


def _printable(text: str) -> bool:
    return all(ch == "\t" or 0x20 <= ord(ch) < 0x7F for ch in text)


@dataclass(frozen=True, slots=True)
class MailDsn:
    """The DSN parameters of a MAIL command: RET (``FULL``, ``HDRS`` or ``None``:
    not given, the notice returns the full message, Postfix's default) and ENVID
    (decoded; ``None``: not given)."""

    ret: str | None = None
    envid: str | None = None

    @property
    def headers_only(self) -> bool:
        """RET=HDRS: a notice returns only the original's headers."""
        return self.ret == "HDRS"


@dataclass(frozen=True, slots=True)
class RcptDsn:
    """The DSN parameters of one RCPT command: NOTIFY (``None`` when not given; the
    empty set for NEVER) and ORCPT as ``(addr-type, address)`` decoded."""

    notify: frozenset[str] | None = None
    orcpt: tuple[str, str] | None = None

    def wants(self, condition: str) -> bool:
        """Whether a notice for ``condition`` (SUCCESS, FAILURE or DELAY) is sent;
        without NOTIFY Postfix's default, FAILURE,DELAY."""
        notify = NOTIFY_DEFAULT if self.notify is None else self.notify
        return condition in notify


NO_MAIL_DSN = MailDsn()
NO_RCPT_DSN = RcptDsn()


def _orcpt(value: str) -> tuple[str, str] | None:
    kind, semi, coded = value.partition(";")
    if not semi or not kind:
        return None
    address = xtext_decode(coded)
    if address is None or "\x00" in address:
        return None
    return kind, address


def check_mail_param(key: str, value: str | None, repeated: bool, enabled: bool) -> Reply | None:
    """The refusal of MAIL parameter RET or ENVID (``key``), or ``None`` when it is
    good; ``repeated``: the command gave it before (Postfix refuses the second one)."""
    if not enabled:
        return DSN_DISABLED
    if key == "RET":
        if repeated or value is None or value.upper() not in ("FULL", "HDRS"):
            return BAD_RET
        return None
    envid = None if value is None else xtext_decode(value)
    if repeated or envid is None or not _printable(envid):
        return BAD_ENVID
    return None


def check_rcpt_param(key: str, value: str | None, repeated: bool, enabled: bool) -> Reply | None:
    """The refusal of RCPT parameter NOTIFY or ORCPT (``key``), or ``None``."""
    if not enabled:
        return DSN_DISABLED
    if key == "NOTIFY":
        if repeated or value is None or parse_notify(value) is None:
            return BAD_NOTIFY
        return None
    if repeated or value is None or _orcpt(value) is None:
        return BAD_ORCPT
    return None


def mail_dsn(params: tuple[tuple[str, str | None], ...]) -> MailDsn:
    """The DSN parameters of checked MAIL ``params`` (others are ignored)."""
    ret = envid = None
    for key, value in params:
        if key == "RET" and value is not None:
            ret = value.upper()
        elif key == "ENVID" and value is not None:
            envid = xtext_decode(value)
    return NO_MAIL_DSN if ret is None and envid is None else MailDsn(ret, envid)


def rcpt_dsn(params: tuple[tuple[str, str | None], ...]) -> RcptDsn:
    """The DSN parameters of checked RCPT ``params``."""
    notify: frozenset[str] | None = None
    orcpt = None
    for key, value in params:
        if key == "NOTIFY" and value is not None:
            notify = parse_notify(value)
        elif key == "ORCPT" and value is not None:
            orcpt = _orcpt(value)
    return NO_RCPT_DSN if notify is None and orcpt is None else RcptDsn(notify, orcpt)


def mail_params(dsn: MailDsn) -> tuple[tuple[str, str | None], ...]:
    """``dsn`` as MAIL parameters, RET before ENVID (as Postfix's SMTP client sends)."""
    out: list[tuple[str, str | None]] = []
    if dsn.ret is not None:
        out.append(("RET", dsn.ret))
    if dsn.envid is not None:
        out.append(("ENVID", xtext_encode(dsn.envid)))
    return tuple(out)


def rcpt_params(dsn: RcptDsn) -> tuple[tuple[str, str | None], ...]:
    """``dsn`` as RCPT parameters, NOTIFY before ORCPT."""
    out: list[tuple[str, str | None]] = []
    if dsn.notify is not None:
        words = [w for w in NOTIFY_WORDS if w in dsn.notify]
        out.append(("NOTIFY", ",".join(words) if words else "NEVER"))
    if dsn.orcpt is not None:
        kind, address = dsn.orcpt
        out.append(("ORCPT", f"{kind};{xtext_encode(address)}"))
    return tuple(out)
