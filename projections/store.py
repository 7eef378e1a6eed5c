"""Where the views live: the PostgreSQL database of the events, or an SQLite file beside them.

The views' SQL is written once with ``%s`` placeholders; for SQLite they become ``?``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from ledger.settings import Settings


class ViewStore:
    """A connection factory for the views' database, with the dialect's small differences."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.is_postgres = settings.uses_postgres
        if not self.is_postgres:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.sqlite_path = str(settings.data_dir / "views.sqlite3")

    def sql(self, statement: str) -> str:
        """The statement in this store's placeholder style."""
        return statement if self.is_postgres else statement.replace("%s", "?")

    @contextmanager
    def transaction(self, write: bool = True, snapshot: bool = False) -> Iterator[Cursor]:
        """One transaction: committed when the block ends, rolled back if it raises.

        ``write=False`` does not take SQLite's write lock; ``snapshot`` reads every statement from
        one snapshot (REPEATABLE READ on PostgreSQL).
        """
        if self.is_postgres:
            assert self.settings.database_url
            with psycopg.connect(
                self.settings.database_url, connect_timeout=self.settings.db_connect_timeout
            ) as conn:
                if snapshot:
                    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
                with conn.transaction(), conn.cursor() as cur:
                    yield Cursor(self, cur)
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

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Cursor:
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

    def in_list(self, values: Sequence[Any]) -> str:
        """``(%s, %s, …)`` for an IN clause of ``values``."""
        return "(" + ",".join(["%s"] * len(values)) + ")"
