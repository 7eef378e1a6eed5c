"""The views: balances, movements and the employer index.

Each view owns physical tables named with a generation (``balances_g2``) and one public SQL view
(``balances``) pointing at the live generation, so a rebuild fills a new generation beside the
live one and swaps the public view in one transaction. ``apply`` takes a page of movements and
writes them in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import orjson

from ledger.agent import ClosureReason, Status, counter_ceiling
from projections.decode import AGENT, Movement
from projections.store import Cursor

# The fields of an event that the movements view keeps as details. Never the identity.
_NOT_DETAILS = frozenset(
    {"timestamp", "provenance", "identity", "originator_topic", "effective_date", "siret", "year"}
)


class View:
    """A read model built from the event log."""

    name: ClassVar[str]
    columns: ClassVar[tuple[tuple[str, str], ...]] = ()
    key: ClassVar[tuple[str, ...]]
    """Columns identifying a row, for ``check`` reports."""

    def table(self, generation: int) -> str:
        return f"{self.name}_g{generation}"

    def tables(self, generation: int) -> list[str]:
        """All physical tables of one generation (the first is the public one)."""
        return [self.table(generation)]

    def create(self, cur: Cursor, generation: int) -> None:
        raise NotImplementedError

    aggregate: ClassVar[str] = AGENT
    """The aggregate whose events this view reads."""

    def apply(self, cur: Cursor, generation: int, movements: Sequence[Movement]) -> None:
        """Write a page of this view's events (already filtered by ``aggregate``)."""
        raise NotImplementedError

    def publish(self, cur: Cursor, generation: int) -> None:
        """Point the public SQL view at ``generation``."""
        cur.execute(f"DROP VIEW IF EXISTS {self.name}")
        cur.execute(f"CREATE VIEW {self.name} AS SELECT * FROM {self.table(generation)}")

    def drop(self, cur: Cursor, generation: int) -> None:
        for table in self.tables(generation):
            cur.execute(f"DROP TABLE IF EXISTS {table}")

    def rows(self, cur: Cursor, generation: int) -> dict[tuple[str, ...], tuple[str, ...]]:
        """Every row of the public table, keyed, with values as strings (for comparisons)."""
        columns = ", ".join(self.key)
        cur.execute(f"SELECT * FROM {self.table(generation)} ORDER BY {columns}")
        names = [d[0] for d in cur.raw.description]
        key_index = [names.index(k) for k in self.key]
        result = {}
        for row in cur.fetchall():
            values = tuple("" if v is None else str(v) for v in row)
            result[tuple(values[i] for i in key_index)] = values
        return result


class Balances(View):
    """One row per agent: balance, ceiling, undeclared-DIF reserve, status, low qualification."""

    name = "balances"
    key = ("agent_id",)
    columns = (
        ("agent_id", "text"),
        ("balance", "integer"),
        ("ceiling", "integer"),
        ("reserve", "integer"),
        ("status", "text"),
        ("low_qualification_from", "integer"),
        ("last_movement_kind", "text"),
        ("last_movement_date", "text"),
        ("last_recorded_at", "text"),
        ("version", "integer"),
        ("position", "bigint"),
    )

    def create(self, cur: Cursor, generation: int) -> None:
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {self.table(generation)} ("
            "agent_id TEXT PRIMARY KEY, balance INTEGER NOT NULL, ceiling INTEGER NOT NULL, "
            "reserve INTEGER NOT NULL, status TEXT NOT NULL, low_qualification_from INTEGER, "
            "last_movement_kind TEXT, last_movement_date TEXT, last_recorded_at TEXT, "
            "version INTEGER NOT NULL, position BIGINT NOT NULL)"
        )

    def apply(self, cur: Cursor, generation: int, movements: Sequence[Movement]) -> None:
        table = self.table(generation)
        ids = list(dict.fromkeys(m.agent_id for m in movements))
        names = ", ".join(name for name, _ in self.columns)
        state: dict[str, list[Any]] = {
            row[0]: list(row)
            for row in cur.select_in(f"SELECT {names} FROM {table} WHERE", "agent_id", ids)
        }
        for m in movements:
            row = state.get(m.agent_id)
            if row is None:
                row = state[m.agent_id] = [
                    m.agent_id,
                    0,
                    counter_ceiling(False),
                    0,
                    str(Status.OPEN),
                    None,
                    None,
                    None,
                    None,
                    0,
                    0,
                ]
            row[1] += m.counter
            row[3] += m.reserve
            if m.kind == "LowQualificationDeclared":
                row[5] = m.fields["from_year"]
                row[2] = counter_ceiling(True)
            elif m.kind == "Closed":
                row[4] = str(
                    Status.INVALIDITY
                    if m.fields["reason"] == ClosureReason.INVALIDITY
                    else Status.CLOSED
                )
            row[6:] = [m.kind, m.effective_date, m.recorded_at, m.version, m.position]
        updates = ", ".join(f"{name} = excluded.{name}" for name, _ in self.columns[1:])
        cur.insert_rows(
            table,
            self.columns,
            list(state.values()),
            f"ON CONFLICT (agent_id) DO UPDATE SET {updates}",
        )


