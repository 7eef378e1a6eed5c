"""Domain errors: each refusal has a stable code that clients can rely on.

A refused command raises one of these before any event is triggered, so nothing is recorded.
Messages never contain a NIR.
"""

from __future__ import annotations


class DomainError(Exception):
    """A command refused by a business rule. ``code`` is stable; ``message`` is for humans."""

    code = "domain_error"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class Forbidden(DomainError):
    """The caller is known but its role or profile does not allow this (403)."""

    code = "forbidden"


class InvalidInput(DomainError):
    """Malformed value: wrong checksum, negative or fractional hours, bad dates."""

    code = "invalid_input"


class InvalidNir(InvalidInput):
    code = "invalid_nir"


class InvalidSiret(InvalidInput):
    code = "invalid_siret"


class InvalidHours(InvalidInput):
    code = "invalid_hours"


class AgentNotFound(DomainError):
    code = "agent_not_found"


class AgentAlreadyRegistered(DomainError):
    code = "agent_already_registered"


class IdentityMismatch(DomainError):
    """The presented identity (NIR + birth name) does not match the registered agent."""

    code = "identity_mismatch"


class AccountClosed(DomainError):
    code = "account_closed"


class InsufficientBalance(DomainError):
    code = "insufficient_balance"


class AnticipationLimitExceeded(DomainError):
    code = "anticipation_limit_exceeded"


class AnticipationAfterClosure(AccountClosed):
    """Anticipation uses rights still to be acquired: none remain once the account is closed."""

    code = "anticipation_after_closure"


class InvalidEffectiveDate(InvalidInput):
    """A date the rules forbid for this movement (in the future, before what it must follow)."""

    code = "invalid_effective_date"


class DifAlreadyConverted(DomainError):
    code = "dif_already_converted"


class DifReserveAlreadyDeclared(DomainError):
    code = "dif_reserve_already_declared"


class LowQualificationAlreadyDeclared(DomainError):
    code = "low_qualification_already_declared"


class RetroactiveDeclaration(DomainError):
    code = "retroactive_declaration"


class AcquisitionLineConflict(DomainError):
    """Same agent × year × SIRET already credited with other hours: that is a regularisation."""

    code = "acquisition_line_conflict"


class IncompleteAttestation(DomainError):
    code = "incomplete_attestation"


class RegularisationTooLarge(DomainError):
    """It would take the year's credit below zero."""

    code = "regularisation_too_large"


class RegularisationAboveFullYear(DomainError):
    """It would take the year's credit above what a full year would have credited."""

    code = "regularisation_above_full_year"


class DecrementNotFound(DomainError):
    code = "decrement_not_found"


class DecrementAlreadyCancelled(DomainError):
    code = "decrement_already_cancelled"


class InaptitudeLimitExceeded(DomainError):
    code = "inaptitude_limit_exceeded"


class IdempotencyConflict(DomainError):
    """The idempotency key was already used with a different command."""

    code = "idempotency_conflict"


class EstablishmentNotFound(DomainError):
    code = "establishment_not_found"


class EstablishmentAlreadyRegistered(DomainError):
    code = "establishment_already_registered"


class DelegationNotFound(DomainError):
    code = "delegation_not_found"


class DelegationConflict(DomainError):
    """A delegation already pending or active, or answered twice."""

    code = "delegation_conflict"


class UserNotFound(DomainError):
    code = "user_not_found"


class KeyNotFound(DomainError):
    code = "key_not_found"


class RegularisationRequestNotFound(DomainError):
    code = "regularisation_request_not_found"


class DepositNotFound(DomainError):
    code = "deposit_not_found"


class CampaignNotFound(DomainError):
    code = "campaign_not_found"


class RegularisationAlreadyDecided(DomainError):
    code = "regularisation_already_decided"
