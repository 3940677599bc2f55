"""Bad retrieval settings are rejected by ``smtpsim validate`` with their paths and
exit code 2, never a traceback (issue 13: "the scenario format rejects bad settings
with their paths")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# mistakes in the values of an access service and its clients, and in the incidents
VALUES = """\
name: bad
duration: 1h
hosts:
  out: {role: mta, accepts: [corp.example], access: {clients: [{poll: 5min}]}}
  mx:
    role: mx
    accepts: [example.org]
    access:
      protocol: pop3
      capacity: 0
      clients:
        - {share: 0.5, poll: 0s}
        - {share: 0.3, idle: 2s}
        - {share: 0.1, poll: 5min, idle: 1s}
  mx2:
    role: mx
    accepts: [other.example]
    access: {processing: -1s, clients: [{share: 0.4, poll: 5min}]}
links:
  - {between: [out, internet]}
  - {between: [mx, internet]}
  - {between: [mx2, internet]}
dns:
  corp.example: {mx: {out: 10}}
  example.org: {mx: {mx: 10}}
  other.example: {mx: {mx2: 10}}
traffic:
  staff: {submit_to: out, rate: 1/s, recipients: {domains: {example.org: 1}}}
incidents:
  - {access_down: out, at: 10min, for: 5min}
  - {access_slow: {host: nohost, factor: 2}, at: 10min, for: 5min}
"""

# settings that are each fine alone but do not fit together
COMBINATIONS = """\
name: bad
duration: 1h
hosts:
  out: {role: mta, accepts: [corp.example]}
  mx:
    role: mx
    accepts: [example.org]
    access: {protocol: pop3, clients: [{share: 0.5, poll: 5min}, {share: 0.5, idle: 2s}]}
  mx2: {role: mx, accepts: [other.example], access: {clients: [{share: 0.4, poll: 5min}]}}
  mx3: {role: mx, access: {clients: [{poll: 5min}]}}
links:
  - {between: [out, internet]}
  - {between: [mx, internet]}
  - {between: [mx2, internet]}
  - {between: [mx3, internet]}
dns:
  corp.example: {mx: {out: 10}}
  example.org: {mx: {mx: 10}}
  other.example: {mx: {mx2: 10}}
traffic:
  staff: {submit_to: out, rate: 1/s, recipients: {domains: {example.org: 1}}}
incidents:
  - {access_down: out, at: 10min, for: 5min}
  - {access_slow: {host: mx, factor: 0}, at: 10min, for: 5min}
"""


def _validate(text: str, tmp_path: Path) -> tuple[int, list[str], str]:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    done = subprocess.run(
        [sys.executable, "-m", "smtpsim", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    problems = [line.strip() for line in done.stderr.splitlines()[1:] if line.strip()]
    return done.returncode, problems, done.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            VALUES,
            {
                "hosts.mx2.access.processing": "expected a non-negative duration",
                "hosts.mx.access.capacity": "must be at least 1, got 0",
                "hosts.mx.access.clients[0]": "a polling interval must average at least 1 s",
                "hosts.mx.access.clients[2]": "give either poll (an interval) or idle",
                "hosts.out.access": "only a mailbox host (role mx) has an access service",
                "incidents[1].access_slow.host": "unknown host 'nohost'",
            },
        ),
        (
            COMBINATIONS,
            {
                "hosts.mx2.access": "the shares of clients add up to 0.4, not 1",
                "hosts.mx3.access": "the host has no mailboxes",
                "hosts.mx.access": "clients[1]: POP3 has no IDLE (RFC 1939)",
                "incidents[0].access_down": "host out has no access service",
                "incidents[1].access_slow.factor": "must be greater than 0",
            },
        ),
    ],
    ids=["values", "combinations"],
)
def test_bad_retrieval_settings_exit_2_with_their_paths(
    text: str, expected: dict[str, str], tmp_path: Path
) -> None:
    code, problems, stderr = _validate(text, tmp_path)
    assert code == 2
    assert "Traceback" not in stderr
    found = {p.split(": ", 1)[0]: p.split(": ", 1)[1] for p in problems}
    assert sorted(found) == sorted(expected)
    for path, words in expected.items():
        assert words in found[path], (path, found[path])
