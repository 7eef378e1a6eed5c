"""Reads of the event table the library does not offer: the events of many agents in one query,
and the audit chain's rows. The one module of ``ledger/`` (with the recorders) that knows SQL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from psycopg.sql import SQL, Identifier

from ledger.store.recorders import CHAIN_TABLE, STATE_TABLE, qualified_chain


@dataclass(slots=True)
class AgentRecord:
    """What the store holds of one agent: its folded state (if any) and the events after it."""

    agent_id: UUID
    state_version: int
    state: bytes | None
    events: list[StoredEvent] = field(default_factory=list)


def select_agent_records(recorder: Any, agent_ids: Sequence[UUID]) -> list[AgentRecord]:
    """Each known agent's folded state and the events recorded after it, in one query (one
    index probe in each table per agent when the state is current)."""
    if not agent_ids:
        return []
    records: dict[UUID, AgentRecord] = {}
    if hasattr(recorder.datastore, "schema"):  # PostgreSQL
        statement = SQL(
            "SELECT q.id, s.version, s.state, e.originator_version, e.topic, e.state AS event "
            "FROM unnest(%s::uuid[]) AS q(id) LEFT JOIN {state} s ON s.agent_id = q.id "
            "LEFT JOIN LATERAL (SELECT originator_version, topic, state FROM {events} "
            "WHERE originator_id = q.id AND originator_version > COALESCE(s.version, 0) "
            "ORDER BY originator_version) e ON true"
        ).format(
            state=Identifier(recorder.datastore.schema, STATE_TABLE),
            events=Identifier(recorder.datastore.schema, recorder.events_table_name),
        )
        with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, (list(agent_ids),), prepare=True)
            rows = [
                (r["id"], r["version"], r["state"], r["originator_version"], r["topic"], r["event"])
                for r in curs.fetchall()
            ]
    else:
        marks = ",".join("?" * len(agent_ids))
        table = recorder.events_table_name
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT agent_id, version, state FROM {STATE_TABLE} WHERE agent_id IN ({marks})",
                [agent_id.hex for agent_id in agent_ids],
            )
            states = {r[0]: (r[1], r[2]) for r in cursor.fetchall()}
            cursor.execute(
                f"SELECT e.originator_id, e.originator_version, e.topic, e.state FROM {table} e "
                f"LEFT JOIN {STATE_TABLE} s ON s.agent_id = e.originator_id "
                f"WHERE e.originator_id IN ({marks}) "
                "AND e.originator_version > COALESCE(s.version, 0) "
                "ORDER BY e.originator_id, e.originator_version",
                [agent_id.hex for agent_id in agent_ids],
            )
            events = cursor.fetchall()
        rows = [(UUID(k), v, state, None, None, None) for k, (v, state) in states.items()]
        rows += [(UUID(r[0]), None, None, r[1], r[2], r[3]) for r in events]
    for agent_id, version, state, event_version, topic, event in rows:
        record = records.get(agent_id)
        if record is None:
            record = records[agent_id] = AgentRecord(agent_id, 0, None)
        if state is not None:
            record.state_version, record.state = version, bytes(state)
        if event_version is not None:
            record.events.append(
                StoredEvent(
                    originator_id=agent_id,
                    originator_version=event_version,
                    topic=topic,
                    state=bytes(event),
                )
            )
    for record in records.values():
        record.events.sort(key=lambda e: e.originator_version)
    return [r for r in records.values() if r.state is not None or r.events]


def select_events_of(
    recorder: Any, agent_ids: Sequence[UUID], only_first: bool = False
) -> Iterable[StoredEvent]:
    """Stored events of all ``agent_ids``, in one query, ordered by agent then version
    (``only_first``: the first event of each, its registration)."""
    return [event for _, event in select_positioned_events_of(recorder, agent_ids, only_first)]


def select_positioned_events_of(
    recorder: Any, agent_ids: Sequence[UUID], only_first: bool = False
) -> list[tuple[int, StoredEvent]]:
    """(log position, stored event) of all ``agent_ids``, ordered by agent then version."""
    if not agent_ids:
        return []
    table = recorder.events_table_name
    first = " AND originator_version = 1" if only_first else ""
    if hasattr(recorder.datastore, "schema"):  # PostgreSQL
        statement = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {}.{} "
            "WHERE originator_id = ANY(%s)" + first + " ORDER BY originator_id, originator_version"
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
            f"WHERE originator_id IN ({placeholders}){first} "
            "ORDER BY originator_id, originator_version"
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
                f"SELECT position, digest, chain FROM {qualified_chain(recorder)} WHERE position > %s "
                "ORDER BY position LIMIT %s",
                (after, limit),
            )
            return [(r["position"], bytes(r["digest"]), bytes(r["chain"])) for r in curs.fetchall()]
    with recorder.datastore.transaction(commit=False) as c:
        c.execute(
            f"SELECT position, digest, chain FROM {qualified_chain(recorder)} WHERE position > ? "
            "ORDER BY position LIMIT ?",
            (after, limit),
        )
        return [(r[0], bytes(r[1]), bytes(r[2])) for r in c.fetchall()]


def chain_position_of(recorder: Any, digest: bytes) -> int | None:
    """The position whose recorded digest is ``digest`` (to tell a reordering)."""
    if hasattr(recorder.datastore, "schema"):
        with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                f"SELECT position FROM {qualified_chain(recorder)} WHERE digest = %s", (digest,)
            )
            row = curs.fetchone()
            return None if row is None else int(row["position"])
    with recorder.datastore.transaction(commit=False) as c:
        c.execute(f"SELECT position FROM {qualified_chain(recorder)} WHERE digest = ?", (digest,))
        found = c.fetchone()
        return None if found is None else int(found[0])


def last_chain_row(recorder: Any) -> tuple[int, bytes] | None:
    """(position, chain) of the last chained event."""
    if hasattr(recorder.datastore, "schema"):
        with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                f"SELECT position, chain FROM {qualified_chain(recorder)} ORDER BY position DESC LIMIT 1"
            )
            row = curs.fetchone()
            return None if row is None else (int(row["position"]), bytes(row["chain"]))
    with recorder.datastore.transaction(commit=False) as c:
        c.execute(
            f"SELECT position, chain FROM {qualified_chain(recorder)} ORDER BY position DESC LIMIT 1"
        )
        found = c.fetchone()
        return None if found is None else (int(found[0]), bytes(found[1]))


def insert_chain_rows(recorder: Any, rows: Sequence[tuple[int, bytes, bytes]]) -> None:
    """Insert chain rows (the migration of logs recorded before the chain)."""
    if hasattr(recorder.datastore, "schema"):
        with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.executemany(
                f"INSERT INTO {qualified_chain(recorder)} (position, digest, chain) VALUES (%s, %s, %s)",
                rows,
            )
        return
    with recorder.datastore.transaction(commit=True) as c:
        c.executemany(
            f"INSERT INTO {qualified_chain(recorder)} (position, digest, chain) VALUES (?, ?, ?)",
            rows,
        )


def events_outside_chain(recorder: Any, limit: int = 10) -> list[int]:
    """Positions of stored events the chain has no row for (whatever their position: a row
    inserted at a position the sequence never gave is found too)."""
    table, chain = _events_table(recorder), qualified_chain(recorder)
    position = "notification_id" if hasattr(recorder.datastore, "schema") else "rowid"
    return [
        int(row[0])
        for row in _fetch(
            recorder,
            f"SELECT e.{position} FROM {table} AS e WHERE NOT EXISTS "
            f"(SELECT 1 FROM {chain} AS c WHERE c.position = e.{position}) "
            f"ORDER BY e.{position} LIMIT {int(limit)}",
        )
    ]


def broken_versions(recorder: Any, limit: int = 10) -> list[str]:
    """Aggregates whose versions are not 1, 2, … without a gap or a repeat."""
    table = _events_table(recorder)
    return [
        str(row[0])
        for row in _fetch(
            recorder,
            f"SELECT originator_id FROM {table} GROUP BY originator_id "
            "HAVING MIN(originator_version) <> 1 OR MAX(originator_version) <> COUNT(*) "
            f"OR COUNT(DISTINCT originator_version) <> COUNT(*) LIMIT {int(limit)}",
        )
    ]


def _events_table(recorder: Any) -> str:
    schema = getattr(recorder.datastore, "schema", None)
    name = recorder.events_table_name
    return f'"{schema}".{name}' if schema else name


def _fetch(recorder: Any, statement: str) -> list[tuple[Any, ...]]:
    if hasattr(recorder.datastore, "schema"):
        with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement)
            return [tuple(row.values()) for row in curs.fetchall()]
    with recorder.datastore.transaction(commit=False) as c:
        c.execute(statement)
        return [tuple(row) for row in c.fetchall()]


def agent_ids(recorder: Any) -> list[Any]:
    """The id of every aggregate with an agent's events in the store."""
    table = _events_table(recorder)
    return [
        row[0]
        for row in _fetch(
            recorder,
            f"SELECT DISTINCT originator_id FROM {table} WHERE topic LIKE 'ledger.agent:Agent.%'",
        )
    ]


def last_positions(recorder: Any, ids: Sequence[UUID]) -> dict[UUID, int]:
    """The log position of each aggregate's last event."""
    return {
        UUID(str(originator)): int(position)
        for position, originator in (
            (p, e.originator_id) for p, e in select_positioned_events_of(recorder, ids)
        )
    }


def analyse_tables(recorder: Any) -> None:
    """Refresh PostgreSQL's statistics of the events, chain and state tables after a bulk load
    (autovacuum may be off, and a plan made on an empty table's statistics stays slow)."""
    if not hasattr(recorder.datastore, "schema"):
        return
    with recorder.datastore.get_connection() as conn:
        for table in (recorder.events_table_name, CHAIN_TABLE, STATE_TABLE):
            conn.execute(SQL("ANALYZE {}").format(Identifier(recorder.datastore.schema, table)))
