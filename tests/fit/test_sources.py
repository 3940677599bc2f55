"""Maillogs as operators have them: gzip-rotated, RFC 3339 or classic time stamps,
several hosts' files (smtpsim.logs.sources), read into the same tables."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

import smtpsim
from smtpsim.cli.main import main
from smtpsim.fit import FitOptions, fit_logs
from smtpsim.logs.postfix_log import read_postfix_log
from smtpsim.logs.sources import log_lines, stamp_key
from smtpsim.metrics.maillog import write_maillog

REAL = Path(__file__).resolve().parent / "data" / "real-4xx-5xx.maillog"

_SCENARIO = """
name: two-hops
duration: 10min
hosts:
  msa: {role: msa, accepts: [corp.example], postfix: {relayhost: out}}
  out: {role: mta}
  mx: {role: mx, accepts: [dest.example]}
links:
  - {between: [msa, out]}
  - {between: [out, internet]}
  - {between: [mx, internet]}
dns:
  corp.example: {mx: {msa: 10}}
  dest.example: {mx: {mx: 10}}
traffic:
  staff:
    submit_to: msa
    rate: 1/s
    recipients: {per_message: {mean: 1.5}, domains: {dest.example: 1}}
    unknown_users: 5%
"""


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))


def _iso(line: str) -> str:
    """A maillog_file line with an RFC 3339 stamp (what rsyslog writes by default)."""
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    mon, day, hms, rest = line[:3], line[4:6], line[7:15], line[16:]
    return f"2026-{months.index(mon) + 1:02d}-{int(day):02d}T{hms}.000000+00:00 {rest}"


def test_gzip_and_rfc3339_stamps_read_as_the_plain_log(tmp_path: Path) -> None:
    plain = read_postfix_log(REAL, year=2026)
    zipped = tmp_path / "mail.log.2.gz"  # named as logrotate names it
    with gzip.open(zipped, "wt", encoding="utf-8") as out:
        out.write(REAL.read_text(encoding="utf-8"))
    iso = tmp_path / "mail.log"
    iso.write_text("".join(_iso(line) for line in REAL.open(encoding="utf-8")))
    for other in (zipped, iso):
        got = read_postfix_log(log_lines([other]), year=2026)
        assert got.unknown == []
        for table in ("messages", "recipients", "attempts"):
            _same(getattr(got, table), getattr(plain, table))


def test_several_hosts_logs_merge_in_time_order(tmp_path: Path) -> None:
    result = smtpsim.simulate(smtpsim.load_scenario(_SCENARIO), seed=5)
    whole = write_maillog(result, tmp_path / "maillog")
    lines = whole.read_text(encoding="utf-8").splitlines(keepends=True)
    hosts = sorted({line.split()[3] for line in lines})
    assert len(hosts) >= 4  # the flow's client, msa, out, mx
    parts = []
    for host in hosts:  # one file per host, as each host's syslog would have it
        part = tmp_path / f"{host}.log"
        part.write_text("".join(line for line in lines if line.split()[3] == host))
        parts.append(part)
    merged = list(log_lines(parts))
    assert sorted(merged) == sorted(lines)
    keys = [stamp_key(x) or (0, 0, "") for x in merged]  # every smtpsim line has a stamp
    assert keys == sorted(keys)
    want = fit_logs([whole], FitOptions(year=2026))
    got = fit_logs(parts, FitOptions(year=2026))
    assert got.log.unknown == []
    for section in ("hosts", "links", "dns", "traffic"):
        assert got.scenario[section] == want.scenario[section]
    assert got.scenario["traffic"]["corp-example"]["unknown_users"] > 0


def test_stamp_keys() -> None:
    assert stamp_key("Dec  4 07:52:57 relay postfix/smtp[1]: x") == (12, 4, "07:52:57")
    assert stamp_key("Dec 04 07:52:57 relay postfix/smtp[1]: x") == (12, 4, "07:52:57")
    assert stamp_key("2026-12-04T07:52:57.5+00:00 relay postfix/smtp[1]: x") == (
        12,
        4,
        "07:52:57.5",
    )
    assert stamp_key("  continued") is None


def test_cli_fit_writes_a_scenario_that_validates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ours.yaml"
    figures = tmp_path / "figures"
    args = ["fit", str(REAL), "--year", "2026", "--out", str(out), "--figures", str(figures)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "not understood: 0" in printed and "550 5.7.1 Message rejected" in printed
    assert main(["validate", str(out)]) == 0
    assert sorted(p.name for p in figures.iterdir()) == [
        "destinations.png",
        "rate-corp-example.png",
        "recipients-corp-example.png",
        "sizes-corp-example.png",
    ]


def test_cli_fit_counts_and_shows_lines_it_does_not_understand(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "mail.log"
    odd = "Dec 04 10:54:30 relay postfix/smtpd[1]: something new in Postfix 3.9\n"
    log.write_text(REAL.read_text(encoding="utf-8") + odd + "garbage without a stamp\n")
    assert main(["fit", str(log), "--year", "2026", "--out", str(tmp_path / "s.yaml")]) == 0
    printed = capsys.readouterr().out
    assert "not understood: 2" in printed
    assert "something new in Postfix 3.9" in printed and "garbage without a stamp" in printed


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("Dec 04 10:54:22 relay postfix/master[1]: daemon started\n", "no submitted message"),
    ],
)
def test_cli_fit_refuses_what_it_cannot_fit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    log = tmp_path / "mail.log"
    if content is not None:
        log.write_text(content)
    assert main(["fit", str(log), "--out", str(tmp_path / "s.yaml")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "s.yaml").exists()
