"""Establishments, users, delegations and keys: request and response bodies."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import Input
from ledger.domain.access import Profile


class EstablishmentIn(Input):
    siret: str = Field(min_length=14, max_length=20)
    name: str = Field(min_length=1, max_length=200)


class EstablishmentOut(BaseModel):
    siret: str
    name: str
    users: dict[str, dict[str, str]]
    delegations: dict[str, str]
    delegates: list[str]


class UserIn(Input):
    name: str = Field(min_length=1, max_length=200)
    profile: Profile


class UserOut(BaseModel):
    user_id: str


class DelegationIn(Input):
    delegated_siret: str = Field(min_length=14, max_length=20)
    centraliser_siret: str | None = Field(
        default=None,
        min_length=14,
        max_length=20,
        description="Operators only: the centraliser (an employer asks for its own SIRET)",
    )


class KeyIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "role": "employer",
                    "name": "Logiciel RH",
                    "siret": "21750001600019",
                    "user_id": "6f1c2d9e-1b0a-4c55-9a63-0d1e2f3a4b5c",
                    "label": "paie",
                }
            ]
        },
    )

    role: Literal["employer", "operator", "auditor"]
    name: str = Field(min_length=1, max_length=200)
    siret: str | None = Field(default=None, min_length=14, max_length=20)
    user_id: str | None = Field(default=None, max_length=64)
    label: str = Field(default="", max_length=200)


class KeyOut(BaseModel):
    key_id: str
    token: str | None = Field(description="The secret, shown once (null when replayed)")


class Me(BaseModel):
    role: str
    name: str
    key_id: str
    siret: str | None
    profile: str | None
    sirets: list[str]


class DelegationOut(BaseModel):
    """A delegation as its parties know it: who delegates to whom, and where it stands."""

    delegated_siret: str
    centraliser_siret: str
    state: str = Field(description="requested, accepted, refused or revoked")
