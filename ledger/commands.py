"""Commands on agents: one dataclass per movement kind, each knowing how to run on an Agent.

The same command objects serve the single-command methods of the application and its bulk path,
so each rule is applied in one place.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID

from ledger.agent import Agent, ClosureReason, Identity, Receipt
from ledger.provenance import Provenance


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
        canonical = json.dumps(content, sort_keys=True, default=str, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def with_fingerprint(self) -> Command:
        """The same command with its fingerprint set in its provenance."""
        return replace(self, provenance=replace(self.provenance, fingerprint=self.fingerprint()))

    def execute(self, agent: Agent) -> Receipt:
        """Run on an existing agent; raises a DomainError when refused."""
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class RegisterAgent(Command):
    identity: Identity
    effective_date: date
    if_absent: bool = False

    def create(self, seal: Callable[[dict[str, Any]], dict[str, Any]]) -> Agent:
        return Agent.register(
            self.agent_id, self.identity, self.effective_date, self.provenance, seal
        )


@dataclass(frozen=True, kw_only=True)
class RecordAcquisitionLine(Command):
    year: int
    siret: str
    hours_worked: Decimal

    def execute(self, agent: Agent) -> Receipt:
        return agent.record_acquisition_line(
            self.year, self.siret, self.hours_worked, self.provenance
        )


@dataclass(frozen=True, kw_only=True)
class ConvertDif(Command):
    hours: int
    effective_date: date

    def execute(self, agent: Agent) -> Receipt:
        return agent.convert_dif(self.hours, self.effective_date, self.provenance)


@dataclass(frozen=True, kw_only=True)
class DeclareLowQualification(Command):
    from_year: int
    effective_date: date

    def execute(self, agent: Agent) -> Receipt:
        return agent.declare_low_qualification(self.from_year, self.effective_date, self.provenance)


@dataclass(frozen=True, kw_only=True)
class RegulariseYear(Command):
    year: int
    siret: str
    hours: int
    attestation: dict[str, Any]
    effective_date: date
    request_id: str | None = None

    def execute(self, agent: Agent) -> Receipt:
        return agent.regularise_year(
            self.year,
            self.siret,
            self.hours,
            self.attestation,
            self.effective_date,
            self.provenance,
            self.request_id,
        )


@dataclass(frozen=True, kw_only=True)
class DeclareDifReserve(Command):
    siret: str
    hours: int
    effective_date: date

    def execute(self, agent: Agent) -> Receipt:
        return agent.declare_dif_reserve(
            self.siret, self.hours, self.effective_date, self.provenance
        )


@dataclass(frozen=True, kw_only=True)
class Decrement(Command):
    decrement_id: str
    siret: str
    hours: int
    effective_date: date
    training: dict[str, Any] = field(default_factory=dict)
    anticipated: bool = False

    # A generated decrement id must not make a retry look like another command.
    not_content: ClassVar[frozenset[str]] = frozenset({"provenance", "decrement_id"})

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
    decrement_id: str
    reason: str
    effective_date: date

    def execute(self, agent: Agent) -> Receipt:
        return agent.cancel_decrement(
            self.decrement_id, self.reason, self.effective_date, self.provenance
        )


@dataclass(frozen=True, kw_only=True)
class CreditInaptitude(Command):
    hours: int
    effective_date: date

    def execute(self, agent: Agent) -> Receipt:
        return agent.credit_inaptitude(self.hours, self.effective_date, self.provenance)


@dataclass(frozen=True, kw_only=True)
class CloseAccount(Command):
    reason: ClosureReason
    effective_date: date

    def execute(self, agent: Agent) -> Receipt:
        return agent.close(self.reason, self.effective_date, self.provenance)
