"""SMTP replies as values, and the catalogue of replies smtpsim's servers give.

A reply is a three-digit code (RFC 5321 section 4.2), an optional enhanced status
code (RFC 3463, advertised by ENHANCEDSTATUSCODES, RFC 2034) and a text. Multi-line
replies keep their lines in ``text`` separated by ``"\\n"``.

The catalogue follows the texts of Postfix's smtpd (``smtpd.c``, ``smtpd_check.c``,
``smtpd_sasl_glue.c``) so that logs and transcripts look like what operators know.
Constant replies are built once, here; replies that name a host or an address are
small functions. Nowhere else in smtpsim are reply texts written out.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["Reply", "enhanced_from_code"]

_ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})$")
# (class digit, enhanced code) pairs already found to fit: a run builds the same few
# pairs over and over (``queued``: 2, "2.0.0"), and a match is the costly part of a
# reply. Only the check is remembered, never a reply, so no state leaks between runs.
_CHECKED: set[tuple[int, str]] = set()


class Reply:
    """One SMTP reply: ``Reply(550, "5.1.1", "<u@d>: Recipient address rejected: ...")``.

    ``enhanced`` is ``None`` for replies that carry no enhanced status code (the
    greeting, 354, 334 challenges and the EHLO capability list).

    A value: read-only attributes, equality and hash by ``(code, enhanced, text)``.
    Written out rather than a frozen dataclass because a simulated server makes one
    for every message it queues (``queued``): mypyc compiles this ``__init__`` into
    direct stores, where a frozen dataclass's runs interpreted and sets each field
    through ``object.__setattr__`` (benchmarks/RESULTS.md, issue 10 route 3).
    """

    __slots__ = ("_extensions", "code", "enhanced", "text")

    def __init__(self, code: int, enhanced: str | None, text: str) -> None:
        if not 200 <= code <= 599:
            raise ValueError(f"reply code must be 200-599, got {code!r}")
        if enhanced is not None and (code // 100, enhanced) not in _CHECKED:
            m = _ENHANCED.match(enhanced)
            if m is None or m.group(1) != str(code)[0]:
                raise ValueError(f"enhanced code {enhanced!r} does not fit reply code {code}")
            _CHECKED.add((code // 100, enhanced))
        self.code: Final = code
        self.enhanced: Final = enhanced
        self.text: Final = text
        # ``ehlo_extensions``, once parsed (not part of the value).
        self._extensions: dict[str, str] | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Reply):
            return NotImplemented
        return (
            self.code == other.code and self.enhanced == other.enhanced and self.text == other.text
        )

    def __hash__(self) -> int:
        return hash((self.code, self.enhanced, self.text))

    def __repr__(self) -> str:
        return f"Reply(code={self.code!r}, enhanced={self.enhanced!r}, text={self.text!r})"

    @property
    def klass(self) -> int:
        """The first digit: 2 positive, 3 intermediate, 4 transient, 5 permanent."""
        return self.code // 100

    @property
    def is_positive(self) -> bool:
        return self.code < 400

    @property
    def is_transient(self) -> bool:
        return 400 <= self.code < 500

    @property
    def is_permanent(self) -> bool:
        return self.code >= 500

    @property
    def lines(self) -> list[str]:
        return self.text.split("\n")

    def ehlo_extensions(self) -> dict[str, str]:
        """The extensions this reply to EHLO lists: keyword (upper case) -> its
        parameters (RFC 5321 section 4.1.1.1: after the first line, one
        ``ehlo-keyword *(SP ehlo-param)`` per line).

        Parsed once per reply value, and the dict is shared: read it, copy it to keep
        it. A simulated server hands every client the same reply object (its
        ``ServerConfig.fixed``), so a run parses each server's list once.
        """
        extensions = self._extensions
        if extensions is None:
            extensions = {}
            for line in self.text.split("\n")[1:]:
                keyword, _, params = line.strip().partition(" ")
                if keyword:
                    extensions[keyword.upper()] = params.strip()
            self._extensions = extensions
        return extensions

    @property
    def dsn(self) -> str:
        """The enhanced status code, or one derived from the basic code's class."""
        return self.enhanced if self.enhanced is not None else f"{self.klass}.0.0"

    def __str__(self) -> str:
        head = f"{self.code} {self.enhanced} " if self.enhanced else f"{self.code} "
        return head + self.text.replace("\n", " / ")

    @classmethod
    def parse(cls, text: str) -> Reply:
        """Parse a one-line reply as written in scenario files: ``"421 4.7.0 Try again later"``.

        Raises ``ValueError`` naming what is wrong, for configuration errors.
        """
        m = re.match(r"^([2-5]\d\d)(?: ([245]\.\d{1,3}\.\d{1,3}))?(?: (.*))?$", text.strip())
        if m is None:
            raise ValueError(f"expected a reply such as '421 4.7.0 Try again later', got {text!r}")
        code, enhanced, rest = int(m.group(1)), m.group(2), m.group(3) or ""
        return cls(code, enhanced, rest)


