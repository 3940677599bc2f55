"""Greylisting with postgrey 1.37 semantics, through real sessions."""

from __future__ import annotations

import pytest
from mail_helpers import Session, rcpt_once

from smtpsim.mail import Greylist
from smtpsim.mail.greylist import client_network, normalise_sender
from smtpsim.protocol import Hello, Mail, Rcpt, Reply

DAY = 86400.0
RCPT = "Bob@Example.org"


def attempt(
    grey: Greylist,
    now: float,
    *,
    ip: str = "192.0.2.7",
    sender: str = "a@c.example",
    rcpt: str = RCPT,
) -> int:
    return rcpt_once([grey], rcpt, sender=sender, ip=ip, now=now).code


def test_first_attempt_gets_postgreys_reply_and_a_retry_after_the_delay_passes():
    grey = Greylist()
    reply = rcpt_once([grey], RCPT, now=1000.0)
    assert reply == Reply(
        450,
        "4.2.0",
        "<Bob@Example.org>: Recipient address rejected: Greylisted, "
        "see http://postgrey.schweikert.ch/help/Example.org.html",
    )
    assert attempt(grey, 1000.0 + 299.0) == 450  # early retry
    assert attempt(grey, 1000.0 + 300.0) == 250  # now - first >= delay
    assert attempt(grey, 1000.0 + 301.0) == 250


def test_early_retries_do_not_move_the_first_seen_time():
    grey = Greylist(delay=300)
    assert [attempt(grey, t) for t in (0, 100, 200, 299, 300)] == [450] * 4 + [250]


def test_client_part_is_the_slash_24_network_unless_lookup_by_host():
    grey = Greylist()
    assert attempt(grey, 0, ip="192.0.2.7") == 450
    assert attempt(grey, 400, ip="192.0.2.200") == 250  # same /24: a pool retrying
    assert attempt(grey, 400, ip="192.0.3.7") == 450  # another network: a new triplet

    by_host = Greylist(lookup_by_host=True)
    assert attempt(by_host, 0, ip="192.0.2.7") == 450
    assert attempt(by_host, 400, ip="192.0.2.200") == 450


@pytest.mark.parametrize(
    "ip,net",
    [("192.0.2.7", "192.0.2.0"), ("2001:db8:1:2:3::4", "2001:db8:1:2::"), ("unknown", "unknown")],
)
def test_client_network(ip, net):
    assert client_network(ip) == net


def test_sender_is_lower_cased_and_verp_normalised_like_postgrey():
    assert normalise_sender("List+bounce-4711@Lists.Example") == "list@lists.example"
    assert normalise_sender("bounce-4711-99@lists.example") == "bounce-#-#@lists.example"
    assert normalise_sender("") == ""
    grey = Greylist()
    assert attempt(grey, 0, sender="news+id-1@lists.example") == 450
    assert attempt(grey, 400, sender="NEWS+id-2@Lists.Example") == 250  # same triplet


def test_each_recipient_is_its_own_triplet_and_bounces_are_greylisted_too():
    grey = Greylist()
    s = Session([grey], now=0.0)
    codes = [r.code for r in s.transaction("", ["a@example.org", "b@example.org"], now=0.0)]
    assert codes == [250, 450, 450]  # MAIL FROM:<> accepted, both RCPTs greylisted
    s = Session([grey], now=300.0)
    replies = s.transaction("", ["a@example.org", "c@example.org"], now=300.0)
    assert [r.code for r in replies] == [250, 250, 450, 250]  # c is new; the message goes
    assert s.stored[0].recipients == ("a@example.org",)


def test_a_first_retry_after_the_retry_window_starts_over():
    grey = Greylist()
    assert attempt(grey, 0) == 450
    late = 2 * DAY + 1
    assert attempt(grey, late) == 450  # first-seen reset to now
    assert attempt(grey, late + 299) == 450
    assert attempt(grey, late + 300) == 250


