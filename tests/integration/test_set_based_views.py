"""On PostgreSQL the agent views are filled by set-based SQL from the events' typed columns; the
rows must be those the Python path writes (``check`` recomputes them in Python, in SQLite)."""

from __future__ import annotations

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings

from ledger.application import Ledger
from projections.checking import check
from projections.runner import Projector
from tests.integration.test_projections import (
    assert_views_equal_replay,
    moves_strategy,
    populate,
)


@hsettings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(moves=moves_strategy)
def test_views_built_page_by_page_and_rebuilt_equal_the_python_path(
    ledger: Ledger,
    moves: list,  # type: ignore[type-arg]
) -> None:
    first = (ledger.recorder.max_notification_id() or 0) + 1
    ids = populate(ledger, 4, moves, first=first)
    projector = Projector(ledger, page_size=7)  # pages that split agents' histories
    projector.catch_up()
    assert_views_equal_replay(ledger, projector, ids)
    assert check(projector) == []
    projector.rebuild()  # pages of 140 positions
    assert_views_equal_replay(ledger, projector, ids)
    assert check(projector) == []


def test_rows_recorded_without_typed_columns_go_through_python(ledger: Ledger) -> None:
    ids = populate(ledger, 3, [(i, "line", i, i) for i in range(12)])
    datastore = getattr(ledger.recorder.datastore, "schema", None)
    if datastore is not None:  # a log recorded before the columns existed
        with ledger.recorder.datastore.get_connection() as conn:  # type: ignore[attr-defined]
            conn.execute(
                f"UPDATE {ledger.recorder.events_table_name} SET m_kind = NULL "  # type: ignore[attr-defined]
                "WHERE notification_id % 2 = 0"
            )
    projector = Projector(ledger, page_size=5)
    projector.catch_up()
    assert_views_equal_replay(ledger, projector, ids)
    assert check(projector) == []
