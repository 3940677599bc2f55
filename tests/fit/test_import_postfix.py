"""``smtpsim import postfix`` (issue 15 item 3): a Postfix configuration as a scenario
host, a test per parameter family, and every parameter accounted for."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

import smtpsim
from smtpsim.cli.main import main
from smtpsim.fit.postfix_config import Imported, import_postfix, parse_main_cf

DATA = Path(__file__).resolve().parent / "data"
MAIN = (DATA / "main.cf").read_text()
MASTER = (DATA / "master.cf").read_text()


@pytest.fixture(scope="module")
def imported() -> Imported:
    return import_postfix(MAIN, MASTER)


def test_every_parameter_is_mapped_or_listed(imported: Imported) -> None:
    params = set(parse_main_cf(MAIN)) | {"smtpd_timeout"}  # and master.cf's -o
    mapped = {p for p, _, _ in imported.mapped}
    listed = {p for p, _, _ in imported.not_modelled}
    assert params <= mapped | listed, params - mapped - listed
    assert dict((p, why) for p, _, why in imported.not_modelled) == {
        "compatibility_level": "smtpsim follows Postfix 3.7's behaviour",
        "inet_interfaces": "a simulated host listens on its one address",
        "mynetworks": "flows submit to the hosts they name; relaying is by role",
        "mydomain": "used only through $mydomain in other parameters",
        "smtpd_tls_cert_file": "TLS is a handshake cost, not certificates",
        "smtpd_helo_required": "not a parameter smtpsim models",
        "master.cf submission inet": "a host has one SMTP listener (port 25)",
    }


def test_queue_and_retry_times_with_postfix_units(imported: Imported) -> None:
    pf = imported.postfix
    assert pf["queue_run_delay"] == "150s"
    assert pf["minimal_backoff_time"] == "150s"  # a bare number: seconds
    assert pf["maximal_backoff_time"] == "3600s"
    assert pf["maximal_queue_lifetime"] == "172800s"  # a bare number: days (postconf(5))
    assert pf["bounce_queue_lifetime"] == "43200s"


def test_concurrency_and_the_smtp_transports_own_limits(imported: Imported) -> None:
    pf = imported.postfix
    assert pf["initial_destination_concurrency"] == 3
    # smtp_destination_concurrency_limit = $default_destination_concurrency_limit: expanded
    assert pf["default_destination_concurrency_limit"] == 10
    assert pf["default_destination_recipient_limit"] == 25  # the transport's wins
    assert pf["default_destination_concurrency_failed_cohort_limit"] == 2.0
    assert pf["default_destination_concurrency_positive_feedback"] == "1/concurrency"
    assert pf["qmgr_message_active_limit"] == 5000
    assert pf["default_process_limit"] == 40  # master.cf's smtp service


def test_relaying_names_host_keys(imported: Imported) -> None:
    assert imported.postfix["relayhost"] == "smtp-isp-example"
    assert imported.postfix["smtp_fallback_relay"] == ["backup-isp-example"]
    assert any("smtp-isp-example" in n for n in imported.notes)


def test_client_connections_timeouts_and_tls(imported: Imported) -> None:
    pf = imported.postfix
    assert pf["smtp_connection_cache_on_demand"] is False
    assert pf["smtp_connect_timeout"] == "10s" and pf["smtp_helo_timeout"] == "120s"
    assert pf["smtp_mx_session_limit"] == 3
    assert pf["smtp_tls_security_level"] == "may"


def test_server_limits_and_master_cf_overrides(imported: Imported) -> None:
    pf = imported.postfix
    assert pf["message_size_limit"] == 20480000
    assert pf["smtpd_recipient_limit"] == 500
    assert pf["smtpd_timeout"] == "30s"  # master.cf: -o smtpd_timeout=30s for smtp
    assert pf["smtpd_tls_security_level"] == "may"  # not submission's encrypt
    assert pf["smtpd_pipelining"] is False  # smtpd_discard_ehlo_keywords = pipelining
    assert pf["smtpd_chunking"] is True  # ... and not chunking
    assert "smtputf8_enable" not in pf  # ... nor smtputf8: Postfix's default stands
    assert pf["strict_smtputf8"] is True


def test_discarded_dsn_keyword_turns_dsn_off() -> None:
    """``smtpd_discard_ehlo_keywords = dsn`` (postconf(5)): the imported host offers
    no DSN, and the main.cf above (which does not name it) leaves DSN on."""
    off = import_postfix(MAIN + "\nsmtpd_discard_ehlo_keywords = dsn, pipelining\n", MASTER)
    assert off.postfix["smtpd_discard_ehlo_keywords"] == ["dsn"]
    on = import_postfix(MAIN, MASTER)
    assert "smtpd_discard_ehlo_keywords" not in on.postfix


def test_name_local_domains_and_policies(imported: Imported) -> None:
    assert imported.host == {"name": "mail.corp.example", "accepts": ["corp.example"]}
    kinds = {next(iter(p)): p[next(iter(p))] for p in imported.policies}
    assert kinds["dnsbl"] == {"zones": ["zen.spamhaus.org"], "at": "rcpt"}
    assert kinds["rate_limit"] == {"connections": 10, "message_rate": 100, "time_unit": "120s"}
    assert kinds["greylisting"] == {}


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (
            "smtp_tls_security_level = fingerprint",
            "smtpsim models none, may, encrypt, dane, verify, secure",
        ),
        ("maximal_backoff_time = soon", "expected a time"),
        ("relay_domains = $undefined_thing", "$undefined_thing is not set"),
        ("myhostname = localhost", "not a fully qualified name"),
        ("virtual_mailbox_domains = hash:/etc/postfix/vdomains", "lookup tables are not read"),
    ],
)
def test_values_smtpsim_cannot_take_are_listed_with_the_reason(line: str, why: str) -> None:
    got = import_postfix(line + "\n")
    ((name, _, reason),) = got.not_modelled
    assert "accepts" not in got.host
    assert name == line.split(" = ")[0] and why in reason
    assert got.postfix == {}


def test_the_host_runs_in_a_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "mta.yaml"
    assert (
        main(
            [
                "import",
                "postfix",
                str(DATA / "main.cf"),
                "--master",
                str(DATA / "master.cf"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "not modelled (7):" in capsys.readouterr().err
    host = yaml.safe_load(out.read_text())["mta"]
    scenario = {
        "name": "imported",
        "duration": "10min",
        "hosts": {
            "mta": host,
            "smtp-isp-example": {"role": "relay"},
            "backup-isp-example": {"role": "relay"},
            "mx": {"role": "mx", "accepts": ["dest.example"]},
        },
        "links": [
            {"between": [k, "internet"]}
            for k in ("mta", "smtp-isp-example", "backup-isp-example", "mx")
        ],
        "dns": {
            "dest.example": {"mx": {"mx": 10}},
            "corp.example": {"mx": {"mta": 10}},
            "zen.spamhaus.org": {"dnsbl": True},
        },
        "traffic": {
            "staff": {
                "submit_to": "mta",
                "rate": "1/s",
                "recipients": {"per_message": {"fixed": 1}, "domains": {"dest.example": 1}},
            }
        },
    }
    loaded = smtpsim.load_scenario(yaml.safe_dump(scenario))
    assert loaded.hosts["mta"].postfix.maximal_queue_lifetime == 172800
    result = smtpsim.simulate(loaded)
    # everything leaves through the relayhost, as relayhost says
    att = result.attempts[result.attempts["host"].astype(str) == "mta"]
    assert len(att) > 0 and set(att["peer"].astype(str)) == {"smtp-isp-example"}


def test_bad_settings_are_problems_with_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "main.cf"
    config.write_text("minimal_backoff_time = 2h\nmaximal_backoff_time = 1h\n")
    assert main(["import", "postfix", str(config)]) == 2
    assert (
        "hosts.mta.postfix: minimal_backoff_time (7200s) must not exceed" in capsys.readouterr().err
    )
    config.write_text("this is not postfix\n")
    assert main(["import", "postfix", str(config)]) == 2
    assert "line 1: expected 'name = value'" in capsys.readouterr().err


@pytest.mark.skipif(
    shutil.which("postconf") is None, reason="needs Postfix's postconf (apt install postfix)"
)
def test_real_postconf_n_output_imports_as_main_cf(tmp_path: Path) -> None:
    (tmp_path / "main.cf").write_text(MAIN)
    (tmp_path / "master.cf").write_text(MASTER)
    done = subprocess.run(
        ["postconf", "-c", str(tmp_path), "-n"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    from_postconf = import_postfix(done.stdout, MASTER)
    from_main = import_postfix(MAIN, MASTER)
    assert from_postconf.postfix == from_main.postfix
    assert from_postconf.policies == from_main.policies
    assert from_postconf.host == from_main.host
