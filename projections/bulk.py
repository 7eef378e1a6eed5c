"""Set-based pages on PostgreSQL: the views filled by SQL from the events' typed columns.

An agent's event row carries its movement as typed columns, written when it was recorded
(``ledger/store/effects.py``). A page of the log (a range of positions) is applied to a view
generation by one statement per view, all of it inside PostgreSQL: no event goes through Python.
The rows are those the Python path writes (``projections/views.py``), value for value:
``projections check`` compares the two, and the tests run both on the same events.
"""

from __future__ import annotations

from typing import Any

from ledger.domain.movements import ClosureReason, Status, counter_ceiling
from projections.store import Cursor
from projections.views import Balances, EmployerIndex, Movements, View

PAGE = (
    "page AS {materialized} (SELECT notification_id AS position, originator_id AS oid, "
    "replace(originator_id::text, '-', '') AS agent_id, originator_version AS version, m_kind, "
    "m_effective_date, m_recorded_at, m_counter, m_reserve, m_siret, m_year, m_principal, "
    "m_channel, m_source, m_idempotency_key, m_details FROM {events} "
    "WHERE notification_id > %(start)s AND notification_id <= %(stop)s AND m_kind IS NOT NULL)"
)


def complete(cur: Cursor, events: str, start: int, stop: int) -> bool:
    """Whether every agent event of the range has its typed columns (rows recorded before they
    existed have none: those pages go through Python)."""
    row = cur.execute(
        f"SELECT EXISTS (SELECT 1 FROM {events} WHERE notification_id > %s "
        "AND notification_id <= %s AND m_kind IS NULL AND topic LIKE 'ledger.agent:Agent.%%')",
        (start, stop),
    ).fetchone()
    return row is not None and not row[0]


def can_fill(view: View) -> bool:
    return type(view) in _PARTS


def fill(
    cur: Cursor,
    tables: dict[type[View], str],
    events: str,
    start: int,
    stop: int,
    empty: bool = False,
) -> None:
    """Apply the agent events of positions (start, stop] to the views' tables (``tables``: the
    generation table of each view to fill), in one statement: the page is read once.

    ``empty``: the tables hold no row yet (a rebuild's first pass), so no agent has totals to
    carry: the movements' running totals start at zero with no look-up."""
    params: dict[str, Any] = {
        "start": start,
        "stop": stop,
        "standard_ceiling": counter_ceiling(False),
        "low_ceiling": counter_ceiling(True),
        "invalidity": str(ClosureReason.INVALIDITY),
        "invalidity_status": str(Status.INVALIDITY),
        "closed_status": str(Status.CLOSED),
        "open_status": str(Status.OPEN),
    }
    parts = {
        kind: (_FIRST_MOVEMENTS if empty and kind is Movements else _PARTS[kind]) for kind in tables
    }
    # Read once by the only part, the page is not written aside: the part reads the log itself.
    alone = len(parts) == 1 and next(iter(parts.values())) in _READ_PAGE_ONCE
    page = PAGE.format(events=events, materialized="NOT MATERIALIZED" if alone else "MATERIALIZED")
    parts_sql = [page] + [parts[kind].format(table=table) for kind, table in tables.items()]
    cur.execute(f"WITH {', '.join(parts_sql)} SELECT 1", params)


# Each view's part of the statement: common table expressions over ``page``. Sorting and
# grouping go by the originator's uuid (compared as bytes), the hex text is only written.
_RUNNING_TOTALS = (
    "(SELECT p.*, SUM(p.m_counter) OVER w AS run_counter, SUM(p.m_reserve) OVER w AS run_reserve "
    "FROM page p WINDOW w AS (PARTITION BY p.oid ORDER BY p.position)) r"
)


def _movements_in(balance: str, reserve: str, source: str) -> str:
    """The movements' insert: each row's totals are ``balance``/``reserve`` plus the running
    sums of the page (``r``) read from ``source``."""
    return (
        "movements_in AS (INSERT INTO {table} (position, agent_id, version, kind, "
        "effective_date, recorded_at, hours, reserve_hours, balance_after, reserve_after, siret, "
        "year, principal, channel, source, idempotency_key, details) "
        "SELECT r.position, r.agent_id, r.version, r.m_kind, r.m_effective_date, r.m_recorded_at, "
        f"r.m_counter, r.m_reserve, {balance} + r.run_counter, {reserve} + r.run_reserve, "
        "r.m_siret, r.m_year, r.m_principal, r.m_channel, r.m_source, r.m_idempotency_key, "
        f"r.m_details FROM {source})"
    )


