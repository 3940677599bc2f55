"""The models: YAML short forms, defaults, filled names and addresses, digests."""

from __future__ import annotations

import importlib
import math
import random
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import BaseModel, ValidationError
from scenario_helpers import dump

from smtpsim.scenario import (
    DEFAULT_SIZE_CDF,
    Dist,
    Flow,
    Host,
    Link,
    PerMessage,
    Postfix,
    Processing,
    RateProfile,
    Recipients,
    Scenario,
    load_scenario,
    schema,
    units,
)
from smtpsim.scenario.distributions import DIST_KINDS
from smtpsim.scenario.per_message import PER_MESSAGE_KINDS
from smtpsim.scenario.rates import RATE_KINDS

# --- distributions -----------------------------------------------------------------------------


def _latency(value: Any) -> Dist:
    return Link(between=("a", "b"), latency=value).latency


@pytest.mark.parametrize(
    ("yaml_value", "expected"),
    [
        ("40ms", Dist(kind="constant", value=0.04)),
        (0.04, Dist(kind="constant", value=0.04)),
        ({"constant": "40ms"}, Dist(kind="constant", value=0.04)),
        ({"exponential": {"mean": "2s"}}, Dist(kind="exponential", mean=2.0)),
        (
            {"lognormal": {"median": "40ms", "sigma": 0.3}},
            Dist(kind="lognormal", median=0.04, sigma=0.3),
        ),
        ({"uniform": {"low": "10ms", "high": "30ms"}}, Dist(kind="uniform", low=0.01, high=0.03)),
        (
            {"empirical": [["1ms", 0.5], ["3ms", 1]]},
            Dist(kind="empirical", points=((0.001, 0.5), (0.003, 1.0))),
        ),
        (
            {"empirical": {"1ms": "50%", "3ms": 1}},
            Dist(kind="empirical", points=((0.001, 0.5), (0.003, 1.0))),
        ),
    ],
)
def test_duration_dist_yaml_forms(yaml_value: Any, expected: Dist) -> None:
    dist = _latency(yaml_value)
    assert dist.kind == expected.kind
    for name in ("value", "mean", "median", "sigma", "low", "high"):
        assert getattr(dist, name) == pytest.approx(getattr(expected, name))
    flat = [x for point in dist.points for x in point]
    assert flat == pytest.approx([x for point in expected.points for x in point])


def test_size_dist_values_are_bytes() -> None:
    flow = Flow.model_validate(
        {
            "submit_to": "msa",
            "rate": 1,
            "size": {"uniform": {"low": "1KiB", "high": "3KiB"}},
            "recipients": {"domains": {"a.example": 1}},
        }
    )
    assert (flow.size.low, flow.size.high) == (1024.0, 3072.0)
    assert flow.size.mean_value() == 2048.0


