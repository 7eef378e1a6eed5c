"""Who read which agent's personal data, when, and through what: an append-only trail."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from ledger.store.roles import create_audit_tables
from projections.group_commit import GroupCommit
from projections.store import ViewStore

TRAIL_COLUMNS = ("id", "at", "principal", "via", "agent_id")


def audit_table(store: ViewStore, name: str) -> str:
    """Where an audit table lives: beside the log on PostgreSQL (``public``, the owner's: the
    service appends to it and cannot change it), beside the views on SQLite."""
    return f"public.{name}" if store.is_postgres else name


class ReadTrail:
    """The read trail: append-only, beside the event log."""

    def __init__(self, store: ViewStore, batch_max: int = 500) -> None:
        self.store = store
        self.table = audit_table(store, "read_trail")
        self._writer: GroupCommit[tuple[str, str, str, str]] = GroupCommit(self._insert, batch_max)
        if not store.settings.create_tables:
            return  # the owner created it (`cpf-ledger db setup`); the service only appends
        with store.transaction() as cur:
            if store.is_postgres:
                create_audit_tables(cur)
                return
            cur.execute(
                "CREATE TABLE IF NOT EXISTS read_trail (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                "at TEXT NOT NULL, principal TEXT NOT NULL, via TEXT NOT NULL, "
                "agent_id TEXT NOT NULL)"
            )
            cur.execute("CREATE INDEX IF NOT EXISTS read_trail_agent ON read_trail (agent_id, id)")
            cur.execute(
                "CREATE INDEX IF NOT EXISTS read_trail_principal ON read_trail (principal, id)"
            )

    def record(self, principal: str, via: str, agent_ids: Iterable[str]) -> None:
        """Note that ``principal`` saw these agents through ``via`` (a route or a command).

        Returns once the rows are committed: a response is sent only after its trail is kept.
        Concurrent callers share one commit (see :class:`GroupCommit`).
        """
        at = datetime.now(UTC).isoformat()
        rows = [(at, principal, via, agent_id) for agent_id in dict.fromkeys(agent_ids)]
        if rows:
            self._writer.write(rows)

    def _insert(self, rows: list[tuple[str, str, str, str]]) -> None:
        with self.store.transaction() as cur:
            cur.copy_rows(self.table, ("at", "principal", "via", "agent_id"), rows)

    def query(
        self,
        agent_id: str | None = None,
        principal: str | None = None,
        after: int = 0,
        limit: int = 500,
    ) -> list[dict[str, Any]]:
        """Who saw an agent, or what a principal saw, oldest first."""
        where, params = "id > %s", list[Any]([after])
        if agent_id:
            where += " AND agent_id = %s"
            params.append(agent_id)
        if principal:
            where += " AND principal = %s"
            params.append(principal)
        with self.store.transaction(write=False) as cur:
            rows = cur.execute(
                f"SELECT {', '.join(TRAIL_COLUMNS)} FROM {self.table} WHERE {where} "
                "ORDER BY id LIMIT %s",
                (*params, limit),
            ).fetchall()
        return [dict(zip(TRAIL_COLUMNS, row, strict=True)) for row in rows]


class CheckpointStore:
    """Signed checkpoints taken so far (auditors also keep the exported files elsewhere)."""

    COLUMNS = ("position", "chain", "created_at", "public_key", "signature")

    def __init__(self, store: ViewStore) -> None:
        self.store = store
        self.table = audit_table(store, "audit_checkpoints")
        if not store.settings.create_tables:
            return  # the owner created it; the service only appends
        with store.transaction() as cur:
            if store.is_postgres:
                create_audit_tables(cur)
                return
            cur.execute(
                "CREATE TABLE IF NOT EXISTS audit_checkpoints (position BIGINT NOT NULL, "
                "chain TEXT NOT NULL, created_at TEXT PRIMARY KEY, public_key TEXT NOT NULL, "
                "signature TEXT NOT NULL)"
            )

    def add(self, checkpoint: dict[str, Any]) -> None:
        with self.store.transaction() as cur:
            cur.execute(
                f"INSERT INTO {self.table} ({', '.join(self.COLUMNS)}) VALUES (%s, %s, %s, %s, %s)",
                tuple(checkpoint[c] for c in self.COLUMNS),
            )

    def all(self) -> list[dict[str, Any]]:
        with self.store.transaction(write=False) as cur:
            rows = cur.execute(
                f"SELECT {', '.join(self.COLUMNS)} FROM {self.table} ORDER BY created_at"
            ).fetchall()
        return [dict(zip(self.COLUMNS, row, strict=True)) for row in rows]
