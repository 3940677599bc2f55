"""The scenario format's TLS settings (issue 14): errors with their paths and exit
code 2, warnings for legal settings that do not do what they seem to."""

from __future__ import annotations

import pytest

from smtpsim.cli.main import main
from smtpsim.scenario import ScenarioError, load_scenario, tls_warnings

BASE = """
name: tls-checks
duration: 1h
hosts:
  out: {role: mta, accepts: [corp.example], postfix: {smtp_tls_security_level: LEVEL}}
  mx: {role: mx, accepts: [dest.example], postfix: {smtpd_tls_security_level: may}TLS}
links:
  - {between: [out, internet]}
  - {between: [mx, internet]}
dns:
  corp.example: {mx: {out: 10}}
  dest.example: {mx: {mx: 10}STS}
traffic:
  t: {submit_to: out, rate: 1/s, recipients: {domains: {dest.example: 1}}}
"""


def scenario(level: str = "may", tls: str = "", sts: str = "", incidents: str = "") -> str:
    text = BASE.replace("LEVEL", level).replace("TLS", tls).replace("STS", sts)
    return text + (f"incidents:\n{incidents}" if incidents else "")


def problems(text: str) -> list[tuple[str, str]]:
    with pytest.raises(ScenarioError) as error:
        load_scenario(text)
    return [(p.path, p.message) for p in error.value.problems]


def test_an_unknown_level_is_an_error_with_its_path() -> None:
    found = problems(scenario(level="strict"))
    assert found == [
        (
            "hosts.out.postfix.smtp_tls_security_level",
            "expected one of none, may, encrypt, dane, verify, secure, got 'strict'",
        )
    ]


def test_an_unknown_level_in_the_policy_table_is_an_error_with_its_path() -> None:
    text = scenario().replace(
        "smtp_tls_security_level: may}",
        "smtp_tls_security_level: may, smtp_tls_policy_maps: {dest.example: mandatory}}",
    )
    ((path, message),) = problems(text)
    assert path == "hosts.out.postfix.smtp_tls_policy_maps.dest.example"
    assert "got 'mandatory'" in message


def test_a_bad_tlsa_record_is_an_error_with_its_path() -> None:
    ((path, message),) = problems(scenario(tls=", tls: {tlsa: ['3 1 1 k', '9 1 1 k']}"))
    assert path == "hosts.mx.tls.tlsa[1]"
    assert "'9 1 1 k'" in message


def test_tls_incidents_name_what_the_scenario_has() -> None:
    incidents = (
        "  - {certificate_change: {host: mx2, key: k2}, at: 10min}\n"
        "  - {tlsa_change: {host: nope, records: ['3 1 1 k']}, at: 10min}\n"
        "  - {mta_sts_down: dest.example, at: 10min}\n"
        "  - {mta_sts_change: {zone: other.example, mode: enforce}, at: 10min}\n"
        "  - {starttls_stripped: [out, mx], at: 10min}\n"
    )
    found = problems(scenario(incidents=incidents))
    paths = [p for p, _ in found]
    assert paths == [
        "incidents[0].certificate_change.host",
        "incidents[1].tlsa_change.host",
        "incidents[2].mta_sts_down",
        "incidents[3].mta_sts_change.zone",
        "incidents[4].starttls_stripped",
    ]
    messages = dict(found)
    assert messages["incidents[2].mta_sts_down"].startswith(
        "dest.example publishes no MTA-STS policy"
    )
    assert messages["incidents[4].starttls_stripped"] == "no link between out and mx"


def test_an_mta_sts_policy_needs_its_mx_patterns() -> None:
    ((path, _),) = problems(scenario(sts=", mta_sts: {mode: enforce}"))
    assert path == "dns.dest.example.mta_sts.mx"


def test_dane_without_tlsa_records_anywhere_is_a_warning() -> None:
    warned = tls_warnings(load_scenario(scenario(level="dane")))
    assert [w.path for w in warned] == ["hosts.out.postfix.smtp_tls_security_level"]
    assert "no host has TLSA records" in warned[0].message
    # with a TLSA record somewhere (or one to come in an incident), no warning
    assert (
        tls_warnings(load_scenario(scenario(level="dane", tls=", tls: {tlsa: ['3 1 1 k']}"))) == []
    )
    later = "  - {tlsa_change: {host: mx, records: ['3 1 1 k']}, at: 10min}\n"
    assert tls_warnings(load_scenario(scenario(level="dane", incidents=later))) == []


def test_mta_sts_with_no_policy_published_is_a_warning() -> None:
    text = scenario().replace(
        "smtp_tls_security_level: may}", "smtp_tls_security_level: may, smtp_tls_mta_sts: true}"
    )
    warned = tls_warnings(load_scenario(text))
    assert [w.path for w in warned] == ["hosts.out.postfix.smtp_tls_mta_sts"]


def test_validate_prints_warnings_and_exits_0_errors_exit_2(tmp_path, capsys) -> None:
    good = tmp_path / "dane.yaml"
    good.write_text(scenario(level="dane"))
    assert main(["validate", str(good)]) == 0
    err = capsys.readouterr().err
    assert "warning: hosts.out.postfix.smtp_tls_security_level: dane, but no host" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text(scenario(level="opportunistic"))
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "hosts.out.postfix.smtp_tls_security_level: expected one of" in err
    assert "Traceback" not in err
