"""The oracle never leaves Postfix or smtpsim serve running: both are stopped by PID /
``postfix -c DIR stop`` when the block around them fails or is interrupted; they bind
loopback only."""

from __future__ import annotations

import os
import smtplib
import threading
import time
from pathlib import Path

import pytest
from oracle_helpers import require_postfix

from smtpsim.oracle.catalogue import EXPIRY
from smtpsim.oracle.experiment import CANCEL, Interrupted, run_real
from smtpsim.oracle.postfix_instance import PostfixInstance
from smtpsim.oracle.serve_process import running_serve


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead too
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_postfix_and_serve_stopped_when_the_block_fails(
    tmp_path: Path, error: type[BaseException]
) -> None:
    require_postfix()
    seen: dict[str, int] = {}
    with (
        pytest.raises(error),
        running_serve(["--domain", "dest.example"], tmp_path / "serve.log") as serve,
    ):
        seen["serve"] = serve.process.pid
        instance = PostfixInstance(tmp_path / "pf", f"[127.0.0.1]:{serve.port}")
        with instance:
            pid = instance.master_pid()
            assert pid is not None and _alive(pid)
            seen["master"] = pid
            # loopback only: the submission port answers on 127.0.0.1
            with smtplib.SMTP("127.0.0.1", instance.smtpd_port, timeout=10) as s:
                assert s.noop()[0] == 250
            main = (instance.config_dir / "main.cf").read_text()
            assert "inet_interfaces = loopback-only" in main
            master = (instance.config_dir / "master.cf").read_text()
            assert master.startswith(f"127.0.0.1:{instance.smtpd_port} inet")
            raise error("boom")
    assert not _alive(seen["master"])
    assert not _alive(seen["serve"])
    assert "stopping the Postfix mail system" in (tmp_path / "pf" / "maillog").read_text()


def _children(pattern: str) -> list[int]:
    """This process's children whose command line holds ``pattern``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat[1]) == os.getpid() and stat[0] != "Z" and pattern in cmdline:
            found.append(int(proc.name))
    return found


@pytest.mark.timeout(120)
def test_cancelled_experiment_stops_postfix_and_serve(tmp_path: Path) -> None:
    """Ctrl-C while experiments run side by side sets CANCEL: each stops within a
    moment, its Postfix and smtpsim serve with it."""
    require_postfix()
    box: dict[str, BaseException] = {}
    # other tests' servers (session fixtures) may be running: only new ones count
    before = set(_children("smtpsim serve"))

    def run() -> None:
        try:
            run_real(EXPIRY, tmp_path)
        except BaseException as exc:
            box["raised"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not set(_children("smtpsim serve")) - before:
            time.sleep(0.1)
        assert set(_children("smtpsim serve")) - before, "smtpsim serve did not start"
        time.sleep(2)  # some mail under way
        CANCEL.set()
        started = time.monotonic()
        thread.join(timeout=40)
        assert not thread.is_alive()
        assert time.monotonic() - started < 20
    finally:
        CANCEL.set()
        thread.join(timeout=60)
        CANCEL.clear()
    assert isinstance(box.get("raised"), Interrupted)
    assert set(_children("smtpsim serve")) - before == set()
    log = (tmp_path / "postfix" / "maillog").read_text()
    assert "stopping the Postfix mail system" in log
    pid = int(log.split("postfix/master[", 1)[1].split("]", 1)[0])
    assert not _alive(pid)