@pytest.mark.parametrize(
    ("yaml_value", "message"),
    [
        (
            {"normal": {"mean": "1s"}},
            "unknown distribution 'normal'; expected one of constant, "
            "exponential, lognormal, uniform, empirical; did you mean 'lognormal'?",
        ),
        (
            {"lognormal": {"median": "40ms", "sigm": 0.3}},
            "lognormal: unknown key 'sigm'; did you mean 'sigma'? (expected median, sigma)",
        ),
        ({"lognormal": {"sigma": 0.3}}, "lognormal: 'median' is missing"),
        (
            {"exponential": {"mean": "fast"}},
            "exponential: expected a duration such as '20ms', got 'fast'",
        ),
        ({"exponential": {"mean": 0}}, "exponential: mean must be greater than 0"),
        ({"uniform": {"low": "3s", "high": "1s"}}, "uniform: low must not exceed high"),
        ({"empirical": [["1ms", 0.5], ["3ms", 0.9]]}, "empirical: the last cdf must be 1, got 0.9"),
        ({"empirical": [["3ms", 0.5], ["1ms", 1]]}, "empirical: point 2 goes backwards"),
        ({"constant": "1s", "uniform": {}}, "expected distribution as a one-key mapping"),
        ("-1ms", "expected a non-negative duration such as '20ms', got '-1ms'"),
    ],
)
def test_dist_errors(yaml_value: Any, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        _latency(yaml_value)
    assert message in str(info.value)


def test_dist_means() -> None:
    assert Dist(kind="constant", value=3).mean_value() == 3
    assert Dist(kind="exponential", mean=2).mean_value() == 2
    assert Dist(kind="lognormal", median=1, sigma=0.5).mean_value() == pytest.approx(
        math.exp(0.125)
    )
    assert Dist(kind="uniform", low=1, high=5).mean_value() == 3
    # piecewise-linear CDF: uniform on [0, 10] -> 5; an atom of 0.5 at 2 then uniform [2, 4]
    assert Dist(kind="empirical", points=((0, 0), (10, 1))).mean_value() == 5
    assert Dist(kind="empirical", points=((2, 0.5), (4, 1))).mean_value() == pytest.approx(2.5)


def test_default_size_distribution_is_the_published_cdf() -> None:
    size = Flow.model_fields["size"]
    flow = Flow.model_validate(
        {"submit_to": "x", "rate": 1, "recipients": {"domains": {"a.example": 1}}}
    )
    assert size.default == {"empirical": [list(p) for p in DEFAULT_SIZE_CDF]}
    assert flow.size.kind == "empirical"
    assert flow.size.points[0] == (900.0, 0.0)
    assert flow.size.points[1] == (2048.0, 0.235)
    assert flow.size.points[-2] == (2 * 1024**2, 0.9996)
    assert flow.size.points[-1] == (10 * 1024**2, 1.0)
    assert len(flow.size.points) == 13
    assert flow.size.mean_value() == pytest.approx(56746.47, rel=1e-6)


def test_quantile_inverts_the_cdf() -> None:
    emp = Dist(kind="empirical", points=((0, 0), (10, 0.5), (30, 1)))
    assert [emp.quantile(u) for u in (0, 0.25, 0.5, 0.75, 1)] == [0, 5, 10, 20, 30]
    assert Dist(kind="uniform", low=2, high=4).quantile(0.5) == 3
    assert Dist(kind="exponential", mean=1).quantile(1 - math.exp(-1)) == pytest.approx(1)
    assert Dist(kind="lognormal", median=3, sigma=0.7).quantile(0.5) == pytest.approx(3)
    rng = random.Random(7)
    samples = [emp.quantile(rng.random()) for _ in range(20000)]
    assert sum(samples) / len(samples) == pytest.approx(emp.mean_value(), rel=0.02)


# --- rate profiles ----------------------------------------------------------------------------


def _rate(value: Any) -> RateProfile:
    flow = Flow.model_validate(
        {
            "submit_to": "x",
            "rate": value,
            "bursts": [{"at": 0, "messages": 1}],
            "recipients": {"domains": {"a.example": 1}},
        }
    )
    return flow.rate


def test_rate_profile_constant_forms() -> None:
    assert _rate("3/s") == RateProfile(kind="constant", rate=3.0)
    assert _rate({"constant": "180/min"}) == RateProfile(kind="constant", rate=3.0)
    assert _rate(0).max_rate() == 0


def test_rate_profile_piecewise() -> None:
    rate = _rate(
        {
            "piecewise": [
                {"at": 0, "rate": "1/s"},
                {"at": "2h", "rate": "5/s"},
                {"at": "3h", "rate": 0},
            ]
        }
    )
    assert rate.steps == ((0.0, 1.0), (7200.0, 5.0), (10800.0, 0.0))
    assert [rate.rate_at(t) for t in (0, 7199, 7200, 10799, 10800, 1e6)] == [1, 1, 5, 5, 0, 0]
    assert rate.max_rate() == 5
    assert rate.expected_count(0, 3 * 3600) == 7200 * 1 + 3600 * 5
    assert rate.expected_count(3600, 9000) == 3600 * 1 + 1800 * 5


def test_rate_profile_diurnal() -> None:
    rate = _rate({"diurnal": {"peak": "5/s", "trough": "0.2/s", "peak_at": "10:00"}})
    assert (rate.peak, rate.trough, rate.peak_at) == (5.0, 0.2, 36000.0)
    assert rate.rate_at(36000) == pytest.approx(5)
    assert rate.rate_at(36000 + 43200) == pytest.approx(0.2)
    assert rate.rate_at(36000 + 86400) == pytest.approx(5)
    assert rate.rate_at(36000 + 21600) == pytest.approx(2.6)
    assert rate.max_rate() == 5
    assert rate.expected_count(0, 86400) == pytest.approx(2.6 * 86400)
    # the closed form agrees with a numerical integral over an odd interval
    steps = 20000
    t0, t1 = 1234.0, 50000.0
    h = (t1 - t0) / steps
    numeric = sum(rate.rate_at(t0 + (i + 0.5) * h) for i in range(steps)) * h
    assert rate.expected_count(t0, t1) == pytest.approx(numeric, rel=1e-6)


def test_rate_profile_diurnal_defaults() -> None:
    rate = _rate({"diurnal": {"peak": "2/s"}})
    assert (rate.trough, rate.peak_at) == (0.0, 36000.0)


@pytest.mark.parametrize(
    ("yaml_value", "message"),
    [
        ({"piecewise": [{"at": "1h", "rate": "1/s"}]}, "piecewise: the first step must be at 0"),
        (
            {"piecewise": [{"at": 0, "rate": "1/s"}, {"at": 0, "rate": "2/s"}]},
            "piecewise: step times must increase",
        ),
        (
            {"piecewise": [{"at": 0, "rte": "1/s"}]},
            "piecewise: step 1: step: unknown key 'rte'; did you mean 'rate'?",
        ),
        ({"diurnal": {"peak": "1/s", "trough": "2/s"}}, "diurnal: trough must not exceed peak"),
        (
            {"diurnal": {"peak": "1/s", "peak_at": "25:00"}},
            "diurnal: expected a time of day such as '10:00', got '25:00'",
        ),
        ({"poisson": 3}, "unknown rate profile 'poisson'"),
        ("3/fortnight", "expected a rate such as '3/s' or '100/h', got '3/fortnight'"),
    ],
)
def test_rate_profile_errors(yaml_value: Any, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        _rate(yaml_value)
    assert message in str(info.value)


# --- recipients per message -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("yaml_value", "expected", "mean"),
    [
        ({"mean": 1.66}, PerMessage(kind="mean", mean=1.66), 1.66),
        ({"fixed": 3}, PerMessage(kind="fixed", fixed=3), 3),
        ({"table": {1: 3, 2: 1}}, PerMessage(kind="table", table=((1, 3.0), (2, 1.0))), 1.25),
        ({"table": [[2, 1], [1, 3]]}, PerMessage(kind="table", table=((1, 3.0), (2, 1.0))), 1.25),
    ],
)
def test_per_message_forms(yaml_value: Any, expected: PerMessage, mean: float) -> None:
    r = Recipients.model_validate({"per_message": yaml_value, "domains": {"a.example": 1}})
    assert r.per_message == expected
    assert r.per_message.mean_value() == pytest.approx(mean)


def test_recipients_defaults_and_domains() -> None:
    r = Recipients.model_validate({"domains": {"A.Example.": 2, "b.example": 0.5}})
    assert r.per_message == PerMessage(kind="mean", mean=1.66)
    assert r.domains == {"a.example": 2.0, "b.example": 0.5}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"per_message": {"mean": 0.5}, "domains": {"a.example": 1}}, "greater than or equal to 1"),
        (
            {"per_message": {"avg": 2}, "domains": {"a.example": 1}},
            "unknown per_message form 'avg'",
        ),
        ({"domains": {}}, "too_short"),
        ({"domains": {"a.example": 0}}, "greater than 0"),
    ],
)
def test_recipients_errors(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        Recipients.model_validate(data)
    assert message in str(info.value) or message in repr(info.value.errors())


# --- Postfix and other defaults ---------------------------------------------------------------

FACT_SHEET_DEFAULTS = {
    "queue_run_delay": 300.0,
    "minimal_backoff_time": 300.0,
    "maximal_backoff_time": 4000.0,
    "maximal_queue_lifetime": 5 * 86400.0,
    "bounce_queue_lifetime": 5 * 86400.0,
    "initial_destination_concurrency": 5,
    "default_destination_concurrency_limit": 20,
    "default_destination_recipient_limit": 50,
    "default_destination_concurrency_failed_cohort_limit": 1.0,
    "default_destination_concurrency_positive_feedback": "1",  # dumped as written
    "default_destination_concurrency_negative_feedback": "1",
    "default_process_limit": 100,
    "qmgr_message_active_limit": 20000,
    "relayhost": None,
    "smtp_fallback_relay": (),
    "smtp_connection_cache_on_demand": True,
    "smtp_connection_cache_time_limit": 2.0,
    "smtp_connection_reuse_time_limit": 300.0,
    "smtp_connect_timeout": 30.0,
    "smtp_helo_timeout": 300.0,
    "smtp_mail_timeout": 300.0,
    "smtp_rcpt_timeout": 300.0,
    "smtp_data_init_timeout": 120.0,
    "smtp_data_xfer_timeout": 180.0,
    "smtp_data_done_timeout": 600.0,
    "smtp_quit_timeout": 300.0,
    "smtp_skip_quit_response": True,
    "smtp_mx_address_limit": 5,
    "smtp_mx_session_limit": 2,
    "smtp_tls_security_level": "none",
    "smtp_tls_policy_maps": {},  # Postfix: empty
    "smtp_tls_mta_sts": False,  # (smtpsim) no MTA-STS resolver configured
    "smtpd_tls_security_level": "none",
    "message_size_limit": 10240000,
    "smtpd_recipient_limit": 1000,
    "smtpd_timeout": 300.0,
    "hopcount_limit": 50,
    "smtpd_pipelining": True,
    "smtp_pipelining": True,
    "delay_warning_time": 0.0,  # postconf(5): 0h, no delay warnings
    "smtpd_discard_ehlo_keywords": (),  # Postfix offers DSN unless told not to
    # Postfix's server offers SMTPUTF8 and CHUNKING (3.4 and later, BDAT_README);
    # its client sends no BDAT (smtp_proto.c has none); strict_smtputf8 = no (postconf)
    "smtpd_chunking": True,
    "smtp_chunking": False,
    "smtp_chunk_size": 1048576,
    "smtputf8_enable": True,
    "strict_smtputf8": False,
}


def test_postfix_defaults_are_the_fact_sheet_values() -> None:
    assert Postfix().model_dump() == FACT_SHEET_DEFAULTS


def test_postfix_values_in_units_and_lists() -> None:
    p = Postfix(
        maximal_backoff_time="2h",
        smtp_fallback_relay="a, b c",
        relayhost="",
        message_size_limit="50MiB",
        smtp_connection_cache_on_demand="yes",
    )
    assert p.maximal_backoff_time == 7200.0
    assert p.smtp_fallback_relay == ("a", "b", "c")
    assert p.relayhost is None
    assert p.message_size_limit == 50 * 1024**2
    assert p.smtp_connection_cache_on_demand is True
    assert Postfix(smtp_fallback_relay="smarthost").smtp_fallback_relay == ("smarthost",)
    assert Postfix(smtp_fallback_relay=None).smtp_fallback_relay == ()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("smtpd_recipient_limit", 99),
        ("default_destination_concurrency_positive_feedback", 1.5),  # Postfix: 0..1
        ("default_destination_concurrency_negative_feedback", "1/sqrt(concurrency)"),
        ("smtp_tls_security_level", "strict"),  # issue 14: dane, verify, secure are known
        ("smtp_tls_security_level", "fingerprint"),  # Postfix's, not modelled
        ("smtpd_tls_security_level", "encrypt"),
        ("minimal_backoff_time", "2h"),  # above maximal_backoff_time (4000s)
    ],
)
def test_postfix_bounds(field: str, value: Any) -> None:
    with pytest.raises(ValidationError):
        Postfix.model_validate({field: value})


