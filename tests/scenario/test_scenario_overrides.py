"""--set overrides: paths by YAML keys, values as YAML, bad paths named."""

from __future__ import annotations

from typing import Any

import pytest
from scenario_helpers import dump

from smtpsim.scenario import ScenarioError, apply_overrides, load_scenario, parse_override


@pytest.mark.parametrize(
    ("text", "path", "value"),
    [
        (
            "hosts.out.postfix.maximal_backoff_time=2h",
            "hosts.out.postfix.maximal_backoff_time",
            "2h",
        ),
        ("traffic.staff.unknown_users=5%", "traffic.staff.unknown_users", "5%"),
        ("simulation.wire=true", "simulation.wire", True),
        ("seed=7", "seed", 7),
        ("x=none", "x", None),
        ("x=Null", "x", None),
        ("x=~", "x", None),
        ("x=", "x", ""),
        ("x=[a, b]", "x", ["a", "b"]),
        ("x={mx1: 10}", "x", {"mx1": 10}),
        ("x=10:00", "x", "10:00"),
        ("x=a=b", "x", "a=b"),
        ("x=[unclosed", "x", "[unclosed"),
    ],
)
def test_parse_override(text: str, path: str, value: Any) -> None:
    assert parse_override(text) == (path, value)


def test_nested_override_does_not_touch_the_input(base: dict[str, Any]) -> None:
    before = dump(base)
    out = apply_overrides(base, ["hosts.out.postfix.maximal_backoff_time=2h"])
    assert out["hosts"]["out"]["postfix"] == {"maximal_backoff_time": "2h"}  # created
    assert dump(base) == before


def test_overrides_reach_the_scenario(base: dict[str, Any]) -> None:
    base["hosts"]["out"]["postfix"] = {"smtp_fallback_relay": "mx1"}
    s = load_scenario(
        dump(base),
        overrides=[
            "hosts.out.postfix.maximal_backoff_time=2h",
            "traffic.staff.unknown_users=5%",
            "simulation.wire=true",
            "hosts.out.postfix.smtp_fallback_relay=none",
            "hosts.msa.postfix.relayhost=none",
            "links[1].latency={lognormal: {median: 20ms, sigma: 0.2}}",
            "links[0].between[1]=internet",
            "dns.bigmail.example.ttl=5min",
        ],
    )
    assert s.hosts["out"].postfix.maximal_backoff_time == 7200.0
    assert s.traffic["staff"].unknown_users == 0.05
    assert s.simulation.wire is True
    assert s.hosts["out"].postfix.smtp_fallback_relay == ()
    assert s.hosts["msa"].postfix.relayhost is None
    assert s.links[1].latency.kind == "lognormal"
    assert s.links[1].latency.median == pytest.approx(0.02)
    assert s.links[0].between == ("msa", "internet")
    assert s.dns["bigmail.example"].ttl == 300.0


def test_override_later_wins(base: dict[str, Any]) -> None:
    s = load_scenario(dump(base), overrides=["seed=3", "seed=4"])
    assert s.seed == 4


def test_override_lists_and_whole_sections(base: dict[str, Any]) -> None:
    s = load_scenario(
        dump(base),
        overrides=[
            "hosts.out.accepts=[corp.example, other.example]",
            "routers=[internet, core]",
            "hosts.mx1.postfix={default_process_limit: 7}",
        ],
    )
    assert s.hosts["out"].accepts == ("corp.example", "other.example")
    assert s.routers == ("internet", "core")
    assert s.hosts["mx1"].postfix.default_process_limit == 7


def test_override_into_existing_short_form(base: dict[str, Any]) -> None:
    base["links"][2]["latency"] = {"lognormal": {"median": "40ms", "sigma": 0.3}}
    s = load_scenario(dump(base), overrides=["links[2].latency.lognormal.sigma=0.5"])
    assert s.links[2].latency.sigma == 0.5


def test_new_dotted_keys_quoted_or_bracketed(base: dict[str, Any]) -> None:
    out = apply_overrides(
        base,
        [
            'dns."new.example".mx={mx1: 5}',
            "dns[other.example].a=mx1",
            "traffic.staff.recipients.domains.third.example=0.5",
        ],
    )
    assert out["dns"]["new.example"] == {"mx": {"mx1": 5}}
    assert out["dns"]["other.example"] == {"a": "mx1"}
    assert out["traffic"]["staff"]["recipients"]["domains"]["third.example"] == 0.5


