"""The views: balances, movements, the employer index and regularisation requests.

Each view declares its columns once (name, SQL type); its table, its COPY column list and its rows
(dicts by column name) all come from that declaration. Each view owns physical tables named with
a generation (``balances_g2``) and one public SQL view (``balances``) pointing at the live
generation, so a rebuild fills a new generation beside the live one and swaps the public view in
one transaction. ``apply`` takes a page of movements and writes them in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from ledger.domain.movements import Status, counter_ceiling, status_after_closure
from ledger.store.effects import details_of
from projections.decode import AGENT, Movement
from projections.store import Cursor

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str  # SQL type, with NOT NULL where it applies


class View:
    """A read model built from the event log."""

    name: ClassVar[str]
    columns: ClassVar[tuple[Column, ...]]
    key: ClassVar[tuple[str, ...]]
    """Columns identifying a row (its primary key, and how ``check`` names a difference)."""
    indexes: ClassVar[tuple[tuple[str, ...], ...]] = ()
    aggregate: ClassVar[str] = AGENT
    """The aggregate whose events this view reads."""

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(column.name for column in cls.columns)

    def table(self, generation: int) -> str:
        return f"{self.name}_g{generation}"

    def tables(self, generation: int) -> list[str]:
        """All physical tables of one generation (the first is the public one)."""
        return [self.table(generation)]

    def create(self, cur: Cursor, generation: int) -> None:
        create_table(cur, self.table(generation), self.columns, self.key, self.indexes)

    def drop_indexes(self, cur: Cursor, generation: int) -> None:
        """Drop the primary key and indexes of a generation (PostgreSQL): a first fill of many
        rows then builds them once, by sorting, instead of keeping them up to date row by row."""
        table = self.table(generation)
        cur.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {table}_pkey")
        for index in self.indexes:
            cur.execute(f"DROP INDEX IF EXISTS {table}_{index[0]}")

    def create_indexes(self, cur: Cursor, generation: int) -> None:
        table = self.table(generation)
        cur.execute(f"ALTER TABLE {table} ADD PRIMARY KEY ({', '.join(self.key)})")
        create_indexes(cur, table, self.indexes)

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
        names = self.names()
        cur.execute(
            f"SELECT {', '.join(names)} FROM {self.table(generation)} "
            f"ORDER BY {', '.join(self.key)}"
        )
        key_index = [names.index(k) for k in self.key]
        result = {}
        for row in cur.fetchall():
            values = tuple("" if v is None else str(v) for v in row)
            result[tuple(values[i] for i in key_index)] = values
        return result

    def select(self, cur: Cursor, generation: int, ids: Sequence[str]) -> dict[str, Row]:
        """Rows of this page's agents, by ``key[0]``, as dicts."""
        names = self.names()
        found = cur.select_in(
            f"SELECT {', '.join(names)} FROM {self.table(generation)} WHERE", self.key[0], ids
        )
        return {row[0]: dict(zip(names, row, strict=True)) for row in found}

    def upsert(self, cur: Cursor, table: str, rows: Sequence[Row]) -> None:
        """Insert ``rows``, replacing those with the same key."""
        updates = ", ".join(
            f"{c.name} = excluded.{c.name}" for c in self.columns if c.name not in self.key
        )
        cur.insert_rows(
            table,
            [(c.name, c.type.split()[0]) for c in self.columns],
            [tuple(row[c.name] for c in self.columns) for row in rows],
            f"ON CONFLICT ({', '.join(self.key)}) DO UPDATE SET {updates}",
        )


def create_table(
    cur: Cursor,
    table: str,
    columns: Sequence[Column],
    key: Sequence[str],
    indexes: Sequence[Sequence[str]] = (),
) -> None:
    definitions = ", ".join(f"{c.name} {c.type}" for c in columns)
    cur.execute(
        f"CREATE TABLE IF NOT EXISTS {table} ({definitions}, PRIMARY KEY ({', '.join(key)}))"
    )
    create_indexes(cur, table, indexes)


def create_indexes(cur: Cursor, table: str, indexes: Sequence[Sequence[str]]) -> None:
    for index in indexes:
        cur.execute(
            f"CREATE INDEX IF NOT EXISTS {table}_{index[0]} ON {table} ({', '.join(index)})"
        )


