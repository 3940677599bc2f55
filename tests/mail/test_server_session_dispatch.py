"""``ServerSession.answer`` dispatches through one table, event type -> handler.

The table's type cannot say that each handler takes the event type it is filed under
(hence the ``Any`` there); this checks it, and that every event a server connection
can produce is either in the table or meant to get the connection's standard reply.
"""

from __future__ import annotations

import inspect
import typing

import pytest

from smtpsim.mail import server_session
from smtpsim.protocol import (
    Auth,
    AuthResponse,
    Bdat,
    CommandError,
    Data,
    Hello,
    Help,
    IdleTimedOut,
    Mail,
    Message,
    Noop,
    Quit,
    Rcpt,
    Rset,
    StartTLS,
    Vrfy,
    events,
)

# Events no policy phase looks at: the protocol's standard reply answers them.
STANDARD_ONLY = {Noop, Vrfy, Help, Quit, StartTLS, IdleTimedOut}


@pytest.mark.interpreted  # reads the handlers' annotations, which compiled functions do not keep
def test_each_handler_takes_the_event_type_it_is_filed_under():
    for kind, handler in server_session._ON_EVENT.items():
        hints = typing.get_type_hints(handler, vars(server_session) | vars(events))
        [event_param] = list(inspect.signature(handler).parameters)[1:]
        accepted = typing.get_args(hints[event_param]) or (hints[event_param],)
        assert kind in accepted, (kind, handler.__name__, accepted)


def test_every_server_event_is_dispatched_or_standard():
    server_events = {
        Hello,
        Mail,
        Rcpt,
        Data,
        Message,
        Bdat,
        Rset,
        Noop,
        Vrfy,
        Help,
        Quit,
        StartTLS,
        Auth,
        AuthResponse,
        CommandError,
        IdleTimedOut,
    }
    table = set(server_session._ON_EVENT)
    assert table | STANDARD_ONLY == server_events
    assert not table & STANDARD_ONLY