class Movements(View):
    """One row per movement, in log order, with the balance after it and its provenance."""

    name = "movements"
    key = ("position",)

    def heads(self, generation: int) -> str:
        return f"movement_heads_g{generation}"

    def tables(self, generation: int) -> list[str]:
        return [self.table(generation), self.heads(generation)]

    def create(self, cur: Cursor, generation: int) -> None:
        table = self.table(generation)
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {table} ("
            "position BIGINT PRIMARY KEY, agent_id TEXT NOT NULL, version INTEGER NOT NULL, "
            "kind TEXT NOT NULL, effective_date TEXT NOT NULL, recorded_at TEXT NOT NULL, "
            "hours INTEGER NOT NULL, reserve_hours INTEGER NOT NULL, "
            "balance_after INTEGER NOT NULL, reserve_after INTEGER NOT NULL, siret TEXT, "
            "year INTEGER, principal TEXT, channel TEXT, source TEXT, idempotency_key TEXT, "
            "details TEXT NOT NULL)"
        )
        cur.execute(f"CREATE INDEX IF NOT EXISTS {table}_agent ON {table} (agent_id, position)")
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {self.heads(generation)} ("
            "agent_id TEXT PRIMARY KEY, balance INTEGER NOT NULL, reserve INTEGER NOT NULL)"
        )

    def apply(self, cur: Cursor, generation: int, movements: Sequence[Movement]) -> None:
        heads_table = self.heads(generation)
        ids = list(dict.fromkeys(m.agent_id for m in movements))
        heads: dict[str, list[Any]] = {
            row[0]: list(row)
            for row in cur.select_in(
                f"SELECT agent_id, balance, reserve FROM {heads_table} WHERE", "agent_id", ids
            )
        }
        rows = []
        for m in movements:
            head = heads.setdefault(m.agent_id, [m.agent_id, 0, 0])
            head[1] += m.counter
            head[2] += m.reserve
            provenance = m.provenance
            details = {k: v for k, v in m.fields.items() if k not in _NOT_DETAILS}
            rows.append(
                (
                    m.position,
                    m.agent_id,
                    m.version,
                    m.kind,
                    m.effective_date,
                    m.recorded_at,
                    m.counter,
                    m.reserve,
                    head[1],
                    head[2],
                    m.siret,
                    m.year,
                    provenance.get("principal"),
                    provenance.get("channel"),
                    provenance.get("source"),
                    provenance.get("idempotency_key"),
                    orjson.dumps(details).decode(),
                )
            )
        self._insert(cur, generation, rows)
        cur.insert_rows(
            heads_table,
            (("agent_id", "text"), ("balance", "integer"), ("reserve", "integer")),
            list(heads.values()),
            "ON CONFLICT (agent_id) DO UPDATE SET balance = excluded.balance, "
            "reserve = excluded.reserve",
        )

    def _insert(self, cur: Cursor, generation: int, rows: list[tuple[Any, ...]]) -> None:
        table = self.table(generation)
        if cur.store.is_postgres and rows:
            with cur.raw.copy(f"COPY {table} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        cur.executemany(f"INSERT INTO {table} VALUES ({', '.join(['%s'] * 17)})", rows)


class EmployerIndex(View):
    """SIRET x year x agent for every acquisition line (year > 0), and SIRET x agent (year 0)
    for every other movement a SIRET recorded on an agent: the employers' scope."""

    name = "employer_index"
    key = ("siret", "year", "agent_id")

    def create(self, cur: Cursor, generation: int) -> None:
        table = self.table(generation)
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {table} (siret TEXT NOT NULL, year INTEGER NOT NULL, "
            "agent_id TEXT NOT NULL, first_position BIGINT NOT NULL, "
            "PRIMARY KEY (siret, year, agent_id))"
        )
        cur.execute(f"CREATE INDEX IF NOT EXISTS {table}_agent ON {table} (agent_id)")

    def apply(self, cur: Cursor, generation: int, movements: Sequence[Movement]) -> None:
        rows: dict[tuple[str, int, str], int] = {}
        for m in movements:
            if m.siret is None:
                continue
            year = m.year if m.kind == "AcquisitionLineRecorded" and m.year else 0
            rows.setdefault((m.siret, year, m.agent_id), m.position)
        cur.insert_rows(
            self.table(generation),
            (
                ("siret", "text"),
                ("year", "integer"),
                ("agent_id", "text"),
                ("first_position", "bigint"),
            ),
            [(*key, position) for key, position in rows.items()],
            "ON CONFLICT (siret, year, agent_id) DO NOTHING",
        )


class RegularisationRequests(View):
    """Employers' regularisation requests and their status, for listing per SIRET."""

    name = "regularisation_requests"
    key = ("request_id",)
    aggregate = "RegularisationRequest"
    columns = (
        ("request_id", "text"),
        ("agent_id", "text"),
        ("siret", "text"),
        ("year", "integer"),
        ("hours", "integer"),
        ("status", "text"),
        ("reason", "text"),
        ("decision_reason", "text"),
        ("submitted_at", "text"),
        ("decided_at", "text"),
        ("submitted_by", "text"),
        ("position", "bigint"),
    )

    def create(self, cur: Cursor, generation: int) -> None:
        table = self.table(generation)
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {table} (request_id TEXT PRIMARY KEY, "
            "agent_id TEXT NOT NULL, siret TEXT NOT NULL, year INTEGER NOT NULL, "
            "hours INTEGER NOT NULL, status TEXT NOT NULL, reason TEXT, decision_reason TEXT, "
            "submitted_at TEXT NOT NULL, decided_at TEXT, submitted_by TEXT, "
            "position BIGINT NOT NULL)"
        )
        cur.execute(f"CREATE INDEX IF NOT EXISTS {table}_siret ON {table} (siret, position)")

    def apply(self, cur: Cursor, generation: int, movements: Sequence[Movement]) -> None:
        table = self.table(generation)
        for m in movements:
            if m.kind == "Submitted":
                agent = str(m.fields["agent_id"]).replace("-", "")
                cur.execute(
                    f"INSERT INTO {table} VALUES (%s, %s, %s, %s, %s, 'submitted', %s, NULL, %s, "
                    "NULL, %s, %s) ON CONFLICT (request_id) DO NOTHING",
                    (
                        m.agent_id,
                        agent,
                        m.fields["siret"],
                        m.fields["year"],
                        m.fields["hours"],
                        m.fields.get("reason"),
                        m.recorded_at,
                        m.provenance.get("principal"),
                        m.position,
                    ),
                )
            elif m.kind == "Decided":
                cur.execute(
                    f"UPDATE {table} SET status = %s, decision_reason = %s, decided_at = %s, "
                    "position = %s WHERE request_id = %s",
                    (
                        m.fields["status"],
                        m.fields.get("reason"),
                        m.recorded_at,
                        m.position,
                        m.agent_id,
                    ),
                )


VIEWS: dict[str, View] = {
    view.name: view for view in (Balances(), Movements(), EmployerIndex(), RegularisationRequests())
}
