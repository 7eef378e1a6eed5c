"""The Agent aggregate: one public agent's CPF counter, every movement an event.

Public methods are commands: they check the invariants, compute the movement with the rules, then
trigger one event carrying the computed facts (so replaying history never re-applies rules that a
later decree may change). A refused command raises a
:class:`~ledger.domain.errors.DomainError` before any event is triggered: nothing is recorded.
Each movement's effective date comes from the rules (``ledger.domain.movements``), or, for a
registration, an inaptitude credit and a closure, from the operator.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any, TypeAlias
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger.domain import agent_events as events
from ledger.domain import agent_state, errors, rules
from ledger.domain.movements import (
    CPF_START,
    DIF_DATE,
    ClosureReason,
    DecrementRecord,
    Identity,
    Receipt,
    Status,
    acquisition_date,
    check_closure_date,
    check_operator_date,
    check_regularisation,
    counter_ceiling,
    low_qualification_date,
    movement_effects,
)
from ledger.domain.provenance import Provenance
from ledger.domain.text import printable, printable_values
from ledger.domain.topics import pin_topics

__all__ = [
    "Agent",
    "ClosureReason",
    "Identity",
    "Receipt",
    "Status",
    "counter_ceiling",
    "movement_effects",
]


class Agent(Aggregate):
    """A public agent's CPF counter (compte personnel de formation), in whole hours."""

    # The events (ledger/domain/agent_events.py), stored as Agent.<name>.
    Event: TypeAlias = events.Event
    Registered: TypeAlias = events.Registered
    AcquisitionLineRecorded: TypeAlias = events.AcquisitionLineRecorded
    DifConverted: TypeAlias = events.DifConverted
    LowQualificationDeclared: TypeAlias = events.LowQualificationDeclared
    YearRegularised: TypeAlias = events.YearRegularised
    DifReserveDeclared: TypeAlias = events.DifReserveDeclared
    Decremented: TypeAlias = events.Decremented
    DecrementCancelled: TypeAlias = events.DecrementCancelled
    InaptitudeCredited: TypeAlias = events.InaptitudeCredited
    Closed: TypeAlias = events.Closed

    # ------------------------------------------------------------------ state

    def __init__(self) -> None:
        self.identity: Identity | None = None  # set by the registration event, unless sealed
        self.stored_identity: dict[str, Any] = {}
        self.balance = 0
        self.status = Status.OPEN
        self.low_qualification_from: int | None = None
        self.dif_converted = False
        self.inaptitude_total = 0
        self.latest_credit = date.min  # the latest inaptitude credit's effective date
        self.year_lines: dict[int, dict[str, Decimal]] = {}
        self.year_credited: dict[int, int] = {}
        self.year_regularised: dict[int, int] = {}
        self.year_base: dict[int, int] = {}  # the counter before each year's first credit
        self.reserves: dict[str, int] = {}  # undeclared-DIF reserve by declaring SIRET
        self.decrements: dict[str, DecrementRecord] = {}
        self.recorded_by: set[str] = set()  # SIRETs that recorded a movement other than a line
        # idempotency key -> (command fingerprint, first outcome)
        self.receipts: dict[str, tuple[str | None, Receipt]] = {}

    # ------------------------------------------------------------ folded state

    def to_state(self) -> dict[str, Any]:
        """The folded state kept beside the events (see :mod:`ledger.domain.agent_state`)."""
        return agent_state.to_state(self)

    @classmethod
    def from_state(cls, agent_id: UUID, version: int, state: dict[str, Any]) -> Agent | None:
        """The agent at ``version`` from its folded state; None for another format."""
        return agent_state.from_state(cls, agent_id, version, state)

    @classmethod
    def register(
        cls,
        agent_id: UUID,
        identity: Identity,
        effective_date: date,
        provenance: Provenance,
        seal: Callable[[dict[str, Any]], dict[str, Any]] = lambda record: record,
    ) -> Agent:
        """Create the agent's counter with its identity (sealed at rest by ``seal``)."""
        if not identity.birth_name.strip() or not identity.first_name.strip():
            raise errors.InvalidInput("birth name and first name are required")
        printable("birth_name", identity.birth_name)
        printable("first_name", identity.first_name)
        check_operator_date(effective_date, "the registration")
        return cls._create(
            cls.Registered,
            id=agent_id,
            identity=seal(
                {
                    "nir": identity.nir,
                    "birth_name": identity.birth_name.strip(),
                    "first_name": identity.first_name.strip(),
                    "birth_date": identity.birth_date,
                }
            ),
            effective_date=effective_date,
            provenance=provenance.as_dict(),
        )

    def receipt(self, event: Agent.Event) -> Receipt:
        """What ``event`` did, once applied."""
        siret = getattr(event, "siret", None)
        return Receipt(
            agent_id=self.id,
            version=event.originator_version,
            kind=type(event).__name__,
            hours=event.counter_change(),
            reserve_hours=event.reserve_change(),
            balance_after=self.balance,
            decrement_id=getattr(event, "decrement_id", None),
            effective_date=event.effective_date,
            reserve_after=self.reserves.get(siret, 0) if siret else self.reserve,
            requested=getattr(event, "requested", None) or getattr(event, "declared", None),
        )

    @property
    def reserve(self) -> int:
        """Undeclared-DIF hours still held by employers, all SIRETs together."""
        return sum(self.reserves.values())

    def is_low_qualified(self, year: int) -> bool:
        return self.low_qualification_from is not None and year >= self.low_qualification_from

    def ceiling_for(self, year: int) -> int:
        """Counter ceiling applying to credits of ``year``."""
        return rules.ceiling(max(year, rules.FIRST_YEAR), self.is_low_qualified(year))

    # --------------------------------------------------------------- commands

    def previous_outcome(self, provenance: Provenance) -> Receipt | None:
        """The first outcome of a retried command (same idempotency key), or None if new.

        Raises :class:`~ledger.domain.errors.IdempotencyConflict` when the key was used for
        another command.
        """
        key = provenance.idempotency_key
        if not key or key not in self.receipts:
            return None
        fingerprint, receipt = self.receipts[key]
        if fingerprint != provenance.fingerprint:
            raise errors.IdempotencyConflict(
                "this idempotency key was already used for a different command"
            )
        return Receipt(**{**_fields(receipt), "replayed": True, "position": None})

    def _emit(self, event_class: type[Agent.Event], **kwargs: Any) -> Receipt:
        provenance: Provenance = kwargs.pop("provenance")
        self.trigger_event(event_class, provenance=provenance.as_dict(), **kwargs)
        return self.receipt(self.pending_events[-1])  # type: ignore[arg-type]

    def _check_can_be_credited(self) -> None:
        if self.status is not Status.OPEN:
            raise errors.AccountClosed("the account is closed: it can no longer be credited")

    def record_acquisition_line(
        self, year: int, siret: str, hours_worked: Decimal, provenance: Provenance
    ) -> Receipt:
        """Alimentation: record a declaration line and credit the year's entitlement difference.

        The year's entitlement is recomputed over all its lines (fraction summed over SIRETs and
        capped at 1, rounded up once) from the counter as it stood before the year's first credit,
        so late lines give the same result as lines arriving together. A line already recorded with
        the same hours changes nothing; with other hours it is refused: that is a regularisation.
        """
        if hours_worked < 0:
            raise errors.InvalidHours("hours worked cannot be negative")
        rules.rule_set_for(year)
        known = self.year_lines.get(year, {}).get(siret)
        if known is not None:
            if known == hours_worked:
                return Receipt(
                    self.id, self.version, "AcquisitionLineRecorded", 0, 0, self.balance,
                    replayed=True, effective_date=acquisition_date(year),
                )  # fmt: skip
            raise errors.AcquisitionLineConflict(
                "a line for this year and SIRET was already recorded with other hours;"
                " ask for a regularisation instead",
                year=year,
            )
        self._check_can_be_credited()
        credit = rules.line_credit(
            year,
            [*self.year_lines.get(year, {}).values(), hours_worked],
            self.balance,
            self.year_credited.get(year, 0),
            self.year_regularised.get(year, 0),
            self.year_base.get(year, self.balance),
            self.is_low_qualified(year),
        )
        return self._emit(
            self.AcquisitionLineRecorded,
            year=year,
            siret=siret,
            hours_worked=hours_worked,
            credited=credit,
            effective_date=acquisition_date(year),
            provenance=provenance,
        )

    def convert_dif(self, hours: int, provenance: Provenance) -> Receipt:
        """Convert the DIF hours held at 31 Dec 2016 (1–120 h, once), within the ceiling."""
        hours = rules.positive_whole_hours(hours)
        if hours > rules.DIF_CONVERSION_MAX:
            raise errors.InvalidHours(
                f"at most {rules.DIF_CONVERSION_MAX} DIF hours can be converted"
            )
        if self.dif_converted:
            raise errors.DifAlreadyConverted("the DIF hours of this agent were already converted")
        self._check_can_be_credited()
        room = max(0, self.ceiling_for(DIF_DATE.year) - self.balance)
        return self._emit(
            self.DifConverted,
            declared=hours,
            credited=min(hours, room),
            effective_date=DIF_DATE,
            provenance=provenance,
        )

    def declare_low_qualification(self, from_year: int, provenance: Provenance) -> Receipt:
        """Category C low qualification, from ``from_year`` on (effective 1 January of it).

        Never retroactive: refused when a year from ``from_year`` on was already credited, as
        recorded now, whatever the effective date says.
        """
        rules.rule_set_for(from_year)
        if self.low_qualification_from is not None:
            raise errors.LowQualificationAlreadyDeclared("low qualification is already declared")
        self._check_can_be_credited()
        credited = [y for y in (*self.year_lines, *self.year_regularised) if y >= from_year]
        if credited:
            raise errors.RetroactiveDeclaration(
                "low qualification applies from the year it is declared, never retroactively:"
                " a year from then on is already credited",
                credited_years=sorted(set(credited)),
            )
        return self._emit(
            self.LowQualificationDeclared,
            from_year=from_year,
            effective_date=low_qualification_date(from_year),
            provenance=provenance,
        )

    def regularise_year(
        self,
        year: int,
        siret: str,
        hours: int,
        attestation: dict[str, Any],
        provenance: Provenance,
        request_id: str | None = None,
    ) -> Receipt:
        """Correct a year's acquisition (±), within that year's rules.

        The year's credit (its acquisitions plus earlier regularisations) may neither exceed what
        a full year would have credited from the counter at the year's first credit, nor fall
        below zero; a positive correction is capped by the ceiling like an acquisition.
        """
        rules.rule_set_for(year)
        check_regularisation(hours, attestation)
        if hours > 0:
            self._check_can_be_credited()
        year_credit = self.year_credited.get(year, 0) + self.year_regularised.get(year, 0)
        full_year = rules.full_year_credit(
            year, self.year_base.get(year, self.balance), self.is_low_qualified(year)
        )
        rules.check_regularisation_bounds(year_credit, hours, full_year)
        applied = hours if hours < 0 else min(hours, max(0, self.ceiling_for(year) - self.balance))
        return self._emit(
            self.YearRegularised,
            year=year,
            siret=siret,
            requested=hours,
            applied=applied,
            attestation=dict(attestation),
            request_id=request_id,
            effective_date=acquisition_date(year),
            provenance=provenance,
        )

    def declare_dif_reserve(self, siret: str, hours: int, provenance: Provenance) -> Receipt:
        """An employer keeps the agent's undeclared DIF hours (≤ 120 h) itself; once per SIRET."""
        hours = rules.positive_whole_hours(hours)
        if hours > rules.DIF_CONVERSION_MAX:
            raise errors.InvalidHours(f"a DIF reserve holds at most {rules.DIF_CONVERSION_MAX} h")
        if siret in self.reserves:
            raise errors.DifReserveAlreadyDeclared(
                "this SIRET already declared an undeclared-DIF reserve for this agent"
            )
        return self._emit(
            self.DifReserveDeclared,
            siret=siret,
            hours=hours,
            effective_date=DIF_DATE,
            provenance=provenance,
        )

    def decrement(
        self,
        decrement_id: str,
        siret: str,
        hours: int,
        training: dict[str, Any],
        start: date,
        provenance: Provenance,
        anticipated: bool = False,
    ) -> Receipt:
        """Consume hours: the SIRET's undeclared-DIF reserve first, then the counter.

        A decrement the reserve covers is accepted whatever the counter holds. The counter may go
        below zero only with the anticipation flag, never below −2 × the yearly rate of the
        training's year, and never once the account is closed.
        """
        hours = rules.positive_whole_hours(hours)
        if self.status is Status.CLOSED:
            raise errors.AccountClosed("the account is closed: it can no longer be used")
        if decrement_id in self.decrements:
            raise errors.InvalidInput("this decrement id is already used")
        printable_values("training", training)
        from_reserve, from_counter = rules.decrement_split(hours, self.reserves.get(siret, 0))
        year = max(start.year, rules.FIRST_YEAR)
        rules.check_counter_use(
            self.balance,
            hours,
            from_reserve,
            anticipated,
            open_account=self.status is Status.OPEN,
            floor=rules.anticipation_floor(year, self.is_low_qualified(year)),
        )
        return self._emit(
            self.Decremented,
            decrement_id=decrement_id,
            siret=siret,
            hours=hours,
            from_reserve=from_reserve,
            from_counter=from_counter,
            anticipated=anticipated,
            training=dict(training),
            effective_date=start,
            provenance=provenance,
        )

    def cancel_decrement(self, decrement_id: str, reason: str, provenance: Provenance) -> Receipt:
        """Reverse a decrement by a compensating event that names it (effective on the cancelled
        decrement's date); hours go back where they came from."""
        printable("reason", reason, multiline=True)
        record = self.decrements.get(decrement_id)
        if record is None:
            raise errors.DecrementNotFound("no such decrement on this agent")
        if record.cancelled:
            raise errors.DecrementAlreadyCancelled("this decrement is already cancelled")
        return self._emit(
            self.DecrementCancelled,
            decrement_id=decrement_id,
            siret=record.siret,
            to_reserve=record.from_reserve,
            to_counter=record.from_counter,
            reason=reason,
            effective_date=record.effective_date,
            provenance=provenance,
        )

    def credit_inaptitude(
        self, hours: int, effective_date: date, provenance: Provenance
    ) -> Receipt:
        """Inaptitude-prevention credit: above the ceiling, at most 150 h over a career."""
        hours = rules.positive_whole_hours(hours)
        check_operator_date(effective_date, "an inaptitude credit", CPF_START)
        self._check_can_be_credited()
        if self.inaptitude_total + hours > rules.INAPTITUDE_CAREER_MAX:
            raise errors.InaptitudeLimitExceeded(
                f"inaptitude credits are limited to {rules.INAPTITUDE_CAREER_MAX} h in a career",
                already_granted=self.inaptitude_total,
            )
        return self._emit(
            self.InaptitudeCredited,
            hours=hours,
            effective_date=effective_date,
            provenance=provenance,
        )

    def close(self, reason: ClosureReason, effective_date: date, provenance: Provenance) -> Receipt:
        """Close the account at retirement (decrements stay possible after invalidity retirement).

        The date may not be in the future, nor before a credit already recorded (a year's lines,
        an inaptitude credit) or, at retirement, before a training already decremented.
        """
        if self.status is not Status.OPEN:
            raise errors.AccountClosed("the account is already closed")
        reason = ClosureReason(reason)
        check_operator_date(effective_date, "a closure")
        used = [r.effective_date for r in self.decrements.values() if not r.cancelled]
        check_closure_date(
            effective_date,
            credited_years=[*self.year_lines, *self.year_regularised],
            latest_credit=self.latest_credit,
            latest_use=max(used) if used and reason is ClosureReason.RETIREMENT else None,
        )
        return self._emit(
            self.Closed,
            reason=str(reason),
            effective_date=effective_date,
            provenance=provenance,
        )


def _fields(receipt: Receipt) -> dict[str, Any]:
    return {name: getattr(receipt, name) for name in Receipt.__slots__}


pin_topics("ledger.agent", Agent)
