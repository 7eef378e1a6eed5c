"""On PostgreSQL the agent views are filled by set-based SQL from the events' typed columns; the
rows must be those the Python path writes (``check`` recomputes them in Python, in SQLite)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings

from ledger.application import Ledger
from ledger.store.settings import Settings
from projections import bulk
from projections.checking import check
from projections.rebuild import Rebuild
from projections.runner import Projector
from projections.store import Cursor
from projections.views import VIEWS, Balances, View
from tests.integration.test_projections import (
    assert_views_equal_replay,
    kill_a_rebuild_half_way,
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


def test_a_first_pass_that_fails_leaves_its_view_empty_and_the_next_rebuild_completes(
    postgres_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL's first pass fills each view and builds its indexes in a transaction of its
    own: failing at the last step, that view is left as it was (empty, indexed, at position 0)
    while the others are kept, readers keep the live generation, and the next rebuild ends with
    the same rows as the live views."""
    ledger = postgres_ledger
    ids = populate(ledger, 5, [(i, "line", i, i) for i in range(30)])
    projector = Projector(ledger, page_size=4)
    projector.catch_up()
    with projector.store.transaction(write=False) as cur:
        live = {name: view.rows(cur, 1) for name, view in VIEWS.items()}

    def broken(self: View, cur: object, generation: int) -> None:
        raise RuntimeError("the server went away while indexing")

    monkeypatch.setattr(Balances, "create_indexes", broken)
    with pytest.raises(RuntimeError, match="indexing"):
        projector.rebuild()
    status = {s.view: s for s in projector.status()}
    assert status["balances"].rebuilding_position == 0
    assert status["movements"].rebuilding_position == projector.head()  # kept
    assert status["balances"].generation == 1  # readers still on the live views
    with projector.store.transaction(write=False) as cur:
        assert VIEWS["balances"].rows(cur, 2) == {}
        indexed = cur.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'balances_g2'"
        ).fetchall()
        assert indexed == [("balances_g2_pkey",)]  # dropped in the transaction, restored
    monkeypatch.undo()
    projector.rebuild()
    with projector.store.transaction(write=False) as cur:
        assert {name: view.rows(cur, 2) for name, view in VIEWS.items()} == live
    assert_views_equal_replay(ledger, projector, ids)
    assert check(projector) == []


def test_an_interrupted_first_pass_stops_at_once_and_the_next_rebuild_completes(
    postgres_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C during PostgreSQL's first pass cancels the statements under way instead of waiting
    for them (on a national log, many minutes): each view rolls back to empty at position 0."""
    ledger = postgres_ledger
    ids = populate(ledger, 4, [(i, "line", i, i) for i in range(20)])
    projector = Projector(ledger, page_size=4)
    projector.catch_up()
    with projector.store.transaction(write=False) as cur:
        live = {name: view.rows(cur, 1) for name, view in VIEWS.items()}
    fill = bulk.fill

    def slow_fill(cur: Cursor, *args: Any, **kwargs: Any) -> None:
        cur.execute("SELECT pg_sleep(60)")  # a long statement, as on a large log
        fill(cur, *args, **kwargs)

    def interrupted(self: Rebuild, names: Sequence[str]) -> None:
        time.sleep(1)  # the fills are under way
        raise KeyboardInterrupt

    monkeypatch.setattr(bulk, "fill", slow_fill)
    monkeypatch.setattr(Rebuild, "_build", interrupted)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        projector.rebuild()
    assert time.monotonic() - started < 20
    status = {s.view: s for s in projector.status()}
    assert {status[name].rebuilding_position for name in ("balances", "movements")} == {0}
    monkeypatch.undo()
    projector.rebuild()
    with projector.store.transaction(write=False) as cur:
        assert {name: view.rows(cur, 2) for name, view in VIEWS.items()} == live
    assert_views_equal_replay(ledger, projector, ids)


def test_a_rebuild_killed_during_its_first_pass_or_after_resumes_to_identical_views(
    postgres_ledger: Ledger, postgres_settings: Settings
) -> None:
    """Killed for real during PostgreSQL's first pass or after it, the rebuild resumes: each
    set-based view is either untouched or complete (at the log head), and the views the first
    pass does not fill (regularisation requests) went page by page meanwhile."""
    status = kill_a_rebuild_half_way(postgres_ledger, postgres_settings, first_pass=True)
    head = status["balances"].head
    assert 0 < (status["regularisation_requests"].rebuilding_position or 0) < head
    for view in ("balances", "movements", "employer_index"):
        assert status[view].rebuilding_position in (0, head)