def test_processing_and_link_defaults() -> None:
    p = Processing()
    assert (p.greeting.value, p.command.value, p.end_of_data.value) == pytest.approx(
        (0.001, 0.0002, 0.005)
    )
    link = Link(between=("a", "b"))
    assert (link.latency, link.bandwidth, link.loss) == (
        Dist(kind="constant", value=0.0005),
        125_000_000.0,
        0.0,
    )


def test_host_auth_default_depends_on_role() -> None:
    assert Host(role="msa").auth is True
    assert Host(role="mta").auth is False
    assert Host(role="mx", auth=True).auth is True
    assert Host(role="msa", auth=False).auth is False


def test_every_model_is_frozen_and_forbids_unknown_keys() -> None:
    # every module of the package: the models live in modules by subject
    package = Path(schema.__file__).parent
    modules = [
        importlib.import_module(f"smtpsim.scenario.{p.stem}")
        for p in sorted(package.glob("*.py"))
        if p.stem != "__init__"
    ]
    models = [
        v
        for m in modules
        for v in vars(m).values()
        if isinstance(v, type) and issubclass(v, BaseModel) and v.__module__ == m.__name__
    ]
    assert len(models) >= 36
    for model in models:
        assert model.model_config.get("extra") == "forbid", model
        assert model.model_config.get("frozen") is True, model
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
    with pytest.raises(ValidationError):
        Postfix().maximal_backoff_time = 1  # type: ignore[misc]