# Each agent's previous totals from its last movement row, then the page's running sums.
_MOVEMENTS = (
    "heads AS (SELECT a.oid, COALESCE(h.balance_after, 0) AS balance, "
    "COALESCE(h.reserve_after, 0) AS reserve FROM (SELECT DISTINCT oid, agent_id FROM page) a "
    "LEFT JOIN LATERAL (SELECT balance_after, reserve_after FROM {table} m "
    "WHERE m.agent_id = a.agent_id ORDER BY position DESC LIMIT 1) h ON true), "
    + _movements_in("h.balance", "h.reserve", f"{_RUNNING_TOTALS} JOIN heads h USING (oid)")
)

# The same rows into an empty table: totals from zero, no look-up.
_FIRST_MOVEMENTS = _movements_in("0", "0", _RUNNING_TOTALS)

# A row already there (from an earlier page) is skipped by an index probe, not by ON CONFLICT's
# speculative insertion: one writer holds the generation's position row (FOR UPDATE).
_EMPLOYER_INDEX = (
    "employer_rows AS (SELECT m_siret AS siret, CASE WHEN m_kind = 'AcquisitionLineRecorded' "
    "AND m_year <> 0 THEN m_year ELSE 0 END AS year, agent_id, MIN(position) AS first "
    "FROM page WHERE m_siret IS NOT NULL GROUP BY 1, 2, 3), "
    "employer_in AS (INSERT INTO {table} (siret, year, agent_id, first_position) "
    "SELECT r.siret, r.year, r.agent_id, r.first FROM employer_rows r WHERE NOT EXISTS "
    "(SELECT 1 FROM {table} e WHERE e.siret = r.siret AND e.year = r.year "
    "AND e.agent_id = r.agent_id))"
)

# Each agent's sums over the page by one hash aggregate, and its last movement by joining the
# page on the last position (no sort of the page). The rare kinds that set the low-qualification
# year or the status are read from their details apart.
_BALANCES = (
    "sums AS (SELECT oid, SUM(m_counter) AS counter, SUM(m_reserve) AS reserve, "
    "MAX(position) AS last_position FROM page GROUP BY oid), "
    "last AS (SELECT s.oid, p.agent_id, p.position, p.version, p.m_kind, p.m_effective_date, "
    "p.m_recorded_at, s.counter, s.reserve FROM sums s JOIN page p ON p.position = s.last_position), "
    "lowq AS (SELECT DISTINCT ON (oid) oid, (m_details::jsonb ->> 'from_year')::int AS low_from "
    "FROM page WHERE m_kind = 'LowQualificationDeclared' ORDER BY oid, position DESC), "
    "closed AS (SELECT DISTINCT ON (oid) oid, CASE WHEN m_details::jsonb ->> 'reason' "
    "= %(invalidity)s THEN %(invalidity_status)s ELSE %(closed_status)s END AS status "
    "FROM page WHERE m_kind = 'Closed' ORDER BY oid, position DESC), "
    "agg AS (SELECT l.*, q.low_from, c.status FROM last l LEFT JOIN lowq q USING (oid) "
    "LEFT JOIN closed c USING (oid)), "
    "balances_up AS (UPDATE {table} b SET balance = b.balance + a.counter, "
    "reserve = b.reserve + a.reserve, status = COALESCE(a.status, b.status), "
    "low_qualification_from = COALESCE(a.low_from, b.low_qualification_from), "
    "ceiling = CASE WHEN a.low_from IS NOT NULL THEN %(low_ceiling)s ELSE b.ceiling END, "
    "last_movement_kind = a.m_kind, last_movement_date = a.m_effective_date, "
    "last_recorded_at = a.m_recorded_at, version = a.version, position = a.position "
    "FROM agg a WHERE b.agent_id = a.agent_id RETURNING b.agent_id), "
    "balances_in AS (INSERT INTO {table} (agent_id, balance, ceiling, reserve, status, "
    "low_qualification_from, last_movement_kind, last_movement_date, last_recorded_at, version, "
    "position) "
    "SELECT a.agent_id, a.counter, CASE WHEN a.low_from IS NOT NULL THEN %(low_ceiling)s "
    "ELSE %(standard_ceiling)s END, a.reserve, COALESCE(a.status, %(open_status)s), a.low_from, "
    "a.m_kind, a.m_effective_date, a.m_recorded_at, a.version, a.position FROM agg a "
    "WHERE NOT EXISTS (SELECT 1 FROM balances_up u WHERE u.agent_id = a.agent_id))"
)

_READ_PAGE_ONCE = (_FIRST_MOVEMENTS, _EMPLOYER_INDEX)

_PARTS: dict[type[View], str] = {
    Movements: _MOVEMENTS,
    EmployerIndex: _EMPLOYER_INDEX,
    Balances: _BALANCES,
}
