"""What a movement is, independent of the aggregate: its effect on the counter and the reserve,
the outcome a command returns, the agent's identity, and the account's status.

The read side learns from here how each kind of movement moves the counter (``MOVEMENT_EFFECTS``)
and what a closure or a low-qualification declaration does to the status and the ceiling: one
place for each rule, shared by the aggregate and the views.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any
from uuid import UUID

from ledger.domain import errors, rules
from ledger.domain.identifiers import Nir
from ledger.domain.text import printable_values


class Status(StrEnum):
    OPEN = "open"
    CLOSED = "closed"  # retirement: no credits, no decrements
    INVALIDITY = "invalidity"  # retirement for invalidity: decrements still allowed


class ClosureReason(StrEnum):
    RETIREMENT = "retirement"
    INVALIDITY = "invalidity"


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a command did, returned again as is when the command is retried."""

    agent_id: UUID
    version: int
    kind: str
    hours: int  # signed change of the counter (hours really credited, or taken)
    reserve_hours: int  # signed change of the undeclared-DIF reserve
    balance_after: int
    decrement_id: str | None = None
    replayed: bool = False
    position: int | None = None  # in the event log, once saved (None when replayed)
    effective_date: date | None = None
    reserve_after: int = 0  # the reserve of the movement's SIRET after it (all SIRETs if none)
    requested: int | None = None  # what was asked when it may differ from what was credited


@dataclass(slots=True)
class DecrementRecord:
    siret: str
    from_reserve: int
    from_counter: int
    effective_date: date
    cancelled: bool = False


# Effective dates fixed by the rules (DOMAIN: *effective dates and time travel*). Registration,
# inaptitude credits and closures take the operator's date (else the recording day); a decrement
# takes its training's start; a cancellation its decrement's date.
CPF_START = date(2017, 1, 1)
DIF_DATE = date(2016, 12, 31)
"""The DIF conversion and the undeclared-DIF reserve are the DIF held on 31 December 2016."""


def acquisition_date(year: int) -> date:
    """Rights for year N (acquisition lines and their regularisations) count on 31 December N."""
    return date(year, 12, 31)


def low_qualification_date(from_year: int) -> date:
    """A low-qualification declaration counts from 1 January of the year it applies from."""
    return date(from_year, 1, 1)


def check_operator_date(
    effective_date: date, what: str, earliest: date | None = None, today: date | None = None
) -> None:
    """A date an operator gives (a registration, an inaptitude credit, a closure): never in the
    future, never before ``earliest``."""
    if effective_date > (today or date.today()):
        raise errors.InvalidEffectiveDate(f"the effective date of {what} cannot be in the future")
    if earliest is not None and effective_date < earliest:
        raise errors.InvalidEffectiveDate(
            f"the effective date of {what} cannot be before {earliest.isoformat()}"
        )


def check_closure_date(
    closed_on: date, credited_years: list[int], latest_credit: date, latest_use: date | None
) -> None:
    """A closure cannot precede what the account already received after it: a year's credit, an
    inaptitude credit, or (at retirement) a training decremented."""
    if credited_years and closed_on.year < max(credited_years):
        raise errors.InvalidEffectiveDate(
            f"the account was credited for {max(credited_years)}: it cannot close before that year"
        )
    if closed_on < latest_credit:
        raise errors.InvalidEffectiveDate(
            "an inaptitude credit is dated after this closure: it cannot close before it"
        )
    if latest_use is not None and closed_on < latest_use:
        raise errors.InvalidEffectiveDate(
            "a training starting after this date was decremented: a retirement cannot precede it"
        )


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the agent is. Lives in the registration event only."""

    nir: str
    birth_name: str
    first_name: str
    birth_date: date

    def matches(self, nir: Nir, birth_name: str) -> bool:
        """Whether a presented NIR and birth name designate this agent (case and accents ignored)."""
        return self.nir == nir.value and fold_name(self.birth_name) == fold_name(birth_name)


def fold_name(name: str) -> str:
    """A birth name as it is compared: case, accents, hyphens and apostrophes ignored."""
    return _fold(name)


def _fold(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name)
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(letters.replace("-", " ").replace("'", " ").upper().split())


# How each movement kind changes the counter and the undeclared-DIF reserve: the field holding the
# hours, prefixed with "-" when they are taken away. The one place the read side learns it from.
MOVEMENT_EFFECTS: dict[str, tuple[str | None, str | None]] = {
    "Registered": (None, None),
    "AcquisitionLineRecorded": ("credited", None),
    "DifConverted": ("credited", None),
    "LowQualificationDeclared": (None, None),
    "YearRegularised": ("applied", None),
    "DifReserveDeclared": (None, "hours"),
    "Decremented": ("-from_counter", "-from_reserve"),
    "DecrementCancelled": ("to_counter", "to_reserve"),
    "InaptitudeCredited": ("hours", None),
    "Closed": (None, None),
}


def movement_effects(kind: str, fields: Mapping[str, Any]) -> tuple[int, int]:
    """Signed (counter, reserve) change of a movement of ``kind`` with these event fields."""
    return tuple(  # type: ignore[return-value]
        0 if name is None else (-int(fields[name[1:]]) if name[0] == "-" else int(fields[name]))
        for name in MOVEMENT_EFFECTS[kind]
    )


def counter_ceiling(low_qualified: bool) -> int:
    """The counter's ceiling under the rules in force (400 h once declared low-qualified)."""
    return rules.ceiling(rules.RULE_SETS[-1].first_year, low_qualified)


def anticipation_floor_on(day: date, status: str, low_qualification_from: int | None) -> int:
    """The lowest the counter may reach by an anticipation for a training starting on ``day``:
    −2 × that year's rate for the agent, and 0 once the account is closed."""
    if status != Status.OPEN:
        return 0
    year = max(day.year, rules.FIRST_YEAR)
    low = low_qualification_from is not None and year >= low_qualification_from
    return rules.anticipation_floor(year, low)


def status_after_closure(reason: str) -> Status:
    """The account's status after a closure for ``reason``."""
    return Status.INVALIDITY if reason == ClosureReason.INVALIDITY else Status.CLOSED


ATTESTATION_FIELDS = ("signatory", "signature_date", "stamp_present")


def check_regularisation(hours: object, attestation: dict[str, Any]) -> None:
    """A regularisation request is whole non-zero hours with a complete attestation."""
    printable_values("attestation", attestation)
    missing = missing_attestation_fields(attestation)
    if missing:
        raise errors.IncompleteAttestation(
            "the attestation is incomplete: missing " + ", ".join(missing), missing=missing
        )
    if isinstance(hours, bool) or not isinstance(hours, int) or hours == 0:
        raise errors.InvalidHours("a regularisation is a whole, non-zero number of hours")


def missing_attestation_fields(attestation: dict[str, Any]) -> list[str]:
    """Fields a regularisation attestation lacks: the signatory's name, the signature date and the
    establishment's stamp."""
    missing = []
    if not str(attestation.get("signatory") or "").strip():
        missing.append("signatory")
    if not attestation.get("signature_date"):
        missing.append("signature_date")
    if attestation.get("stamp_present") is not True:
        missing.append("stamp_present")
    return missing
