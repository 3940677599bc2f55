"""Mail clients and their misconfigurations (issue 13): each set-up gets the reply a
Postfix submission server gives (texts from Postfix's source: smtpd.c, smtpd_check.c,
smtpd_sasl_glue.c) or the connection failure the client's stack sees, and ends
``delivered`` or ``unsent`` with that reason after the client's retries."""

from __future__ import annotations

import pytest
import yaml
from engine_helpers import run_model
from model_runs import check_conservation

CONNECT_TIMEOUT = 30.0
INTERVAL = 60.0
LIMIT = 2


def scenario(
    settings: dict,
    *,
    blocked: tuple[int, ...] = (),
    wire: bool = False,
    policies: tuple[dict, ...] = (),
    messages: int = 1,
    limit: int = LIMIT,
) -> str:
    """One message from one client set up with ``settings`` to the MSA, whose
    listeners are a Postfix submission set-up: 25 (no AUTH, STARTTLS offered),
    587 (smtpd_tls_security_level=encrypt, AUTH), 465 (wrapper mode, AUTH)."""
    return yaml.safe_dump(
        {
            "name": "mail-clients",
            "duration": "10min",
            "hosts": {
                "msa": {
                    "role": "msa",
                    "name": "smtp.corp.example",
                    "accepts": ["corp.example"],
                    "policies": list(policies),
                    "listeners": {
                        25: {"smtpd_tls_security_level": "may", "smtpd_sasl_auth_enable": False},
                        587: {"smtpd_tls_security_level": "encrypt"},
                        465: {"smtpd_tls_wrappermode": True},
                    },
                },
                "mx": {"role": "mx", "accepts": ["dest.example"]},
            },
            "links": [
                {"between": ["msa", "internet"], "latency": "5ms"},
                {"between": ["mx", "internet"], "latency": "5ms"},
            ],
            "dns": {
                "corp.example": {"mx": {"msa": 10}},
                "dest.example": {"mx": {"mx": 10}},
                "submit.corp.example": {"a": "msa"},
            },
            "traffic": {
                "t": {
                    "submit_to": "msa",
                    "size": "2KiB",
                    "bursts": [{"at": "1s", "messages": messages}],
                    "recipients": {"per_message": {"fixed": 1}, "domains": {"dest.example": 1}},
                    "clients": {
                        "settings": settings,
                        "blocked_ports": list(blocked),
                        "connect_timeout": f"{CONNECT_TIMEOUT:g}s",
                        "retry": {"interval": f"{INTERVAL:g}s", "limit": limit},
                    },
                }
            },
            "simulation": {"wire": wire},
        },
        sort_keys=False,
    )


def outcome(settings: dict, **kw) -> tuple[str, str, float]:
    _, result = run_model(scenario(settings, **kw))
    check_conservation(result)
    (row,) = result.recipients.itertuples()
    return str(row.status), str(row.reply), float(row.delay_s)


GOOD_587 = {"server": "smtp.corp.example", "port": 587, "security": "starttls", "auth": "plain"}


@pytest.mark.parametrize("wire", [False, True])
@pytest.mark.parametrize(
    "settings",
    [
        GOOD_587,
        {"port": 465, "security": "implicit-tls", "auth": "login"},
        {"port": 587, "security": "starttls-if-offered", "auth": "login"},
        {**GOOD_587, "server": "submit.corp.example"},  # a name with an A record
    ],
)
def test_right_settings_deliver(settings, wire):
    status, reply, _ = outcome(settings, wire=wire)
    assert status == "delivered", reply


# Retried: (limit + 1) tries, each taking ``per_try``, ``INTERVAL`` apart.
GAVE_UP_AFTER_RETRIES = (LIMIT + 1) * CONNECT_TIMEOUT + LIMIT * INTERVAL


