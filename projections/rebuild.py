"""Rebuilding views blue/green: fresh generations beside the live ones, swapped in at the end.

A rebuild creates a new generation of each view (state ``building``), fills it, then in one
transaction applies the last events, marks it live and points the public SQL view at it; readers
keep the old, complete generation until then. Killed, it resumes when run again.

On PostgreSQL, with every agent event carrying its typed columns, a new generation is first
filled from nothing up to the log head in one statement per view, its primary key and indexes
built after the rows (one sort each, instead of keeping them up to date row by row), each view on
its own connection, two at a time, while the views with no set-based form go page by page. Each
view's rows and position commit together in its own transaction: a failure leaves that view empty
at position 0 and the next run starts it again. Everything else goes page by page.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from projections import bulk
from projections.decode import AGENT
from projections.generations import BUILDING, LIVE, RETIRED
from projections.views import VIEWS, Balances, EmployerIndex, Movements, View

if TYPE_CHECKING:
    from projections.runner import Progress, Projector

FIRST_PASS_ORDER: tuple[type[View], ...] = (EmployerIndex, Movements, Balances)
"""The longest first (measured on a log of 1M events: the employer index 5 s, the movements
4.5 s, the balances 2.5 s), so that two connections end about together."""


class Rebuild:
    """One rebuild of the named views by a projector."""

    def __init__(
        self, projector: Projector, names: Sequence[str], progress: Progress | None
    ) -> None:
        self.projector = projector
        self.store = projector.store
        self.names = names
        self.progress = progress
        self._filling: set[Any] = set()  # the connections of the fills under way
        self._lock = threading.Lock()
        self._stopping = False

    def run(self) -> None:
        self._create_generations()
        projector = self.projector
        projector.rebuilding = True  # pages of bulk_page_size positions
        try:
            with ThreadPoolExecutor(max_workers=2) as pool:
                filling: dict[str, Future[int]] = {}
                try:
                    if self.store.is_postgres and projector.first_pass:
                        filling = self._first_pass(pool)
                    # The other views page by page meanwhile, then every view to the head.
                    self._build([n for n in self.names if n not in filling])
                    for done in filling.values():
                        reached = done.result()  # raises what the fill raised
                        if self.progress and reached:
                            self.progress(reached, projector.head())
                except BaseException:  # Ctrl-C, or a failure: stop the fills, not wait for them
                    self._stop(filling.values())
                    raise
            self._build(self.names)
        finally:
            projector.rebuilding = False
        self._swap()

    def _create_generations(self) -> None:
        """A building generation of each view, unless one is there (a rebuild resumed)."""
        with self.store.transaction() as cur:
            for name in self.names:
                if self.projector.generations(cur, name, BUILDING):
                    continue
                cur.execute(
                    "SELECT COALESCE(MAX(generation), 0) FROM projection_generations "
                    "WHERE view = %s",
                    (name,),
                )
                row = cur.fetchone()
                assert row is not None
                self.projector.create_generation(cur, VIEWS[name], int(row[0]) + 1, BUILDING)

    def _build(self, names: Sequence[str]) -> None:
        """Apply pages to the building generations of ``names`` up to the log head."""
        projector = self.projector
        while names:
            with self.store.transaction() as cur:
                read, moved = projector.apply_page(cur, projector.targets(cur, BUILDING, names))
            if self.progress and moved:
                self.progress(min(t.position for t in moved), projector.head())
            if not read:
                break

    def _first_pass(self, pool: ThreadPoolExecutor) -> dict[str, Future[int]]:
        """Start the first pass of the views it applies to (a set-based view at position 0, on a
        log whose agent events all have their typed columns); returns them, each with the
        position its fill will reach."""
        projector = self.projector
        head = projector.head()
        with self.store.transaction(write=False) as cur:
            fresh = [
                t.view
                for t in projector.targets(cur, BUILDING, self.names)
                if t.position == 0 and t.view.aggregate == AGENT and bulk.can_fill(t.view)
            ]
            if not head or not fresh or not bulk.complete(cur, projector.events_table, 0, head):
                return {}
        fresh.sort(key=lambda view: FIRST_PASS_ORDER.index(type(view)))
        return {view.name: pool.submit(self._fill_from_nothing, view, head) for view in fresh}

    def _stop(self, fills: Iterable[Future[int]]) -> None:
        """Cancel the fills not started and the statements of those under way (each rolls back,
        its view left empty at position 0 for the next run)."""
        for done in fills:
            done.cancel()
        with self._lock:
            self._stopping = True
            for connection in self._filling:
                connection.cancel_safe()

    def _fill_from_nothing(self, view: View, head: int) -> int:
        """One view's first pass, on this thread's own connection; returns the position reached
        (0 if another projector had begun this generation)."""
        projector = self.projector
        connection: Any = None
        try:
            with self.store.transaction() as cur:
                connection = cur.raw.connection
                with self._lock:
                    self._filling.add(connection)
                [target] = projector.targets(cur, BUILDING, [view.name])  # locked
                if target.position:
                    return 0
                cur.execute("SET LOCAL jit = off")
                cur.execute("SET LOCAL work_mem = '64MB'")
                cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
                # Derived rows, committed with their position: a commit lost in a crash is a
                # pass done again, so no fsync is waited for.
                cur.execute("SET LOCAL synchronous_commit = off")
                with self._lock:
                    if self._stopping:
                        raise RuntimeError("rebuild stopped")
                view.drop_indexes(cur, target.generation)
                tables = {type(view): view.table(target.generation)}
                bulk.fill(cur, tables, projector.events_table, 0, head, empty=True)
                view.create_indexes(cur, target.generation)
                cur.execute(
                    "UPDATE projection_positions SET position = %s WHERE name = %s",
                    (head, target.tracking_name),
                )
            return head
        finally:
            with self._lock:
                self._filling.discard(connection)
            self.store.close()  # this thread's connection

    def _swap(self) -> None:
        projector = self.projector
        retired: list[tuple[View, int]] = []
        with self.store.transaction() as cur:
            live = projector.targets(cur, LIVE, self.names)  # locks the live positions
            building = projector.targets(cur, BUILDING, self.names)
            while True:  # the last events, in the swap's own transaction
                read, building = projector.apply_page(cur, building)
                if not read:
                    break
            for target in live:
                cur.execute(
                    "UPDATE projection_generations SET state = %s WHERE view = %s AND generation = %s",
                    (RETIRED, target.view.name, target.generation),
                )
                retired.append((target.view, target.generation))
            for target in building:
                cur.execute(
                    "UPDATE projection_generations SET state = %s WHERE view = %s AND generation = %s",
                    (LIVE, target.view.name, target.generation),
                )
                target.view.publish(cur, target.generation)
        with self.store.transaction() as cur:
            for view, generation in retired:
                view.drop(cur, generation)
                cur.execute(
                    "DELETE FROM projection_positions WHERE name = %s", (view.table(generation),)
                )