# --- filled names and addresses, digest -------------------------------------------------------


def test_names_and_addresses_are_filled_in_order(base: dict[str, Any]) -> None:
    base["hosts"]["out"]["ip"] = "198.18.0.2"  # taken explicitly: skipped by the assignment
    base["hosts"]["out"]["name"] = "out.corp.example"
    s = load_scenario(dump(base))
    assert [(k, h.name, h.ip) for k, h in s.hosts.items()] == [
        ("msa", "msa.sim.example", "198.18.0.1"),
        ("out", "out.corp.example", "198.18.0.2"),
        ("mx1", "mx1.sim.example", "198.18.0.3"),
    ]
    assert s.traffic["staff"].ip == "198.18.0.4"
    again = load_scenario(dump(base))
    assert again == s
    assert [h.ip for h in again.hosts.values()] == [h.ip for h in s.hosts.values()]


def test_sender_domain_defaults_to_the_first_accepted_domain(base: dict[str, Any]) -> None:
    base["hosts"]["msa"]["accepts"] = ["Staff.Corp.Example", "corp.example"]
    base["dns"]["staff.corp.example"] = {"mx": {"msa": 5}}
    del base["traffic"]["staff"]["sender_domain"]
    s = load_scenario(dump(base))
    assert s.traffic["staff"].sender_domain == "staff.corp.example"