@pytest.mark.parametrize(
    ("settings", "blocked", "reply", "least", "most"),
    [
        # the ISP drops SYNs to port 25: every try times out
        (
            {**GOOD_587, "port": 25},
            (25,),
            "450 4.4.1 connect to smtp.corp.example[198.18.0.1]:25: Connection timed out",
            GAVE_UP_AFTER_RETRIES,
            GAVE_UP_AFTER_RETRIES + 1,
        ),
        # port 25 open, no AUTH there: relaying refused (smtpd_check.c, reject_unauth_destination)
        (
            {**GOOD_587, "port": 25, "security": "starttls-if-offered", "auth": "none"},
            (),
            "554 5.7.1 <RCPT>: Relay access denied",
            0.0,
            1.0,
        ),
        # a stale password (smtpd_sasl_glue.c): 5xx, the client does not retry
        (
            {**GOOD_587, "password": "wrong"},
            (),
            "535 5.7.8 Error: authentication failed: authentication failure",
            0.0,
            1.0,
        ),
        # TLS off where the listener enforces it (smtpd.c: var_smtpd_enforce_tls)
        (
            {**GOOD_587, "security": "none", "auth": "none"},
            (),
            "530 5.7.0 Must issue a STARTTLS command first",
            0.0,
            1.0,
        ),
        # TLS off with AUTH set up: AUTH is offered only over TLS (tls_auth_only)
        (
            {**GOOD_587, "security": "none"},
            (),
            "530 5.7.0 Authentication is required, but the server does not offer AUTH",
            0.0,
            1.0,
        ),
        # nothing listens on 2525: refused at once, retried
        (
            {**GOOD_587, "port": 2525},
            (),
            "450 4.4.1 connect to smtp.corp.example[198.18.0.1]:2525: Connection refused",
            LIMIT * INTERVAL,
            LIMIT * INTERVAL + 1,
        ),
        # the old server's name, gone from DNS
        (
            {**GOOD_587, "server": "mail.corp.example"},
            (),
            "450 4.4.4 mail.corp.example: Host or domain name not found",
            LIMIT * INTERVAL,
            LIMIT * INTERVAL,
        ),
        (
            {**GOOD_587, "security": "implicit-tls"},
            (),
            "450 4.7.5 TLS handshake with smtp.corp.example[198.18.0.1]:587 failed: "
            "wrong version number",
            LIMIT * INTERVAL,
            LIMIT * INTERVAL + 1,
        ),
        (
            {**GOOD_587, "port": 465},
            (),
            "450 4.4.2 conversation with smtp.corp.example[198.18.0.1]:465 timed out while "
            "receiving the initial server greeting",
            GAVE_UP_AFTER_RETRIES,
            GAVE_UP_AFTER_RETRIES + 1,
        ),
    ],
    ids=[
        "port-25-blocked",
        "relay-denied",
        "stale-password",
        "tls-off",
        "tls-off-with-auth",
        "no-listener",
        "unresolved",
        "implicit-tls-on-587",
        "plain-on-465",
    ],
)
def test_misconfiguration_gives_the_servers_reply(settings, blocked, reply, least, most):
    _, result = run_model(scenario(settings, blocked=blocked))
    check_conservation(result)
    (row,) = result.recipients.itertuples()
    status, got, delay = str(row.status), str(row.reply), float(row.delay_s)
    assert status == "unsent"
    assert got == reply.replace("RCPT", str(row.rcpt))
    assert str(row.dsn) == reply.split()[1]
    assert least <= delay <= most, delay


def test_misconfigured_shares_and_reasons_in_the_summary():
    """Shares of the population get their set-ups: 30 % of 1000 senders have a stale
    password, drawn once per sender, so their share of the messages varies with the
    draw of senders (binomial over 1000) and of messages' senders (over n): the
    tolerance is 5 standard deviations of both."""
    from smtpsim.metrics.summary import summarize

    data = yaml.safe_load(scenario(GOOD_587))
    flow = data["traffic"]["t"]
    del flow["bursts"]
    flow.update(rate="5/s", senders=1000)
    flow["clients"]["misconfigured"] = [{"share": 0.3, "password": "wrong"}]
    _, result = run_model(yaml.safe_dump(data), until=400.0)
    counts = check_conservation(result)
    summary = summarize(result.messages, result.recipients, result.attempts, result.levels)
    n = summary["recipients"]["submitted"]
    wrong = summary["unsent_by_reason"][
        "535 5.7.8 Error: authentication failed: authentication failure"
    ]
    assert counts["unsent"] == wrong
    p = 0.3
    sd = n * (p * (1 - p) * (1 / n + 1 / 1000)) ** 0.5
    assert n > 1500
    assert abs(wrong - p * n) < 5 * sd, (wrong, n, sd)


def test_anvil_auth_rate_limit_refuses_the_third_auth_in_a_minute():
    """smtpd_client_auth_rate_limit = 2: the senders share one address (one NAT), so of
    five clients sending at once the first two authenticate and the others get
    ``450 4.7.1 Error: too many AUTH commands from IP`` (smtpd.c); without retries they
    give up; with one retry a minute later (a new anvil window) two more get through."""
    rate_limit = ({"rate_limit": {"auth_rate": 2}},)
    _, result = run_model(scenario(GOOD_587, policies=rate_limit, messages=5, limit=0))
    check_conservation(result)
    status = result.recipients["status"].astype(str)
    assert (status == "delivered").sum() == 2
    unsent = result.recipients[status == "unsent"]
    assert len(unsent) == 3
    assert set(unsent["reply"].astype(str)) == {
        f"450 4.7.1 Error: too many AUTH commands from {_flow_ip()}"
    }
    _, retried = run_model(scenario(GOOD_587, policies=rate_limit, messages=5, limit=1))
    assert (retried.recipients["status"].astype(str) == "delivered").sum() == 4


def _flow_ip() -> str:
    """The senders' address, as the server sees it."""
    import smtpsim
    from smtpsim.model import build

    model = build(smtpsim.load_scenario(scenario(GOOD_587)), 1)
    return model.hosts["traffic.t"].ip
