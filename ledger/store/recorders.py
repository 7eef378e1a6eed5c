"""The event store adapters: which store a setting picks, and the recorders that write the audit
chain in the events' own transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.sql import SQL, Identifier

from ledger.store.chain import GENESIS, next_chain, record_digest
from ledger.store.settings import Settings

CHAIN_TABLE = "event_chain"


def qualified_chain(recorder: Any) -> str:
    """The chain table's name, qualified with the log's schema on PostgreSQL (a role's own schema
    earlier on its search path must not stand in for it)."""
    schema = getattr(recorder.datastore, "schema", None)
    return f'"{schema}".{CHAIN_TABLE}' if schema else CHAIN_TABLE


def _chain_rows(
    previous: bytes, positioned: Sequence[tuple[int, StoredEvent]]
) -> list[tuple[int, bytes, bytes]]:
    rows = []
    for position, event in sorted(positioned, key=lambda pair: pair[0]):
        digest = record_digest(
            event.originator_id, event.originator_version, event.topic, event.state
        )
        previous = next_chain(previous, position, digest)
        rows.append((position, digest, previous))
    return rows


class ChainedPostgresRecorder(PostgresApplicationRecorder):
    """Writes the chain rows in the events' transaction, under the library's table lock."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {}.{} (position BIGINT PRIMARY KEY, "
                "digest BYTEA NOT NULL, chain BYTEA NOT NULL)"
            ).format(Identifier(self.datastore.schema), Identifier(CHAIN_TABLE))
        )

    def _fetch_ids_after_insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        assert ids is not None and len(ids) == len(stored_events)
        table = qualified_chain(self)
        curs.execute(f"SELECT chain FROM {table} ORDER BY position DESC LIMIT 1")
        row = curs.fetchone()
        previous = bytes(row["chain"]) if row else GENESIS
        curs.executemany(
            f"INSERT INTO {table} (position, digest, chain) VALUES (%s, %s, %s)",
            _chain_rows(previous, list(zip(ids, stored_events, strict=True))),
        )
        return ids


class ChainedSQLiteRecorder(SQLiteApplicationRecorder):
    """Writes the chain rows in the events' transaction (SQLite serialises writers)."""

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {CHAIN_TABLE} (position INTEGER PRIMARY KEY, "
            "digest BLOB NOT NULL, chain BLOB NOT NULL)",
        ]

    def _insert_events(
        self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        assert ids is not None
        c.execute(f"SELECT chain FROM {CHAIN_TABLE} ORDER BY position DESC LIMIT 1")
        row = c.fetchone()
        previous = bytes(row[0]) if row else GENESIS
        c.executemany(
            f"INSERT INTO {CHAIN_TABLE} (position, digest, chain) VALUES (?, ?, ?)",
            _chain_rows(previous, list(zip(ids, stored_events, strict=True))),
        )
        return ids


def event_store_env(settings: Settings) -> dict[str, str]:
    """The ``eventsourcing`` environment for the configured store."""
    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "APPLICATION_RECORDER_TOPIC": "ledger.store.recorders:ChainedSQLiteRecorder",
            "SQLITE_DBNAME": str(settings.data_dir / "ledger.sqlite3"),
            "SQLITE_LOCK_TIMEOUT": "30",
        }
    url = urlsplit(settings.database_url)
    if url.scheme not in ("postgresql", "postgres"):
        raise ValueError("LEDGER_DATABASE_URL must be a postgresql:// URL")
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "APPLICATION_RECORDER_TOPIC": "ledger.store.recorders:ChainedPostgresRecorder",
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
        "CREATE_TABLE": "y" if settings.create_tables else "n",
    }
    return env
