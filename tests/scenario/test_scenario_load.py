"""Loading: files and text, YAML errors, every problem at once in our words."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from scenario_helpers import dump

from smtpsim.scenario import Problem, ScenarioError, load_scenario


def problems(text: str, overrides: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    with pytest.raises(ScenarioError) as info:
        load_scenario(text, overrides=overrides)
    return [(p.path, p.message) for p in info.value.problems]


def messages(text: str) -> dict[str, str]:
    return dict(problems(text))


def test_loads_from_a_path_a_path_string_and_text(base: dict[str, Any], tmp_path: Path) -> None:
    file = tmp_path / "s.yaml"
    file.write_text(dump(base))
    from_path = load_scenario(file)
    assert load_scenario(str(file)) == from_path
    assert load_scenario(dump(base)) == from_path
    assert from_path.name == "base"
    assert from_path.duration == 86400.0


def test_missing_file_is_a_problem(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    assert problems(str(missing))[0][0] == "<file>"
    assert "cannot read" in problems(str(missing))[0][1]


def test_yaml_syntax_error_gives_line_and_column() -> None:
    text = "name: x\nduration: 1d\nhosts:\n  a: {role: mta\n  b: [\n"
    [(path, message)] = problems(text)
    assert path == "<file>"
    assert message.startswith("YAML syntax error at line ")
    assert ", column " in message


def test_duplicate_keys_are_errors() -> None:
    text = "name: x\nduration: 1d\nhosts:\n  a: {role: mta}\n  a: {role: mx}\n"
    [(path, message)] = problems(text)
    assert path == "<file>"
    assert message == ("YAML error at line 5, column 3: found duplicate key 'a' (first at line 4)")


def test_top_level_must_be_a_mapping() -> None:
    assert problems("- a\n- b\n") == [
        ("<file>", "expected a mapping of scenario fields, got ['a', 'b']")
    ]


def test_unquoted_time_of_day_is_not_base_60(base: dict[str, Any]) -> None:
    base["traffic"]["staff"]["rate"] = {"diurnal": {"peak": "5/s"}}
    text = dump(base).replace("peak: 5/s", "peak: 5/s\n        peak_at: 07:30")
    assert "peak_at: 07:30" in text
    assert load_scenario(text).traffic["staff"].rate.peak_at == 27000.0


def test_four_kinds_of_problem_reported_together(base: dict[str, Any]) -> None:
    base["hosts"]["out"]["postfx"] = {"maximal_backoff_time": "2h"}  # a typo
    base["links"][1]["latency"] = "-5ms"  # a negative latency
    base["dns"]["bigmail.example"]["mx"]["mx2"] = 20  # an MX pointing at an unknown host
    base["traffic"]["staff"]["recipients"]["domains"]["nowhere.example"] = 1  # unreachable
    found = problems(dump(base))
    assert found == [
        ("dns.bigmail.example.mx.mx2", "unknown host 'mx2'; did you mean 'mx1'?"),
        ("hosts.out.postfx", "unknown field; did you mean 'postfix'?"),
        ("links[1].latency", "expected a non-negative duration such as '20ms', got '-5ms'"),
        (
            "traffic.staff.recipients.domains.nowhere.example",
            "domain nowhere.example cannot be reached from msa: no host accepts it and it "
            "has no dns entry",
        ),
    ]


def test_error_text_is_one_problem_per_line(base: dict[str, Any]) -> None:
    base["hosts"]["mx1"]["postfix"] = {"maximal_backoff_time": "fast"}
    base["hosts"]["out"]["role"] = "mda"
    with pytest.raises(ScenarioError) as info:
        load_scenario(dump(base))
    assert str(info.value) == (
        "hosts.mx1.postfix.maximal_backoff_time: expected a duration such as '20ms', got 'fast'\n"
        "hosts.out.role: expected one of msa, mta, relay, mx, resolver, dnsbl, got 'mda'"
    )
    assert "pydantic" not in str(info.value)
    assert info.value.problems[0] == Problem(
        "hosts.mx1.postfix.maximal_backoff_time", "expected a duration such as '20ms', got 'fast'"
    )


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        (
            lambda d: d["hosts"]["out"].update(postfx={}),
            "hosts.out.postfx",
            "unknown field; did you mean 'postfix'?",
        ),
        (
            lambda d: d["hosts"]["out"].update(zzz=1),
            "hosts.out.zzz",
            "unknown field; expected one of role, name, ip, accepts, mailboxes, auth, postfix, "
            "processing, listen_backlog, policies, retry, access, listeners, tls",
        ),
        (
            lambda d: d["hosts"]["out"].setdefault("postfix", {}).update(maximal_backof_time="1h"),
            "hosts.out.postfix.maximal_backof_time",
            "unknown field; did you mean 'maximal_backoff_time'?",
        ),
        (lambda d: d.update(trafic={}), "trafic", "unknown field; did you mean 'traffic'?"),
        (
            lambda d: d["links"][0].update(latncy="1ms"),
            "links[0].latncy",
            "unknown field; did you mean 'latency'?",
        ),
        (
            lambda d: d["traffic"]["staff"].pop("recipients"),
            "traffic.staff.recipients",
            "required field missing",
        ),
        (lambda d: d.pop("duration"), "duration", "required field missing"),
        (
            lambda d: d["hosts"]["out"].update(mailboxes="many"),
            "hosts.out.mailboxes",
            "expected an integer, got 'many'",
        ),
        (
            lambda d: d["hosts"]["out"].update(accepts="corp.example"),
            "hosts.out.accepts",
            "expected a list, got 'corp.example'",
        ),
        (
            lambda d: d["hosts"]["out"].update(postfix=5),
            "hosts.out.postfix",
            "expected a mapping, got 5",
        ),
        (
            lambda d: (
                d["simulation"].update(wire="maybe")
                if "simulation" in d
                else d.update(simulation={"wire": "maybe"})
            ),
            "simulation.wire",
            "expected true or false, got 'maybe'",
        ),
        (lambda d: d.update(duration=0), "duration", "must be greater than 0, got 0"),
        (lambda d: d.update(seed=-1), "seed", "must be at least 0, got -1"),
        (
            lambda d: d["hosts"]["out"].update(ip="300.1.1.1"),
            "hosts.out.ip",
            "expected an IPv4 address such as '192.0.2.10', got '300.1.1.1'",
        ),
        (
            lambda d: d["hosts"].update({"bad.key": {"role": "mx"}}),
            "hosts.bad.key",
            "'bad.key' is not a valid name: use a letter followed by letters, digits, '-' or '_' "
            "(no dots)",
        ),
        (
            lambda d: d["links"][0].update(between=["msa"]),
            "links[0].between[1]",
            "missing list item",
        ),
        (
            lambda d: d["links"][0].update(between=["msa", "msa"]),
            "links[0]",
            "a link needs two different ends, got 'msa' twice",
        ),
        (
            lambda d: d["traffic"]["staff"].update(rate=0),
            "traffic.staff",
            "the flow sends nothing: its rate is 0 and it has no bursts",
        ),
        (
            lambda d: d["traffic"]["staff"]["recipients"].update(domains={}),
            "traffic.staff.recipients.domains",
            "must not be empty",
        ),
        (
            lambda d: d["traffic"]["staff"].update(dsn={"notify": ["never", "success"]}),
            "traffic.staff.dsn",
            "notify: never goes alone (RFC 3461 section 4.1)",
        ),
        (
            lambda d: d["traffic"]["staff"].update(dsn={"ret": "part"}),
            "traffic.staff.dsn.ret",
            None,
        ),
        (
            lambda d: d["dns"]["bigmail.example"].update(mx={"mx1": "high"}),
            "dns.bigmail.example.mx",
            "the preference of mx1 must be an integer from 0 to 65535, got 'high'",
        ),
    ],
)
def test_field_errors_in_our_words(
    base: dict[str, Any], change: Any, path: str, message: str
) -> None:
    change(base)
    found = problems(dump(base))
    if message is None:  # the path is what matters; the wording is pydantic's, translated
        assert path in [p for p, _ in found], found
    else:
        assert (path, message) in found, found
    for _, text in found:
        assert "errors.pydantic.dev" not in text
        assert "Input should" not in text
        assert "instance of" not in text


def test_unquoted_null_mx_is_refused(base: dict[str, Any]) -> None:
    data_text = dump(base).replace("dns:\n", "dns:\n  parked.example:\n    mx: null\n", 1)
    assert messages(data_text)["dns.parked.example.mx"].startswith(
        "is empty: write mx: 'null' (quoted) for a null MX"
    )
    ok = dump(base).replace("dns:\n", "dns:\n  parked.example:\n    mx: 'null'\n", 1)
    assert load_scenario(ok).dns["parked.example"].mx == "null"


# --- cross-reference checks -------------------------------------------------------------------


def test_link_endpoint_must_exist(base: dict[str, Any]) -> None:
    base["links"][2]["between"] = ["mx1", "internt"]
    found = messages(dump(base))
    assert found["links[2].between[1]"] == (
        "unknown host or router 'internt'; did you mean 'internet'?"
    )


def test_declared_routers_are_link_ends(base: dict[str, Any]) -> None:
    base["routers"] = ["internet", "core"]
    base["links"][0]["between"] = ["msa", "core"]
    base["links"].append({"between": ["core", "out"]})
    assert load_scenario(dump(base)).routers == ("internet", "core")


def test_unconnected_host(base: dict[str, Any]) -> None:
    base["hosts"]["mx2"] = {"role": "mx"}
    assert messages(dump(base))["hosts.mx2"] == "not connected to any link"


def test_single_host_needs_no_link() -> None:
    s = load_scenario("name: solo\nduration: 1h\nhosts: {a: {role: mta}}\n")
    assert list(s.hosts) == ["a"]


def test_duplicate_links_and_router_clashes(base: dict[str, Any]) -> None:
    base["links"].append({"between": ["internet", "out"]})
    base["routers"] = ["internet", "out"]
    found = messages(dump(base))
    assert found["links[3]"] == "duplicate link between internet and out (see links[1])"
    assert found["routers[1]"] == "'out' is also a host key"


def test_relayhost_and_fallback_must_be_hosts(base: dict[str, Any]) -> None:
    base["hosts"]["msa"]["postfix"]["relayhost"] = "outt"
    base["hosts"]["out"]["postfix"] = {"smtp_fallback_relay": ["mx1", "smarthost"]}
    found = messages(dump(base))
    assert found["hosts.msa.postfix.relayhost"] == "unknown host 'outt'; did you mean 'out'?"
    assert found["hosts.out.postfix.smtp_fallback_relay[1]"] == "unknown host 'smarthost'"
    assert "hosts.out.postfix.smtp_fallback_relay[0]" not in found


def test_relayhost_loop(base: dict[str, Any]) -> None:
    base["hosts"]["out"]["postfix"] = {"relayhost": "msa"}
    found = messages(dump(base))
    assert found["hosts.msa.postfix.relayhost"] == "relayhost loop: msa -> out -> msa"


def test_relayhost_must_be_linked(base: dict[str, Any]) -> None:
    base["routers"] = ["internet", "lan"]
    base["links"][0] = {"between": ["msa", "lan"]}
    found = messages(dump(base))
    assert found["hosts.msa.postfix.relayhost"] == "out is not connected to msa by links"


def test_dns_a_must_be_a_host(base: dict[str, Any]) -> None:
    base["dns"]["tiny.example"] = {"a": "mx9"}
    assert messages(dump(base))["dns.tiny.example.a"] == "unknown host 'mx9'; did you mean 'mx1'?"


def test_submit_to_must_be_a_submission_host(base: dict[str, Any]) -> None:
    base["traffic"]["staff"]["submit_to"] = "mx1"
    assert messages(dump(base))["traffic.staff.submit_to"] == (
        "host 'mx1' has role mx; a flow submits to an msa, mta or relay host"
    )
    base["traffic"]["staff"]["submit_to"] = "msb"
    assert messages(dump(base))["traffic.staff.submit_to"] == (
        "unknown host 'msb'; did you mean 'msa'?"
    )


def test_sender_domain_needed(base: dict[str, Any]) -> None:
    del base["traffic"]["staff"]["sender_domain"]
    assert messages(dump(base))["traffic.staff.sender_domain"] == (
        "not given, and host 'msa' accepts no domain to use instead"
    )


def test_domain_behind_an_island_is_unreachable(base: dict[str, Any]) -> None:
    base["routers"] = ["internet", "other"]
    base["links"][2] = {"between": ["mx1", "other"]}
    found = messages(dump(base))
    assert found["traffic.staff.recipients.domains.bigmail.example"] == (
        "domain bigmail.example cannot be reached from msa: MX host mx1 is not connected to "
        "out by links"
    )


def test_accepted_domain_without_dns(base: dict[str, Any]) -> None:
    del base["dns"]["bigmail.example"]
    found = messages(dump(base))
    assert found["traffic.staff.recipients.domains.bigmail.example"] == (
        "domain bigmail.example cannot be reached from msa: it has no dns entry "
        "(hosts.mx1 accepts it; add dns: {bigmail.example: {mx: {mx1: 10}}})"
    )


def test_domain_accepted_on_the_relay_chain_needs_no_dns(base: dict[str, Any]) -> None:
    base["hosts"]["out"]["accepts"] = ["corp.example", "internal.example"]
    base["traffic"]["staff"]["recipients"]["domains"]["internal.example"] = 1
    s = load_scenario(dump(base))
    assert s.traffic["staff"].recipients.domains["internal.example"] == 1


def test_null_mx_and_implicit_mx_domains(base: dict[str, Any]) -> None:
    base["hosts"]["mx-tiny"] = {"role": "mx", "accepts": ["tiny.example"]}
    base["links"].append({"between": ["mx-tiny", "internet"]})
    base["dns"]["tiny.example"] = {"a": "mx-tiny"}
    base["dns"]["parked.example"] = {"mx": "null"}
    domains = base["traffic"]["staff"]["recipients"]["domains"]
    domains.update({"tiny.example": 1, "parked.example": 1})
    s = load_scenario(dump(base))
    assert s.dns["tiny.example"].mx is None and s.dns["tiny.example"].a == "mx-tiny"
    assert s.dns["parked.example"].mx == "null"


def test_dns_without_mx_or_a_and_dnsbl_zone(base: dict[str, Any]) -> None:
    base["dns"]["txt.example"] = {"txt": ["v=spf1 -all"]}
    base["dns"]["zen.dnsbl.example"] = {"dnsbl": True}
    base["traffic"]["staff"]["recipients"]["domains"].update(
        {"txt.example": 1, "zen.dnsbl.example": 1}
    )
    found = messages(dump(base))
    assert found["traffic.staff.recipients.domains.txt.example"].endswith(
        ": its dns entry has neither mx nor a"
    )
    assert found["traffic.staff.recipients.domains.zen.dnsbl.example"].endswith(
        ": it is a DNSBL zone, not a mail domain"
    )


def test_bounces_must_find_their_way_back(base: dict[str, Any]) -> None:
    del base["dns"]["corp.example"]
    found = messages(dump(base))
    assert found["traffic.staff.sender_domain"].startswith(
        "bounces to corp.example cannot be reached from mx1: it has no dns entry"
    )


def test_senders_need_mailboxes(base: dict[str, Any]) -> None:
    base["hosts"]["out"]["mailboxes"] = 10
    assert messages(dump(base))["traffic.staff.senders"] == (
        "100 senders, but hosts.out has only 10 mailboxes in corp.example (bounces to the "
        "others would bounce again)"
    )


def test_warmup_must_be_shorter_than_duration(base: dict[str, Any]) -> None:
    base["warmup"] = "2d"
    assert messages(dump(base))["warmup"] == "must be shorter than duration (1d), got 2d"


def test_duplicate_addresses(base: dict[str, Any]) -> None:
    base["hosts"]["msa"]["ip"] = "192.0.2.1"
    base["hosts"]["mx1"]["ip"] = "192.0.2.1"
    assert messages(dump(base))["hosts.mx1.ip"] == "address 192.0.2.1 is also used by hosts.msa"


def test_cross_checks_run_despite_field_errors(base: dict[str, Any]) -> None:
    base["hosts"]["mx1"]["role"] = "nonsense"
    base["hosts"]["msa"]["postfix"]["relayhost"] = "nowhere"
    found = messages(dump(base))
    assert "hosts.mx1.role" in found
    assert found["hosts.msa.postfix.relayhost"] == "unknown host 'nowhere'"


def test_problems_are_sorted_naturally() -> None:
    error = ScenarioError(
        [
            Problem("links[10].x", "b"),
            Problem("links[2].x", "a"),
            Problem("hosts.a", "c"),
            Problem("links[2].x", "a"),
        ]
    )
    assert [p.path for p in error.problems] == ["hosts.a", "links[2].x", "links[10].x"]


def test_flow_client_parameters(base: dict[str, Any]) -> None:
    base["traffic"]["staff"]["client"] = {"smtpd_pipelining": False, "smtp_connect_timeout": "5s"}
    s = load_scenario(dump(base))
    assert s.traffic["staff"].client.smtpd_pipelining is False
    assert s.traffic["staff"].client.smtp_connect_timeout == 5.0
    assert s.traffic["staff"].client.relayhost is None
    base["traffic"]["staff"]["client"]["relayhost"] = "out"
    assert messages(dump(base))["traffic.staff.client.relayhost"] == (
        "must stay unset: the population always submits to msa"
    )