def test_direct_construction_fills_defaults_too() -> None:
    s = Scenario(name="one", duration="1h", hosts={"solo": Host(role="mta")})
    assert s.hosts["solo"].name == "solo.sim.example"
    assert s.hosts["solo"].ip == "198.18.0.1"
    assert s.routers == ("internet",)
    assert s.simulation.wire is False


def test_direct_construction_runs_the_reference_checks() -> None:
    with pytest.raises(ValidationError) as info:
        Scenario(name="two", duration="1h", hosts={"a": {"role": "mta"}, "b": {"role": "mx"}})
    assert "hosts.a: not connected to any link" in str(info.value)


def test_model_dump_round_trips(base: dict[str, Any]) -> None:
    s = load_scenario(dump(base))
    again = Scenario.model_validate(s.model_dump(mode="json"))
    assert again == s
    assert again.digest() == s.digest()


def test_digest_is_stable_and_follows_changes(base: dict[str, Any]) -> None:
    a = load_scenario(dump(base))
    b = load_scenario(dump(base))
    assert a.digest() == b.digest()
    assert len(a.digest()) == 64 and int(a.digest(), 16) >= 0
    c = load_scenario(dump(base), overrides=["hosts.out.postfix.maximal_backoff_time=2h"])
    assert c.digest() != a.digest()
    # the same value written in another unit is the same scenario
    d = load_scenario(dump(base), overrides=["hosts.out.postfix.maximal_backoff_time=4000"])
    assert d.digest() == a.digest()
    base["hosts"]["out"]["postfix"] = {"maximal_backoff_time": 4000}  # a default, written out
    assert load_scenario(dump(base)).digest() == a.digest()


def test_units_module_is_exported() -> None:
    import smtpsim.scenario as pkg

    assert pkg.units is units
    for name in pkg.__all__:
        assert hasattr(pkg, name), name


def test_each_short_form_kind_is_a_class_named_in_the_stored_model() -> None:
    """The kind classes are the one list of kinds: the stored models' ``kind`` literals,
    the YAML parsers and the JSON Schema all follow them."""
    for model, kinds in (
        (Dist, DIST_KINDS),
        (RateProfile, RATE_KINDS),
        (PerMessage, PER_MESSAGE_KINDS),
    ):
        assert get_args(model.model_fields["kind"].annotation) == kinds.names, model
    d = Dist(kind="lognormal", median=2, sigma=0.5)
    assert type(d.form).__name__ == "Lognormal"
    assert d.form.stored == ("median", "sigma")
    assert d.form.mean() == d.mean_value()
    assert RateProfile(kind="diurnal", peak=2).form.max_rate() == 2
