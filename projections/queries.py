"""Reads for the API, answered from the views and scoped to the principal asking.

Every query takes the principal and asks ``projections.scope`` what it may see: an agent outside
an employer's scope is reported exactly like one that does not exist.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import date
from typing import Any

import orjson

from ledger.domain.access import Principal
from ledger.domain.errors import InvalidInput
from ledger.domain.movements import (
    Status,
    anticipation_floor_on,
    counter_ceiling,
    status_after_closure,
)
from projections import scope
from projections.store import Cursor, ViewStore
from projections.views import Balances, Movements

MAX_PAGE = 500
BALANCE_COLUMNS = Balances.names()
MOVEMENT_COLUMNS = Movements.names()


def encode_cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> Any:
    if not cursor:
        return None
    try:
        value = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        raise InvalidInput("invalid cursor") from None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | str)
        or (isinstance(value, int) and not 0 <= value < 2**62)
        or (isinstance(value, str) and len(value) > 64)
    ):
        raise InvalidInput("invalid cursor")
    return value


def _page_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}")
    return limit


class Queries:
    """The read side as the API uses it."""

    def __init__(self, store: ViewStore) -> None:
        self.store = store

    def check_visible(self, principal: Principal, agent_id: str) -> None:
        """Raise AgentNotFound unless the principal may see this agent."""
        with self.store.transaction(write=False) as cur:
            scope.require_visible(cur, principal, agent_id)

    # ---------------------------------------------------------------- agents

    def balance(
        self,
        principal: Principal,
        agent_id: str,
        as_of: date | None = None,
        known_at: str | None = None,
    ) -> dict[str, Any]:
        """The agent's balance, explained: counter, ceiling in force, the floor an anticipation may
        reach, status, and the undeclared-DIF reserve per SIRET. With ``as_of`` / ``known_at``,
        all of it as it stood on an effective date, as recorded by a given time."""
        if as_of is None and known_at is None and self.store.is_postgres:
            return self._balance_now(principal, agent_id)
        with self.store.transaction(write=False) as cur:
            scope.require_visible(cur, principal, agent_id)
            row = cur.execute(
                f"SELECT {', '.join(BALANCE_COLUMNS)} FROM balances WHERE agent_id = %s",
                (agent_id,),
            ).fetchone()
            assert row is not None
            current = dict(zip(BALANCE_COLUMNS, row, strict=True))
            where, params = _temporal(agent_id, as_of, known_at)
            reserves = _reserves(cur, where, params)
            if as_of is None and known_at is None:
                floor = anticipation_floor_on(
                    date.today(), current["status"], current["low_qualification_from"]
                )
                return {**current, "floor": floor, "reserves": reserves}
            totals = cur.execute(
                "SELECT COALESCE(SUM(hours), 0), COALESCE(SUM(reserve_hours), 0), COUNT(*), "
                f"MAX(position) FROM movements WHERE {where}",
                params,
            ).fetchone()
            assert totals is not None
            status, low_from = _status_then(cur, where, params)
        day = as_of or date.today()
        return {
            "agent_id": agent_id,
            "balance": int(totals[0]),
            "reserve": int(totals[1]),
            "reserves": reserves,
            "ceiling": counter_ceiling(low_from is not None and low_from <= day.year),
            "floor": anticipation_floor_on(day, status, low_from),
            "status": status,
            "movements": int(totals[2]),
            "position": totals[3],
            "as_of": as_of,
            "known_at": known_at,
            "current_balance": current["balance"],
        }

    def _balance_now(self, principal: Principal, agent_id: str) -> dict[str, Any]:
        """The current balance in one statement: the scope check, the row and the reserves."""
        visible, visible_params = scope.visible_agents(principal, "b.agent_id")
        columns = ", ".join(f"b.{c}" for c in BALANCE_COLUMNS)
        rows = self.store.query(
            f"SELECT {columns}, (SELECT COALESCE(json_agg(json_build_array(siret, hours) "
            "ORDER BY siret), '[]') FROM (SELECT siret, SUM(reserve_hours) AS hours "
            "FROM movements m WHERE m.agent_id = b.agent_id "
            "AND (kind = 'DifReserveDeclared' OR reserve_hours <> 0) GROUP BY siret) r) "
            f"FROM balances b WHERE b.agent_id = %s AND {visible}",
            (agent_id, *visible_params),
        )
        if not rows:
            raise scope.not_found()
        current = dict(zip(BALANCE_COLUMNS, rows[0], strict=False))
        reserves = [{"siret": siret, "hours": int(hours)} for siret, hours in rows[0][-1]]
        floor = anticipation_floor_on(
            date.today(), current["status"], current["low_qualification_from"]
        )
        return {**current, "floor": floor, "reserves": reserves}

    def movements(
        self,
        principal: Principal,
        agent_id: str,
        cursor: str | None = None,
        limit: int = 100,
        from_date: date | None = None,
        to_date: date | None = None,
        kind: str | None = None,
        as_of: date | None = None,
        known_at: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of an agent's movements, and the cursor of the next page.

        Read now, in log order with the balance after each movement. Read ``as_of`` a date or
        ``known_at`` a time, in effective-date order (then recording order), each row's balance
        the running balance of that history, so the last row equals the balance answered."""
        limit = _page_limit(limit)
        where, params = _temporal(agent_id, as_of, known_at)
        travel = as_of is not None or known_at is not None
        columns = ", ".join(MOVEMENT_COLUMNS)
        if travel:
            # The running totals of the history as it stood, then the page of it asked for.
            source = (
                f"(SELECT {columns}, SUM(hours) OVER w AS running, "
                f"SUM(reserve_hours) OVER w AS running_reserve FROM movements WHERE {where} "
                "WINDOW w AS (ORDER BY effective_date, position ROWS UNBOUNDED PRECEDING)) AS m"
            )
            selected = f"{columns}, running, running_reserve"
            order = "effective_date, position"
            filters, values = _after_effective(decode_cursor(cursor))
        else:
            source, selected, order = "movements", columns, "position"
            filters, values = (
                f"{where} AND position > %s",
                [*params, int(decode_cursor(cursor) or 0)],
            )
            params = []
        for condition, value in (
            ("effective_date >= %s", from_date and from_date.isoformat()),
            ("effective_date <= %s", to_date and to_date.isoformat()),
            ("kind = %s", kind),
        ):
            if value:
                filters += f" AND {condition}"
                values.append(value)
        page = f"SELECT {selected} FROM {source} WHERE {filters} ORDER BY {order} LIMIT %s"
        if self.store.is_postgres:
            # The scope check and the page in one statement: a row with NULLs when the agent is
            # visible and the page empty, none when it is not.
            visible, visible_params = scope.visible_agents(principal, "b.agent_id")
            found = self.store.query(
                f"SELECT p.* FROM balances b LEFT JOIN LATERAL ({page}) p ON true "
                f"WHERE b.agent_id = %s AND {visible}",
                (*params, *values, limit + 1, agent_id, *visible_params),
            )
            if not found:
                raise scope.not_found()
            rows = [row for row in found if row[0] is not None]
        else:
            with self.store.transaction(write=False) as cur:
                scope.require_visible(cur, principal, agent_id)
                rows = cur.execute(page, (*params, *values, limit + 1)).fetchall()
        items = [_movement(row) for row in rows[:limit]]
        if len(rows) <= limit:
            return items, None
        last = items[-1]
        mark = f"{last['effective_date']}|{last['position']}" if travel else last["position"]
        return items, encode_cursor(mark)

    # -------------------------------------------------------------- employers

    def employer_agents(
        self,
        principal: Principal,
        siret: str,
        year: int,
        cursor: str | None = None,
        limit: int = 100,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Agents with an acquisition line for ``siret`` in ``year``, with their balances (only
        those the principal may see, whatever the year)."""
        scope.require_readable_siret(principal, siret)
        limit = _page_limit(limit)
        after = decode_cursor(cursor) or ""
        columns = ", ".join(f"b.{c}" for c in BALANCE_COLUMNS)
        visible, visible_params = scope.visible_agents(principal, "e.agent_id")
        with self.store.transaction(write=False) as cur:
            rows = cur.execute(
                f"SELECT {columns} FROM employer_index e JOIN balances b "
                "ON b.agent_id = e.agent_id WHERE e.siret = %s AND e.year = %s "
                f"AND e.agent_id > %s AND {visible} ORDER BY e.agent_id LIMIT %s",
                (siret, year, str(after), *visible_params, limit + 1),
            ).fetchall()
        items = [dict(zip(BALANCE_COLUMNS, row, strict=True)) for row in rows[:limit]]
        next_cursor = encode_cursor(items[-1]["agent_id"]) if len(rows) > limit else None
        return items, next_cursor

    def iter_employer_agents(
        self, principal: Principal, siret: str, year: int
    ) -> Iterator[dict[str, Any]]:
        """Every agent of the extraction scope, page by page (for streamed exports). The SIRET
        is checked now, before anything is streamed."""
        scope.require_readable_siret(principal, siret)

        def pages() -> Iterator[dict[str, Any]]:
            cursor = None
            while True:
                items, cursor = self.employer_agents(principal, siret, year, cursor, MAX_PAGE)
                yield from items
                if cursor is None:
                    return

        return pages()

    def employer_movements(
        self,
        principal: Principal,
        siret: str,
        cursor: str | None = None,
        limit: int = 100,
        from_date: date | None = None,
        to_date: date | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Movements of the agents in ``siret``'s scope (acquisition line in N-1 or N-2, or a
        movement it recorded), in log order."""
        scope.require_readable_siret(principal, siret)
        limit = _page_limit(limit)
        after = int(decode_cursor(cursor) or 0)
        where = "m.position > %s"
        params: list[Any] = [after]
        if from_date:
            where += " AND m.effective_date >= %s"
            params.append(from_date.isoformat())
        if to_date:
            where += " AND m.effective_date <= %s"
            params.append(to_date.isoformat())
        columns = ", ".join(f"m.{c}" for c in MOVEMENT_COLUMNS)
        of_siret, scope_params = scope.agents_of(principal, [siret], "m.agent_id")
        with self.store.transaction(write=False) as cur:
            rows = cur.execute(
                f"SELECT {columns} FROM movements m WHERE {where} AND {of_siret} "
                "ORDER BY m.position LIMIT %s",
                (*params, *scope_params, limit + 1),
            ).fetchall()
        items = [_movement(row) for row in rows[:limit]]
        next_cursor = encode_cursor(items[-1]["position"]) if len(rows) > limit else None
        return items, next_cursor

    # -------------------------------------------------------- regularisations

    def regularisations(
        self,
        principal: Principal,
        status: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> tuple[list[dict[str, Any]], str | None]:
        limit = _page_limit(limit)
        after = str(decode_cursor(cursor) or "")
        columns = (
            "request_id",
            "agent_id",
            "siret",
            "year",
            "hours",
            "status",
            "reason",
            "decision_reason",
            "submitted_at",
            "decided_at",
        )
        where, params = "request_id > %s", [after]
        sirets = scope.readable_sirets(principal)
        if sirets is not None:
            sirets = sirets or [""]
            where += f" AND siret IN ({', '.join(['%s'] * len(sirets))})"
            params += sirets
        if status:
            where += " AND status = %s"
            params.append(status)
        with self.store.transaction(write=False) as cur:
            rows = cur.execute(
                f"SELECT {', '.join(columns)} FROM regularisation_requests WHERE {where} "
                "ORDER BY request_id LIMIT %s",
                (*params, limit + 1),
            ).fetchall()
        items = [dict(zip(columns, row, strict=True)) for row in rows[:limit]]
        next_cursor = encode_cursor(items[-1]["request_id"]) if len(rows) > limit else None
        return items, next_cursor


def _temporal(agent_id: str, as_of: date | None, known_at: str | None) -> tuple[str, list[Any]]:
    where, params = "agent_id = %s", [agent_id]
    if as_of is not None:
        where += " AND effective_date <= %s"
        params.append(as_of.isoformat())
    if known_at is not None:
        where += " AND recorded_at <= %s"
        params.append(known_at)
    return where, params


def _after_effective(cursor: Any) -> tuple[str, list[Any]]:
    """Rows after a time-travel cursor ("effective date|position")."""
    if cursor is None:
        return "1 = 1", []
    day, _, position = str(cursor).partition("|")
    try:
        date.fromisoformat(day)
        after = int(position)
    except ValueError:
        raise InvalidInput("invalid cursor") from None
    return "(effective_date > %s OR (effective_date = %s AND position > %s))", [day, day, after]


def _reserves(cur: Cursor, where: str, params: list[Any]) -> list[dict[str, Any]]:
    """The undeclared-DIF reserve of each SIRET that declared one, among these movements."""
    rows = cur.execute(
        f"SELECT siret, SUM(reserve_hours) FROM movements WHERE {where} "
        "AND (kind = 'DifReserveDeclared' OR reserve_hours <> 0) GROUP BY siret ORDER BY siret",
        params,
    ).fetchall()
    return [{"siret": siret, "hours": int(hours)} for siret, hours in rows]


def _status_then(cur: Cursor, where: str, params: list[Any]) -> tuple[str, int | None]:
    """The account's status and low-qualification year after these movements."""
    status, low_from = str(Status.OPEN), None
    rows = cur.execute(
        f"SELECT kind, details FROM movements WHERE {where} "
        "AND kind IN ('Closed', 'LowQualificationDeclared') ORDER BY position",
        params,
    ).fetchall()
    for found_kind, details in rows:
        fields = orjson.loads(details)
        if found_kind == "Closed":
            status = str(status_after_closure(fields["reason"]))
        else:
            low_from = int(fields["from_year"])
    return status, low_from


def _movement(row: tuple[Any, ...]) -> dict[str, Any]:
    """A movement as the API shows it; in a time-travel list, with its running balance."""
    item = dict(zip(MOVEMENT_COLUMNS, row[: len(MOVEMENT_COLUMNS)], strict=True))
    if len(row) > len(MOVEMENT_COLUMNS):
        item["balance_after"], item["reserve_after"] = (int(v) for v in row[-2:])
    item["details"] = orjson.loads(item["details"])
    if item["kind"] in ("Decremented", "DecrementCancelled"):
        item["from_reserve"], item["from_counter"] = -item["reserve_hours"], -item["hours"]
    return item
