"""An API world on each store: establishments, delegations, users, keys of every kind, people
signed in with sessions, agents.

Every response the tests receive is kept, and at the end of each test none may contain a NIR.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import CSRF_HEADER, SAFE_METHODS, SESSION_COOKIE
from ledger.domain.access import Profile, Role
from ledger.domain.provenance import Channel, Provenance
from ledger.store.settings import Settings
from tests.commands import convert_dif, record_line, register_agent
from tests.factories import make_nir, make_siret
from tests.people import Person, activated, cheap

SETUP = Provenance("test-setup", Channel.CLI)
LAST_YEAR = date.today().year - 1

OWN, OTHER = make_siret(11), make_siret(12)
CENTRAL_OK, CENTRAL_REFUSED, CENTRAL_REVOKED = make_siret(21), make_siret(22), make_siret(23)


@dataclass
class World:
    client: TestClient
    tokens: dict[str, str | None]
    agent_a: str  # acquisition line for OWN last year, 100 h
    agent_b: str  # acquisition line for OTHER last year
    nir_a: str
    nir_b: str
    tmp: Path
    users: dict[str, str] = field(default_factory=dict)
    responses: list[httpx.Response] = field(default_factory=list)
    sessions: dict[str, tuple[str, str]] = field(default_factory=dict)  # who -> id, CSRF token
    people: dict[str, Person] = field(default_factory=dict)

    def call(self, who: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        token = self.tokens.get(who)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if who in self.sessions:  # a browser: the cookie, and the CSRF token when unsafe
            session_id, csrf = self.sessions[who]
            headers["Cookie"] = f"{SESSION_COOKIE}={session_id}"
            if method.upper() in SAFE_METHODS:
                pass
            elif isinstance(kwargs.get("data"), dict):  # a console form: its hidden field
                kwargs["data"] = {**kwargs["data"], "csrf_token": csrf}
            else:
                headers[CSRF_HEADER] = csrf
        response = self.client.request(method, path, headers=headers, **kwargs)
        self.client.cookies.clear()  # each caller sends its own credentials, nothing else
        self.responses.append(response)
        return response

    def settle(self) -> None:
        """Let the views catch up with every write so far."""
        svc = self.client.app.state.services  # type: ignore[attr-defined]
        assert svc.projector.wait_for(svc.ledger.recorder.max_notification_id() or 0, 10)


PRINCIPALS = [
    "anonymous",
    "bad_key",
    "revoked_key",
    "own_consultation",
    "own_gestion",
    "own_administration",
    "other_gestion",
    "central_accepted",
    "central_refused",
    "central_revoked",
    "operator",
    "auditor",
    "session_own_gestion",
    "session_own_administration",
    "session_operator",
    "ended_session",
]
SESSION_TWINS = {
    "session_own_gestion": "own_gestion",
    "session_own_administration": "own_administration",
    "session_operator": "operator",
}
"""People signed in with a session, and the key caller each must be answered like."""


def sign_in(world: World, who: str, person: Person) -> None:
    """Open a session for ``who`` as ``person`` (with a TOTP step its activation did not use)."""
    now = world.client.app.state.services.accounts.now()  # type: ignore[attr-defined]
    response = world.client.post(
        "/v1/sessions",
        json={
            "email": person.email,
            "password": person.password,
            "second_factor": person.code(now, steps_later=1),
        },
    )
    world.client.cookies.clear()
    assert response.status_code == 201, response.text
    world.sessions[who] = (response.cookies[SESSION_COOKIE], response.json()["csrf_token"])
    world.people[who] = person


def open_sessions(world: World) -> None:
    """The session callers: an own-SIRET gestion user, an own-SIRET administrator (the same
    users as the keys), an operator, and a session that was ended by a logout."""
    accounts = world.client.app.state.services.accounts  # type: ignore[attr-defined]
    for who, twin in SESSION_TWINS.items():
        if twin == "operator":
            person = activated(accounts, f"{who}@cdc.example.org")
        else:
            person = activated(
                accounts,
                f"{who}@mairie.example.org",
                Role.EMPLOYER,
                siret=OWN,
                user_id=world.users[twin],
            )
        sign_in(world, who, person)
    sign_in(world, "ended_session", activated(accounts, "ended@cdc.example.org", Role.AUDITOR))
    accounts.logout(world.sessions["ended_session"][0])


def build_world(settings: Settings) -> Iterator[World]:
    app = create_app(cheap(settings))
    with TestClient(app) as client:
        svc = app.state.services
        access, ledger = svc.access, svc.ledger
        for siret, name in [
            (OWN, "Mairie"),
            (OTHER, "Hôpital"),
            (CENTRAL_OK, "Centre OK"),
            (CENTRAL_REFUSED, "Centre refusé"),
            (CENTRAL_REVOKED, "Centre révoqué"),
        ]:
            access.register_establishment(siret, name, SETUP)
        access.change_delegation(OWN, CENTRAL_OK, "requested", SETUP)
        access.change_delegation(OWN, CENTRAL_OK, "accepted", SETUP)
        access.change_delegation(OWN, CENTRAL_REFUSED, "requested", SETUP)
        access.change_delegation(OWN, CENTRAL_REFUSED, "refused", SETUP)
        access.change_delegation(OWN, CENTRAL_REVOKED, "requested", SETUP)
        access.change_delegation(OWN, CENTRAL_REVOKED, "accepted", SETUP)
        access.change_delegation(OWN, CENTRAL_REVOKED, "revoked", SETUP)
        tokens: dict[str, str | None] = {"anonymous": None, "bad_key": "cpf_not-a-real-key"}
        users = {}
        employer_keys = {
            "own_consultation": (OWN, Profile.CONSULTATION),
            "own_gestion": (OWN, Profile.GESTION),
            "own_administration": (OWN, Profile.ADMINISTRATION),
            "other_gestion": (OTHER, Profile.GESTION),
            "central_accepted": (CENTRAL_OK, Profile.ADMINISTRATION),
            "central_refused": (CENTRAL_REFUSED, Profile.ADMINISTRATION),
            "central_revoked": (CENTRAL_REVOKED, Profile.ADMINISTRATION),
            "revoked_key": (OWN, Profile.ADMINISTRATION),
        }
        for who, (siret, profile) in employer_keys.items():
            user_id = access.grant_user(siret, who, profile, SETUP)
            users[who] = user_id
            tokens[who], key_id = access.issue_key(
                Role.EMPLOYER, who, SETUP, siret=siret, user_id=user_id
            )
            if who == "revoked_key":
                access.revoke_key(key_id, SETUP)
        tokens["operator"], _ = access.issue_key(Role.OPERATOR, "cdc", SETUP)
        tokens["auditor"], _ = access.issue_key(Role.AUDITOR, "audit", SETUP)
        nir_a, nir_b = make_nir(501), make_nir(502)
        a = register_agent(ledger, nir_a, "Martin", "Anne", date(1985, 3, 1), SETUP).agent_id
        b = register_agent(ledger, nir_b, "Durand", "Paul", date(1979, 7, 9), SETUP).agent_id
        convert_dif(ledger, a, 75, SETUP)
        record_line(ledger, a, LAST_YEAR, OWN, 1607, SETUP)
        record_line(ledger, b, LAST_YEAR, OTHER, 1607, SETUP)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        world = World(client, tokens, a.hex, b.hex, nir_a, nir_b, settings.data_dir, users)
        open_sessions(world)
        world.settle()
        yield world
        for response in world.responses:
            if response.request.url.path.endswith("/extraction"):
                continue  # the yearly extraction file identifies agents by NIR, by design
            text = response.text + " ".join(f"{k}: {v}" for k, v in response.headers.items())
            for nir in (nir_a, nir_b):
                assert nir not in text, f"a NIR leaked in {response.request.url.path}"


@pytest.fixture
def world(settings: Settings, caplog: pytest.LogCaptureFixture) -> Iterator[World]:
    # The API process runs the projector itself here, on PostgreSQL too (no separate worker).
    yield from build_world(settings.model_copy(update={"projector_in_process": True}))
    for record in caplog.records:
        assert make_nir(501) not in record.getMessage()
        assert make_nir(502) not in record.getMessage()
