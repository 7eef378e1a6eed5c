"""The event store adapters: which store a setting picks, and the recorders that write the audit
chain in the events' own transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote, urlsplit
from uuid import UUID

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import retry
from psycopg.sql import SQL, Identifier, Literal

from ledger.store.chain import GENESIS, next_chain, record_digest
from ledger.store.effects import MOVEMENT_COLUMNS, NO_MOVEMENT, movement_columns
from ledger.store.settings import Settings

CHAIN_TABLE = "event_chain"
STATE_TABLE = "agent_state"
"""One row per agent: its folded state at its last version, written in its events' transaction
(a cache of the events: a row of another format, or older than the events, is replayed past)."""


def qualified_chain(recorder: Any) -> str:
    """The chain table's name, qualified with the log's schema on PostgreSQL (a role's own schema
    earlier on its search path must not stand in for it)."""
    schema = getattr(recorder.datastore, "schema", None)
    return f'"{schema}".{CHAIN_TABLE}' if schema else CHAIN_TABLE


AgentStates = Sequence[tuple[UUID, int, bytes]]
"""(agent id, version, folded state) of the agents a save() records: ``agent_states=`` kwarg."""


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
    """Writes events, their chain rows and the agents' folded states in one transaction, under
    the library's table lock, by binary COPY.

    The library inserts through an ``unnest`` of a composite array in pipeline mode, which
    formats every value as text in Python and never returns from a save() of about 1000
    aggregates. Here the lock, the NOTIFY, the chain head and the notification ids (from the
    table's own sequence) take one round trip, then events and chain rows go by binary COPY and
    the states by one upsert: no pipeline, no size limit, the same ids and order as the library.
    """

    write_chain = True
    """False only to measure what the chain costs (``bench.audit``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Every name qualified with the log's schema: a role's own schema, earlier on its search
        # path, must not stand in for one of these tables.
        chain = Identifier(self.datastore.schema, CHAIN_TABLE)
        state = Identifier(self.datastore.schema, STATE_TABLE)
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {} (position BIGINT PRIMARY KEY, "
                "digest BYTEA NOT NULL, chain BYTEA NOT NULL)"
            ).format(chain)
        )
        # Room in each page for updated rows: states are rewritten at every movement, and
        # heap-only updates leave the primary key alone.
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {} (agent_id uuid PRIMARY KEY, "
                "version bigint NOT NULL, state bytea NOT NULL) WITH (fillfactor = 70)"
            ).format(state)
        )
        table = Identifier(self.datastore.schema, self.events_table_name)
        # An agent event's movement as typed columns (ledger/store/effects.py), for set-based
        # rebuilds of the views. NULL for other aggregates' events and for rows written before.
        # Altered only when a column is missing: ALTER TABLE takes the table's strongest lock even
        # when there is nothing to add, and every process runs these statements as it starts.
        self.sql_create_statements.append(
            SQL(
                "DO $$ BEGIN IF EXISTS (SELECT 1 FROM unnest({names}) AS c(name) WHERE NOT EXISTS "
                "(SELECT 1 FROM information_schema.columns WHERE table_schema = {schema} "
                "AND table_name = {name} AND column_name = c.name)) THEN ALTER TABLE {table} "
                "{columns}; END IF; END $$"
            ).format(
                names=SQL("ARRAY[{}]").format(
                    SQL(", ").join(Literal(name) for name, _ in MOVEMENT_COLUMNS)
                ),
                schema=Literal(self.datastore.schema),
                name=Literal(self.events_table_name),
                table=table,
                columns=SQL(", ").join(
                    SQL("ADD COLUMN IF NOT EXISTS {} {}").format(Identifier(name), SQL(kind))
                    for name, kind in MOVEMENT_COLUMNS
                ),
            )
        )
        self._begin = SQL(
            "SET LOCAL lock_timeout = '{}s'; LOCK TABLE {} IN EXCLUSIVE MODE; NOTIFY {}"
        ).format(Literal(self.datastore.lock_timeout), table, Identifier(self.channel_name))
        self._reserve = SQL(
            "SELECT (SELECT chain FROM {} ORDER BY position DESC LIMIT 1) AS head, "
            "ARRAY(SELECT nextval(pg_get_serial_sequence(%s, 'notification_id')) "
            "FROM generate_series(1, %s)) AS ids"
        ).format(chain)
        self._copy_events = SQL(
            "COPY {} (originator_id, originator_version, topic, state, notification_id, {}) "
            "FROM STDIN (FORMAT BINARY)"
        ).format(table, SQL(", ").join(Identifier(name) for name, _ in MOVEMENT_COLUMNS))
        self._event_types = [
            "uuid",
            "int8",
            "text",
            "bytea",
            "int8",
            *(kind for _, kind in MOVEMENT_COLUMNS),
        ]
        self._copy_chain = SQL(
            "COPY {} (position, digest, chain) FROM STDIN (FORMAT BINARY)"
        ).format(chain)
        self._upsert_states = SQL(
            "INSERT INTO {0} AS s (agent_id, version, state) "
            "SELECT * FROM unnest(%b::uuid[], %b::int8[], %b::bytea[]) "
            "ON CONFLICT (agent_id) DO UPDATE SET version = excluded.version, "
            "state = excluded.state WHERE s.version < excluded.version"
        ).format(state)
        self._qualified_table = f'"{self.datastore.schema}".{self.events_table_name}'

    def _create_table(self, curs: Any) -> None:
        # Processes starting together (the API's workers, the projection worker, a command)
        # create and alter the tables one at a time: two such transactions taking the same
        # locks in another order deadlock.
        curs.execute("SELECT pg_advisory_xact_lock(hashtext('cpf_ledger_create_tables'))")
        super()._create_table(curs)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        agent_states: AgentStates = (),
        **kwargs: Any,
    ) -> Sequence[int] | None:
        if not stored_events:
            return []
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            curs.execute(self._begin)
            curs.execute(self._reserve, (self._qualified_table, len(stored_events)), prepare=True)
            row = curs.fetchone()
            assert row is not None
            previous = bytes(row["head"]) if row["head"] is not None else GENESIS
            ids: list[int] = row["ids"]
            with curs.copy(self._copy_events) as copy:
                copy.set_types(self._event_types)
                for event, position in zip(stored_events, ids, strict=True):
                    copy.write_row(
                        (
                            event.originator_id,
                            event.originator_version,
                            event.topic,
                            event.state,
                            position,
                            *(movement_columns(event.topic, event.state) or NO_MOVEMENT),
                        )
                    )
            if self.write_chain:
                with curs.copy(self._copy_chain) as copy:
                    copy.set_types(["int8", "bytea", "bytea"])
                    pairs = list(zip(ids, stored_events, strict=True))
                    for chain_row in _chain_rows(previous, pairs):
                        copy.write_row(chain_row)
            if agent_states:
                curs.execute(
                    self._upsert_states,
                    (
                        [agent_id for agent_id, _, _ in agent_states],
                        [version for _, version, _ in agent_states],
                        [state for _, _, state in agent_states],
                    ),
                )
        return ids


class ChainedSQLiteRecorder(SQLiteApplicationRecorder):
    """Writes the chain rows and the agents' folded states in the events' transaction (SQLite
    serialises writers)."""

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {CHAIN_TABLE} (position INTEGER PRIMARY KEY, "
            "digest BLOB NOT NULL, chain BLOB NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} (agent_id TEXT PRIMARY KEY, "
            "version INTEGER NOT NULL, state BLOB NOT NULL)",
        ]

    def _insert_events(
        self,
        c: Any,
        stored_events: Sequence[StoredEvent],
        *,
        agent_states: AgentStates = (),
        **kwargs: Any,
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
        c.executemany(
            f"INSERT INTO {STATE_TABLE} (agent_id, version, state) VALUES (?, ?, ?) "
            "ON CONFLICT (agent_id) DO UPDATE SET version = excluded.version, "
            f"state = excluded.state WHERE {STATE_TABLE}.version < excluded.version",
            [(agent_id.hex, version, state) for agent_id, version, state in agent_states],
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
