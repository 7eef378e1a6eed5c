"""Commands and queries on establishments, users, delegations, API keys and regularisation
requests. Built over the same event store as the agents (one log, one application)."""

from __future__ import annotations

import itertools
import secrets
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from ledger import errors
from ledger.access import (
    ApiKey,
    Establishment,
    Profile,
    RegularisationRequest,
    Role,
    establishment_id,
    key_id_for,
)
from ledger.agent import Receipt, check_regularisation
from ledger.application import VERSION_CONFLICT_RETRIES, Ledger
from ledger.identifiers import Siret
from ledger.provenance import Provenance

T = TypeVar("T")
TOKEN_PREFIX = "cpf_"


class AccessService:
    """Access management and regularisation requests, over a :class:`Ledger`."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def _retrying(self, work: Callable[[], T]) -> T:
        for attempt in itertools.count(1):
            try:
                return work()
            except IntegrityError:
                if attempt >= VERSION_CONFLICT_RETRIES:
                    raise
        raise AssertionError("unreachable")

    def _get(self, aggregate_id: uuid.UUID, missing: errors.DomainError) -> Any:
        try:
            return self.ledger.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise missing from None

    # ---------------------------------------------------------- establishments

    def establishment(self, siret: str) -> Establishment:
        found: Establishment = self._get(
            establishment_id(Siret.parse(siret).value),
            errors.EstablishmentNotFound("no such establishment"),
        )
        return found

    def register_establishment(
        self, siret: str, name: str, provenance: Provenance
    ) -> Establishment:
        value = Siret.parse(siret).value
        try:
            self.establishment(value)
        except errors.EstablishmentNotFound:
            establishment = Establishment.register(value, name, provenance.as_dict())
            try:
                self.ledger.save(establishment)
            except IntegrityError:
                raise errors.EstablishmentAlreadyRegistered(
                    "this establishment is already registered"
                ) from None
            return establishment
        raise errors.EstablishmentAlreadyRegistered("this establishment is already registered")

    def grant_user(self, siret: str, name: str, profile: Profile, provenance: Provenance) -> str:
        user_id = str(uuid.uuid4())

        def work() -> str:
            establishment = self.establishment(siret)
            establishment.grant_user(user_id, name, profile, provenance.as_dict())
            self.ledger.save(establishment)
            return user_id

        return self._retrying(work)

    def revoke_user(self, siret: str, user_id: str, provenance: Provenance) -> None:
        def work() -> None:
            establishment = self.establishment(siret)
            establishment.revoke_user(user_id, provenance.as_dict())
            self.ledger.save(establishment)

        self._retrying(work)

    def change_delegation(
        self, delegated: str, centraliser: str, state: str, provenance: Provenance
    ) -> None:
        """Request, accept, refuse or revoke the delegation of ``delegated`` to ``centraliser``;
        the centraliser's list of delegates changes in the same transaction."""

        def work() -> None:
            delegated_est = self.establishment(delegated)
            centraliser_est = self.establishment(centraliser)
            delegated_est.set_delegation(centraliser_est.siret, state, provenance.as_dict())
            centraliser_est.set_delegate(
                delegated_est.siret, state == "accepted", provenance.as_dict()
            )
            self.ledger.save(delegated_est, centraliser_est)

        self._retrying(work)

    def sirets_of(self, siret: str) -> set[str]:
        """The SIRETs an employer of ``siret`` acts for: its own and those that accepted it as
        their centraliser."""
        establishment = self.establishment(siret)
        return {establishment.siret, *establishment.delegates}

    # -------------------------------------------------------------------- keys

    def issue_key(
        self,
        role: Role,
        name: str,
        provenance: Provenance,
        siret: str | None = None,
        user_id: str | None = None,
        label: str = "",
    ) -> tuple[str, uuid.UUID]:
        """Issue a key; returns the secret (to show once) and the key id."""
        if role is Role.EMPLOYER:
            if siret is None or user_id is None:
                raise errors.InvalidInput("an employer key belongs to a user of an establishment")
            if self.establishment(siret).profile_of(user_id) is None:
                raise errors.UserNotFound("no such user in this establishment")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey.issue(token, role, name, siret, user_id, label, provenance.as_dict())
        self.ledger.save(key)
        return token, key.id

    def key(self, key_id: uuid.UUID) -> ApiKey:
        found: ApiKey = self._get(key_id, errors.KeyNotFound("no such key"))
        return found

    def revoke_key(self, key_id: uuid.UUID, provenance: Provenance) -> None:
        def work() -> None:
            key = self.key(key_id)
            key.revoke(provenance.as_dict())
            self.ledger.save(key)

        self._retrying(work)

    def authenticate(self, token: str) -> ApiKey | None:
        """The live key for a bearer token, or None (unknown or revoked)."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        try:
            key = self.key(key_id_for(token))
        except errors.KeyNotFound:
            return None
        return None if key.revoked else key

    # -------------------------------------------------------- regularisations

    def submit_regularisation(
        self,
        agent_id: uuid.UUID,
        siret: str,
        year: int,
        hours: int,
        attestation: dict[str, Any],
        reason: str,
        provenance: Provenance,
    ) -> uuid.UUID:
        """An employer's request; refused at once when the attestation is incomplete."""
        check_regularisation(hours, attestation)
        self.ledger.get_agent(agent_id)
        request = RegularisationRequest.submit(
            uuid.uuid4(),
            agent_id,
            Siret.parse(siret).value,
            year,
            hours,
            attestation,
            reason,
            provenance.as_dict(),
        )
        self.ledger.save(request)
        return request.id

    def regularisation(self, request_id: uuid.UUID) -> RegularisationRequest:
        found: RegularisationRequest = self._get(
            request_id, errors.RegularisationRequestNotFound("no such regularisation request")
        )
        return found

    def decide_regularisation(
        self,
        request_id: uuid.UUID,
        approve: bool,
        reason: str | None,
        provenance: Provenance,
        effective_date: date | None = None,
    ) -> Receipt | None:
        """Approve (the agent's regularisation event is recorded) or reject with a reason.

        The agent's event carries an idempotency key derived from the request, so an approval
        interrupted between the two saves is completed, never doubled, when retried.
        """
        request = self.regularisation(request_id)
        if request.status != "submitted":
            raise errors.RegularisationAlreadyDecided(f"this request is already {request.status}")
        receipt = None
        if approve:
            receipt = self.ledger.regularise_year(
                request.agent_id,
                request.year,
                request.siret,
                request.hours,
                request.attestation,
                Provenance(
                    provenance.principal,
                    provenance.channel,
                    f"regularisation:{request_id}",
                    idempotency_key=f"regularisation:{request_id}",
                ),
                effective_date=effective_date,
                request_id=str(request_id),
            )

        def work() -> None:
            current = self.regularisation(request_id)
            current.decide(approve, reason, provenance.as_dict())
            self.ledger.save(current)

        self._retrying(work)
        return receipt
