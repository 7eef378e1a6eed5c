"""An agent's folded state: kept beside its events, in their transaction, so a command loads one
row instead of replaying the whole history. A cache: a row of another format (``STATE_FORMAT``)
or older than the events is replayed past, and ``cpf-ledger projections check`` compares every
row with what the events replay to."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ledger.domain.movements import DecrementRecord, Receipt, Status

if TYPE_CHECKING:
    from ledger.domain.agent import Agent

STATE_FORMAT = 1
"""The version of :meth:`Agent.to_state`'s layout. Change it with the layout, or with how an
event folds into the state: states of another format are ignored (replayed from the events) and
written again at the agent's next movement."""


def _receipt_state(receipt: Receipt) -> list[Any]:
    day = receipt.effective_date
    return [
        receipt.version,
        receipt.kind,
        receipt.hours,
        receipt.reserve_hours,
        receipt.balance_after,
        receipt.decrement_id,
        None if day is None else day.isoformat(),
        receipt.reserve_after,
        receipt.requested,
    ]


def _receipt_from_state(agent_id: UUID, fields: list[Any]) -> Receipt:
    version, kind, hours, reserve_hours, balance, decrement_id, day, reserve, requested = fields
    return Receipt(
        agent_id=agent_id,
        version=version,
        kind=kind,
        hours=hours,
        reserve_hours=reserve_hours,
        balance_after=balance,
        decrement_id=decrement_id,
        effective_date=None if day is None else date.fromisoformat(day),
        reserve_after=reserve,
        requested=requested,
    )


def to_state(agent: Agent) -> dict[str, Any]:
    """The agent's folded state as plain JSON values, kept beside its events (in the same
    transaction) so a command loads one row instead of replaying the history. The identity
    is left out: it lives in the registration event only."""
    return {
        "format": STATE_FORMAT,
        "created_on": agent.created_on.isoformat(),
        "modified_on": agent.modified_on.isoformat(),
        "balance": agent.balance,
        "status": str(agent.status),
        "low_qualification_from": agent.low_qualification_from,
        "dif_converted": agent.dif_converted,
        "inaptitude_total": agent.inaptitude_total,
        "latest_credit": agent.latest_credit.isoformat(),
        "year_lines": {
            str(year): {siret: str(hours) for siret, hours in lines.items()}
            for year, lines in agent.year_lines.items()
        },
        "year_credited": {str(year): hours for year, hours in agent.year_credited.items()},
        "year_regularised": {str(y): hours for y, hours in agent.year_regularised.items()},
        "year_base": {str(year): hours for year, hours in agent.year_base.items()},
        "reserves": agent.reserves,
        "decrements": {
            key: [
                r.siret,
                r.from_reserve,
                r.from_counter,
                r.effective_date.isoformat(),
                r.cancelled,
            ]
            for key, r in agent.decrements.items()
        },
        "recorded_by": sorted(agent.recorded_by),
        "receipts": {
            key: [fingerprint, _receipt_state(receipt)]
            for key, (fingerprint, receipt) in agent.receipts.items()
        },
    }


def from_state(
    cls: type[Agent], agent_id: UUID, version: int, state: dict[str, Any]
) -> Agent | None:
    """The agent at ``version`` from its folded state (:meth:`to_state`); None when the state
    was written in another format (the caller then replays the events)."""
    if state.get("format") != STATE_FORMAT:
        return None
    agent = cls.__new__(cls)
    agent.__base_init__(agent_id, version, datetime.fromisoformat(state["created_on"]))
    agent.__init__()  # type: ignore[misc]
    agent.modified_on = datetime.fromisoformat(state["modified_on"])
    agent.balance = state["balance"]
    agent.status = Status(state["status"])
    agent.low_qualification_from = state["low_qualification_from"]
    agent.dif_converted = state["dif_converted"]
    agent.inaptitude_total = state["inaptitude_total"]
    agent.latest_credit = date.fromisoformat(state["latest_credit"])
    agent.year_lines = {
        int(year): {siret: Decimal(hours) for siret, hours in lines.items()}
        for year, lines in state["year_lines"].items()
    }
    agent.year_credited = {int(y): hours for y, hours in state["year_credited"].items()}
    agent.year_regularised = {int(y): hours for y, hours in state["year_regularised"].items()}
    agent.year_base = {int(year): hours for year, hours in state["year_base"].items()}
    agent.reserves = state["reserves"]
    agent.decrements = {
        key: DecrementRecord(siret, reserve, counter, date.fromisoformat(day), cancelled)
        for key, (siret, reserve, counter, day, cancelled) in state["decrements"].items()
    }
    agent.recorded_by = set(state["recorded_by"])
    agent.receipts = {
        key: (fingerprint, _receipt_from_state(agent_id, fields))
        for key, (fingerprint, fields) in state["receipts"].items()
    }
    return agent
