"""The event store adapters: which store a setting picks, and the batch read of many agents.

This is the one module of ``ledger/`` that knows SQL: the library reads one aggregate per query,
and the bulk path needs the events of hundreds of agents in one round trip.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from ledger.settings import Settings


def event_store_env(settings: Settings) -> dict[str, str]:
    """The ``eventsourcing`` environment for the configured store."""
    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(settings.data_dir / "ledger.sqlite3"),
            "SQLITE_LOCK_TIMEOUT": "30",
        }
    url = urlsplit(settings.database_url)
    if url.scheme not in ("postgresql", "postgres"):
        raise ValueError("LEDGER_DATABASE_URL must be a postgresql:// URL")
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": url.path.lstrip("/") or "postgres",
        "POSTGRES_HOST": url.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": unquote(url.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(url.password or ""),
        # Fail fast: the library retries a pool timeout ten times.
        "POSTGRES_CONNECT_TIMEOUT": str(settings.db_connect_timeout),
        "POSTGRES_POOL_SIZE": str(settings.db_pool_size),
        "POSTGRES_MAX_OVERFLOW": str(settings.db_max_overflow),
        "POSTGRES_MAX_WAITING": str(settings.db_max_waiting),
        "POSTGRES_PRE_PING": "y",
    }
    return env


def select_events_of(recorder: Any, agent_ids: Sequence[UUID]) -> Iterable[StoredEvent]:
    """Stored events of all ``agent_ids``, in one query, ordered by agent then version."""
    return [event for _, event in select_positioned_events_of(recorder, agent_ids)]


def select_positioned_events_of(
    recorder: Any, agent_ids: Sequence[UUID]
) -> list[tuple[int, StoredEvent]]:
    """(log position, stored event) of all ``agent_ids``, ordered by agent then version."""
    if not agent_ids:
        return []
    table = recorder.events_table_name
    if hasattr(recorder.datastore, "schema"):  # PostgreSQL
        from psycopg.sql import SQL, Identifier

        statement = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {}.{} "
            "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
        ).format(Identifier(recorder.datastore.schema), Identifier(table))
        with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, (list(agent_ids),))
            rows = [
                (
                    r["notification_id"],
                    r["originator_id"],
                    r["originator_version"],
                    r["topic"],
                    r["state"],
                )
                for r in curs.fetchall()
            ]
    else:
        placeholders = ",".join("?" * len(agent_ids))
        sqlite_statement = (
            f"SELECT rowid, originator_id, originator_version, topic, state FROM {table} "
            f"WHERE originator_id IN ({placeholders}) ORDER BY originator_id, originator_version"
        )
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(sqlite_statement, [agent_id.hex for agent_id in agent_ids])
            rows = [
                (
                    r["rowid"],
                    UUID(r["originator_id"]),
                    r["originator_version"],
                    r["topic"],
                    r["state"],
                )
                for r in cursor.fetchall()
            ]
    return [
        (
            position,
            StoredEvent(
                originator_id=originator,
                originator_version=version,
                topic=topic,
                state=bytes(state),
            ),
        )
        for position, originator, version, topic, state in rows
    ]