def test_new_dotted_key_followed_by_a_field_is_found(base: dict[str, Any]) -> None:
    out = apply_overrides(base, ["dns.new.example.ttl=5min"])
    assert out["dns"]["new.example"] == {"ttl": "5min"}


def test_new_host_by_override(base: dict[str, Any]) -> None:
    s = load_scenario(
        dump(base),
        overrides=[
            "hosts.mx2.role=mx",
            "hosts.mx2.accepts=[bigmail.example]",
            "links=[{between: [msa, out]}, {between: [out, internet]}, "
            "{between: [mx1, internet]}, {between: [mx2, internet]}]",
            "dns.bigmail.example.mx.mx2=20",
        ],
    )
    assert s.hosts["mx2"].role == "mx"
    assert s.dns["bigmail.example"].mx == {"mx1": 10, "mx2": 20}


@pytest.mark.parametrize(
    ("override", "path", "message"),
    [
        (
            "hosts.out.postfx.relayhost=x",
            "hosts.out.postfx",
            "unknown field; did you mean 'postfix'? (in --set hosts.out.postfx.relayhost=x)",
        ),
        (
            "simulation.wir=true",
            "simulation.wir",
            "unknown field; did you mean 'wire'? (in --set simulation.wir=true)",
        ),
        ("nonsense=1", "nonsense", "unknown field (in --set nonsense=1)"),
        (
            "links[7].latency=1ms",
            "links[7]",
            "no such item: the list has 3 (in --set links[7].latency=1ms)",
        ),
        (
            "links.latency=1ms",
            "links.latency",
            "expected a list index such as [0] here (in --set links.latency=1ms)",
        ),
        ("hosts.out.role.x=1", "hosts.out.role.x", "no such setting (in --set hosts.out.role.x=1)"),
        ("seed", "--set", "expected PATH=VALUE, got 'seed'"),
        ("=3", "--set", "expected PATH=VALUE, got '=3'"),
        ("hosts..out=1", "--set", "bad path 'hosts..out': empty segment at position 7"),
        ("hosts.out]=1", "--set", "bad path 'hosts.out]': unexpected ']' at position 10"),
    ],
)
def test_bad_override_paths_are_named(
    base: dict[str, Any], override: str, path: str, message: str
) -> None:
    with pytest.raises(ScenarioError) as info:
        apply_overrides(base, [override])
    [problem] = info.value.problems
    assert (problem.path, problem.message) == (path, message) or (
        problem.path == path and message in problem.message
    )


def test_bad_overrides_reported_with_the_other_problems(base: dict[str, Any]) -> None:
    base["hosts"]["out"]["role"] = "mda"
    with pytest.raises(ScenarioError) as info:
        load_scenario(dump(base), overrides=["simulation.wir=true", "seed=-2"])
    paths = [p.path for p in info.value.problems]
    assert paths == ["hosts.out.role", "seed", "simulation.wir"]


def test_override_value_is_validated_like_the_file(base: dict[str, Any]) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(dump(base), overrides=["hosts.out.postfix.maximal_backoff_time=fast"])
    assert str(info.value) == (
        "hosts.out.postfix.maximal_backoff_time: expected a duration such as '20ms', got 'fast'"
    )


def test_with_overrides_on_a_loaded_scenario(base: dict[str, Any]) -> None:
    from smtpsim.scenario import with_overrides

    loaded = load_scenario(dump(base))
    sets = ["hosts.out.postfix.maximal_backoff_time=2h", "links[1].latency=25ms", "seed=9"]
    changed = with_overrides(loaded, sets)
    assert changed == load_scenario(dump(base), overrides=sets)
    assert changed.digest() == load_scenario(dump(base), overrides=sets).digest()
    assert loaded.seed == 1  # the original is untouched
    with pytest.raises(ScenarioError) as info:
        with_overrides(loaded, ["hosts.out.postfix.maximal_backoff_time=fast", "simulation.x=1"])
    assert [p.path for p in info.value.problems] == [
        "hosts.out.postfix.maximal_backoff_time",
        "simulation.x",
    ]
