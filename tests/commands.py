"""Short steps for test set-ups: each builds one command and runs it through ``Ledger.execute``
(the only write API), with the defaults a test does not care about."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from ledger import commands as cmd
from ledger.application import Ledger
from ledger.domain.movements import ClosureReason, Receipt
from ledger.domain.provenance import Provenance


def _dated(effective_date: date | None) -> dict[str, date]:
    return {} if effective_date is None else {"effective_date": effective_date}


def register_agent(
    ledger: Ledger,
    nir: str,
    birth_name: str,
    first_name: str,
    birth_date: date,
    provenance: Provenance,
) -> Receipt:
    return ledger.execute(
        cmd.RegisterAgent.for_nir(
            nir, birth_name, first_name, birth_date, ledger.id_key, provenance
        )
    )


def record_line(
    ledger: Ledger,
    agent_id: UUID,
    year: int,
    siret: str,
    hours_worked: int | Decimal,
    provenance: Provenance,
) -> Receipt:
    return ledger.execute(
        cmd.RecordAcquisitionLine(
            agent_id=agent_id,
            year=year,
            siret=siret,
            hours_worked=Decimal(hours_worked),
            provenance=provenance,
        )
    )


def decrement(
    ledger: Ledger,
    agent_id: UUID,
    siret: str,
    hours: int,
    start: date,
    provenance: Provenance,
    **options: Any,
) -> Receipt:
    return ledger.execute(
        cmd.Decrement(
            agent_id=agent_id,
            siret=siret,
            hours=hours,
            effective_date=start,
            provenance=provenance,
            **options,
        )
    )


def convert_dif(
    ledger: Ledger,
    agent_id: UUID,
    hours: int,
    provenance: Provenance,
) -> Receipt:
    return ledger.execute(cmd.ConvertDif(agent_id=agent_id, hours=hours, provenance=provenance))


def declare_dif_reserve(
    ledger: Ledger,
    agent_id: UUID,
    siret: str,
    hours: int,
    provenance: Provenance,
) -> Receipt:
    return ledger.execute(
        cmd.DeclareDifReserve(
            agent_id=agent_id,
            siret=siret,
            hours=hours,
            provenance=provenance,
        )
    )


def declare_low_qualification(
    ledger: Ledger,
    agent_id: UUID,
    from_year: int,
    provenance: Provenance,
) -> Receipt:
    return ledger.execute(
        cmd.DeclareLowQualification(agent_id=agent_id, from_year=from_year, provenance=provenance)
    )


def regularise_year(
    ledger: Ledger,
    agent_id: UUID,
    year: int,
    siret: str,
    hours: int,
    attestation: dict[str, Any],
    provenance: Provenance,
) -> Receipt:
    return ledger.execute(
        cmd.RegulariseYear(
            agent_id=agent_id,
            year=year,
            siret=siret,
            hours=hours,
            attestation=attestation,
            provenance=provenance,
        )
    )


def cancel_decrement(
    ledger: Ledger,
    agent_id: UUID,
    decrement_id: str,
    reason: str,
    provenance: Provenance,
) -> Receipt:
    return ledger.execute(
        cmd.CancelDecrement(
            agent_id=agent_id,
            decrement_id=decrement_id,
            reason=reason,
            provenance=provenance,
        )
    )


def credit_inaptitude(
    ledger: Ledger,
    agent_id: UUID,
    hours: int,
    provenance: Provenance,
    effective_date: date | None = None,
) -> Receipt:
    return ledger.execute(
        cmd.CreditInaptitude(
            agent_id=agent_id, hours=hours, provenance=provenance, **_dated(effective_date)
        )
    )


def close_account(
    ledger: Ledger,
    agent_id: UUID,
    reason: str,
    provenance: Provenance,
    effective_date: date | None = None,
) -> Receipt:
    return ledger.execute(
        cmd.CloseAccount(
            agent_id=agent_id,
            reason=ClosureReason(reason),
            provenance=provenance,
            **_dated(effective_date),
        )
    )
