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


def _run(
    ledger: Ledger,
    kind: type[cmd.Command],
    agent_id: UUID,
    provenance: Provenance,
    effective_date: date | None = None,
    **fields: Any,
) -> Receipt:
    """Run a ``kind`` of command on the agent; ``effective_date`` only when given (else the
    command's own default)."""
    if effective_date is not None:
        fields["effective_date"] = effective_date
    return ledger.execute(kind(agent_id=agent_id, provenance=provenance, **fields))


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
    return _run(
        ledger,
        cmd.RecordAcquisitionLine,
        agent_id,
        provenance,
        year=year,
        siret=siret,
        hours_worked=Decimal(hours_worked),
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
    return _run(
        ledger, cmd.Decrement, agent_id, provenance, start, siret=siret, hours=hours, **options
    )


def convert_dif(ledger: Ledger, agent_id: UUID, hours: int, provenance: Provenance) -> Receipt:
    return _run(ledger, cmd.ConvertDif, agent_id, provenance, hours=hours)


def declare_dif_reserve(
    ledger: Ledger, agent_id: UUID, siret: str, hours: int, provenance: Provenance
) -> Receipt:
    return _run(ledger, cmd.DeclareDifReserve, agent_id, provenance, siret=siret, hours=hours)


def declare_low_qualification(
    ledger: Ledger, agent_id: UUID, from_year: int, provenance: Provenance
) -> Receipt:
    return _run(ledger, cmd.DeclareLowQualification, agent_id, provenance, from_year=from_year)


def regularise_year(
    ledger: Ledger,
    agent_id: UUID,
    year: int,
    siret: str,
    hours: int,
    attestation: dict[str, Any],
    provenance: Provenance,
) -> Receipt:
    return _run(
        ledger,
        cmd.RegulariseYear,
        agent_id,
        provenance,
        year=year,
        siret=siret,
        hours=hours,
        attestation=attestation,
    )


def cancel_decrement(
    ledger: Ledger, agent_id: UUID, decrement_id: str, reason: str, provenance: Provenance
) -> Receipt:
    return _run(
        ledger, cmd.CancelDecrement, agent_id, provenance, decrement_id=decrement_id, reason=reason
    )


def credit_inaptitude(
    ledger: Ledger,
    agent_id: UUID,
    hours: int,
    provenance: Provenance,
    effective_date: date | None = None,
) -> Receipt:
    return _run(ledger, cmd.CreditInaptitude, agent_id, provenance, effective_date, hours=hours)


def close_account(
    ledger: Ledger,
    agent_id: UUID,
    reason: str,
    provenance: Provenance,
    effective_date: date | None = None,
) -> Receipt:
    return _run(
        ledger,
        cmd.CloseAccount,
        agent_id,
        provenance,
        effective_date,
        reason=ClosureReason(reason),
    )
