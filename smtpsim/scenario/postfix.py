"""MTA settings under Postfix's own parameter names (postconf(5)), with Postfix 3.7
defaults, and a server's processing times."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, WithJsonSchema, model_validator

from . import _names
from .base import Domain, Model, field
from .bounds import MAX_COUNT
from .distributions import DurationDist
from .feedback import Feedback
from .tls import TlsLevel
from .units import Duration, Size

__all__ = ["Postfix", "Processing"]


class Postfix(Model):
    """MTA settings under Postfix's own parameter names, with Postfix 3.7 defaults."""

    queue_run_delay: Duration = field(
        "300s",
        description="interval between scans of the deferred queue; should not exceed "
        "minimal_backoff_time",
    )
    minimal_backoff_time: Duration = field(
        "300s",
        description="minimum time between delivery attempts of a deferred message; also "
        "how long a dead destination stays suspended",
    )
    maximal_backoff_time: Duration = field(
        "4000s", description="maximum time between delivery attempts of a deferred message"
    )
    maximal_queue_lifetime: Duration = field(
        "5d",
        description="give up (bounce) after this time in the queue if delivery still fails "
        "temporarily; checked at an attempt; 0 = try once",
    )
    bounce_queue_lifetime: Duration = field(
        "5d", description="the same as maximal_queue_lifetime, for bounces (sender <>)"
    )
    delay_warning_time: Duration = field(
        "0h",
        description="send the sender one 'Delayed Mail' notice (for the recipients "
        "deferred whose NOTIFY includes DELAY, or who have none) at the end of the first "
        "delivery pass this long after arrival; 0 = never",
    )
    smtpd_discard_ehlo_keywords: tuple[Literal["dsn"], ...] = field(
        (),
        description="EHLO keywords the server does not offer: [dsn] turns off the DSN "
        "extension (RFC 3461); its parameters are then refused with 501 5.7.1, and "
        "clients relaying to it report NOTIFY=SUCCESS recipients as 'relayed'",
    )
    initial_destination_concurrency: int = field(
        5, ge=1, le=MAX_COUNT, description="starting number of parallel deliveries to a destination"
    )
    default_destination_concurrency_limit: int = field(
        20,
        ge=1,
        le=MAX_COUNT,
        description="maximum number of parallel deliveries to one destination",
    )
    default_destination_recipient_limit: int = field(
        50,
        ge=1,
        le=MAX_COUNT,
        description="maximum recipients per delivery request (= per SMTP transaction)",
    )
    default_destination_concurrency_failed_cohort_limit: float = field(
        1.0,
        ge=0,
        le=MAX_COUNT,
        description="failed pseudo-cohorts (connect or handshake failures in a row, "
        "counted in units of the current concurrency) before a destination is declared dead; "
        "0 = never",
    )
    default_destination_concurrency_positive_feedback: Feedback = field(
        "1",
        description="window increase per delivery without a connect or handshake "
        "failure: a number from 0 to 1, or x/concurrency, x/sqrt_concurrency (see "
        "concurrency feedback); the window grows by 1 when the sum reaches 1",
    )
    default_destination_concurrency_negative_feedback: Feedback = field(
        "1",
        description="window decrease per delivery that failed to connect or in the "
        "handshake (same forms); the window drops by 1 at once, then again after each "
        "further 1 of feedback (never below 1)",
    )
    default_process_limit: int = field(
        100,
        ge=1,
        le=MAX_COUNT,
        description="maximum processes per service: parallel SMTP client sessions "
        "(all destinations) and parallel server sessions",
    )
    qmgr_message_active_limit: int = field(
        20000, ge=1, le=MAX_COUNT, description="maximum number of messages in the active queue"
    )
    relayhost: Annotated[str | None, BeforeValidator(_names.optional_host)] = field(
        None,
        description="send all mail not for a local domain to this host (a host key), without "
        "MX lookup; none = deliver by MX",
    )
    smtp_fallback_relay: Annotated[
        tuple[str, ...],
        BeforeValidator(_names.host_list),
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "array", "items": {"type": "string"}},
                    {"type": "string"},
                    {"type": "null"},
                ]
            }
        ),
    ] = field(
        (),
        description="host keys tried in order, after the MX hosts, for destinations that "
        "cannot be found or are unreachable; one name or a list",
    )
    smtp_connection_cache_on_demand: bool = field(
        True,
        description="cache SMTP connections to a destination with a backlog "
        "(back-to-back or concurrent deliveries)",
    )
    smtp_connection_cache_time_limit: Duration = field(
        "2s", description="how long an idle cached connection is kept"
    )
    smtp_connection_reuse_time_limit: Duration = field(
        "300s", description="a connection is reused only within this time after it was opened"
    )
    smtp_connect_timeout: Duration = field("30s", description="TCP connection set-up timeout")
    smtp_helo_timeout: Duration = field(
        "300s", description="timeout for the greeting and the reply to EHLO/HELO"
    )
    smtp_mail_timeout: Duration = field("300s", description="timeout for the reply to MAIL FROM")
    smtp_rcpt_timeout: Duration = field("300s", description="timeout for the reply to RCPT TO")
    smtp_data_init_timeout: Duration = field("120s", description="timeout for the reply to DATA")
    smtp_data_xfer_timeout: Duration = field(
        "180s", description="timeout for sending one block of message content"
    )
    smtp_data_done_timeout: Duration = field(
        "600s", description="timeout for the reply to the final '.'"
    )
    smtp_quit_timeout: Duration = field("300s", description="timeout for the reply to QUIT")
    smtp_skip_quit_response: bool = field(True, description="do not wait for the reply to QUIT")
    smtp_mx_address_limit: int = field(
        5, ge=1, le=MAX_COUNT, description="maximum number of MX addresses tried per delivery"
    )
    smtp_mx_session_limit: int = field(
        2,
        ge=1,
        le=MAX_COUNT,
        description="maximum number of SMTP sessions (past EHLO) per delivery before "
        "giving up or trying the fallback relay",
    )
    smtp_tls_security_level: TlsLevel = field(
        "none",
        description="client TLS: none; may (opportunistic, certificate not checked); "
        "encrypt (mandatory, not checked); dane (RFC 7672: TLSA records when the MX host "
        "has them, else may); verify (a trusted certificate for the MX host name); secure "
        "(a trusted certificate for the next-hop domain or a name under it)",
    )
    smtp_tls_policy_maps: dict[Domain, TlsLevel] = field(
        {},
        description="per-destination TLS levels (next-hop domain -> level), overriding "
        "smtp_tls_security_level and any MTA-STS policy for that domain",
    )
    smtp_tls_mta_sts: bool = field(
        False,
        description="(smtpsim) honour MTA-STS policies (RFC 8461), as Postfix does with an "
        "MTA-STS resolver in smtp_tls_policy_maps: enforce becomes secure with the policy's "
        "mx patterns",
    )
    smtpd_tls_security_level: Literal["none", "may"] = field(
        "none", description="server STARTTLS: none, or may (offer it)"
    )
    message_size_limit: Size = field(
        10240000, description="largest message accepted (bytes; 0 = no limit)"
    )
    smtpd_recipient_limit: int = field(
        1000,
        ge=100,
        le=MAX_COUNT,
        description="recipients accepted per message by the server (RFC 5321: at least 100)",
    )
    smtpd_timeout: Duration = field(
        "300s", description="server timeout waiting for the next command or data"
    )
    hopcount_limit: int = field(
        50,
        ge=1,
        le=MAX_COUNT,
        description="Received: headers allowed before a message bounces as looping (5.4.6)",
    )
    smtpd_pipelining: bool = field(
        True, description="(smtpsim) whether the server offers PIPELINING"
    )
    smtp_pipelining: bool = field(
        True, description="(smtpsim) whether the client uses PIPELINING when offered"
    )
    smtpd_chunking: bool = field(
        True,
        description="(smtpsim) whether the server offers CHUNKING (RFC 3030: BDAT); as "
        "Postfix 3.4 and later do unless smtpd_discard_ehlo_keywords names chunking",
    )
    smtp_chunking: bool = field(
        False,
        description="(smtpsim) whether the client sends the content with BDAT when the "
        "server offers CHUNKING; Postfix's client never does (it has no BDAT)",
    )
    smtp_chunk_size: Size = field(
        1048576,
        ge=1,
        description="(smtpsim) octets per BDAT chunk with smtp_chunking; the last chunk "
        "is shorter (a message up to this size goes as one BDAT LAST)",
    )
    smtputf8_enable: bool = field(
        True,
        description="the server offers SMTPUTF8 (RFC 6531) and takes UTF-8 addresses",
    )
    strict_smtputf8: bool = field(
        False,
        description="the server refuses a UTF-8 address whose MAIL did not declare "
        "SMTPUTF8: 553 5.6.7",
    )

    @model_validator(mode="after")
    def _check_backoff(self) -> Postfix:
        if self.minimal_backoff_time > self.maximal_backoff_time:
            raise ValueError(
                f"minimal_backoff_time ({self.minimal_backoff_time:g}s) must not exceed "
                f"maximal_backoff_time ({self.maximal_backoff_time:g}s)"
            )
        return self


class Processing(Model):
    """Server processing times, added to the SMTP session at each step."""

    greeting: DurationDist = field("1ms", description="time to produce the 220 greeting")
    command: DurationDist = field(
        "0.2ms", description="time to answer one command (EHLO, MAIL, RCPT, ...)"
    )
    end_of_data: DurationDist = field(
        "5ms", description="time from the final '.' to the reply (queue file written, filters)"
    )
