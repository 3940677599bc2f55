"""`smtpsim validate` and `smtpsim run` on a scenario with four kinds of mistake: both
report every problem with its path, exit 2, and print no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

QUICKSTART = Path(__file__).resolve().parents[1] / "scenarios" / "quickstart.yaml"


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    text = QUICKSTART.read_text()
    for old, new in [
        ("    mailboxes: 200\n", "    mailboxes: 200\n    postfx: {relayhost: out}\n"),  # typo
        ("{between: [out, internet], latency: 10ms", "{between: [out, internet], latency: -10ms"),
        ("smallorg.example: {mx: {mx-small: 10}", "smallorg.example: {mx: {mx-smal: 10}"),
        ("partner.example: 0.25}", "partner.example: 0.2, nowhere.example: 0.05}"),
    ]:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path_factory.mktemp("broken") / "broken.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("command", ["validate", "run"])
def test_every_problem_with_its_path_and_exit_2(command, broken, tmp_path):
    extra = ["--out", str(tmp_path / "out")] if command == "run" else []
    done = subprocess.run(
        [sys.executable, "-m", "smtpsim", command, str(broken), *extra],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    problems = [line.strip() for line in done.stderr.splitlines()[1:]]
    paths = [p.split(":")[0] for p in problems]
    assert paths == [
        "dns.smallorg.example.mx.mx-smal",
        "hosts.mx-small.postfx",
        "links[1].latency",
        "traffic.staff.recipients.domains.nowhere.example",
    ]
    assert "did you mean 'postfix'" in problems[1]
    assert "expected a non-negative duration such as '20ms', got '-10ms'" in problems[2]
    assert "unknown host 'mx-smal'" in problems[0]
    assert "cannot be reached" in problems[3]
    assert not (tmp_path / "out").exists()
