"""Stored topics are part of the stored format (the audit chain hashes them): moving code between
modules must not change them, or events recorded before would no longer be read."""

from __future__ import annotations

from eventsourcing.utils import get_topic, resolve_topic

from ledger.domain.agent import Agent

AGENT_EVENTS = [
    "Registered",
    "AcquisitionLineRecorded",
    "DifConverted",
    "LowQualificationDeclared",
    "YearRegularised",
    "DifReserveDeclared",
    "Decremented",
    "DecrementCancelled",
    "InaptitudeCredited",
    "Closed",
]


def test_agent_events_keep_their_stored_topics_wherever_their_code_lives() -> None:
    assert get_topic(Agent) == "ledger.agent:Agent"
    for name in AGENT_EVENTS:
        event_class = getattr(Agent, name)
        assert event_class.__module__ == "ledger.domain.agent_events"
        assert get_topic(event_class) == f"ledger.agent:Agent.{name}"
        assert resolve_topic(f"ledger.agent:Agent.{name}") is event_class
