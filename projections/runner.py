"""Keeping the views up to date, exactly once (rebuilding them: ``projections.rebuild``).

Each view generation records the log position it has applied in ``projection_positions``, in the
same transaction as its rows: a crash at any point resumes from the last committed page, with no
loss and no double count. The log is processed a page (``page_size`` events) per transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ledger.application import Ledger
from projections import bulk
from projections.decode import AGENT, Movement, decode
from projections.generations import BUILDING, LIVE, Target, create_bookkeeping
from projections.rebuild import Rebuild
from projections.store import Cursor, ViewStore
from projections.views import VIEWS, View


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
        transaction per view (``projections.rebuild``) rather than page by page from the start."""
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
                if not self.generations(cur, view.name, LIVE):
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

    def generations(self, cur: Cursor, view: str, state: str) -> list[int]:
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
            for generation in self.generations(cur, name, state):
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
        events = self.events_table
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
            f"FROM {self.events_table} WHERE notification_id > %s AND notification_id <= %s "
            "AND topic LIKE %s ORDER BY notification_id",
            (start, stop, f"%:{target.view.aggregate}.%"),
        ).fetchall()
        movements = [decode(r[0], r[1], r[2], r[3], bytes(r[4])) for r in rows]
        todo = [m for m in movements if m.aggregate == target.view.aggregate]
        if todo:
            target.view.apply(cur, target.generation, todo)

    @property
    def events_table(self) -> str:
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
        """Build fresh generations beside the live ones, then swap them in one transaction
        (``projections.rebuild``). Interrupted, it resumes when run again; readers see the old,
        complete views until the swap."""
        Rebuild(self, names, progress).run()
