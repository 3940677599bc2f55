"""Full mailboxes (quota.py) and the score-based spam filter (spamfilter.py)."""

from __future__ import annotations

import hashlib
import random

import pytest
from mail_helpers import Session, rcpt_once

from smtpsim.mail import MailboxQuota, SenderClass, SpamFilter
from smtpsim.mail.quota import address_fraction
from smtpsim.protocol import Reply, replies

# --- quota -------------------------------------------------------------------------------

USERS = [f"user{i}@example.org" for i in range(2000)]


def full_share(quota: MailboxQuota) -> float:
    return sum(quota.is_full(u) for u in USERS) / len(USERS)


def test_full_mailbox_gets_452_422_by_default_and_552_522_when_permanent():
    quota = MailboxQuota(full=["Alice@Example.org"])
    assert rcpt_once([quota], "alice@example.org") == Reply(
        452, "4.2.2", "<alice@example.org>: Recipient address rejected: Mailbox full"
    )
    assert rcpt_once([quota], "bob@example.org").code == 250
    quota.temporary = False
    reply = rcpt_once([quota], "ALICE@example.org")
    assert (reply.code, reply.enhanced) == (552, "5.2.2")


def test_share_of_a_domain_is_deterministic_and_close_to_the_share():
    a = MailboxQuota({"Example.org": 0.1})
    b = MailboxQuota({"example.org": 0.1})
    assert [a.is_full(u) for u in USERS] == [b.is_full(u) for u in USERS]  # no RNG
    # 2000 addresses, share 0.1: binomial sd = 0.0067; 4 sd
    assert abs(full_share(a) - 0.1) < 0.027
    assert not MailboxQuota({"example.org": 0.1}).is_full("someone@other.example")


def test_raising_the_share_keeps_the_full_mailboxes_full():
    low, high = MailboxQuota({"example.org": 0.1}), MailboxQuota({"example.org": 0.3})
    full_low = {u for u in USERS if low.is_full(u)}
    full_high = {u for u in USERS if high.is_full(u)}
    assert full_low < full_high
    other = MailboxQuota({"example.org": 0.1}, salt="run-2")
    assert {u for u in USERS if other.is_full(u)} != full_low


def test_address_fraction_is_stable_across_runs():
    # BLAKE2b, not hash(): the same number in every interpreter.
    digest = hashlib.blake2b(b"user1@example.org", digest_size=8).digest()
    assert address_fraction("User1@Example.org") == int.from_bytes(digest, "big") / 2**64
    assert 0.0 <= address_fraction("x@y") < 1.0


def test_quota_in_a_transaction_keeps_the_other_recipients():
    quota = MailboxQuota(full=["full@example.org"])
    s = Session([quota])
    out = s.transaction("a@c.example", ["ok@example.org", "full@example.org"])
    assert [r.code for r in out] == [250, 250, 452, 250]
    assert s.stored[0].recipients == ("ok@example.org",)


def test_bad_share_is_refused():
    with pytest.raises(ValueError, match="between 0 and 1"):
        MailboxQuota({"example.org": 1.5})


# --- spam filter -------------------------------------------------------------------------

HAM = SenderClass("ham", mean=0.0, sd=2.0)
SPAM = SenderClass("spam", mean=8.0, sd=2.0, domains=frozenset({"Spammer.example"}))


def send(spam_filter: SpamFilter, sender: str, n: int) -> list[Reply]:
    s = Session([spam_filter])
    return [
        s.transaction(sender, ["u@example.org"], helo="c.example" if i == 0 else None)[-1]
        for i in range(n)
    ]


def test_spam_class_is_refused_at_end_of_data_with_the_catalogue_reply():
    f = SpamFilter(random.Random(1), default=HAM, classes=[SPAM])
    out = send(f, "bulk@spammer.example", 400)
    refused = [r for r in out if r.code != 250]
    assert refused and all(r == replies.SPAM_REJECTED for r in refused)
    assert refused[0] == Reply(550, "5.7.1", "Message rejected as spam")
    # P(N(8, 2) >= 5) = 0.933; 400 messages: sd = 0.0125; 4 sd
    assert abs(len(refused) / 400 - f.rejection_probability(SPAM)) < 0.05
    assert f.scored == {"spam": 400, "ham": 0} and f.rejected["spam"] == len(refused)


def test_false_positive_rate_of_legitimate_mail_matches_the_normal_tail():
    f = SpamFilter(random.Random(2), default=HAM, classes=[SPAM], threshold=3.0)
    out = send(f, "alice@friends.example", 3000)
    rate = sum(r.code == 550 for r in out) / 3000
    expected = f.rejection_probability(HAM)  # 1 - Phi(1.5) = 0.0668
    assert expected == pytest.approx(0.0668, abs=1e-3)
    # binomial sd = 0.0046; 4 sd
    assert abs(rate - expected) < 0.019
    assert f.rejected["ham"] == sum(r.code == 550 for r in out)


def test_same_seed_same_scores_and_one_draw_per_message():
    class Counting(random.Random):
        draws = 0

        def random(self) -> float:
            Counting.draws += 1
            return super().random()

    a = send(SpamFilter(random.Random(7), default=HAM, classes=[SPAM]), "x@spammer.example", 50)
    b = send(SpamFilter(random.Random(7), default=HAM, classes=[SPAM]), "x@spammer.example", 50)
    assert a == b
    send(SpamFilter(Counting(7), default=HAM, classes=[SPAM]), "x@spammer.example", 50)
    assert Counting.draws == 50


def test_sd_zero_and_threshold_changes():
    sure = SenderClass("sure", 10.0, 0.0, frozenset({"bad.example"}))
    f = SpamFilter(random.Random(0), default=HAM, classes=[sure])
    assert f.rejection_probability(sure) == 1.0
    assert all(r.code == 550 for r in send(f, "x@bad.example", 5))
    f.threshold = 10.5
    assert all(r.code == 250 for r in send(f, "x@bad.example", 5))


def test_class_names_must_be_unique_and_sd_non_negative():
    with pytest.raises(ValueError, match="unique"):
        SpamFilter(random.Random(0), default=HAM, classes=[SenderClass("ham", 1, 1)])
    with pytest.raises(ValueError, match="sd"):
        SenderClass("x", 0, -1)
