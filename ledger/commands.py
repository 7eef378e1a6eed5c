"""Commands on agents: the one write API of the ledger.

One frozen dataclass per movement kind, each knowing how to run on an :class:`Agent`. The HTTP
routes, the command line, the bulk files and the benchmarks all build these and hand them to
:meth:`Ledger.execute` (or :meth:`Ledger.execute_many`). A command normalises its own input
(SIRETs, dates), so a route or a file reader never has to.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID

from ledger.domain.agent import Agent
from ledger.domain.identifiers import Nir, Siret, agent_id_for
from ledger.domain.movements import ClosureReason, Identity, Receipt
from ledger.domain.provenance import Provenance


def _siret(value: str) -> str:
    return Siret.parse(value).value


@dataclass(frozen=True, kw_only=True)
class Command:
    """Base class: the target agent and where the command comes from."""

    agent_id: UUID
    provenance: Provenance

    # Fields that do not make two commands different (a generated id, where it came from).
    not_content: ClassVar[frozenset[str]] = frozenset({"provenance"})

    def fingerprint(self) -> str:
        """Digest of the command's content (not its provenance), to recognise a retry."""
        content = {
            f.name: getattr(self, f.name) for f in fields(self) if f.name not in self.not_content
        }
        content["command"] = type(self).__name__
        # json, not orjson: fingerprints are stored in events and must stay byte-identical.
        canonical = json.dumps(content, sort_keys=True, default=str, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def with_fingerprint(self) -> Command:
        """The same command with its fingerprint in its provenance, when a retry must be
        recognised (an idempotency key); without a key there is nothing to compare it with."""
        if not self.provenance.idempotency_key:
            return self
        return replace(self, provenance=replace(self.provenance, fingerprint=self.fingerprint()))

    def execute(self, agent: Agent) -> Receipt:
        """Run on an existing agent; raises a DomainError when refused."""
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class RegisterAgent(Command):
    identity: Identity
    effective_date: date = field(default_factory=date.today)
    if_absent: bool = False

    @classmethod
    def for_nir(
        cls,
        nir: str,
        birth_name: str,
        first_name: str,
        birth_date: date,
        key: bytes,
        provenance: Provenance,
        **options: Any,
    ) -> RegisterAgent:
        """Registration of the agent with this NIR (its id derives from the NIR and ``key``)."""
        parsed = Nir.parse(nir)
        return cls(
            agent_id=agent_id_for(parsed, key),
            identity=Identity(parsed.value, birth_name, first_name, birth_date),
            provenance=provenance,
            **options,
        )

    def create(self, seal: Callable[[dict[str, Any]], dict[str, Any]]) -> Agent:
        return Agent.register(
            self.agent_id, self.identity, self.effective_date, self.provenance, seal
        )


@dataclass(frozen=True, kw_only=True)
class RecordAcquisitionLine(Command):
    year: int
    siret: str
    hours_worked: Decimal

    def __post_init__(self) -> None:
        object.__setattr__(self, "siret", _siret(self.siret))
        object.__setattr__(self, "hours_worked", Decimal(str(self.hours_worked)))

    def execute(self, agent: Agent) -> Receipt:
        return agent.record_acquisition_line(
            self.year, self.siret, self.hours_worked, self.provenance
        )


@dataclass(frozen=True, kw_only=True)
class ConvertDif(Command):
    """Effective on 31 December 2016, like the DIF hours it converts."""

    hours: int

    def execute(self, agent: Agent) -> Receipt:
        return agent.convert_dif(self.hours, self.provenance)


@dataclass(frozen=True, kw_only=True)
class DeclareLowQualification(Command):
    """Effective on 1 January of ``from_year``."""

    from_year: int

    def execute(self, agent: Agent) -> Receipt:
        return agent.declare_low_qualification(self.from_year, self.provenance)


@dataclass(frozen=True, kw_only=True)
class RegulariseYear(Command):
    """Effective on 31 December of the year it corrects."""

    year: int
    siret: str
    hours: int
    attestation: dict[str, Any]
    request_id: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "siret", _siret(self.siret))

    def execute(self, agent: Agent) -> Receipt:
        return agent.regularise_year(
            self.year, self.siret, self.hours, self.attestation, self.provenance, self.request_id
        )


@dataclass(frozen=True, kw_only=True)
class DeclareDifReserve(Command):
    """Effective on 31 December 2016: the DIF the employer kept is the DIF held that day."""

    siret: str
    hours: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "siret", _siret(self.siret))

    def execute(self, agent: Agent) -> Receipt:
        return agent.declare_dif_reserve(self.siret, self.hours, self.provenance)


@dataclass(frozen=True, kw_only=True)
class Decrement(Command):
    """Décrémentation: ``hours`` already converted (see ``rules.training_hours`` for days),
    effective on the training's start."""

    siret: str
    hours: int
    effective_date: date
    decrement_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    training: dict[str, Any] = field(default_factory=dict)
    anticipated: bool = False

    # A generated decrement id must not make a retry look like another command.
    not_content: ClassVar[frozenset[str]] = frozenset({"provenance", "decrement_id"})

    def __post_init__(self) -> None:
        object.__setattr__(self, "siret", _siret(self.siret))

    def execute(self, agent: Agent) -> Receipt:
        return agent.decrement(
            self.decrement_id,
            self.siret,
            self.hours,
            self.training,
            self.effective_date,
            self.provenance,
            self.anticipated,
        )


@dataclass(frozen=True, kw_only=True)
class CancelDecrement(Command):
    """Effective on the cancelled decrement's date (it undoes it)."""

    decrement_id: str
    reason: str

    def execute(self, agent: Agent) -> Receipt:
        return agent.cancel_decrement(self.decrement_id, self.reason, self.provenance)


@dataclass(frozen=True, kw_only=True)
class CreditInaptitude(Command):
    hours: int
    effective_date: date = field(default_factory=date.today)

    def execute(self, agent: Agent) -> Receipt:
        return agent.credit_inaptitude(self.hours, self.effective_date, self.provenance)


@dataclass(frozen=True, kw_only=True)
class CloseAccount(Command):
    reason: ClosureReason
    effective_date: date = field(default_factory=date.today)

    def __post_init__(self) -> None:
        object.__setattr__(self, "reason", ClosureReason(self.reason))

    def execute(self, agent: Agent) -> Receipt:
        return agent.close(self.reason, self.effective_date, self.provenance)
