"""Commands and queries on establishments, users, delegations, API keys and regularisation
requests. Built over the same event store as the agents (one log, one application)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from typing import Any

from eventsourcing.persistence import IntegrityError

from ledger import commands as cmd
from ledger.application import Guard, Ledger
from ledger.conflicts import retrying, update
from ledger.domain import errors
from ledger.domain.access import (
    ApiKey,
    Establishment,
    Profile,
    Role,
    establishment_id,
    key_id_for,
)
from ledger.domain.identifiers import Siret
from ledger.domain.movements import Receipt, check_regularisation
from ledger.domain.provenance import Provenance
from ledger.domain.regularisation import RegularisationRequest
from ledger.domain.scans import ScanRef

TOKEN_PREFIX = "cpf_"


class AccessService:
    """Access management and regularisation requests, over a :class:`Ledger`."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    on_change: Callable[[], None] = staticmethod(lambda: None)
    """Called after a change of who may act (a user removed, a delegation, a key revoked): the
    API forgets the principals it keeps."""

    # ---------------------------------------------------------- establishments

    def establishment(self, siret: str) -> Establishment:
        return self.ledger.aggregate(
            establishment_id(Siret.parse(siret).value),
            Establishment,
            errors.EstablishmentNotFound("no such establishment"),
        )

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
        update(
            self.ledger,
            lambda: self.establishment(siret),
            lambda e: e.grant_user(user_id, name, profile, provenance.as_dict()),
        )
        self.on_change()  # a user granted again may have another profile
        return user_id

    def revoke_user(self, siret: str, user_id: str, provenance: Provenance) -> None:
        update(
            self.ledger,
            lambda: self.establishment(siret),
            lambda e: e.revoke_user(user_id, provenance.as_dict()),
        )
        self.on_change()

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

        retrying(work)
        self.on_change()

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
        return self.ledger.aggregate(key_id, ApiKey, errors.KeyNotFound("no such key"))

    def revoke_key(self, key_id: uuid.UUID, provenance: Provenance) -> None:
        update(self.ledger, lambda: self.key(key_id), lambda k: k.revoke(provenance.as_dict()))
        self.on_change()

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
        guard: Guard | None = None,
        scan: ScanRef | None = None,
    ) -> uuid.UUID:
        """An employer's request; refused at once when the attestation is incomplete.

        ``guard`` checks the caller may act on the agent (judged on its own history); ``scan``
        is the signed attestation's scan, already kept (its digest goes into the attestation)."""
        check_regularisation(hours, attestation)
        if scan is not None:
            attestation = {**attestation, "scan": scan.as_dict()}
        agent = self.ledger.get_agent(agent_id)
        if guard is not None:
            guard(agent)
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
        return self.ledger.aggregate(
            request_id,
            RegularisationRequest,
            errors.RegularisationRequestNotFound("no such regularisation request"),
        )

    def decide_regularisation(
        self,
        request_id: uuid.UUID,
        approve: bool,
        reason: str | None,
        provenance: Provenance,
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
            receipt = self.ledger.execute(
                cmd.RegulariseYear(
                    agent_id=request.agent_id,
                    year=request.year,
                    siret=request.siret,
                    hours=request.hours,
                    attestation=request.attestation,
                    request_id=str(request_id),
                    provenance=Provenance(
                        provenance.principal,
                        provenance.channel,
                        f"regularisation:{request_id}",
                        idempotency_key=f"regularisation:{request_id}",
                    ),
                )
            )
        update(
            self.ledger,
            lambda: self.regularisation(request_id),
            lambda r: r.decide(approve, reason, provenance.as_dict()),
        )
        return receipt