class Balances(View):
    """One row per agent: balance, ceiling, undeclared-DIF reserve, status, low qualification."""

    name = "balances"
    key = ("agent_id",)
    columns = (
        Column("agent_id", "text NOT NULL"),
        Column("balance", "integer NOT NULL"),
        Column("ceiling", "integer NOT NULL"),
        Column("reserve", "integer NOT NULL"),
        Column("status", "text NOT NULL"),
        Column("low_qualification_from", "integer"),
        Column("last_movement_kind", "text"),
        Column("last_movement_date", "text"),
        Column("last_recorded_at", "text"),
        Column("version", "integer NOT NULL"),
        Column("position", "bigint NOT NULL"),
    )

    @staticmethod
    def new_row(agent_id: str) -> Row:
        return {
            "agent_id": agent_id,
            "balance": 0,
            "ceiling": counter_ceiling(False),
            "reserve": 0,
            "status": str(Status.OPEN),
            "low_qualification_from": None,
            "last_movement_kind": None,
            "last_movement_date": None,
            "last_recorded_at": None,
            "version": 0,
            "position": 0,
        }

    def apply(self, cur: Cursor, generation: int, movements: Sequence[Movement]) -> None:
        state = self.select(cur, generation, list(dict.fromkeys(m.agent_id for m in movements)))
        for m in movements:
            row = state.get(m.agent_id) or state.setdefault(m.agent_id, self.new_row(m.agent_id))
            row["balance"] += m.counter
            row["reserve"] += m.reserve
            if m.kind == "LowQualificationDeclared":
                row["low_qualification_from"] = m.fields["from_year"]
                row["ceiling"] = counter_ceiling(True)
            elif m.kind == "Closed":
                row["status"] = str(status_after_closure(m.fields["reason"]))
            row.update(
                last_movement_kind=m.kind,
                last_movement_date=m.effective_date,
                last_recorded_at=m.recorded_at,
                version=m.version,
                position=m.position,
            )
        self.upsert(cur, self.table(generation), list(state.values()))


class MovementHeads(View):
    """The running balance and reserve of each agent after its last movement: a table of the
    movements view in generations built before the totals were read from the view itself."""

    name = "movement_heads"
    key = ("agent_id",)
    columns = (
        Column("agent_id", "text NOT NULL"),
        Column("balance", "integer NOT NULL"),
        Column("reserve", "integer NOT NULL"),
    )


class Movements(View):
    """One row per movement, in log order, with the balance after it and its provenance."""

    name = "movements"
    key = ("position",)
    indexes = (("agent_id", "position"),)
    columns = (
        Column("position", "bigint NOT NULL"),
        Column("agent_id", "text NOT NULL"),
        Column("version", "integer NOT NULL"),
        Column("kind", "text NOT NULL"),
        Column("effective_date", "text NOT NULL"),
        Column("recorded_at", "text NOT NULL"),
        Column("hours", "integer NOT NULL"),
        Column("reserve_hours", "integer NOT NULL"),
        Column("balance_after", "integer NOT NULL"),
        Column("reserve_after", "integer NOT NULL"),
        Column("siret", "text"),
        Column("year", "integer"),
        Column("principal", "text"),
        Column("channel", "text"),
        Column("source", "text"),
        Column("idempotency_key", "text"),
        Column("details", "text NOT NULL"),
    )
    heads = MovementHeads()

    def tables(self, generation: int) -> list[str]:
        # Generations built before the running totals were read from the view itself kept them
        # in a table of their own: dropped with their generation.
        return [self.table(generation), self.heads.table(generation)]

    def apply(self, cur: Cursor, generation: int, movements: Sequence[Movement]) -> None:
        ids = list(dict.fromkeys(m.agent_id for m in movements))
        heads = self.last_totals(cur, generation, ids)
        rows = []
        for m in movements:
            head = heads.setdefault(
                m.agent_id, {"agent_id": m.agent_id, "balance": 0, "reserve": 0}
            )
            head["balance"] += m.counter
            head["reserve"] += m.reserve
            provenance = m.provenance
            rows.append(
                {
                    "position": m.position,
                    "agent_id": m.agent_id,
                    "version": m.version,
                    "kind": m.kind,
                    "effective_date": m.effective_date,
                    "recorded_at": m.recorded_at,
                    "hours": m.counter,
                    "reserve_hours": m.reserve,
                    "balance_after": head["balance"],
                    "reserve_after": head["reserve"],
                    "siret": m.siret,
                    "year": m.year,
                    "principal": provenance.get("principal"),
                    "channel": provenance.get("channel"),
                    "source": provenance.get("source"),
                    "idempotency_key": provenance.get("idempotency_key"),
                    "details": details_of(m.fields),
                }
            )
        cur.copy_rows(self.table(generation), self.names(), [tuple(r.values()) for r in rows])

    def last_totals(self, cur: Cursor, generation: int, ids: Sequence[str]) -> dict[str, Row]:
        """Each agent's running balance and reserve after its last movement in the view."""
        table = self.table(generation)
        found = cur.select_in(
            f"SELECT agent_id, balance_after, reserve_after FROM {table} WHERE position IN "
            f"(SELECT MAX(position) FROM {table} WHERE",
            "agent_id",
            ids,
            suffix=" GROUP BY agent_id)",
        )
        return {
            agent_id: {"agent_id": agent_id, "balance": balance, "reserve": reserve}
            for agent_id, balance, reserve in found
        }


