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
from projections import scope
from projections.store import ViewStore
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
        """The agent's balance row; with ``as_of`` / ``known_at``, the counter as it stood on an
        effective date, as recorded by a given time (summed from the movements view)."""
        with self.store.transaction(write=False) as cur:
            scope.require_visible(cur, principal, agent_id)
            row = cur.execute(
                f"SELECT {', '.join(BALANCE_COLUMNS)} FROM balances WHERE agent_id = %s",
                (agent_id,),
            ).fetchone()
            assert row is not None
            result = dict(zip(BALANCE_COLUMNS, row, strict=True))
            if as_of is None and known_at is None:
                return result
            where, params = _temporal(agent_id, as_of, known_at)
            totals = cur.execute(
                f"SELECT COALESCE(SUM(hours), 0), COALESCE(SUM(reserve_hours), 0), COUNT(*), "
                f"MAX(position) FROM movements WHERE {where}",
                params,
            ).fetchone()
            assert totals is not None
            return {
                "agent_id": agent_id,
                "balance": int(totals[0]),
                "reserve": int(totals[1]),
                "movements": int(totals[2]),
                "position": totals[3],
                "as_of": as_of,
                "known_at": known_at,
                "current_balance": result["balance"],
            }

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
        """One page of an agent's movements in log order, and the cursor of the next page."""
        limit = _page_limit(limit)
        after = decode_cursor(cursor) or 0
        where, params = _temporal(agent_id, as_of, known_at)
        where += " AND position > %s"
        params.append(int(after))
        if from_date:
            where += " AND effective_date >= %s"
            params.append(from_date.isoformat())
        if to_date:
            where += " AND effective_date <= %s"
            params.append(to_date.isoformat())
        if kind:
            where += " AND kind = %s"
            params.append(kind)
        with self.store.transaction(write=False) as cur:
            scope.require_visible(cur, principal, agent_id)
            rows = cur.execute(
                f"SELECT {', '.join(MOVEMENT_COLUMNS)} FROM movements WHERE {where} "
                "ORDER BY position LIMIT %s",
                (*params, limit + 1),
            ).fetchall()
        items = [_movement(row) for row in rows[:limit]]
        next_cursor = encode_cursor(items[-1]["position"]) if len(rows) > limit else None
        return items, next_cursor

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


def _movement(row: tuple[Any, ...]) -> dict[str, Any]:
    item = dict(zip(MOVEMENT_COLUMNS, row, strict=True))
    item["details"] = orjson.loads(item["details"])
    return item
