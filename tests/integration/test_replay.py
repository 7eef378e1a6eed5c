"""Replay from the events as of a date equals what the views show for that date."""

from __future__ import annotations

from datetime import date

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from ledger.application import Ledger
from ledger.audit import replay_agent
from ledger.domain.access import Principal
from projections.queries import Queries
from projections.runner import Projector
from tests.integration.test_projections import moves_strategy, populate

AUDITOR = Principal(role="auditor", name="test", key_id="test")


@hsettings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(moves=moves_strategy, day=st.dates(date(2016, 12, 1), date(2026, 12, 31)))
def test_replay_as_of_a_date_equals_the_views(ledger: Ledger, moves: list, day: date) -> None:  # type: ignore[type-arg]
    first = (ledger.recorder.max_notification_id() or 0) + 1
    ids = populate(ledger, 3, moves, first=first)
    projector = Projector(ledger, page_size=50)
    projector.catch_up()
    queries = Queries(projector.store)
    for agent_id in ids:
        replayed = replay_agent(ledger, agent_id, as_of=day)
        shown = queries.balance(AUDITOR, agent_id.hex, as_of=day)
        assert (replayed["balance"], replayed["reserve"]) == (shown["balance"], shown["reserve"])
        assert len(replayed["movements"]) == shown["movements"]