def enhanced_from_code(code: int) -> str:
    """The class-only enhanced code for a basic code (RFC 3463 section 3.1: X.0.0)."""
    return f"{code // 100}.0.0"


# --- Constant replies (Postfix texts, RFC 5321 section 4.2) -----------------------

OK = Reply(250, "2.0.0", "Ok")
MAIL_OK = Reply(250, "2.1.0", "Ok")
RCPT_OK = Reply(250, "2.1.5", "Ok")
START_DATA = Reply(354, None, "End data with <CR><LF>.<CR><LF>")
BYE = Reply(221, "2.0.0", "Bye")
VRFY_CANNOT = Reply(252, "2.0.0", "Cannot VRFY user, but will accept message and attempt delivery")
HELP = Reply(214, "2.0.0", "See https://www.rfc-editor.org/rfc/rfc5321")

UNKNOWN_COMMAND = Reply(500, "5.5.2", "Error: command not recognized")
NOT_IMPLEMENTED = Reply(502, "5.5.1", "Error: command not implemented")
LINE_TOO_LONG = Reply(500, "5.5.2", "Error: message line too long")
NEED_HELO = Reply(503, "5.5.1", "Error: send HELO/EHLO first")
NESTED_MAIL = Reply(503, "5.5.1", "Error: nested MAIL command")
NEED_MAIL = Reply(503, "5.5.1", "Error: need MAIL command")
NEED_RCPT = Reply(503, "5.5.1", "Error: need RCPT command")
NO_VALID_RCPT = Reply(554, "5.5.1", "Error: no valid recipients")
IN_TRANSACTION = Reply(503, "5.5.1", "Error: MAIL transaction in progress")
REJECTED_SESSION = Reply(503, "5.5.1", "Error: access denied, send QUIT")
SYNTAX_MAIL = Reply(501, "5.5.4", "Syntax: MAIL FROM:<address>")
SYNTAX_RCPT = Reply(501, "5.5.4", "Syntax: RCPT TO:<address>")
SYNTAX_HELO = Reply(501, "5.5.4", "Syntax: EHLO hostname")
SYNTAX_NO_ARGS = Reply(501, "5.5.4", "Syntax error: command takes no arguments")
SYNTAX_AUTH = Reply(501, "5.5.4", "Syntax: AUTH mechanism")
SYNTAX_VRFY = Reply(501, "5.5.4", "Syntax: VRFY address")
BAD_SENDER = Reply(501, "5.1.7", "Bad sender address syntax")
BAD_RECIPIENT = Reply(501, "5.1.3", "Bad recipient address syntax")
BAD_SIZE = Reply(501, "5.5.4", "Bad message size syntax")
SIZE_EXCEEDED = Reply(552, "5.3.4", "Message size exceeds fixed limit")
INSUFFICIENT_STORAGE = Reply(452, "4.3.1", "Insufficient system storage")
QUEUE_WRITE_ERROR = Reply(451, "4.3.0", "Error: queue file write error")
TOO_MANY_RECIPIENTS = Reply(452, "4.5.3", "Error: too many recipients")
# Not a Postfix text (content filters write their own): the spam filter's refusal
# at the end of data, 550 5.7.1 as for other policy refusals of a message.
SPAM_REJECTED = Reply(550, "5.7.1", "Message rejected as spam")

