"""The mail-client and listener settings (issue 13) refuse bad values with their
paths, from the library and from the CLI (exit 2, no traceback)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import smtpsim

HELP_DESK = Path(__file__).resolve().parents[2] / "scenarios" / "help-desk-monday.yaml"

BAD = [
    (
        "settings: {server: smtp.corp.example, port: 587,",
        "settings: {server: smtp.corp.example, port: 70000,",
        "traffic.home.clients.settings.port",
    ),
    ("auth: plain}", "auth: cram-md5}", "traffic.home.clients.settings.auth"),
    (
        "share: 1%, password: wrong}",
        "share: 1%, password: maybe}",
        "traffic.home.clients.misconfigured[1].password",
    ),
    ("share: 1%, port: 465}", "share: 1%, port: 0}", "traffic.home.clients.misconfigured[5].port"),
    (
        "465: {smtpd_tls_wrappermode: true}",
        "465: {smtpd_tls_wrapermode: true}",
        "hosts.msa.listeners.465.smtpd_tls_wrapermode",
    ),
    (
        "587: {smtpd_tls_security_level: encrypt}",
        "587: {smtpd_tls_security_level: dane}",
        "hosts.msa.listeners.587.smtpd_tls_security_level",
    ),
]


def broken() -> str:
    text = HELP_DESK.read_text()
    for old, new, _ in BAD:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def test_bad_settings_are_refused_with_their_paths():
    with pytest.raises(smtpsim.ScenarioError) as error:
        smtpsim.load_scenario(broken())
    paths = {p.path for p in error.value.problems}
    for _, _, path in BAD:
        assert path in paths, (path, sorted(paths))


def test_the_cli_refuses_them_with_exit_2(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(broken())
    done = subprocess.run(
        [sys.executable, "-m", "smtpsim", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "traffic.home.clients.settings.port" in done.stderr
    assert "traffic.home.clients.settings.auth" in done.stderr


def test_shares_over_one_are_refused():
    text = HELP_DESK.read_text().replace("share: 3%, port: 25}", "share: 95%, port: 25}")
    with pytest.raises(smtpsim.ScenarioError) as error:
        smtpsim.load_scenario(text)
    (problem,) = error.value.problems
    assert problem.path == "traffic.home.clients"
    assert "add up to 1.02, more than 1" in problem.message