class EmployerIndex(View):
    """SIRET x year x agent for every acquisition line (year > 0), and SIRET x agent (year 0)
    for every other movement a SIRET recorded on an agent: the employers' scope."""

    name = "employer_index"
    key = ("siret", "year", "agent_id")
    indexes = (("agent_id",),)
    columns = (
        Column("siret", "text NOT NULL"),
        Column("year", "integer NOT NULL"),
        Column("agent_id", "text NOT NULL"),
        Column("first_position", "bigint NOT NULL"),
    )

    def apply(self, cur: Cursor, generation: int, movements: Sequence[Movement]) -> None:
        rows: dict[tuple[str, int, str], int] = {}
        for m in movements:
            if m.siret is None:
                continue
            year = m.year if m.kind == "AcquisitionLineRecorded" and m.year else 0
            rows.setdefault((m.siret, year, m.agent_id), m.position)
        cur.insert_rows(
            self.table(generation),
            [(c.name, c.type.split()[0]) for c in self.columns],
            [(*key, position) for key, position in rows.items()],
            f"ON CONFLICT ({', '.join(self.key)}) DO NOTHING",
        )


class RegularisationRequests(View):
    """Employers' regularisation requests and their status, for listing per SIRET."""

    name = "regularisation_requests"
    key = ("request_id",)
    indexes = (("siret", "position"),)
    aggregate = "RegularisationRequest"
    columns = (
        Column("request_id", "text NOT NULL"),
        Column("agent_id", "text NOT NULL"),
        Column("siret", "text NOT NULL"),
        Column("year", "integer NOT NULL"),
        Column("hours", "integer NOT NULL"),
        Column("status", "text NOT NULL"),
        Column("reason", "text"),
        Column("decision_reason", "text"),
        Column("submitted_at", "text NOT NULL"),
        Column("decided_at", "text"),
        Column("submitted_by", "text"),
        Column("position", "bigint NOT NULL"),
    )

    def apply(self, cur: Cursor, generation: int, movements: Sequence[Movement]) -> None:
        state = self.select(cur, generation, list(dict.fromkeys(m.agent_id for m in movements)))
        for m in movements:
            if m.kind == "Submitted":
                state.setdefault(
                    m.agent_id,
                    {
                        "request_id": m.agent_id,
                        "agent_id": str(m.fields["agent_id"]).replace("-", ""),
                        "siret": m.fields["siret"],
                        "year": m.fields["year"],
                        "hours": m.fields["hours"],
                        "status": "submitted",
                        "reason": m.fields.get("reason"),
                        "decision_reason": None,
                        "submitted_at": m.recorded_at,
                        "decided_at": None,
                        "submitted_by": m.provenance.get("principal"),
                        "position": m.position,
                    },
                )
            elif m.kind == "Decided" and m.agent_id in state:
                state[m.agent_id].update(
                    status=m.fields["status"],
                    decision_reason=m.fields.get("reason"),
                    decided_at=m.recorded_at,
                    position=m.position,
                )
        self.upsert(cur, self.table(generation), list(state.values()))


VIEWS: dict[str, View] = {
    view.name: view for view in (Balances(), Movements(), EmployerIndex(), RegularisationRequests())
}
"""Every view, by name: the runner, the rebuild and the API's list of views come from here."""