TLS_READY = Reply(220, "2.0.0", "Ready to start TLS")
TLS_NOT_AVAILABLE = Reply(454, "4.7.0", "TLS not available due to local problem")
TLS_ALREADY = Reply(554, "5.5.1", "Error: TLS already active")
TLS_REQUIRED = Reply(530, "5.7.0", "Must issue a STARTTLS command first")

AUTH_OK = Reply(235, "2.7.0", "Authentication successful")
AUTH_FAILED = Reply(535, "5.7.8", "Error: authentication failed: authentication failure")
AUTH_REQUIRED = Reply(530, "5.7.0", "Authentication required")
AUTH_NOT_ENABLED = Reply(503, "5.5.1", "Error: authentication not enabled")
AUTH_ALREADY = Reply(503, "5.5.1", "Error: already authenticated")
AUTH_ABORTED = Reply(501, "5.7.0", "Authentication aborted")
AUTH_BAD_RESPONSE = Reply(501, "5.5.2", "Error: malformed authentication response")
AUTH_UNKNOWN_MECHANISM = Reply(504, "5.5.4", "Unrecognized authentication type")
AUTH_LINE_TOO_LONG = Reply(500, "5.5.6", "Authentication Exchange line is too long")

# CHUNKING (RFC 3030), in Postfix's words (smtpd.c, bdat_cmd and its callers). A
# malformed BDAT or a BDAT to a server that does not offer CHUNKING is answered with
# 521 and the connection closed: the chunk that follows would be read as commands.
BDAT_SYNTAX = Reply(521, "5.5.4", "Syntax: BDAT count [LAST]")
BDAT_NOT_IMPLEMENTED = Reply(521, "5.5.1", "Error: command not implemented")
BDAT_NULL = Reply(551, "5.7.1", "Null BDAT request")
CHUNK_TOO_BIG = Reply(552, "5.3.4", "Chunk exceeds message size limit")
MAIL_AFTER_BDAT = Reply(503, "5.5.1", "Error: MAIL after BDAT")
RCPT_AFTER_BDAT = Reply(503, "5.5.1", "Error: RCPT after BDAT")
DATA_AFTER_BDAT = Reply(503, "5.5.1", "Error: DATA after BDAT")

# SMTPUTF8 (RFC 6531): Postfix smtpd.c with strict_smtputf8 = yes, for a non-ASCII
# address in a transaction whose MAIL did not carry SMTPUTF8.
SMTPUTF8_UNDECLARED = Reply(553, "5.6.7", "Must declare SMTPUTF8 to send unicode address")

SERVICE_UNAVAILABLE = Reply(421, "4.3.2", "Service not available, closing transmission channel")
TRY_AGAIN_LATER = Reply(421, "4.7.0", "Try again later")


# --- Replies that name a host or an address ----------------------------------------


def greeting(hostname: str, banner: str = "ESMTP smtpsim") -> Reply:
    """``220 host ESMTP smtpsim`` (Postfix: ``$myhostname ESMTP $mail_name``)."""
    return Reply(220, None, f"{hostname} {banner}")


def no_service(hostname: str) -> Reply:
    """A 554 greeting: the server will only accept QUIT (RFC 5321 section 3.1)."""
    return Reply(554, "5.3.2", f"{hostname} No SMTP service here")


def command_too_long(hostname: str) -> Reply:
    return Reply(500, "5.5.2", f"{hostname} Error: command too long")


def too_many_errors(hostname: str) -> Reply:
    return Reply(421, "4.7.0", f"{hostname} Error: too many errors")


def too_many_connections(hostname: str, ip: str) -> Reply:
    """Over ``smtpd_client_connection_count_limit`` or ``_rate_limit`` (anvil, smtpd.c)."""
    return Reply(421, "4.7.0", f"{hostname} Error: too many connections from {ip}")


def idle_timeout(hostname: str) -> Reply:
    return Reply(421, "4.4.2", f"{hostname} Error: timeout exceeded")


