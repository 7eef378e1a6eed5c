"""Who may act: establishments (with their users and delegations) and API keys, as events too.

Access changes are audited like movements: granting a profile, accepting a delegation or issuing a
key is an event with its provenance.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from eventsourcing.domain import Aggregate

from ledger.domain import errors
from ledger.domain.text import printable
from ledger.domain.topics import pin_topics

NAMESPACE = uuid.UUID("5f1d9a52-5d0b-4f0e-9d37-3c0a6f1b2a11")


class Profile(StrEnum):
    """Employer user profiles, in increasing order of rights."""

    CONSULTATION = "consultation"
    GESTION = "gestion"
    ADMINISTRATION = "administration"

    @property
    def rank(self) -> int:
        return list(Profile).index(self)

    def allows(self, needed: Profile) -> bool:
        return self.rank >= needed.rank


class Role(StrEnum):
    EMPLOYER = "employer"
    OPERATOR = "operator"
    AUDITOR = "auditor"


@dataclass(frozen=True)
class Principal:
    """Who is asking: an employer user (with its SIRETs and profile), an operator or an auditor,
    through an API key or a person's session: both resolve to a principal, and only this.

    ``sirets`` are the establishments an employer acts for: its own and those that accepted it as
    their centraliser. What a principal may see or do is decided in ``projections.scope``.
    """

    role: str  # employer / operator / auditor
    name: str
    key_id: str
    siret: str | None = None
    user_id: str | None = None
    profile: str | None = None
    sirets: frozenset[str] = field(default_factory=frozenset)
    session: str | None = None
    """A person signed in: the session's public reference (``key_id`` is then ``user:<id>``,
    so provenance and the read trail name the person)."""

    @property
    def label(self) -> str:
        """How the principal is named in provenance and logs."""
        return f"{self.role}:{self.key_id}"


def establishment_id(siret: str) -> uuid.UUID:
    """Deterministic aggregate id of an establishment: one per SIRET."""
    return uuid.uuid5(NAMESPACE, f"establishment:{siret}")


def key_id_for(token: str) -> uuid.UUID:
    """Aggregate id of an API key, derived from a hash of the secret (which is never stored)."""
    return uuid.UUID(bytes=hashlib.sha256(token.encode()).digest()[:16], version=4)


class Establishment(Aggregate):
    """An employer's establishment (SIRET): its users and the delegations it gave or received."""

    class Event(Aggregate.Event):
        provenance: dict[str, Any]

    class Registered(Aggregate.Created, Event):
        siret: str
        name: str

    def __init__(self, siret: str, name: str) -> None:
        self.siret = siret
        self.name = name
        self.users: dict[str, dict[str, str]] = {}  # user id -> {name, profile}
        self.delegations: dict[
            str, str
        ] = {}  # centraliser SIRET -> requested/accepted/refused/revoked
        self.delegates: set[str] = set()  # SIRETs that accepted this establishment as centraliser

    @classmethod
    def register(cls, siret: str, name: str, provenance: dict[str, Any]) -> Establishment:
        if not name.strip():
            raise errors.InvalidInput("an establishment needs a name")
        printable("name", name)
        return cls._create(
            cls.Registered,
            id=establishment_id(siret),
            siret=siret,
            name=name.strip(),
            provenance=provenance,
        )

    class UserGranted(Event):
        user_id: str
        name: str
        profile: str

        def apply(self, aggregate: Any) -> None:
            aggregate.users[self.user_id] = {"name": self.name, "profile": self.profile}

    class UserRevoked(Event):
        user_id: str

        def apply(self, aggregate: Any) -> None:
            aggregate.users.pop(self.user_id, None)

    class DelegationChanged(Event):
        """On the delegated establishment: a centraliser asked, was accepted, refused or revoked."""

        centraliser: str
        state: str

        def apply(self, aggregate: Any) -> None:
            aggregate.delegations[self.centraliser] = self.state

    class DelegateChanged(Event):
        """On the centraliser: an establishment it manages by delegation, gained or lost."""

        siret: str
        active: bool

        def apply(self, aggregate: Any) -> None:
            if self.active:
                aggregate.delegates.add(self.siret)
            else:
                aggregate.delegates.discard(self.siret)

    def grant_user(
        self, user_id: str, name: str, profile: Profile, provenance: dict[str, Any]
    ) -> None:
        if not name.strip():
            raise errors.InvalidInput("a user needs a name")
        printable("name", name)
        self.trigger_event(
            self.UserGranted,
            user_id=user_id,
            name=name.strip(),
            profile=str(Profile(profile)),
            provenance=provenance,
        )

    def revoke_user(self, user_id: str, provenance: dict[str, Any]) -> None:
        if user_id not in self.users:
            raise errors.UserNotFound("no such user in this establishment")
        self.trigger_event(self.UserRevoked, user_id=user_id, provenance=provenance)

    def profile_of(self, user_id: str) -> Profile | None:
        user = self.users.get(user_id)
        return Profile(user["profile"]) if user else None

    def set_delegation(self, centraliser: str, state: str, provenance: dict[str, Any]) -> None:
        """Move the delegation to ``centraliser`` to ``state`` (checked transitions)."""
        current = self.delegations.get(centraliser)
        allowed = {
            "requested": current in (None, "refused", "revoked"),
            "accepted": current == "requested",
            "refused": current == "requested",
            "revoked": current in ("requested", "accepted"),
        }
        if centraliser == self.siret:
            raise errors.InvalidInput("an establishment cannot delegate to itself")
        if not allowed.get(state, False):
            if current is None:
                raise errors.DelegationNotFound("no such delegation")
            raise errors.DelegationConflict(
                f"the delegation is {current}: it cannot become {state}"
            )
        self.trigger_event(
            self.DelegationChanged, centraliser=centraliser, state=state, provenance=provenance
        )

    def set_delegate(self, siret: str, active: bool, provenance: dict[str, Any]) -> None:
        if (siret in self.delegates) != active:
            self.trigger_event(
                self.DelegateChanged, siret=siret, active=active, provenance=provenance
            )


class ApiKey(Aggregate):
    """A bearer key issued to a principal. Its id derives from the secret's hash; the secret
    itself is shown once and never stored."""

    class Event(Aggregate.Event):
        provenance: dict[str, Any]

    class Issued(Aggregate.Created, Event):
        role: str
        name: str
        siret: str | None
        user_id: str | None
        label: str

    def __init__(
        self, role: str, name: str, siret: str | None, user_id: str | None, label: str
    ) -> None:
        self.role = Role(role)
        self.name = name
        self.siret = siret
        self.user_id = user_id
        self.label = label
        self.revoked = False

    @classmethod
    def issue(
        cls,
        token: str,
        role: Role,
        name: str,
        siret: str | None,
        user_id: str | None,
        label: str,
        provenance: dict[str, Any],
    ) -> ApiKey:
        printable("name", name)
        printable("label", label)
        return cls._create(
            cls.Issued,
            id=key_id_for(token),
            role=str(role),
            name=name,
            siret=siret,
            user_id=user_id,
            label=label,
            provenance=provenance,
        )

    class Revoked(Event):
        def apply(self, aggregate: Any) -> None:
            aggregate.revoked = True

    def revoke(self, provenance: dict[str, Any]) -> None:
        if not self.revoked:
            self.trigger_event(self.Revoked, provenance=provenance)


pin_topics("ledger.access", Establishment, ApiKey)
