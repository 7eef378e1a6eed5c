"""Where the views live: the PostgreSQL database of the events, or an SQLite file beside them.

The views' SQL is written once with ``%s`` placeholders; for SQLite they become ``?``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from ledger.store.settings import Settings


class ViewStore:
    """A connection factory for the views' database, with the dialect's small differences."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.is_postgres = settings.uses_postgres
        if not self.is_postgres:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.sqlite_path = str(settings.data_dir / "views.sqlite3")
        self._local = threading.local()

    def _connection(self) -> psycopg.Connection[Any]:
        """This thread's connection (kept between transactions: connecting costs milliseconds)."""
        conn: psycopg.Connection[Any] | None = getattr(self._local, "connection", None)
        if conn is None or conn.closed:
            assert self.settings.database_url
            conn = psycopg.connect(
                self.settings.database_url,
                connect_timeout=self.settings.db_connect_timeout,
                autocommit=True,
            )
            self._local.connection = conn
        return conn

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "connection", None)
        if conn is not None:
            conn.close()
            self._local.connection = None

    def sql(self, statement: str) -> str:
        """The statement in this store's placeholder style."""
        return statement if self.is_postgres else statement.replace("%s", "?")

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of one read statement. On PostgreSQL in one round trip: a single statement
        in autocommit sees one snapshot, so it needs no BEGIN and COMMIT of its own."""
        if not self.is_postgres:
            with self.transaction(write=False) as cur:
                return cur.execute(statement, params).fetchall()
        conn = self._connection()
        conn.isolation_level = None
        try:
            with conn.cursor() as cur:
                cur.execute(statement, params, prepare=True)
                return [tuple(row) for row in cur.fetchall()]
        except psycopg.OperationalError:
            self._local.connection = None  # broken: reconnect next time
            conn.close()
            raise

    @contextmanager
    def transaction(self, write: bool = True, snapshot: bool = False) -> Iterator[Cursor]:
        """One transaction: committed when the block ends, rolled back if it raises.

        ``write=False`` does not take SQLite's write lock; ``snapshot`` reads every statement from
        one snapshot (REPEATABLE READ on PostgreSQL).
        """
        if self.is_postgres:
            conn = self._connection()
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ if snapshot else None
            try:
                with conn.transaction(), conn.cursor() as cur:
                    yield Cursor(self, cur)
            except psycopg.OperationalError:
                self._local.connection = None  # broken: reconnect next time
                conn.close()
                raise
            return
        lite = sqlite3.connect(self.sqlite_path, timeout=30, isolation_level=None)
        try:
            lite.execute("PRAGMA journal_mode=WAL")
            lite.execute("BEGIN IMMEDIATE" if write or snapshot else "BEGIN")
            try:
                yield Cursor(self, lite.cursor())
            except BaseException:
                lite.execute("ROLLBACK")
                raise
            lite.execute("COMMIT")
        finally:
            lite.close()


class Cursor:
    """A DB-API cursor that translates placeholders."""

    def __init__(self, store: ViewStore, cursor: Any) -> None:
        self.store = store
        self.raw = cursor

    def execute(self, statement: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> Cursor:
        self.raw.execute(self.store.sql(statement), params)
        return self

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.raw.executemany(self.store.sql(statement), rows)

    def fetchall(self) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.raw.fetchall()]

    def fetchone(self) -> tuple[Any, ...] | None:
        row = self.raw.fetchone()
        return None if row is None else tuple(row)

    def select_in(
        self, statement: str, column: str, values: Sequence[Any], suffix: str = ""
    ) -> list[tuple[Any, ...]]:
        """Rows of ``statement`` (ending in a WHERE clause, followed by ``suffix``) whose
        ``column`` is one of ``values``: one array parameter on PostgreSQL, an IN list (in
        chunks) on SQLite."""
        if self.store.is_postgres:
            return self.execute(
                f"{statement} {column} = ANY(%s){suffix}", (list(values),)
            ).fetchall()
        rows = []
        for i in range(0, len(values), 500):
            chunk = values[i : i + 500]
            marks = ",".join(["%s"] * len(chunk))
            rows += self.execute(f"{statement} {column} IN ({marks}){suffix}", chunk).fetchall()
        return rows

    def copy_rows(self, table: str, names: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Append ``rows`` (new keys only): COPY on PostgreSQL, ``executemany`` on SQLite."""
        if not rows:
            return
        columns = ", ".join(names)
        if self.store.is_postgres:
            with self.raw.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        marks = ", ".join(["?"] * len(names))
        self.raw.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)

    def insert_rows(
        self,
        table: str,
        columns: Sequence[tuple[str, str]],
        rows: Sequence[Sequence[Any]],
        conflict: str = "",
    ) -> None:
        """Insert ``rows`` (with an ``ON CONFLICT`` clause): COPY into a staging table and one
        ``INSERT … SELECT`` on PostgreSQL, ``executemany`` on SQLite. ``columns`` are (name, SQL
        type)."""
        if not rows:
            return
        names = ", ".join(name for name, _ in columns)
        if self.store.is_postgres:
            # COPY into a session-local staging table, then one INSERT … SELECT: COPY's row
            # formatting runs in C, where building one array per column ran in Python.
            stage = f"stage_{table}"
            self.raw.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table}) ON COMMIT DELETE ROWS"
            )
            with self.raw.copy(f"COPY {stage} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            self.raw.execute(
                f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage} {conflict}"
            )
            return
        marks = ", ".join(["?"] * len(columns))
        self.raw.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks}) {conflict}", rows)
