"""The yearly extraction of a SIRET: every agent with an acquisition line for it that year, with
identity, balance, ceiling and movement history; one row per movement, streamed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

from ledger.application import Ledger
from ledger.domain.access import Principal
from projections.queries import MAX_PAGE, Queries


def extraction_rows(
    queries: Queries, ledger: Ledger, principal: Principal, siret: str, year: int
) -> Iterator[dict[str, Any]]:
    """Rows of the extraction, agent by agent (ordered by agent id), movements in log order.

    The SIRET is checked before the first row (a refusal is an error, never an empty file)."""
    agents = queries.iter_employer_agents(principal, siret, year)
    return _rows(queries, ledger, principal, agents)


def _rows(
    queries: Queries, ledger: Ledger, principal: Principal, agents: Iterator[dict[str, Any]]
) -> Iterator[dict[str, Any]]:
    for agent in agents:
        identity = ledger.identity(UUID(agent["agent_id"]))
        person = {
            "agent_id": agent["agent_id"],
            "nir": identity.nir,
            "birth_name": identity.birth_name,
            "first_name": identity.first_name,
            "birth_date": identity.birth_date.isoformat(),
            "balance": agent["balance"],
            "ceiling": agent["ceiling"],
            "reserve": agent["reserve"],
            "status": agent["status"],
        }
        cursor = None
        while True:
            movements, cursor = queries.movements(principal, agent["agent_id"], cursor, MAX_PAGE)
            for m in movements:
                yield {
                    **person,
                    "position": m["position"],
                    "effective_date": m["effective_date"],
                    "recorded_at": m["recorded_at"],
                    "kind": m["kind"],
                    "hours": m["hours"],
                    "reserve_hours": m["reserve_hours"],
                    "balance_after": m["balance_after"],
                    "movement_siret": m["siret"],
                }
            if cursor is None:
                break
