"""A private, throw-away Postfix instance: the real side of an oracle experiment.

Everything lives under one temporary directory (``config_directory``,
``queue_directory``, ``data_directory``, the ``maillog_file``), so the instance never
touches a system installation (``/etc/postfix`` is only read for nothing: the
``master.cf`` is written here). It listens on 127.0.0.1 only (its ``smtpd`` is the
submission port of the experiment) and relays everything to ``relayhost``. It is
started with ``postfix -c DIR start`` and stopped with ``postfix -c DIR stop`` (then
the master's PID from ``pid/master.pid``, killed if it is still there) on every path:
use it as a context manager.

Postfix runs as root here (the Debian package's ``postfix`` user owns the queue);
without root, or without ``/usr/sbin/postfix``, :func:`postfix_missing` says why.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..metrics.run_dir import pid_alive

POSTFIX = "/usr/sbin/postfix"

# master.cf: only the services a relay needs, none chrooted (a chroot needs copies of
# /etc files in the queue directory), the smtpd on the experiment's loopback port.
# Columns: service type private unpriv chroot wakeup maxproc command (master(5)).
_MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

# main.cf settings every experiment shares: loopback only, no local delivery, no DNS,
# no TLS, the log in a file (postconf(5): maillog_file, Postfix >= 3.4).
_BASE = {
    "compatibility_level": "3.6",
    "myhostname": "relay.corp.example",
    "mydomain": "corp.example",
    "myorigin": "corp.example",
    "mydestination": "",
    "local_recipient_maps": "",
    "inet_interfaces": "loopback-only",
    "inet_protocols": "ipv4",
    "mynetworks": "127.0.0.0/8",
    "smtpd_relay_restrictions": "permit_mynetworks, reject",
    "default_transport": "smtp",
    "relay_transport": "smtp",
    "disable_dns_lookups": "yes",
    "smtp_dns_support_level": "disabled",
    "smtp_tls_security_level": "none",
    "smtpd_tls_security_level": "none",
    "smtp_address_preference": "ipv4",
    "alias_maps": "",
    "alias_database": "",
    "biff": "no",
    "append_dot_mydomain": "no",
    "smtputf8_enable": "no",
    "in_flow_delay": "0s",
}


def postfix_missing() -> str | None:
    """Why a private Postfix cannot run here, or None when it can."""
    if not Path(POSTFIX).exists():
        return f"Postfix is not installed ({POSTFIX} missing: apt-get install postfix)"
    if os.geteuid() != 0:
        return "a private Postfix instance needs root (its daemons switch to the postfix user)"
    try:
        pwd.getpwnam("postfix")
    except KeyError:
        return "the postfix user does not exist (install the Debian package)"
    return None


_GIVEN: set[int] = set()
_GIVEN_LOCK = threading.Lock()


def free_port() -> int:
    """A free TCP port on 127.0.0.1 below the kernel's ephemeral range (so that no
    outgoing connection takes it between now and its use), never the same twice in
    this process (experiments run side by side)."""
    low = 32768
    with contextlib.suppress(OSError, ValueError):
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    draw = random.Random()  # not the simulation's streams: only a port number
    with _GIVEN_LOCK:
        for _ in range(1000):
            port = draw.randrange(max(1024, low - 12000), low)
            if port in _GIVEN:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _GIVEN.add(port)
            return port
    raise RuntimeError("no free TCP port on 127.0.0.1")


@dataclass
class PostfixInstance:
    """One private Postfix under ``root``, relaying to ``relayhost`` (``host:port``)
    with the main.cf ``settings`` on top of the shared ones."""

    root: Path
    relayhost: str
    settings: Mapping[str, str] = field(default_factory=dict)
    smtpd_port: int = 0
    _started: bool = False
    # the live instance: a fresh directory under the system's temporary directory, which
    # the postfix user can reach (``root`` may sit below a private directory, as pytest's
    # tmp_path does); its maillog is copied to ``root`` when the instance stops
    live: Path | None = None

    @property
    def home(self) -> Path:
        if self.live is None:
            self.live = Path(tempfile.mkdtemp(prefix="smtpsim-postfix-"))
        return self.live

    @property
    def config_dir(self) -> Path:
        return self.home / "etc"

    @property
    def live_maillog(self) -> Path:
        return self.home / "maillog"

    @property
    def maillog(self) -> Path:
        """The maillog, in ``root`` once the instance has stopped."""
        return self.root / "maillog"

    def write_config(self) -> None:
        """main.cf and master.cf in ``config_dir``, the queue and data directories."""
        if not self.smtpd_port:
            self.smtpd_port = free_port()
        self.root.mkdir(parents=True, exist_ok=True)
        for sub in ("etc", "queue", "data"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        # the daemons run as the postfix user: they must reach the queue and own the
        # data directory (master.lock, the caches)
        self.home.chmod(0o755)
        owner = pwd.getpwnam("postfix")
        os.chown(self.home / "data", owner.pw_uid, owner.pw_gid)
        main = dict(_BASE)
        main.update(
            {
                "queue_directory": str(self.home / "queue"),
                "data_directory": str(self.home / "data"),
                "maillog_file": str(self.live_maillog),
                "maillog_file_prefixes": str(self.home),
                "relayhost": self.relayhost,
                "import_environment": "MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C",
            }
        )
        main.update(self.settings)
        (self.config_dir / "main.cf").write_text(
            "".join(f"{k} = {v}\n" for k, v in main.items()), encoding="utf-8"
        )
        (self.config_dir / "master.cf").write_text(
            _MASTER_CF.format(port=self.smtpd_port), encoding="utf-8"
        )
        # the dynamic-maps list the Debian package keeps beside main.cf
        for name in ("dynamicmaps.cf", "postfix-files"):
            source = Path("/etc/postfix") / name
            if source.exists():
                shutil.copy(source, self.config_dir / name)
        for name in ("dynamicmaps.cf.d", "postfix-files.d"):
            source = Path("/etc/postfix") / name
            if source.is_dir():
                shutil.copytree(source, self.config_dir / name, dirs_exist_ok=True)

    def _postfix(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAIL_")}
        env["TZ"] = "UTC"
        return subprocess.run(
            [POSTFIX, "-c", str(self.config_dir), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )

    def start(self) -> None:
        """Write the configuration, create the queue, start the master; wait until
        the submission port answers."""
        self.write_config()
        self._started = True  # from here on, stop() must run (and clean up)
        done = self._postfix("set-permissions")
        if done.returncode != 0:
            raise RuntimeError(f"postfix set-permissions failed: {self.log_tail()}")
        done = self._postfix("start")
        if done.returncode != 0:
            raise RuntimeError(f"postfix start failed: {self.log_tail()}")
        # the master binds the smtpd port before it logs "daemon started"; no probe
        # connection, which would add smtpd lines to the log
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if "daemon started" in self.log_tail(50):
                return
            time.sleep(0.05)
        raise RuntimeError(f"postfix did not start in 20 s: {self.log_tail()}")

    def log_tail(self, lines: int = 5) -> str:
        """The last lines of the maillog (where the postfix command writes its errors)."""
        try:
            text = self.live_maillog.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no maillog)"
        return " | ".join(text.splitlines()[-lines:])

    def master_pid(self) -> int | None:
        try:
            return int((self.home / "queue" / "pid" / "master.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def queue_empty(self) -> bool:
        """No message in the incoming, active or deferred queue (maildrop too)."""
        for sub in ("maildrop", "incoming", "active", "deferred"):
            folder = self.home / "queue" / sub
            if folder.is_dir() and any(p.is_file() for p in folder.rglob("*")):
                return False
        return True

    def stop(self) -> None:
        """``postfix stop``; then the master's PID, SIGKILL if it still lives; the
        maillog copied to ``root``, the live directory deleted."""
        if not self._started:
            return
        self._started = False
        pid = self.master_pid()
        with contextlib.suppress(subprocess.TimeoutExpired, OSError):
            self._postfix("stop", timeout=30)
        if pid is not None:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and pid_alive(pid):
                time.sleep(0.05)
            if pid_alive(pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(os.getpgid(pid), signal.SIGKILL)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            shutil.copyfile(self.live_maillog, self.maillog)
        shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> PostfixInstance:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def running_postfix(
    root: Path, relayhost: str, settings: Mapping[str, str]
) -> Iterator[PostfixInstance]:
    """A started :class:`PostfixInstance`, stopped on leaving (error and Ctrl-C too)."""
    instance = PostfixInstance(root, relayhost, settings)
    with instance:
        yield instance