def ehlo(hostname: str, keywords: tuple[str, ...]) -> Reply:
    """The multi-line EHLO reply: the host name, then one extension keyword per line."""
    return Reply(250, None, "\n".join((hostname, *keywords)))


def helo(hostname: str) -> Reply:
    return Reply(250, None, hostname)


def queued(queue_id: str) -> Reply:
    return Reply(250, "2.0.0", f"Ok: queued as {queue_id}")


def _quote(text: str, limit: int = 100) -> str:
    """Client text quoted in a reply, cut so that the line stays within 512 octets
    (RFC 5321 section 4.5.3.1.5) even when it comes from a 512-octet command."""
    return text if len(text) <= limit else text[:limit] + "..."


def bad_parameter(word: str) -> Reply:
    """A MAIL or RCPT parameter that is not ``KEY[=VALUE]`` (RFC 5321 section 4.1.2)."""
    return Reply(501, "5.5.4", f"Bad parameter syntax: {_quote(word)}")


def unsupported_option(name: str) -> Reply:
    return Reply(555, "5.5.4", f"Unsupported option: {_quote(name)}")


def user_unknown(recipient: str) -> Reply:
    return Reply(
        550,
        "5.1.1",
        f"<{recipient}>: Recipient address rejected: User unknown in local recipient table",
    )


def relay_denied(recipient: str, *, temporary: bool) -> Reply:
    """Relay refused: 454 4.7.1 (``defer_unauth_destination``) or 554 5.7.1."""
    text = f"<{recipient}>: Relay access denied"
    return Reply(454, "4.7.1", text) if temporary else Reply(554, "5.7.1", text)


def too_much_mail(ip: str) -> Reply:
    """MAIL over ``smtpd_client_message_rate_limit`` (smtpd.c)."""
    return Reply(450, "4.7.1", f"Error: too much mail from {ip}")


def too_many_auth(ip: str) -> Reply:
    """AUTH over ``smtpd_client_auth_rate_limit`` (smtpd.c, smtpd_sasl_auth_cmd_wrapper)."""
    return Reply(450, "4.7.1", f"Error: too many AUTH commands from {ip}")


def too_many_recipients_from(ip: str) -> Reply:
    """RCPT over ``smtpd_client_recipient_rate_limit`` (smtpd.c)."""
    return Reply(450, "4.7.1", f"Error: too many recipients from {ip}")


def dnsbl_blocked(ip: str, zone: str, reason: str = "") -> Reply:
    """Postfix's ``default_rbl_reply`` with ``maps_rbl_reject_code = 554``
    (RFC 5782): ``; REASON`` (the zone's TXT record) only when there is one."""
    text = f"Service unavailable; Client host [{ip}] blocked using {zone}"
    return Reply(554, "5.7.1", f"{text}; {reason}" if reason else text)


def greylisted(recipient: str) -> Reply:
    """postgrey's default ``--greylist-text`` with its 4.2.0 code, as Postfix's
    ``DEFER_IF_PERMIT`` sends it (postgrey 1.37); ``%r`` is the recipient's domain."""
    domain = recipient.rpartition("@")[2]
    return Reply(
        450,
        "4.2.0",
        f"<{recipient}>: Recipient address rejected: Greylisted, "
        f"see http://postgrey.schweikert.ch/help/{domain}.html",
    )


def mailbox_full(recipient: str, *, temporary: bool = True) -> Reply:
    """452 4.2.2 (RFC 3463: mailbox full is a persistent transient failure) or 552 5.2.2."""
    text = f"<{recipient}>: Recipient address rejected: Mailbox full"
    return Reply(452, "4.2.2", text) if temporary else Reply(552, "5.2.2", text)


def spf_fail(sender: str) -> Reply:
    """SPF ``fail`` refused at RCPT (RFC 7208 section 8.4: 550 5.7.1)."""
    return Reply(550, "5.7.1", f"<{sender}>: Sender address rejected: SPF fail")


