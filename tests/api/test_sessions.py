"""People over HTTP: activation, login with the second factor, the session cookie, CSRF, logout,
back-off, habilitation files, and no secret anywhere after the response that created it."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pyotp
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import SESSION_COOKIE
from ledger.domain.access import Profile, Role
from ledger.store.settings import Settings
from tests.factories import make_siret
from tests.people import PASSWORD, SETUP, Clock, Person, activated, cheap

OWN, OTHER = make_siret(41), make_siret(42)


@dataclass
class Site:
    client: TestClient
    clock: Clock
    responses: list[httpx.Response] = field(default_factory=list)

    @property
    def svc(self) -> Any:
        return self.client.app.state.services  # type: ignore[attr-defined]

    def call(
        self,
        method: str,
        path: str,
        session: str | None = None,
        csrf: str | None = None,
        key: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if session:
            headers["Cookie"] = f"{SESSION_COOKIE}={session}"
        if csrf:
            headers["X-CSRF-Token"] = csrf
        if key:
            headers["Authorization"] = f"Bearer {key}"
        response = self.client.request(method, path, headers=headers, **kwargs)
        self.client.cookies.clear()
        self.responses.append(response)
        return response

    def sign_in(
        self, person: Person, steps_later: int = 1, session: str | None = None
    ) -> httpx.Response:
        """POST /v1/sessions with the person's password and a code ``steps_later`` steps on."""
        return self.call(
            "POST",
            "/v1/sessions",
            session=session,
            json={
                "email": person.email,
                "password": person.password,
                "second_factor": person.code(self.clock.now, steps_later),
            },
        )

    def login(self, person: Person, steps_later: int = 1) -> tuple[str, str]:
        """Sign in; the session id (from the cookie) and its CSRF token."""
        response = self.sign_in(person, steps_later)
        assert response.status_code == 201, response.text
        return response.cookies[SESSION_COOKIE], response.json()["csrf_token"]


@pytest.fixture
def site(settings: Settings) -> Iterator[Site]:
    app = create_app(cheap(settings, projector_in_process=True))
    with TestClient(app) as client:
        clock = Clock()
        app.state.services.accounts.clock = clock
        for siret in (OWN, OTHER):
            app.state.services.access.register_establishment(siret, "Mairie", SETUP)
        yield Site(client, clock)


def test_login_sets_a_strict_http_only_secure_cookie_and_rotates_it(site: Site) -> None:
    person = activated(site.svc.accounts, "op@cdc.fr")
    assert person.password == PASSWORD
    response = site.sign_in(person)
    assert response.status_code == 201
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    for flag in ("HttpOnly", "Secure", "SameSite=strict", "Path=/"):
        assert flag in cookie
    first = response.cookies[SESSION_COOKIE]
    assert site.call("GET", "/v1/me", session=first).json()["role"] == "operator"

    site.clock.advance(seconds=60)
    again = site.sign_in(person, steps_later=0, session=first)
    second = again.cookies[SESSION_COOKIE]
    assert second != first
    assert site.call("GET", "/v1/me", session=first).status_code == 401
    assert site.call("GET", "/v1/me", session=second).status_code == 200


