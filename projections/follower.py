"""Following the log: the projection worker's loop, which never stalls silently.

An event the views cannot apply is pinpointed, logged with its position (never its content), and
recorded in ``projection_health`` where every process reads it: ``/readyz`` answers not ready,
``cpf-ledger projections status`` shows it, ``/metrics`` counts it. The loop retries with back-off
and clears the record once the page goes through. A lost connection (to the views or the LISTEN
channel) is reconnected with back-off; the worker does not die.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from datetime import UTC, datetime
from typing import Any

from projections.generations import LIVE
from projections.runner import Projector
from projections.store import ViewStore
from projections.views import VIEWS

log = logging.getLogger("cpf_ledger.projector")
MAX_BACK_OFF = 30.0


class Health:
    """The projector's failure record, in the views' database."""

    def __init__(self, store: ViewStore) -> None:
        self.store = store
        with store.transaction() as cur:
            cur.execute(
                "CREATE TABLE IF NOT EXISTS projection_health (name TEXT PRIMARY KEY, "
                "failing_position BIGINT NOT NULL, error TEXT NOT NULL, since TEXT NOT NULL, "
                "attempts INTEGER NOT NULL)"
            )

    def failed(self, position: int, error: str) -> None:
        now = datetime.now(UTC).isoformat()
        with self.store.transaction() as cur:
            cur.execute(
                "INSERT INTO projection_health VALUES ('projector', %s, %s, %s, 1) "
                "ON CONFLICT (name) DO UPDATE SET attempts = projection_health.attempts + 1, "
                "failing_position = excluded.failing_position, error = excluded.error",
                (position, error, now),
            )

    def recovered(self) -> None:
        with self.store.transaction() as cur:
            cur.execute("DELETE FROM projection_health WHERE name = 'projector'")

    def current(self) -> dict[str, Any] | None:
        """The failure the projector is stuck on, if any."""
        with self.store.transaction(write=False) as cur:
            row = cur.execute(
                "SELECT failing_position, error, since, attempts FROM projection_health "
                "WHERE name = 'projector'"
            ).fetchone()
        if row is None:
            return None
        return dict(zip(("failing_position", "error", "since", "attempts"), row, strict=True))


def describe(error: BaseException) -> str:
    """An error as it may be logged and shown: its class and SQL state, never its message (a
    message may quote a value)."""
    state = getattr(getattr(error, "diag", None), "sqlstate", None)
    return type(error).__name__ + (f" (SQLSTATE {state})" if state else "")


def pinpoint(projector: Projector) -> int:
    """The position of the first event the live views cannot apply (page by single event)."""
    with projector.store.transaction(write=False) as cur:
        start = min(t.position for t in projector.targets(cur, LIVE, VIEWS))
    page = projector.page_size
    projector.page_size = 1
    try:
        for _ in range(page):
            following = projector.ledger.recorder.select_notifications(
                start, 1, inclusive_of_start=False
            )
            if not following:
                break
            try:
                projector.run_once()
            except Exception:
                return int(following[0].id)
            start = following[0].id
    finally:
        projector.page_size = page
    return start + 1


class Waiter:
    """Sleeps until the next event: LISTEN/NOTIFY on PostgreSQL (reconnected when lost), a short
    poll on SQLite."""

    def __init__(self, projector: Projector) -> None:
        self.projector = projector
        self.connection: Any = None

    def _listen(self) -> None:
        import psycopg
        from psycopg import sql

        settings = self.projector.ledger.settings
        assert settings.database_url
        self.connection = psycopg.connect(
            settings.database_url, autocommit=True, connect_timeout=settings.db_connect_timeout
        )
        channel = self.projector.ledger.recorder.channel_name  # type: ignore[attr-defined]
        self.connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))

    def wait(self, stop: threading.Event, interval: float) -> None:
        if not self.projector.ledger.settings.database_url:
            stop.wait(interval)
            return
        try:
            if self.connection is None or self.connection.closed:
                self._listen()
            for _ in self.connection.notifies(timeout=max(interval, 1.0), stop_after=1):
                break
        except Exception as error:  # the connection dropped: poll meanwhile, listen again later
            log.warning(
                "projector lost its LISTEN connection", extra={"fields": {"error": describe(error)}}
            )
            self.close()
            stop.wait(1.0)

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()
            finally:
                self.connection = None


def follow(projector: Projector, stop: threading.Event, interval: float = 0.2) -> None:
    """Keep the live views up to date until ``stop`` is set."""
    waiter, health = Waiter(projector), None
    failing, back_off = False, 1.0
    try:
        while not stop.is_set():
            try:
                health = health or Health(projector.store)
                read = projector.run_once()
                if failing:
                    health.recovered()
                    log.info("projector advancing again")
                    failing, back_off = False, 1.0
                if read:
                    continue
            except Exception as error:
                failing = True
                _report(projector, health, error)
                stop.wait(back_off)
                back_off = min(back_off * 2, MAX_BACK_OFF)
                continue
            waiter.wait(stop, interval)
    finally:
        waiter.close()


def _report(projector: Projector, health: Health | None, error: BaseException) -> None:
    """Log, and record where every process sees it, the event the views are stuck on."""
    try:
        position = pinpoint(projector)
    except Exception:  # the store itself is unreachable: no position to give
        log.error("projector cannot reach its store", extra={"fields": {"error": describe(error)}})
        return
    log.error(
        "projector cannot apply an event",
        extra={"fields": {"position": position, "error": describe(error)}},
    )
    with contextlib.suppress(Exception):  # best effort: the log line above already says it
        (health or Health(projector.store)).failed(position, describe(error))
