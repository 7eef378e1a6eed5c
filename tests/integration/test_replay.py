"""Replay from the events as of a date equals what the views show for that date."""

from __future__ import annotations

from datetime import UTC, date, datetime

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
@given(
    moves=moves_strategy,
    day=st.dates(date(2016, 12, 1), date(2026, 12, 31)),
    known=st.booleans(),
)
def test_replay_as_of_a_date_equals_the_views(
    ledger: Ledger,
    moves: list,  # type: ignore[type-arg]
    day: date,
    known: bool,
) -> None:
    first = (ledger.recorder.max_notification_id() or 0) + 1
    ids = populate(ledger, 3, moves, first=first)
    projector = Projector(ledger, page_size=50)
    projector.catch_up()
    queries = Queries(projector.store)
    known_at = datetime.now(UTC) if known else None  # as known now: the same history
    for agent_id in ids:
        replayed = replay_agent(ledger, agent_id, as_of=day, known_at=known_at)
        shown = queries.balance(
            AUDITOR, agent_id.hex, as_of=day, known_at=known_at and known_at.isoformat()
        )
        assert (replayed["balance"], replayed["reserve"]) == (shown["balance"], shown["reserve"])
        assert len(replayed["movements"]) == shown["movements"]
        assert sum(r["hours"] for r in shown["reserves"]) == shown["reserve"]
        listed, cursor = queries.movements(AUDITOR, agent_id.hex, limit=7, as_of=day)
        while cursor:  # the whole list, page by page
            more, cursor = queries.movements(AUDITOR, agent_id.hex, cursor, 7, as_of=day)
            listed += more
        running = [(m["position"], m["balance_after"]) for m in listed]
        assert running == [(m["position"], m["balance_after"]) for m in replayed["movements"]]
        if listed:
            assert listed[-1]["balance_after"] == shown["balance"]