def test_unsafe_requests_with_a_session_need_its_csrf_token(site: Site) -> None:
    person = activated(site.svc.accounts, "op@cdc.fr")
    session, csrf = site.login(person)
    body = {"siret": make_siret(43), "name": "Lycée"}
    for headers, token in (({}, None), ({}, "forged"), ({"Sec-Fetch-Site": "cross-site"}, csrf)):
        refused = site.call(
            "POST", "/v1/establishments", session=session, csrf=token, headers=headers, json=body
        )
        assert refused.status_code == 403
        assert refused.json()["type"] in ("/problems/csrf_refused", "/problems/cross_site_request")
    other_site = site.call(
        "POST",
        "/v1/establishments",
        session=session,
        csrf=csrf,
        headers={"Origin": "https://evil.example"},
        json=body,
    )
    assert other_site.json()["type"] == "/problems/cross_site_request"
    cross_read = site.call(
        "GET", "/v1/me", session=session, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert cross_read.status_code == 403
    assert (
        site.call("POST", "/v1/establishments", session=session, csrf=csrf, json=body).status_code
        == 201
    )
    # A login forced from another site is refused too.
    forced = site.call(
        "POST",
        "/v1/sessions",
        headers={"Sec-Fetch-Site": "cross-site"},
        json={"email": person.email, "password": PASSWORD, "second_factor": "123456"},
    )
    assert forced.status_code == 403


def test_logout_ends_the_session(site: Site) -> None:
    person = activated(site.svc.accounts, "op@cdc.fr")
    session, csrf = site.login(person)
    current = site.call("GET", "/v1/sessions/current", session=session)
    assert current.json()["csrf_token"] == csrf
    assert site.call("DELETE", "/v1/sessions/current", session=session).status_code == 403
    out = site.call("DELETE", "/v1/sessions/current", session=session, csrf=csrf)
    assert out.status_code == 204
    assert (
        "Max-Age=0" in out.headers["set-cookie"] or "expires=" in out.headers["set-cookie"].lower()
    )
    assert site.call("GET", "/v1/me", session=session).status_code == 401


def test_a_session_is_the_same_principal_as_a_key_and_the_trail_names_the_person(
    site: Site,
) -> None:
    svc = site.svc
    svc.access.change_delegation(OTHER, OWN, "requested", SETUP)
    svc.access.change_delegation(OTHER, OWN, "accepted", SETUP)
    person = activated(
        svc.accounts, "rh@mairie.fr", Role.EMPLOYER, siret=OWN, profile=Profile.GESTION
    )
    token, _ = svc.access.issue_key(Role.EMPLOYER, "paie", SETUP, siret=OWN, user_id=person.user_id)
    session, _ = site.login(person)
    by_key = site.call("GET", "/v1/me", key=token).json()
    by_session = site.call("GET", "/v1/me", session=session).json()
    for field_ in ("role", "siret", "profile", "sirets"):
        assert by_key[field_] == by_session[field_]
    assert by_session["sirets"] == sorted([OWN, OTHER])
    assert by_session["key_id"] == f"user:{person.user_id}"
    # Only a person changes a password: a key of the same user may not.
    change = {"current_password": PASSWORD, "new_password": "encore une autre phrase"}
    assert site.call("POST", "/v1/me/password", key=token, json=change).status_code == 403

    from tests.commands import record_line, register_agent
    from tests.factories import make_nir

    agent = register_agent(svc.ledger, make_nir(77), "Roux", "Ana", site.clock.now.date(), SETUP)
    record_line(svc.ledger, agent.agent_id, site.clock.now.year - 1, OWN, 1607, SETUP)
    assert svc.projector.wait_for(svc.ledger.recorder.max_notification_id(), 10)
    balance = site.call("GET", f"/v1/agents/{agent.agent_id.hex}/balance", session=session)
    assert balance.status_code == 200
    trail = svc.trail.query(agent_id=agent.agent_id.hex)
    assert [line["principal"] for line in trail] == [f"employer:user:{person.user_id}"]


def test_repeated_failures_answer_429_with_retry_after(site: Site) -> None:
    person = activated(site.svc.accounts, "op@cdc.fr")
    body = {"email": person.email, "password": "not the password", "second_factor": "123456"}
    statuses = [site.call("POST", "/v1/sessions", json=body).status_code for _ in range(6)]
    assert statuses == [401, 401, 401, 401, 429, 429]
    locked = site.responses[-1]
    assert int(locked.headers["Retry-After"]) > 0
    assert locked.json()["type"] == "/problems/too_many_attempts"


def test_removing_a_user_ends_its_sessions_and_its_keys(site: Site) -> None:
    svc = site.svc
    admin = activated(
        svc.accounts, "admin@mairie.fr", Role.EMPLOYER, siret=OWN, profile=Profile.ADMINISTRATION
    )
    person = activated(
        svc.accounts, "rh@mairie.fr", Role.EMPLOYER, siret=OWN, profile=Profile.GESTION
    )
    token, _ = svc.access.issue_key(Role.EMPLOYER, "paie", SETUP, siret=OWN, user_id=person.user_id)
    session, _ = site.login(person)
    admin_session, admin_csrf = site.login(admin)
    removed = site.call(
        "DELETE",
        f"/v1/establishments/{OWN}/users/{person.user_id}",
        session=admin_session,
        csrf=admin_csrf,
    )
    assert removed.status_code == 204
    assert site.call("GET", "/v1/me", session=session).status_code == 401
    assert site.call("GET", "/v1/me", key=token).status_code == 401
    account = site.call("GET", f"/v1/users/{person.user_id}", session=admin_session).json()
    assert account["status"] == "removed"


HEADER = "name;email;profile;siret"


def test_a_habilitation_file_checks_every_line_and_applies_it_once(site: Site) -> None:
    svc = site.svc
    svc.access.change_delegation(OTHER, OWN, "requested", SETUP)
    svc.access.change_delegation(OTHER, OWN, "accepted", SETUP)
    svc.accounts.create(Role.OPERATOR, "Déjà", "deja@cdc.fr", SETUP)
    admin = activated(
        svc.accounts, "admin@mairie.fr", Role.EMPLOYER, siret=OWN, profile=Profile.ADMINISTRATION
    )
    session, csrf = site.login(admin)
    lines = [
        HEADER,
        "Anne Martin;anne@mairie.fr;gestion;",  # 2 applied, the depositor's SIRET
        f"Paul Durand;paul@hopital.fr;consultation;{OTHER}",  # 3 applied: a delegated SIRET
        ";sans-nom@mairie.fr;gestion;",  # 4 missing name
        "Sans Arobase;pas-une-adresse;gestion;",  # 5 invalid e-mail
        "Mauvais Profil;profil@mairie.fr;clôture;",  # 6 unknown profile
        "Mauvais SIRET;siret@mairie.fr;gestion;12345678901234",  # 7 checksum
        f"Hors champ;hors@mairie.fr;gestion;{make_siret(44)}",  # 8 not one it manages
        "Anne Encore;ANNE@mairie.fr;consultation;",  # 9 duplicate in the file
        "Déjà Là;deja@cdc.fr;gestion;",  # 10 address already used
        "Trop;trop@mairie.fr;gestion;;en trop",  # 11 more fields than columns
    ]
    content = ("\n".join(lines) + "\n").encode()
    first = site.call(
        "POST",
        "/v1/user-files",
        session=session,
        csrf=csrf,
        content=content,
        headers={"Content-Type": "text/csv"},
    )
    assert first.status_code == 201, first.text
    result = first.json()
    by_line = {line["line"]: line for line in result["report"]}
    assert (result["lines"], result["applied"], result["rejected"]) == (10, 2, 8)
    assert {n: by_line[n]["code"] for n in range(4, 12)} == {
        4: "missing_field",
        5: "invalid_email",
        6: "invalid_profile",
        7: "invalid_siret",
        8: "siret_out_of_scope",
        9: "duplicate_line",
        10: "email_already_used",
        11: "invalid_input",
    }
    assert by_line[3]["siret"] == OTHER and by_line[2]["siret"] == OWN
    codes = [by_line[n]["activation"]["code"] for n in (2, 3)]
    assert all(codes)
    # The code works once the person activates.
    assert (
        site.call(
            "POST", "/v1/activations/enrolment", json={"email": "anne@mairie.fr", "code": codes[0]}
        ).status_code
        == 200
    )

    before = svc.ledger.recorder.max_notification_id()
    again = site.call(
        "POST",
        "/v1/user-files",
        session=session,
        csrf=csrf,
        content=content,
        headers={"Content-Type": "text/csv"},
    )
    assert again.status_code == 201
    assert again.json()["deposit_id"] == result["deposit_id"]
    assert [line["activation"] for line in again.json()["report"]] == [None] * 10
    assert svc.ledger.recorder.max_notification_id() == before  # nothing changed
    report = site.call("GET", f"/v1/user-files/{result['deposit_id']}", session=session).json()
    assert [(line["line"], line["status"]) for line in report["report"]] == [
        (line["line"], line["status"]) for line in result["report"]
    ]
    assert all(line["activation"] is None for line in report["report"])
    people = site.call("GET", f"/v1/users?siret={OWN}", session=session).json()
    assert {p["email"] for p in people} >= {"anne@mairie.fr", "admin@mairie.fr"}


def test_no_secret_in_a_response_after_its_creation_in_a_log_line_or_an_event(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    svc = site.svc
    operator = activated(svc.accounts, "op@cdc.fr")
    secrets: list[str] = [operator.password, operator.secret, *operator.recovery_codes]
    op_session, op_csrf = site.login(operator)
    secrets.append(op_session)
    created, replay = (
        site.call(
            "POST",
            "/v1/users",
            session=op_session,
            csrf=op_csrf,
            json={"name": "Léa", "email": "lea@mairie.fr", "siret": OWN, "profile": "gestion"},
            headers={"Idempotency-Key": "lea"},
        ).json()
        for _ in range(2)
    )
    code = created["activation"]["code"]
    secrets.append(code)
    assert replay["activation"]["code"] is None
    enrol = site.call(
        "POST", "/v1/activations/enrolment", json={"email": "lea@mairie.fr", "code": code}
    )
    secret = enrol.json()["secret"]
    secrets.append(secret)
    password = "le chat de la voisine dort"
    secrets.append(password)
    activation = site.call(
        "POST",
        "/v1/activations",
        json={
            "email": "lea@mairie.fr",
            "code": code,
            "password": password,
            "totp": pyotp.TOTP(secret).at(site.clock.now),
        },
    )
    recovery = activation.json()["recovery_codes"]
    secrets += recovery
    lea = Person(activation.json()["user_id"], "lea@mairie.fr", password, secret, recovery)
    session, csrf = site.login(lea)
    secrets.append(session)
    site.call(
        "POST",
        "/v1/sessions",
        json={"email": lea.email, "password": "faux mot de passe", "second_factor": "111111"},
    )
    new_password = "une autre phrase bien longue"
    secrets.append(new_password)
    changed = site.call(
        "POST",
        "/v1/me/password",
        session=session,
        csrf=csrf,
        json={"current_password": password, "new_password": new_password},
    )
    assert changed.status_code == 204
    renewal = site.call(
        "POST",
        "/v1/me/second-factor/enrolment",
        session=session,
        csrf=csrf,
        json={"password": new_password},
    ).json()
    secrets.append(renewal["secret"])
    site.clock.advance(seconds=60)
    renewed = site.call(
        "POST",
        "/v1/me/second-factor",
        session=session,
        csrf=csrf,
        json={"password": new_password, "totp": pyotp.TOTP(renewal["secret"]).at(site.clock.now)},
    )
    secrets += renewed.json()["recovery_codes"]
    reset = site.call("POST", f"/v1/users/{lea.user_id}/reset", session=op_session, csrf=op_csrf)
    secrets.append(reset.json()["activation"]["code"])
    site.call("GET", f"/v1/users/{lea.user_id}", session=op_session)
    site.call("DELETE", "/v1/sessions/current", session=op_session, csrf=op_csrf)
    enrolled = (secret, renewal["secret"], operator.secret)
    assert_each_secret_shown_once(site, caplog.records, secrets, enrolled)


def assert_each_secret_shown_once(
    site: Site, records: list[logging.LogRecord], secrets: list[str], enrolled: tuple[str, ...]
) -> None:
    """Each secret appears in the one response that created it (and in what the client sent),
    in no log line and no event; the credential store keeps hashes, except for the ``enrolled``
    second factors' secrets (checking a TOTP code needs the secret itself)."""
    svc = site.svc
    for secret_ in secrets:
        shown = [
            n
            for n, r in enumerate(site.responses)
            if secret_ in r.text + json.dumps(dict(r.headers))
        ]
        assert len(shown) <= 1, f"a secret was shown again ({len(shown)} responses)"
    for record in records:
        line = record.getMessage() + json.dumps(getattr(record, "fields", {}), default=str)
        assert not any(secret_ in line for secret_ in secrets)
    events = svc.ledger.recorder.select_notifications(0, 100_000)
    stored = b"".join(e.state for e in events).decode()
    assert not any(secret_ in stored for secret_ in secrets)
    assert "$argon2" not in stored
    # The credential store keeps hashes: no password, activation or recovery code in clear.
    with svc.projector.store.transaction(write=False) as cur:
        rows = cur.execute("SELECT * FROM account_credentials").fetchall()
        rows += cur.execute("SELECT * FROM sessions").fetchall()
    kept = json.dumps(rows, default=str)
    clear = [s for s in secrets if s in kept and s not in enrolled]
    assert clear == []


def test_a_session_past_its_idle_expiry_answers_401(site: Site) -> None:
    person = activated(site.svc.accounts, "op@cdc.fr")
    session, _ = site.login(person)
    site.clock.advance(minutes=site.svc.settings.session_idle_minutes, seconds=1)
    expired = site.call("GET", "/v1/me", session=session)
    assert expired.status_code == 401
    assert expired.json()["type"] == "/problems/session_expired"
