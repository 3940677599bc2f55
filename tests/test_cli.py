"""The `smtpsim` command line, run as a real subprocess: help texts, error handling
(one line on stderr, a non-zero status, never a traceback) and `smtpsim demo`."""

from __future__ import annotations

import re
import socket
import subprocess
import sys

import pytest

import smtpsim

TIMEOUT = 30


def smtpsim_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smtpsim", *args], capture_output=True, text=True, timeout=TIMEOUT
    )


def closed_port() -> int:
    """A local port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_top_level_help_lists_the_commands() -> None:
    done = smtpsim_cli("--help")
    assert done.returncode == 0
    for command in ("serve", "send", "demo", "fit", "import"):
        assert re.search(rf"^\s+{command}\s", done.stdout, re.M), command
    assert "Examples" in done.stdout


def test_version() -> None:
    done = smtpsim_cli("--version")
    # and which build runs (tests/test_compiled_build.py checks that it is the right one)
    assert done.returncode == 0
    assert done.stdout.strip() in (
        f"smtpsim {smtpsim.__version__}, {build}" for build in ("compiled (mypyc)", "pure Python")
    )


@pytest.mark.parametrize("command", ["serve", "send", "demo", "fit", "import"])
def test_each_command_has_help_with_a_description_and_examples(command: str) -> None:
    done = smtpsim_cli(command, "--help")
    assert done.returncode == 0
    assert done.stdout.startswith(f"usage: smtpsim {command}")
    assert "\nExamples:\n" in done.stdout
    assert f"  smtpsim {command}" in done.stdout.split("\nExamples:\n", 1)[1]


def test_serve_help_documents_the_inject_syntax_and_send_help_the_exit_codes() -> None:
    serve = smtpsim_cli("serve", "--help").stdout
    assert "PHASE:REPLY[@PROBABILITY]" in serve
    for phase in ("connect", "helo", "mail", "rcpt", "data", "end-of-data", "auth"):
        assert phase in serve
    send = smtpsim_cli("send", "--help").stdout
    assert "Exit status:" in send and re.search(r"^\s+3\s+at least one recipient", send, re.M)


SEND = ["send", "--server", "127.0.0.1:25", "--from", "a@example.net", "--to", "b@example.org"]

BAD_INPUT = {
    "unknown flag": ([*SEND, "--bogus"], 2, "smtpsim send: error: unrecognized arguments: --bogus"),
    "unknown flag of serve": (
        ["serve", "--domain", "example.org", "--frobnicate"],
        2,
        "smtpsim serve: error: unrecognized arguments: --frobnicate",
    ),
    "malformed address": (
        ["send", "--server", "127.0.0.1:25", "--from", "a@example.net", "--to", "bob"],
        2,
        "smtpsim send: error: argument --to: not a mail address",
    ),
    "malformed sender": (
        ["send", "--server", "127.0.0.1:25", "--from", "a@@x", "--to", "b@example.org"],
        2,
        "smtpsim send: error: argument --from:",
    ),
    "bad port": (
        ["send", "--server", "127.0.0.1:99999", "--from", "a@example.net", "--to", "b@x.org"],
        2,
        "smtpsim send: error: argument --server: port must be a number from 0 to 65535",
    ),
    "bad listen port": (
        ["serve", "--domain", "example.org", "--listen", "127.0.0.1:smtp"],
        2,
        "smtpsim serve: error: argument --listen:",
    ),
    "malformed --inject": (
        ["serve", "--domain", "example.org", "--inject", "rcpt:42 oops"],
        2,
        "smtpsim serve: error: argument --inject: expected a reply such as",
    ),
    "probability 1.5": (
        ["serve", "--domain", "example.org", "--inject", "rcpt:451 4.3.0 Later@1.5"],
        2,
        "smtpsim serve: error: argument --inject: probability must be between 0 and 1",
    ),
    "unknown phase": (
        ["serve", "--domain", "example.org", "--inject", "quit:421 4.3.2 Bye"],
        2,
        "smtpsim serve: error: argument --inject: phase must be one of",
    ),
    "user outside the domains": (
        ["serve", "--domain", "example.org", "--user", "a@example.com"],
        2,
        "smtpsim serve: error: --user names a domain that is not a --domain: example.com",
    ),
    "no command": ([], 2, "smtpsim: error:"),
}


@pytest.mark.parametrize("case", list(BAD_INPUT), ids=list(BAD_INPUT))
def test_bad_input_gives_one_line_on_stderr_and_a_usage_status(case: str) -> None:
    args, status, start = BAD_INPUT[case]
    done = smtpsim_cli(*args)
    assert done.returncode == status
    assert done.stderr.startswith(start), done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.endswith("\n")
    assert "--help" in done.stderr  # where to look next
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_an_unreachable_server_is_a_runtime_error() -> None:
    port = closed_port()
    done = smtpsim_cli(
        "send", "--server", f"127.0.0.1:{port}", "--from", "a@example.net", "--to", "b@example.org"
    )
    assert done.returncode == 1
    assert done.stderr == f"smtpsim send: error: connect to 127.0.0.1:{port}: Connection refused\n"
    assert done.stdout == ""


def test_serve_on_a_port_in_use_is_a_runtime_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = smtpsim_cli("serve", "--domain", "example.org", "--listen", f"127.0.0.1:{port}")
    assert done.returncode == 1
    assert done.stderr.startswith(f"smtpsim serve: error: cannot listen on 127.0.0.1:{port}: ")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_demo_delivers_to_two_recipients_and_refuses_the_unknown_one(tmp_path) -> None:
    done = smtpsim_cli("demo", "--maildir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    outcomes = re.findall(r"^  (\S+@example\.org): (\d{3} \d\.\d\.\d)", done.stdout, re.M)
    assert outcomes == [
        ("alice@example.org", "250 2.0.0"),
        ("bob@example.org", "250 2.0.0"),
        ("nobody@example.org", "550 5.1.1"),
    ]
    stored = list(tmp_path.glob("*.eml"))
    assert len(stored) == 1
    assert str(stored[0]) in done.stdout
    assert b"X-Envelope-To: <alice@example.org>, <bob@example.org>\r\n" in stored[0].read_bytes()
    assert "C: [pipelined group: MAIL RCPT RCPT RCPT DATA]" in done.stdout


def test_the_cli_and_drivers_load_no_simulation_stack() -> None:
    # docs/architecture.md, section 2: drivers use protocol, mail and asyncio only; `smtpsim
    # serve/send/demo` must start without the simulator's heavy dependencies.
    code = (
        "import sys, smtpsim.cli.main, smtpsim.drivers\n"
        "print(','.join(m for m in ('simpy', 'numpy', 'pandas') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT, check=True
    )
    assert done.stdout.strip() == ""
