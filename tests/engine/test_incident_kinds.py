"""Every incident kind of the scenario format has an action in ``smtpsim.faults``, and
no action is left over for a kind the format does not have: the schema's kinds and
the faults' dispatch table are two lists that must stay one."""

from __future__ import annotations

from smtpsim.faults import actions
from smtpsim.scenario.incidents import INCIDENT_KINDS, Incident


def test_each_incident_kind_has_one_action() -> None:
    assert sorted(actions._MAKERS) == sorted(INCIDENT_KINDS)


def test_each_incident_kind_is_a_field_of_incident() -> None:
    # make_action reads the incident's own field of its kind (actions._given)
    assert set(INCIDENT_KINDS) <= set(Incident.model_fields)
