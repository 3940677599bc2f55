"""The hooks the simulator needs: Context.delay, Policy.ended / ServerSession.close,
and Policy.enabled."""

from __future__ import annotations

from mail_helpers import Session

from smtpsim.mail import Context, Policy, PolicySet
from smtpsim.protocol import Hello, Mail, Rcpt, Reply

REFUSAL = Reply(451, "4.3.0", "Try later")


class Slow(Policy):
    """Spends 0.25 s at each RCPT and 1 s at connect, refuses nothing."""

    phases = frozenset({"connect", "rcpt"})

    def check(self, phase: str, ctx: Context) -> Reply | None:
        ctx.delay += 1.0 if phase == "connect" else 0.25
        return None


class Recorder(Policy):
    phases = frozenset({"rcpt"})

    def __init__(self, reply: Reply | None = None) -> None:
        self.reply = reply
        self.asked = 0
        self.ended_at: list[float] = []

    def check(self, phase: str, ctx: Context) -> Reply | None:
        self.asked += 1
        return self.reply

    def ended(self, ctx: Context) -> None:
        self.ended_at.append(ctx.now)


def test_delay_is_reported_per_command_and_reset_by_take_delay():
    s = Session([Slow(), Slow()])
    assert s.delays == [2.0]  # the greeting: both policies at connect
    s.say(Hello("c.example"))
    s.say(Mail("a@c.example"))
    s.say(Rcpt("x@example.org"))
    s.say(Rcpt("y@example.org"))
    assert s.delays == [2.0, 0.0, 0.0, 0.5, 0.5]  # reset after each reply
    assert s.ctx.delay == 0.0


def test_close_calls_ended_once_with_the_time_even_when_called_twice():
    rec = Recorder()
    s = Session([rec])
    s.close(12.5)
    s.close(99.0)
    assert rec.ended_at == [12.5]
    assert s.session.closed


def test_only_policies_that_override_ended_are_told():
    rec, slow = Recorder(), Slow()
    policies = PolicySet([slow, rec])
    assert policies.ending == (rec,)


def test_disabled_policy_is_skipped_and_can_be_enabled_again():
    refuse = Recorder(REFUSAL)
    s = Session([refuse])
    s.say(Hello("c.example"))
    s.say(Mail("a@c.example"))
    assert s.say(Rcpt("x@example.org")) == REFUSAL
    refuse.enabled = False
    assert s.say(Rcpt("x@example.org")).code == 250
    assert refuse.asked == 1  # not even asked while disabled
    refuse.enabled = True
    assert s.say(Rcpt("x@example.org")) == REFUSAL


def test_disabled_policy_still_hears_that_the_session_ended():
    rec = Recorder()
    rec.enabled = False
    s = Session([rec])
    s.close(3.0)
    assert rec.ended_at == [3.0]


def test_notes_are_per_session():
    a, b = Session([]), Session([])
    assert a.ctx.notes is None  # nothing allocated until a policy needs it
    a.ctx.memo()["k"] = 1
    assert b.ctx.memo() == {}