def dmarc_rejected(domain: str) -> Reply:
    """DMARC ``p=reject`` at the end of data (DMARCbis' example text, RFC 7208, RFC 7489)."""
    return Reply(550, "5.7.1", f"Email rejected per DMARC policy for {domain}")


def dmarc_temperror(domain: str) -> Reply:
    """DMARC could not be decided for a DNS failure: a 4xx, as DMARCbis advises,
    with RFC 7208's code for a temporary DNS error (451 4.4.3, section 8.6)."""
    return Reply(451, "4.4.3", f"Temporary DNS failure evaluating DMARC policy for {domain}")


def chunk_ok(size: int) -> Reply:
    """The reply to a BDAT chunk that is not the last (Postfix smtpd.c, bdat_cmd)."""
    return Reply(250, "2.0.0", f"Ok: {size} bytes")


def chunks_queued(size: int, queue_id: str | None = None) -> Reply:
    """The reply to BDAT LAST that took the message (Postfix smtpd.c,
    common_post_message_handling: "Ok: N bytes queued as ID"); without a queue id, the
    protocol's own reply (no store behind the connection)."""
    where = f" as {queue_id}" if queue_id is not None else ""
    return Reply(250, "2.0.0", f"Ok: {size} bytes queued{where}")


def chunk_discarded(size: int) -> Reply:
    """The reply to each BDAT after a chunk of the transaction failed, until BDAT LAST
    or RSET (Postfix smtpd.c, bdat_cmd: it reads and discards the chunk to stay in step
    with a pipelining client, RFC 3030 section 2)."""
    return Reply(551, "5.0.0", f"Discarded {size} bytes after earlier error")


def auth_challenge(challenge_b64: str) -> Reply:
    """A SASL challenge (RFC 4954 section 4): ``334`` and base64 text, possibly empty."""
    return Reply(334, None, challenge_b64)


# --- What a client records when the server broke the protocol ---------------------------

# Postfix's words for the command a reply answered (smtp_proto.c, xfer_request[]).
_IN_REPLY_TO = {
    "MAIL": "MAIL FROM",
    "RCPT": "RCPT TO",
    "DATA": "DATA",
    ".": "end of DATA",
    "BDAT": "BDAT",
    "BDAT-LAST": "BDAT",
    "AUTH-RESPONSE": "AUTH",
}
# Replies to these are the handshake: Postfix says "refused to talk to me" (smtp_proto.c).
_HANDSHAKE = frozenset({"GREETING", "EHLO", "HELO"})


def protocol_error(server: str, verb: str | None, reply: Reply | None, detail: str) -> Reply:
    """The deferral a client records when ``server`` broke the protocol.

    ``server`` names the peer as Postfix does (``mx.example[192.0.2.1]``); ``verb`` is
    the command whose reply was awaited (``"GREETING"``), ``reply`` the impossible
    reply when there was one, ``detail`` what was wrong otherwise ("sent a malformed
    reply line: ..."). The text is Postfix's (``smtp_trouble.c``: "Protocol error: "
    before "host X said: R (in reply to C command)").

    The code is smtpsim's decision, not Postfix's: Postfix turns a reply whose class
    is neither 4 nor 5 into ``5.5.0`` and bounces (``vsmtp_fill_dsn``), while smtpsim
    defers with ``451 4.5.0``. A server that gives impossible replies is broken, not
    refusing the mail; RFC 5321 section 3.8 has a client act as if it got a 451 when a
    session breaks down, and section 4.2.5 leaves the client responsible for the
    message until a 2xx follows the content, so the message stays queued and is tried
    again (at the next MX first) rather than returned to its sender.
    """
    if reply is not None and verb in _HANDSHAKE:
        text = f"host {server} refused to talk to me: {reply}"
    elif reply is not None:
        text = f"host {server} said: {reply}"
    else:
        text = f"host {server} {detail}"
    if verb == "GREETING":
        if reply is None:
            text += " while receiving the initial server greeting"
    elif verb is not None and (reply is None or verb not in _HANDSHAKE):
        text += f" (in reply to {_IN_REPLY_TO.get(verb, verb)} command)"
    return Reply(451, "4.5.0", "Protocol error: " + text)
