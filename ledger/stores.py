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
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.sql import SQL, Identifier

from ledger.chain import GENESIS, next_chain, record_digest
from ledger.settings import Settings

CHAIN_TABLE = "event_chain"


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
                "CREATE TABLE IF NOT EXISTS {} (position BIGINT PRIMARY KEY, "
                "digest BYTEA NOT NULL, chain BYTEA NOT NULL)"
            ).format(Identifier(CHAIN_TABLE))
        )

    def _fetch_ids_after_insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        assert ids is not None and len(ids) == len(stored_events)
        curs.execute(f"SELECT chain FROM {CHAIN_TABLE} ORDER BY position DESC LIMIT 1")
        row = curs.fetchone()
        previous = bytes(row["chain"]) if row else GENESIS
        curs.executemany(
            f"INSERT INTO {CHAIN_TABLE} (position, digest, chain) VALUES (%s, %s, %s)",
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
            "APPLICATION_RECORDER_TOPIC": "ledger.stores:ChainedSQLiteRecorder",
            "SQLITE_DBNAME": str(settings.data_dir / "ledger.sqlite3"),
            "SQLITE_LOCK_TIMEOUT": "30",
        }
    url = urlsplit(settings.database_url)
    if url.scheme not in ("postgresql", "postgres"):
        raise ValueError("LEDGER_DATABASE_URL must be a postgresql:// URL")
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "APPLICATION_RECORDER_TOPIC": "ledger.stores:ChainedPostgresRecorder",
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


def select_chain(recorder: Any, after: int, limit: int) -> list[tuple[int, bytes, bytes]]:
    """Chain rows (position, digest, chain) after ``after``, in position order."""
    if hasattr(recorder.datastore, "schema"):
        with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                f"SELECT position, digest, chain FROM {CHAIN_TABLE} WHERE position > %s "
                "ORDER BY position LIMIT %s",
                (after, limit),
            )
            return [(r["position"], bytes(r["digest"]), bytes(r["chain"])) for r in curs.fetchall()]
    with recorder.datastore.transaction(commit=False) as c:
        c.execute(
            f"SELECT position, digest, chain FROM {CHAIN_TABLE} WHERE position > ? "
            "ORDER BY position LIMIT ?",
            (after, limit),
        )
        return [(r[0], bytes(r[1]), bytes(r[2])) for r in c.fetchall()]


def chain_position_of(recorder: Any, digest: bytes) -> int | None:
    """The position whose recorded digest is ``digest`` (to tell a reordering)."""
    if hasattr(recorder.datastore, "schema"):
        with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(f"SELECT position FROM {CHAIN_TABLE} WHERE digest = %s", (digest,))
            row = curs.fetchone()
            return None if row is None else int(row["position"])
    with recorder.datastore.transaction(commit=False) as c:
        c.execute(f"SELECT position FROM {CHAIN_TABLE} WHERE digest = ?", (digest,))
        found = c.fetchone()
        return None if found is None else int(found[0])


def last_chain_row(recorder: Any) -> tuple[int, bytes] | None:
    """(position, chain) of the last chained event."""
    if hasattr(recorder.datastore, "schema"):
        with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                f"SELECT position, chain FROM {CHAIN_TABLE} ORDER BY position DESC LIMIT 1"
            )
            row = curs.fetchone()
            return None if row is None else (int(row["position"]), bytes(row["chain"]))
    with recorder.datastore.transaction(commit=False) as c:
        c.execute(f"SELECT position, chain FROM {CHAIN_TABLE} ORDER BY position DESC LIMIT 1")
        found = c.fetchone()
        return None if found is None else (int(found[0]), bytes(found[1]))


def insert_chain_rows(recorder: Any, rows: Sequence[tuple[int, bytes, bytes]]) -> None:
    """Insert chain rows (the migration of logs recorded before the chain)."""
    if hasattr(recorder.datastore, "schema"):
        with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.executemany(
                f"INSERT INTO {CHAIN_TABLE} (position, digest, chain) VALUES (%s, %s, %s)", rows
            )
        return
    with recorder.datastore.transaction(commit=True) as c:
        c.executemany(f"INSERT INTO {CHAIN_TABLE} (position, digest, chain) VALUES (?, ?, ?)", rows)


def create_app_role(database_url: str, role: str, password: str | None, events_table: str) -> None:
    """Create (or update) the service's database role (run as the tables' owner).

    The role may read and append events and chain rows, and never UPDATE, DELETE or TRUNCATE
    them. PostgreSQL asks for UPDATE privilege to take the table lock the event store needs, so
    UPDATE is granted and a trigger refuses it to everyone but the owner; DELETE and TRUNCATE are
    not granted at all. The views' tables are the role's to rebuild.
    """
    import psycopg
    from psycopg import sql

    ident = sql.Identifier
    with psycopg.connect(database_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        conn.execute(
            sql.SQL("ALTER ROLE {} LOGIN" if exists else "CREATE ROLE {} LOGIN").format(ident(role))
        )
        if password:
            conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(ident(role), sql.Literal(password))
            )
        conn.execute(
            sql.SQL("GRANT CONNECT, CREATE ON DATABASE {} TO {}").format(
                ident(conn.info.dbname), ident(role)
            )
        )
        conn.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(ident(role)))
        conn.execute(sql.SQL("GRANT ALL ON ALL TABLES IN SCHEMA public TO {}").format(ident(role)))
        conn.execute(
            sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(
                ident(role)
            )
        )
        conn.execute(
            "CREATE OR REPLACE FUNCTION cpf_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN"
            "  IF NOT pg_has_role(current_user, (SELECT tableowner FROM pg_tables"
            "     WHERE tablename = TG_TABLE_NAME AND schemaname = TG_TABLE_SCHEMA), 'MEMBER') THEN"
            "   RAISE EXCEPTION 'the event log is append-only: % refused on %', TG_OP, TG_TABLE_NAME"
            "    USING ERRCODE = 'insufficient_privilege';"
            "  END IF;"
            "  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;"
            " END $$"
        )
        for table in (events_table, CHAIN_TABLE):
            conn.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(ident(table), ident(role)))
            conn.execute(
                sql.SQL("GRANT SELECT, INSERT, UPDATE ON {} TO {}").format(
                    ident(table), ident(role)
                )
            )
            trigger = ident(f"{table}_append_only")
            conn.execute(sql.SQL("DROP TRIGGER IF EXISTS {} ON {}").format(trigger, ident(table)))
            conn.execute(
                sql.SQL(
                    "CREATE TRIGGER {} BEFORE UPDATE OR DELETE ON {} "
                    "FOR EACH ROW EXECUTE FUNCTION cpf_refuse_change()"
                ).format(trigger, ident(table))
            )