def test_a_passed_triplet_is_forgotten_after_max_age_without_being_seen():
    grey = Greylist()
    attempt(grey, 0)
    assert attempt(grey, 300) == 250
    assert attempt(grey, 300 + 35 * DAY) == 250  # seen again just within max_age
    assert attempt(grey, 300 + 70 * DAY + 1) == 450  # 35 days and 1 s since last seen


def test_auto_whitelist_after_five_delayed_deliveries_counted_once_an_hour():
    grey = Greylist()  # auto_whitelist_clients=5
    # Five different triplets from the same /24, each delayed then accepted, one an hour.
    for i in range(5):
        t0 = i * 3600.0
        rcpt = f"user{i}@example.org"
        assert attempt(grey, t0, rcpt=rcpt) == 450
        assert attempt(grey, t0 + 300, rcpt=rcpt) == 250
    assert grey.clients["192.0.2.0"][0] == 5
    # Now whitelisted: a brand-new triplet from another address of the /24 passes at once.
    assert attempt(grey, 5 * 3600.0, ip="192.0.2.99", rcpt="new@example.org") == 250


def test_successes_within_the_same_hour_count_once():
    grey = Greylist()
    for i in range(6):
        rcpt = f"user{i}@example.org"
        attempt(grey, 10.0 * i, rcpt=rcpt)
        attempt(grey, 10.0 * i + 300, rcpt=rcpt)
    assert grey.clients["192.0.2.0"][0] == 1
    assert attempt(grey, 1000.0, rcpt="new@example.org") == 450


def test_auto_whitelist_zero_disables_it():
    grey = Greylist(auto_whitelist_clients=0)
    for i in range(6):
        attempt(grey, i * 3600.0, rcpt=f"u{i}@example.org")
        attempt(grey, i * 3600.0 + 300, rcpt=f"u{i}@example.org")
    assert grey.clients == {}
    assert attempt(grey, 7 * 3600.0, rcpt="new@example.org") == 450


def test_whitelisted_networks_and_authenticated_clients_pass():
    grey = Greylist(whitelist_clients=["192.0.2.0/28"])
    assert attempt(grey, 0, ip="192.0.2.3") == 250
    assert attempt(grey, 0, ip="192.0.2.30") == 450
    assert rcpt_once([grey], "z@example.org", ip="198.51.100.1", authenticated=True).code == 250


def test_delay_can_be_changed_at_run_time_and_policy_switched_off():
    grey = Greylist(delay=300)
    attempt(grey, 0)
    grey.delay = 60
    assert attempt(grey, 61) == 250
    grey.enabled = False
    assert attempt(grey, 62, rcpt="other@example.org") == 250
    assert "192.0.2.0/a@c.example/other@example.org" not in grey.triplets


def test_stale_entries_are_swept_once_a_day_without_changing_decisions():
    grey = Greylist()
    for i in range(50):
        attempt(grey, 0, rcpt=f"spam{i}@example.org")  # never retried
    attempt(grey, 10, rcpt="real@example.org")
    assert attempt(grey, 400, rcpt="real@example.org") == 250
    assert len(grey.triplets) == 51
    assert attempt(grey, 3 * DAY, rcpt="real@example.org") == 250  # still passed
    assert list(grey.triplets) == ["192.0.2.0/a@c.example/real@example.org"]


def test_greylisting_in_a_full_session_then_the_retry_is_delivered():
    grey = Greylist(delay=5)
    s = Session([grey], now=0.0)
    s.say(Hello("c.example"), 0.0)
    s.say(Mail("a@c.example"), 0.0)
    assert s.say(Rcpt("x@example.org"), 0.0).code == 450
    s.close(1.0)
    s = Session([grey], now=6.0)
    replies = s.transaction("a@c.example", ["x@example.org"], now=6.0)
    assert [r.code for r in replies] == [250, 250, 250]
    assert s.stored[0].recipients == ("x@example.org",)


@pytest.mark.parametrize(
    "bad", [{"delay": -1}, {"max_age": 0}, {"retry_window": 0}, {"auto_whitelist_clients": -1}]
)
def test_bad_parameters_are_refused(bad):
    with pytest.raises(ValueError):
        Greylist(**bad)
