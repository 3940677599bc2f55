"""Incidents of a mailbox host's access service (POP3/IMAP): an outage, during which
no fetch session succeeds, and congestion, during which sessions take longer
(``smtpsim.mta.access_service``). Like the other incidents they may overlap and end
in any order: the service counts its outages and multiplies its factors."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..scenario.incidents import Incident
    from .actions import Live

__all__ = ["access_down", "access_slow"]

Action = Callable[[float], None]


def access_down(incident: Incident, live: Live) -> tuple[Action, Action, str]:
    spec = incident.access_down
    assert spec is not None  # make_action dispatches on the kind given
    service = live.model.access[spec.host]

    def apply(now: float) -> None:
        service.go_down()

    def revert(now: float) -> None:
        service.come_up()

    return apply, revert, f"access on {spec.host}"


def access_slow(incident: Incident, live: Live) -> tuple[Action, Action, str]:
    spec = incident.access_slow
    assert spec is not None
    service = live.model.access[spec.host]

    def apply(now: float) -> None:
        service.factors.append(spec.factor)

    def revert(now: float) -> None:
        service.factors.remove(spec.factor)

    return apply, revert, f"access on {spec.host}"
