"""A corpus of broken scenarios: absurd values, dangling names, deep nesting, missing
paths. Each one, given to ``validate`` and ``run`` as a file and (where it is a value)
as ``--set`` over a valid file, must give exit status 2, name the path of the problem,
state the bound where there is one, and print no traceback (issue 9, items 2 and 4).

Most cases call the CLI's ``main`` in this process (fast); a few run ``python -m
smtpsim`` as a real subprocess, to see exactly what a user sees.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from smtpsim.cli.main import main
from smtpsim.scenario import bounds

BASE: dict[str, Any] = {
    "name": "corpus",
    "duration": "30min",
    "hosts": {
        "msa": {"role": "msa", "accepts": ["corp.example"], "postfix": {"relayhost": "out"}},
        "out": {"role": "mta", "ip": "192.0.2.20"},
        "mx1": {
            "role": "mx",
            "accepts": ["bigmail.example"],
            "policies": [
                {"dnsbl": {"zones": ["zen.dnsbl.example"]}},
                {
                    "spam_filter": {
                        "classes": {"bulk": {"mean": 6, "sd": 1, "domains": ["corp.example"]}}
                    }
                },
            ],
        },
    },
    "links": [
        {"between": ["msa", "out"]},
        {"between": ["out", "internet"], "latency": "10ms"},
        {"between": ["mx1", "internet"], "latency": "40ms"},
    ],
    "dns": {
        "corp.example": {"mx": {"msa": 10}},
        "bigmail.example": {"mx": {"mx1": 10}},
        "zen.dnsbl.example": {"dnsbl": True},
    },
    "traffic": {
        "staff": {
            "submit_to": "msa",
            "rate": "1/s",
            "recipients": {"domains": {"bigmail.example": 1}},
        }
    },
    "incidents": [
        {
            "dnsbl_list": {"zone": "zen.dnsbl.example", "ip": "192.0.2.20"},
            "at": "10min",
            "for": "10min",
        },
    ],
}

PLACEHOLDER = "@@broken@@"


@dataclass(frozen=True)
class Case:
    """A broken value: where it goes, its YAML text, the path and words the error has."""

    id: str
    where: tuple[str | int, ...]
    value: str
    path: str
    words: str = ""

    def set_path(self) -> str:
        out = ""
        for part in self.where:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
        return out

    def text(self) -> str:
        """BASE with the broken value in place (inserted as text: it may be too deep
        for any YAML library to write)."""
        data = copy.deepcopy(BASE)
        node: Any = data
        for part in self.where[:-1]:
            node = node[part]
        node[self.where[-1]] = PLACEHOLDER
        dumped = yaml.safe_dump(data, sort_keys=False, width=10**6)
        assert f"'{PLACEHOLDER}'" in dumped
        return dumped.replace(f"'{PLACEHOLDER}'", self.value)


DEEP = "[" * 500 + "]" * 500
DEEP_MAP = "{a: " * 40 + "1" + "}" * 40
STAFF = ("traffic", "staff")
MX1 = ("hosts", "mx1")

CASES = [
    # absurd counts
    Case("messages-1e308", (*STAFF, "messages"), "1e308", "traffic.staff.messages", "integer"),
    Case(
        "messages-10^308",
        (*STAFF, "messages"),
        "1" + "0" * 308,
        "traffic.staff.messages",
        f"at most {bounds.MAX_MESSAGES}",
    ),
    Case(
        "messages-10^12",
        (*STAFF, "messages"),
        "1000000000000",
        "traffic.staff.messages",
        f"at most {bounds.MAX_MESSAGES}",
    ),
    Case(
        "burst-10^12",
        (*STAFF, "bursts"),
        "[{at: 0, messages: 1000000000000}]",
        "traffic.staff.bursts[0].messages",
        f"at most {bounds.MAX_MESSAGES}",
    ),
    Case(
        "senders-10^12",
        (*STAFF, "senders"),
        "1000000000000",
        "traffic.staff.senders",
        f"at most {bounds.MAX_POPULATION}",
    ),
    Case(
        "mailboxes-10^12",
        (*MX1, "mailboxes"),
        "1000000000000",
        "hosts.mx1.mailboxes",
        f"at most {bounds.MAX_POPULATION}",
    ),
    Case(
        "concurrency-10^15",
        ("hosts", "out", "postfix"),
        "{default_destination_concurrency_limit: 1000000000000000}",
        "hosts.out.postfix.default_destination_concurrency_limit",
        "at most 1000000000",
    ),
    Case(
        "max-events-10^15",
        ("simulation",),
        "{max_events: 1000000000000000}",
        "simulation.max_events",
        "at most",
    ),
    Case("seed-2^70", ("seed",), str(2**70), "seed", "at most"),
    Case("seed-negative", ("seed",), "-1", "seed", "at least 0"),
    # recipients per message
    Case(
        "rcpt-fixed-10^9",
        (*STAFF, "recipients", "per_message"),
        "{fixed: 1000000000}",
        "traffic.staff.recipients.per_message.fixed",
        "at most 10000",
    ),
    Case(
        "rcpt-mean-10^9",
        (*STAFF, "recipients", "per_message"),
        "{mean: 1000000000}",
        "traffic.staff.recipients.per_message.mean",
        "at most 10000",
    ),
    Case(
        "rcpt-table-10^9",
        (*STAFF, "recipients", "per_message"),
        "{table: {1000000000: 1}}",
        "traffic.staff.recipients.per_message",
        "at most 10000",
    ),
    Case(
        "domain-weight-1e300",
        (*STAFF, "recipients", "domains"),
        "{bigmail.example: 1.0e+300}",
        "traffic.staff.recipients.domains",
        "at most",
    ),
    # sizes
    Case("size-1e15GiB", (*STAFF, "size"), "1e15GiB", "traffic.staff.size", "at most 4GiB"),
    Case(
        "size-exponential",
        (*STAFF, "size"),
        "{exponential: {mean: 1e15GiB}}",
        "traffic.staff.size",
        "at most 4GiB",
    ),
    Case(
        "size-uniform",
        (*STAFF, "size"),
        "{uniform: {low: 1KiB, high: 1e20B}}",
        "traffic.staff.size",
        "at most 4GiB",
    ),
    Case(
        "size-empirical",
        (*STAFF, "size"),
        "{empirical: [[1KiB, 0.5], [1e30B, 1]]}",
        "traffic.staff.size",
        "at most 4GiB",
    ),
    Case(
        "size-limit-1e15GiB",
        ("hosts", "out", "postfix"),
        "{message_size_limit: 1e15GiB}",
        "hosts.out.postfix.message_size_limit",
        "at most 4GiB",
    ),
    # distribution parameters
    Case(
        "size-sigma-1000",
        (*STAFF, "size"),
        "{lognormal: {median: 10KiB, sigma: 1000}}",
        "traffic.staff.size",
        "sigma must be at most 5",
    ),
    Case(
        "latency-sigma-1000",
        ("links", 1, "latency"),
        "{lognormal: {median: 10ms, sigma: 1000}}",
        "links[1].latency",
        "at most 5",
    ),
    Case(
        "spam-sd-1e300",
        (*MX1, "policies", 1, "spam_filter", "classes", "bulk"),
        "{mean: 6, sd: 1.0e+300}",
        "hosts.mx1.policies[1].spam_filter.classes.bulk.sd",
        "at most",
    ),
    # durations
    Case("duration-1e20w", ("duration",), "1e20w", "duration", "at most 3650d"),
    Case("duration-inf", ("duration",), "1e400s", "duration", "at most 3650d"),
    Case("warmup-1e20w", ("warmup",), "1e20w", "warmup", "at most 3650d"),
    Case(
        "lifetime-1e12d",
        ("hosts", "out", "postfix"),
        "{maximal_queue_lifetime: 1e12d}",
        "hosts.out.postfix.maximal_queue_lifetime",
        "at most 3650d",
    ),
    Case("incident-at-1e20w", ("incidents", 0, "at"), "1e20w", "incidents[0].at", "at most 3650d"),
    # rates and bandwidths
    Case("rate-1e12", (*STAFF, "rate"), "1e12/s", "traffic.staff.rate", "at most 100000/s"),
    Case(
        "rate-diurnal",
        (*STAFF, "rate"),
        "{diurnal: {peak: 1e9/s}}",
        "traffic.staff.rate",
        "at most 100000/s",
    ),
    Case(
        "rate-piecewise",
        (*STAFF, "rate"),
        "{piecewise: [{at: 0, rate: 1e9/s}]}",
        "traffic.staff.rate",
        "at most 100000/s",
    ),
    Case(
        "incident-onsets-1e9",
        ("incidents",),
        "[{host_down: mx1, random: {rate: 1e9/s, duration: 1min}}]",
        "incidents[0].random.rate",
        "at most 100000/s",
    ),
    Case(
        "bandwidth-1e30",
        ("links", 0, "bandwidth"),
        "1e30Gbit/s",
        "links[0].bandwidth",
        "at most 100Tbit/s",
    ),
    Case(
        "bandwidth-1e-9",
        ("links", 0, "bandwidth"),
        "1e-9bit/s",
        "links[0].bandwidth",
        "at least 1bit/s",
    ),
    Case(
        "latency-factor-1e300",
        ("incidents",),
        "[{link_congestion: {link: [out, internet], latency_factor: 1.0e+300}}]",
        "incidents[0].link_congestion.latency_factor",
        "at most",
    ),
    Case(
        "slow-factor-1e300",
        ("incidents",),
        "[{host_slow: {host: mx1, factor: 1.0e+300}}]",
        "incidents[0].host_slow.factor",
        "at most",
    ),
    # names that must exist
    Case(
        "dnsbl-policy-unknown-zone",
        (*MX1, "policies", 0),
        "{dnsbl: {zones: [nope.example]}}",
        "hosts.mx1.policies[0].dnsbl.zones[0]",
        "no dns entry for nope.example",
    ),
    Case(
        "dnsbl-policy-mail-domain",
        (*MX1, "policies", 0),
        "{dnsbl: {zones: [bigmail.example]}}",
        "hosts.mx1.policies[0].dnsbl.zones[0]",
        "not a DNSBL zone",
    ),
    Case(
        "spam-class-unknown-domain",
        (*MX1, "policies", 1, "spam_filter", "classes", "bulk"),
        "{mean: 6, sd: 1, domains: [nobody.example]}",
        "hosts.mx1.policies[1].spam_filter.classes.bulk.domains[0]",
        "no flow sends from",
    ),
    Case(
        "listing-on-mail-zone",
        ("dns", "bigmail.example"),
        "{mx: {mx1: 10}, listing: {hits: 3}}",
        "dns.bigmail.example.listing",
        "only a DNSBL zone",
    ),
    Case(
        "dnsbl-incident-unknown-zone",
        ("incidents",),
        "[{dnsbl_list: {zone: nope.example, ip: 192.0.2.20}}]",
        "incidents[0].dnsbl_list.zone",
        "no dns entry",
    ),
    Case(
        "dnsbl-incident-foreign-ip",
        ("incidents",),
        "[{dnsbl_list: {zone: zen.dnsbl.example, ip: 203.0.113.99}}]",
        "incidents[0].dnsbl_list.ip",
        "no host or flow",
    ),
    Case(
        "unknown-submit-host",
        (*STAFF, "submit_to"),
        "msx",
        "traffic.staff.submit_to",
        "unknown host 'msx'",
    ),
    Case(
        "unknown-mx-host",
        ("dns", "bigmail.example"),
        "{mx: {mx9: 10}}",
        "dns.bigmail.example.mx.mx9",
        "unknown host",
    ),
    Case(
        "unknown-relayhost",
        ("hosts", "msa", "postfix"),
        "{relayhost: nowhere}",
        "hosts.msa.postfix.relayhost",
        "unknown host",
    ),
    Case(
        "unknown-domain",
        (*STAFF, "recipients", "domains"),
        "{nowhere.example: 1}",
        "traffic.staff.recipients.domains.nowhere.example",
        "cannot be reached",
    ),
    Case(
        "policy-incident-missing-policy",
        ("incidents",),
        "[{policy: {host: msa, policy: greylisting, enabled: false}}]",
        "incidents[0].policy.policy",
        "has no greylisting policy",
    ),
    Case(
        "incident-unknown-host",
        ("incidents",),
        "[{host_down: nohost}]",
        "incidents[0].host_down",
        "unknown host",
    ),
    Case(
        "incident-unknown-link",
        ("incidents",),
        "[{link_down: [msa, mx1]}]",
        "incidents[0].link_down",
        "no link between",
    ),
    # nesting
    Case(
        "deep-list-value",
        (*STAFF, "rate"),
        DEEP,
        "traffic.staff.rate",
        f"deeper than {bounds.MAX_DEPTH} levels",
    ),
    Case(
        "deep-mapping-value",
        ("hosts", "out", "postfix"),
        DEEP_MAP,
        "hosts.out.postfix",
        f"deeper than {bounds.MAX_DEPTH} levels",
    ),
]


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """``smtpsim ARGS`` in this process: (exit status, stdout and stderr)."""
    try:
        status = main(list(args))
    except SystemExit as exit_:  # argparse errors
        status = exit_.code if isinstance(exit_.code, int) else 1
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def assert_reported(status: int, output: str, path: str, words: str) -> None:
    assert status == 2, output
    assert "Traceback" not in output
    assert path in output, output
    assert words in output, output


def test_the_corpus_is_big_and_its_base_is_valid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert len(CASES) + len(FILE_ONLY) + len(PATHS) >= 40
    file = tmp_path / "base.yaml"
    file.write_text(yaml.safe_dump(BASE, sort_keys=False))
    status, output = cli(capsys, "validate", str(file))
    assert status == 0, output


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_validate_and_run_refuse_the_broken_file(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / f"{case.id}.yaml"
    file.write_text(case.text())
    for command in (["validate"], ["run", "--out", str(tmp_path / "out"), "--quiet"]):
        status, output = cli(capsys, *command, str(file))
        assert_reported(status, output, case.path, case.words)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_validate_and_run_refuse_the_broken_value_given_with_set(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "base.yaml"
    file.write_text(yaml.safe_dump(BASE, sort_keys=False))
    override = f"{case.set_path()}={case.value}"
    for command in (["validate"], ["run", "--out", str(tmp_path / "out"), "--quiet"]):
        status, output = cli(capsys, *command, str(file), "--set", override)
        assert_reported(status, output, case.path, case.words)


def _billion_laughs() -> str:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        name, prev = chr(97 + i), chr(96 + i)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    return "\n".join(lines) + "\n"


FILE_ONLY = {
    # (text, path, words)
    "deep-block-mapping": (
        yaml.safe_dump(BASE, sort_keys=False)
        + "simulation:\n"
        + "".join("  " * i + f"k{i}:\n" for i in range(1, 40))
        + "  " * 40
        + "v: 1\n",
        "simulation.k1.k2",
        f"deeper than {bounds.MAX_DEPTH} levels",
    ),
    "deep-flow-list-top": (
        "name: x\nduration: 1h\nhosts: " + DEEP + "\n",
        "hosts[0][0]",
        f"deeper than {bounds.MAX_DEPTH} levels",
    ),
    "alias-bomb": (_billion_laughs(), "f[", "once YAML aliases are expanded"),
    "alias-depth": (
        "name: x\nd: &d " + "[" * 20 + "]" * 20 + "\ne: " + "[" * 20 + "*d" + "]" * 20 + "\n",
        "e[0]",
        "through the alias *d",
    ),
}


@pytest.mark.parametrize("name", sorted(FILE_ONLY))
def test_deep_or_exploding_yaml_files_are_refused_before_parsing(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, path, words = FILE_ONLY[name]
    file = tmp_path / f"{name}.yaml"
    file.write_text(text)
    for command in (["validate"], ["run", "--out", str(tmp_path / "out"), "--quiet"]):
        status, output = cli(capsys, *command, str(file))
        assert_reported(status, output, path, words)


def test_a_set_value_that_deepens_the_file_beyond_the_bound_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """30 levels are fine for a --set value on its own, not 3 levels down in the file."""
    file = tmp_path / "base.yaml"
    file.write_text(yaml.safe_dump(BASE, sort_keys=False))
    value = "{a: " * 30 + "1" + "}" * 30
    status, output = cli(capsys, "validate", str(file), "--set", f"hosts.out.postfix={value}")
    assert_reported(status, output, "hosts.out.postfix.a.a", f"deeper than {bounds.MAX_DEPTH}")


PATHS = {
    # name: (argument relative to tmp_path, words)
    "missing-yaml": ("nope.yaml", "no such file"),
    "missing-no-suffix": ("nope", "no such file"),
    "missing-dir": ("nodir/scenario.yml", "no such file"),
    "directory": (".", "is a directory"),
}


@pytest.mark.parametrize("name", sorted(PATHS))
def test_missing_files_and_directories_are_named_as_such(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    relative, words = PATHS[name]
    target = str(tmp_path / relative)
    for command in (["validate"], ["run", "--out", str(tmp_path / "out"), "--quiet"]):
        status, output = cli(capsys, *command, target)
        assert_reported(status, output, "<file>", words)
        assert "expected a mapping" not in output


@pytest.mark.parametrize("seed", ["-1", "1.5", "seven", str(2**64)])
@pytest.mark.parametrize("command", ["run", "compare"])
def test_a_bad_seed_is_a_usage_error(
    seed: str, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "base.yaml"
    file.write_text(yaml.safe_dump(BASE, sort_keys=False))
    status, output = cli(capsys, command, str(file), "--seed", seed, "--out", str(tmp_path / "out"))
    assert_reported(status, output, "--seed", "whole number from 0 to")


def test_an_absurd_until_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "base.yaml"
    file.write_text(yaml.safe_dump(BASE, sort_keys=False))
    status, output = cli(
        capsys, "run", str(file), "--until", "1e20w", "--out", str(tmp_path / "out")
    )
    assert_reported(status, output, "--until", "at most 3650d")


# --- as a user sees it: real subprocesses ------------------------------------------------


def smtpsim(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    root = Path(__file__).resolve().parents[1]
    return subprocess.run(
        [sys.executable, "-m", "smtpsim", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**_env(), "PYTHONPATH": str(root)},
    )


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


def test_subprocess_deep_file_and_deep_set_give_one_problem_and_no_traceback(
    tmp_path: Path,
) -> None:
    deep = next(c for c in CASES if c.id == "deep-list-value")
    file = tmp_path / "deep.yaml"
    file.write_text(deep.text())
    done = smtpsim("validate", str(file), cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "  traffic.staff.rate[0][0]" in done.stderr
    assert "]: nested deeper than 32 levels" in done.stderr
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump(BASE, sort_keys=False))
    done = smtpsim("run", str(base), "--set", f"traffic.staff.rate={DEEP}", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "traffic.staff.rate: nested deeper than 32 levels" in done.stderr


def test_subprocess_negative_seed_and_missing_file(tmp_path: Path) -> None:
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump(BASE, sort_keys=False))
    done = smtpsim("run", str(base), "--seed", "-1", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--seed" in done.stderr
    done = smtpsim("validate", "scenarios/quickstart", cwd=tmp_path)
    assert done.returncode == 2 and "no such file" in done.stderr


def test_subprocess_a_run_past_max_events_stops_with_exit_2_naming_the_setting(
    tmp_path: Path,
) -> None:
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump(BASE, sort_keys=False))
    done = smtpsim(
        "run",
        str(base),
        "--set",
        "simulation.max_events=2000",
        "--out",
        str(tmp_path / "out"),
        "--no-plots",
        "--no-report",
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "stopped after 2,000 events" in done.stderr
    assert "simulation.max_events" in done.stderr
