"""Keeping the views up to date, exactly once, and rebuilding them blue/green.

Each view generation records the log position it has applied in ``projection_positions``, in the
same transaction as its rows: a crash at any point resumes from the last committed page, with no
loss and no double count. The log is processed a page (``page_size`` events) per transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ledger.application import Ledger
from projections import bulk
from projections.decode import AGENT, Movement, decode
from projections.store import Cursor, ViewStore
from projections.views import VIEWS, Movements, View

LIVE, BUILDING, RETIRED = "live", "building", "retired"


@dataclass(frozen=True, slots=True)
class Target:
    """One generation of one view, and the log position it has applied."""

    view: View
    generation: int
    position: int

    @property
    def tracking_name(self) -> str:
        return self.view.table(self.generation)


@dataclass(frozen=True, slots=True)
class ViewStatus:
    view: str
    generation: int
    position: int
    head: int
    lag_events: int
    lag_seconds: float
    rebuilding_generation: int | None
    rebuilding_position: int | None


Progress = Callable[[int, int], None]
"""Called with (position reached, log head) after each page."""


class Projector:
    """Applies the event log to the views, page by page."""

    def __init__(
        self,
        ledger: Ledger,
        store: ViewStore | None = None,
        page_size: int = 1000,
        bulk_page_size: int | None = None,
        first_pass: bool = True,
    ):
        self.ledger = ledger
        self.store = store or ViewStore(ledger.settings)
        self.page_size = page_size
        self.bulk_page_size = bulk_page_size or 20 * page_size
        """Positions a rebuild's set-based page spans (PostgreSQL)."""
        self.first_pass = first_pass
        """Whether a rebuild on PostgreSQL fills its new generations up to the log head in one
        transaction per view (see ``_first_pass``) rather than page by page from the start."""
        self.rebuilding = False
        self.setup()

    # ------------------------------------------------------------------ schema

    def setup(self) -> None:
        """Create the bookkeeping tables and a first live generation of every view."""
        with self.store.transaction() as cur:
            if self.store.is_postgres:  # processes starting together set up one at a time
                cur.execute("SELECT pg_advisory_xact_lock(hashtext('cpf_projections_setup'))")
            create_bookkeeping(cur)
            for view in VIEWS.values():
                if not self._generations(cur, view.name, LIVE):
                    self.create_generation(cur, view, 1, LIVE)
                    view.publish(cur, 1)

    def create_generation(self, cur: Cursor, view: View, generation: int, state: str) -> None:
        view.create(cur, generation)
        cur.execute(
            "INSERT INTO projection_generations VALUES (%s, %s, %s)",
            (view.name, generation, state),
        )
        cur.execute(
            "INSERT INTO projection_positions VALUES (%s, 0) ON CONFLICT (name) DO NOTHING",
            (view.table(generation),),
        )

    def _generations(self, cur: Cursor, view: str, state: str) -> list[int]:
        cur.execute(
            "SELECT generation FROM projection_generations WHERE view = %s AND state = %s "
            "ORDER BY generation",
            (view, state),
        )
        return [row[0] for row in cur.fetchall()]

    def targets(self, cur: Cursor, state: str, names: Iterable[str]) -> list[Target]:
        """The generations in ``state`` of the named views, their positions locked for this
        transaction (so two projectors never apply the same page twice)."""
        targets = []
        lock = " FOR UPDATE" if self.store.is_postgres else ""
        for name in names:
            view = VIEWS[name]
            for generation in self._generations(cur, name, state):
                cur.execute(
                    f"SELECT position FROM projection_positions WHERE name = %s{lock}",
                    (view.table(generation),),
                )
                row = cur.fetchone()
                assert row is not None
                targets.append(Target(view, generation, int(row[0])))
        return targets

    # ------------------------------------------------------------- applying

    def head(self) -> int:
        """Position of the last event in the log (0 when empty)."""
        return self.ledger.recorder.max_notification_id() or 0

    def apply_page(self, cur: Cursor, targets: Sequence[Target]) -> tuple[int, list[Target]]:
        """Apply the next page to ``targets`` in the cursor's transaction.

        Returns the number of events read and the targets at their new positions. On
        PostgreSQL (views beside the events) the agent views are filled by set-based SQL from
        the events' typed columns, ``bulk_page_size`` positions at a time; elsewhere, or for
        rows recorded without those columns, events are decoded in Python.
        """
        if not targets:
            return 0, []
        start = min(t.position for t in targets)
        if cur.store.is_postgres and self.store.is_postgres:
            done = self._apply_range(cur, targets, start)
            if done is not None:
                return done
        notifications = self.ledger.recorder.select_notifications(
            start, self.page_size, inclusive_of_start=False
        )
        if not notifications:
            return 0, list(targets)
        movements: list[Movement] = [
            decode(n.id, n.originator_id, n.originator_version, n.topic, n.state)
            for n in notifications
        ]
        last = notifications[-1].id
        moved = []
        for target in targets:
            todo = [
                m
                for m in movements
                if m.position > target.position and m.aggregate == target.view.aggregate
            ]
            if todo:
                target.view.apply(cur, target.generation, todo)
            if last > target.position:
                cur.execute(
                    "UPDATE projection_positions SET position = %s WHERE name = %s",
                    (last, target.tracking_name),
                )
            moved.append(Target(target.view, target.generation, max(last, target.position)))
        return len(notifications), moved

    def _apply_range(
        self, cur: Cursor, targets: Sequence[Target], start: int
    ) -> tuple[int, list[Target]] | None:
        """The set-based page: positions (start, start + bulk_page_size], at most the head;
        None when a row of the range lacks its typed columns (the Python path applies it)."""
        head = self.head()
        stop = min(head, start + (self.bulk_page_size if self.rebuilding else self.page_size))
        if stop <= start:
            return 0, list(targets)
        events = self._events_table
        if not bulk.complete(cur, events, start, stop):
            return None
        cur.execute("SET LOCAL jit = off")
        cur.execute("SET LOCAL work_mem = '64MB'")
        # The views are derived and their position is written with their rows: a commit lost
        # in a crash is a page applied again, so no fsync is waited for.
        cur.execute("SET LOCAL synchronous_commit = off")
        together: dict[int, dict[type[View], str]] = {}  # views at the same position
        for target in targets:
            begin = max(start, target.position)
            if begin >= stop:
                continue
            if target.view.aggregate == AGENT and bulk.can_fill(target.view):
                tables = together.setdefault(begin, {})
                tables[type(target.view)] = target.view.table(target.generation)
            else:
                self._apply_python(cur, target, begin, stop)
        for begin, tables in together.items():
            bulk.fill(cur, tables, events, begin, stop)
        moved = []
        for target in targets:
            if target.position < stop:
                cur.execute(
                    "UPDATE projection_positions SET position = %s WHERE name = %s",
                    (stop, target.tracking_name),
                )
            moved.append(Target(target.view, target.generation, max(stop, target.position)))
        return stop - start, moved

    def _apply_python(self, cur: Cursor, target: Target, start: int, stop: int) -> None:
        """A view without a set-based form: its own aggregate's events of the range, decoded."""
        rows = cur.execute(
            f"SELECT notification_id, originator_id, originator_version, topic, state "
            f"FROM {self._events_table} WHERE notification_id > %s AND notification_id <= %s "
            "AND topic LIKE %s ORDER BY notification_id",
            (start, stop, f"%:{target.view.aggregate}.%"),
        ).fetchall()
        movements = [decode(r[0], r[1], r[2], r[3], bytes(r[4])) for r in rows]
        todo = [m for m in movements if m.aggregate == target.view.aggregate]
        if todo:
            target.view.apply(cur, target.generation, todo)

    @property
    def _events_table(self) -> str:
        recorder: Any = self.ledger.recorder
        return f'"{recorder.datastore.schema}"."{recorder.events_table_name}"'

    def run_once(self, names: Iterable[str] = VIEWS) -> int:
        """Apply one page to the live views; returns the number of events read."""
        with self.store.transaction() as cur:
            read, _ = self.apply_page(cur, self.targets(cur, LIVE, names))
        return read

    def catch_up(self, names: Iterable[str] = VIEWS) -> int:
        """Apply pages until the live views reach the log head; returns events read."""
        total = 0
        while read := self.run_once(list(names)):
            total += read
        return total

    def positions(self) -> dict[str, int]:
        """Applied position of each live view."""
        with self.store.transaction(write=False) as cur:
            return {t.view.name: t.position for t in self.targets(cur, LIVE, VIEWS)}

    def wait_for(self, position: int, timeout: float = 5.0) -> bool:
        """Block until every live view has applied ``position`` (read-your-writes)."""
        deadline = time.monotonic() + timeout
        while min(self.positions().values()) < position:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    # --------------------------------------------------------------- status

    def status(self) -> list[ViewStatus]:
        """Each view's position, the log head, and the lag in events and seconds."""
        head = self.head()
        result = []
        with self.store.transaction(write=False) as cur:
            live = {t.view.name: t for t in self.targets(cur, LIVE, VIEWS)}
            building = {t.view.name: t for t in self.targets(cur, BUILDING, VIEWS)}
        for name, target in live.items():
            lag_seconds = 0.0
            if target.position < head:
                first = self.ledger.recorder.select_notifications(
                    target.position, 1, inclusive_of_start=False
                )
                if first:
                    movement = decode(
                        first[0].id, first[0].originator_id, 0, first[0].topic, first[0].state
                    )
                    if movement is not None:
                        recorded = datetime.fromisoformat(movement.recorded_at)
                        lag_seconds = max(0.0, (datetime.now(UTC) - recorded).total_seconds())
            rebuilding = building.get(name)
            result.append(
                ViewStatus(
                    view=name,
                    generation=target.generation,
                    position=target.position,
                    head=head,
                    lag_events=head - target.position,
                    lag_seconds=lag_seconds,
                    rebuilding_generation=rebuilding.generation if rebuilding else None,
                    rebuilding_position=rebuilding.position if rebuilding else None,
                )
            )
        return result

    # -------------------------------------------------------------- rebuild

    def rebuild(
        self, names: Sequence[str] = tuple(VIEWS), progress: Progress | None = None
    ) -> None:
        """Build fresh generations beside the live ones, then swap them in one transaction.

        Interrupted (Ctrl-C, a kill), it resumes from its last committed page when run again.
        Readers see the old, complete views until the swap.
        """
        with self.store.transaction() as cur:
            for name in names:
                view = VIEWS[name]
                if not self._generations(cur, name, BUILDING):
                    cur.execute(
                        "SELECT COALESCE(MAX(generation), 0) FROM projection_generations "
                        "WHERE view = %s",
                        (name,),
                    )
                    row = cur.fetchone()
                    assert row is not None
                    self.create_generation(cur, view, int(row[0]) + 1, BUILDING)
        self.rebuilding = True
        try:
            with ThreadPoolExecutor(max_workers=2) as pool:
                filling = {}
                if self.store.is_postgres and self.first_pass:
                    filling = self._first_pass(names, pool)
                # The other views page by page meanwhile, then every view to the head.
                self._build([n for n in names if n not in filling], progress)
                for done in dict.fromkeys(filling.values()):
                    reached = done.result()  # raises what the fill raised
                    if progress and reached:
                        progress(reached, self.head())
            self._build(names, progress)
        finally:
            self.rebuilding = False
        self._swap(names)

    def _build(self, names: Sequence[str], progress: Progress | None) -> None:
        """Apply pages to the building generations of ``names`` up to the log head."""
        while names:
            with self.store.transaction() as cur:
                read, moved = self.apply_page(cur, self.targets(cur, BUILDING, names))
            if progress and moved:
                progress(min(t.position for t in moved), self.head())
            if not read:
                break

    def _first_pass(self, names: Sequence[str], pool: ThreadPoolExecutor) -> dict[str, Future[int]]:
        """Start filling the new generations of the set-based views from nothing up to the log
        head, in one statement each, their primary keys and indexes built after the rows (one
        sort each, instead of keeping them up to date row by row): the movements on one
        connection, the other views on another, at once. Each view's rows and position commit
        together in its own transaction, so a kill rolls that view back to empty and the next run
        starts it again. Views already under way, or a log with rows lacking typed columns, go
        page by page. Returns the views being filled, each with the position it will reach."""
        head = self.head()
        with self.store.transaction(write=False) as cur:
            fresh = [
                t.view
                for t in self.targets(cur, BUILDING, names)
                if t.position == 0 and t.view.aggregate == AGENT and bulk.can_fill(t.view)
            ]
            if not head or not fresh or not bulk.complete(cur, self._events_table, 0, head):
                return {}
        movements = [v for v in fresh if isinstance(v, Movements)]
        filling: dict[str, Future[int]] = {}
        for group in (movements, [v for v in fresh if v not in movements]):
            if group:
                done = pool.submit(self._fill_from_nothing, group, head)
                filling.update((view.name, done) for view in group)
        return filling

    def _fill_from_nothing(self, views: Sequence[View], head: int) -> int:
        """One group of the first pass, in this thread's own connection; returns the position
        reached (0 if another projector had begun these generations)."""
        try:
            with self.store.transaction() as cur:
                targets = self.targets(cur, BUILDING, [v.name for v in views])  # locked
                if any(t.position for t in targets):
                    return 0
                cur.execute("SET LOCAL jit = off")
                cur.execute("SET LOCAL work_mem = '64MB'")
                cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
                cur.execute("SET LOCAL synchronous_commit = off")  # derived rows: see _apply_range
                for t in targets:
                    t.view.drop_indexes(cur, t.generation)
                tables = {type(t.view): t.view.table(t.generation) for t in targets}
                bulk.fill(cur, tables, self._events_table, 0, head)
                for t in targets:
                    t.view.create_indexes(cur, t.generation)
                    cur.execute(
                        "UPDATE projection_positions SET position = %s WHERE name = %s",
                        (head, t.tracking_name),
                    )
            return head
        finally:
            self.store.close()  # this thread's connection

    def _swap(self, names: Sequence[str]) -> None:
        retired: list[tuple[View, int]] = []
        with self.store.transaction() as cur:
            live = self.targets(cur, LIVE, names)  # locks the live positions
            building = self.targets(cur, BUILDING, names)
            while True:  # the last events, in the swap's own transaction
                read, building = self.apply_page(cur, building)
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


def create_bookkeeping(cur: Cursor) -> None:
    cur.execute(
        "CREATE TABLE IF NOT EXISTS projection_generations (view TEXT NOT NULL, "
        "generation INTEGER NOT NULL, state TEXT NOT NULL, PRIMARY KEY (view, generation))"
    )
    cur.execute(
        "CREATE TABLE IF NOT EXISTS projection_positions (name TEXT PRIMARY KEY, "
        "position BIGINT NOT NULL)"
    )
