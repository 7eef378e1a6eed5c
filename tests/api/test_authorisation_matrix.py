"""Every route x every kind of caller -> the expected status.

The table is checked against the application's routes: a new route without a row fails here.
Each row builds its own request (fresh objects where a success can happen only once).

Callers are API keys and people signed in with sessions: a session is answered like the key of
its twin (the same user, or an operator) unless a row says otherwise — one authorisation path.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

import pyotp
import pytest
from fastapi.routing import APIRoute
from starlette.routing import Route

from api.auth import REQUIREMENTS
from ledger.domain.access import Profile, Role
from tests.api.conftest import (
    LAST_YEAR,
    OTHER,
    OWN,
    PRINCIPALS,
    SESSION_TWINS,
    SETUP,
    World,
)
from tests.commands import decrement, record_line, register_agent
from tests.factories import make_nir, make_siret
from tests.people import PASSWORD, activated


class Form(dict[str, Any]):
    """A console form's fields (sent as a form: a session's CSRF token goes in its hidden
    field, as a browser sends it)."""


class Upload(Form):
    """A console form with a file (multipart)."""

    def __init__(self, files: dict[str, tuple[str, bytes, str]], **fields: Any) -> None:
        super().__init__(fields)
        self.files = files


Request = tuple[str, dict[str, Any] | bytes | None]  # path, JSON body, form or file
Factory = Callable[[World, str], Request]

UNAUTHENTICATED = {"anonymous": 401, "bad_key": 401, "revoked_key": 401, "ended_session": 401}
EMPLOYERS = [
    "own_consultation",
    "own_gestion",
    "own_administration",
    "other_gestion",
    "central_accepted",
    "central_refused",
    "central_revoked",
]


def outcome(default: int, **overrides: int) -> dict[str, int]:
    """Expected statuses: 401 without a valid key or session, ``default`` otherwise, with
    overrides; a session caller as its twin unless overridden."""
    table = {who: default for who in PRINCIPALS}
    table.update(UNAUTHENTICATED)
    table.update(overrides)
    for session, twin in SESSION_TWINS.items():
        if session not in overrides:
            table[session] = table[twin]
    return table


def page(default: int, **overrides: int) -> dict[str, int]:
    """A console page: as ``outcome``, except that a browser with no live session is sent to
    the sign-in page (303); a key that is not valid is still refused (401)."""
    return outcome(default, **{"anonymous": 303, "ended_session": 303, **overrides})


def public() -> dict[str, int]:
    return {who: 200 for who in PRINCIPALS}


def anyone(status: int) -> dict[str, int]:
    """Public routes a person uses before having a session (activation, login)."""
    return {who: status for who in PRINCIPALS}


def people_only(success: int = 200) -> dict[str, int]:
    """What a person does for themself with a session; keys are software: 403."""
    return outcome(403, **{session: success for session in SESSION_TWINS})


def manager_of_own(success: int = 201) -> dict[str, int]:
    """People's accounts of OWN: operators, OWN's administrators and those of the centraliser
    OWN accepted; out of scope 404."""
    return outcome(
        success,
        own_consultation=403,
        own_gestion=403,
        auditor=403,
        other_gestion=404,
        central_refused=404,
        central_revoked=404,
    )


def readers_of_own_accounts() -> dict[str, int]:
    return {**manager_of_own(200), "auditor": 200}


def operator_only(success: int = 201) -> dict[str, int]:
    return outcome(403, operator=success)


def reads_agent_a() -> dict[str, int]:
    # Own SIRET and the accepted centraliser see agent A; the others do not know it exists.
    return outcome(200, other_gestion=404, central_refused=404, central_revoked=404)


def readers_of_everything() -> dict[str, int]:
    return outcome(403, operator=200, auditor=200)


def employer_write_for_own() -> dict[str, int]:
    return outcome(
        201,
        own_consultation=403,
        auditor=403,
        other_gestion=403,
        central_refused=403,
        central_revoked=403,
    )


def admin_of_own(success: int = 201) -> dict[str, int]:
    return outcome(
        success,
        own_consultation=403,
        own_gestion=403,
        central_accepted=403,
        auditor=403,
        other_gestion=404,
        central_refused=404,
        central_revoked=404,
    )


def new_agent_in_own_scope(world: World) -> str:
    svc = world.client.app.state.services  # type: ignore[attr-defined]
    seq = 1000 + svc.ledger.recorder.max_notification_id()
    receipt = register_agent(svc.ledger, make_nir(seq), "Petit", "Léa", date(1990, 1, 1), SETUP)
    record_line(svc.ledger, receipt.agent_id, LAST_YEAR, OWN, 1607, SETUP)
    world.settle()
    return str(receipt.agent_id.hex)


def new_establishment(world: World) -> str:
    svc = world.client.app.state.services  # type: ignore[attr-defined]
    siret = make_siret(5000 + svc.ledger.recorder.max_notification_id() % 4000)
    svc.access.register_establishment(siret, "Nouvel établissement", SETUP)
    return siret


def services(world: World) -> Any:
    return world.client.app.state.services  # type: ignore[attr-defined]


def decrement_on_a(world: World, who: str) -> Request:
    receipt = decrement(
        services(world).ledger, uuid.UUID(world.agent_a), OWN, 1, date(LAST_YEAR + 1, 1, 5), SETUP
    )
    world.settle()
    return f"/v1/agents/{world.agent_a}/decrements/{receipt.decrement_id}/cancellation", {
        "reason": "training cancelled"
    }


def regularisation_request(world: World) -> str:
    request_id = services(world).access.submit_regularisation(
        uuid.UUID(world.agent_a),
        OWN,
        LAST_YEAR,
        -1,  # a full year was credited: a correction may only lower it
        {"signatory": "M. Chef", "signature_date": "2025-01-10", "stamp_present": True},
        "",
        SETUP,
    )
    world.settle()
    return str(request_id.hex)


def delegation_request(world: World, who: str) -> Request:
    delegated = new_establishment(world)
    body: dict[str, Any] = {"delegated_siret": delegated}
    if who in ("operator", "session_operator"):
        body["centraliser_siret"] = OTHER
    return "/v1/delegations", body


def pending_delegation(world: World, who: str, state: str) -> Request:
    centraliser = new_establishment(world)
    access = services(world).access
    access.change_delegation(OWN, centraliser, "requested", SETUP)
    if state == "revocation":
        access.change_delegation(OWN, centraliser, "accepted", SETUP)
    return f"/v1/establishments/{OWN}/delegations/{centraliser}/{state}", None


def fresh_key(world: World, who: str) -> Request:
    _, key_id = services(world).access.issue_key(
        Role.EMPLOYER, "spare", SETUP, siret=OWN, user_id=world.users["own_gestion"]
    )
    return f"/v1/keys/{key_id.hex}", None


def fresh_user(world: World, who: str) -> Request:
    user_id = services(world).access.grant_user(OWN, "temp", Profile.CONSULTATION, SETUP)
    return f"/v1/establishments/{OWN}/users/{user_id}", None


DEPOSIT_HEADER = "nir;birth_name;first_name;birth_date;siret;hours;start;end;title;reference"


def decrement_file(world: World, who: str) -> bytes:
    line = (
        f"{world.nir_a};Martin;Anne;1985-03-01;{OWN};1;{LAST_YEAR + 1}-01-10;"
        f"{LAST_YEAR + 1}-01-11;Excel;{who}"
    )
    return f"{DEPOSIT_HEADER}\n{line}\n".encode()


def deposited(world: World, who: str) -> Request:
    from ledger.files.deposits import deposit_file

    path = world.tmp / f"deposit-{who}.csv"
    path.write_bytes(decrement_file(world, f"read-{who}"))
    found = deposit_file(services(world).ledger, path, "d.csv", "test", OWN, {OWN})
    return f"/v1/decrement-files/{found.id.hex}", None


def campaign_file(world: World, who: str) -> bytes:
    header = "nir;birth_name;first_name;birth_date;siret;year;hours_worked"
    seq = 8000 + PRINCIPALS.index(who)
    return f"{header}\n{make_nir(seq)};Neuf;Nina;1990-01-01;{OWN};{LAST_YEAR};1607\n".encode()


def started_campaign(world: World, who: str) -> Request:
    started = world.call(
        "operator",
        "POST",
        "/v1/campaigns",
        content=campaign_file(world, who),
        headers={"Content-Type": "text/csv"},
    )
    return f"/v1/campaigns/{started.json()['campaign_id']}", None


def rebuild(world: World, who: str) -> Request:
    services(world).background.join(30)  # one rebuild at a time: the previous caller's ends
    return "/v1/projections/rebuild", {"view": "balances"}


def accounts(world: World) -> Any:
    return services(world).accounts


def pending_account(world: World, who: str) -> str:
    """A new person of OWN, not activated yet; its user id."""
    enabled = accounts(world).create(
        Role.EMPLOYER,
        "Temp",
        f"temp-{uuid.uuid4().hex[:8]}@mairie.fr",
        SETUP,
        siret=OWN,
        profile=Profile.CONSULTATION,
    )
    return str(enabled.account.user_id)


def account_route(suffix: str, deactivated: bool = False) -> Factory:
    def factory(world: World, who: str) -> Request:
        user_id = pending_account(world, who)
        if deactivated:
            accounts(world).deactivate(user_id, SETUP)
        return f"/v1/users/{user_id}{suffix}", None

    return factory


def activation_code(world: World, who: str) -> tuple[str, str]:
    email = f"new-{who}@mairie.fr"
    enabled = accounts(world).create(Role.AUDITOR, "Nouveau", email, SETUP)
    assert enabled.activation.code is not None
    return email, enabled.activation.code


def activation(world: World, who: str) -> Request:
    email, code = activation_code(world, who)
    secret = accounts(world).start_activation(email, code).secret
    totp = pyotp.TOTP(secret).at(accounts(world).now())
    return "/v1/activations", {"email": email, "code": code, "password": PASSWORD, "totp": totp}


def login(world: World, who: str) -> Request:
    person = activated(accounts(world), f"login-{who}@cdc.fr")
    code = person.code(accounts(world).now(), steps_later=1)
    return "/v1/sessions", {"email": person.email, "password": PASSWORD, "second_factor": code}


def renewal(world: World, who: str) -> Request:
    body = {"password": PASSWORD, "totp": "123456"}
    person = world.people.get(who)
    if person is not None:
        secret = accounts(world).start_renewal(person.user_id, PASSWORD).secret
        body["totp"] = pyotp.TOTP(secret).at(accounts(world).now())
    return "/v1/me/second-factor", body


USERS_HEADER = "name;email;profile;siret"


def user_file(world: World, who: str) -> bytes:
    return f"{USERS_HEADER}\nZoé;zoe-{who}@mairie.fr;gestion;{OWN}\n".encode()


def deposited_users(world: World, who: str) -> Request:
    from ledger.files.habilitation import deposit_users

    path = world.tmp / f"users-{who}.csv"
    path.write_bytes(f"{USERS_HEADER}\nLu;read-{who}@mairie.fr;gestion;\n".encode())
    found = deposit_users(accounts(world), path, "u.csv", SETUP, OWN, OWN, {OWN})
    return f"/v1/user-files/{found.file.id.hex}", None


A = "{a}"
ROUTES: dict[tuple[str, str], tuple[Factory, dict[str, int]]] = {
    ("GET", "/healthz"): (lambda w, p: ("/healthz", None), public()),
    ("GET", "/readyz"): (lambda w, p: ("/readyz", None), public()),
    ("GET", "/metrics"): (lambda w, p: ("/metrics", None), operator_only(200)),
    ("GET", "/openapi.json"): (lambda w, p: ("/openapi.json", None), public()),
    ("GET", "/docs"): (lambda w, p: ("/docs", None), public()),
    ("GET", "/docs/oauth2-redirect"): (lambda w, p: ("/docs/oauth2-redirect", None), public()),
    ("GET", "/redoc"): (lambda w, p: ("/redoc", None), public()),
    ("GET", "/problems"): (lambda w, p: ("/problems", None), public()),
    ("GET", "/problems/{code}"): (lambda w, p: ("/problems/insufficient_balance", None), public()),
    ("GET", "/v1/me"): (lambda w, p: ("/v1/me", None), outcome(200)),
    ("POST", "/v1/agents"): (
        lambda w, p: (
            "/v1/agents",
            {
                "nir": make_nir(7000 + PRINCIPALS.index(p)),
                "birth_name": "Neuf",
                "first_name": "Nina",
                "birth_date": "1991-02-03",
            },
        ),
        operator_only(),
    ),
    ("POST", "/v1/agents/lookup"): (
        lambda w, p: ("/v1/agents/lookup", {"nir": w.nir_a, "birth_name": "MARTIN"}),
        reads_agent_a(),  # one scope rule everywhere: out of scope looks like unknown
    ),
    ("GET", "/v1/agents/{agent_id}/balance"): (
        lambda w, p: (f"/v1/agents/{w.agent_a}/balance", None),
        reads_agent_a(),
    ),
    ("GET", "/v1/agents/{agent_id}/movements"): (
        lambda w, p: (f"/v1/agents/{w.agent_a}/movements", None),
        reads_agent_a(),
    ),
    ("GET", "/v1/agents/{agent_id}/identity"): (
        lambda w, p: (f"/v1/agents/{w.agent_a}/identity", None),
        reads_agent_a(),
    ),
    ("POST", "/v1/agents/{agent_id}/acquisitions"): (
        lambda w, p: (
            f"/v1/agents/{new_agent_in_own_scope(w)}/acquisitions",
            {"year": LAST_YEAR, "siret": OTHER, "hours_worked": 800},
        ),
        operator_only(),
    ),
    ("POST", "/v1/agents/{agent_id}/dif-conversion"): (
        lambda w, p: (f"/v1/agents/{new_agent_in_own_scope(w)}/dif-conversion", {"hours": 20}),
        operator_only(),
    ),
    ("POST", "/v1/agents/{agent_id}/low-qualification"): (
        lambda w, p: (
            f"/v1/agents/{new_agent_in_own_scope(w)}/low-qualification",
            {"from_year": LAST_YEAR + 1},
        ),
        operator_only(),
    ),
    ("POST", "/v1/agents/{agent_id}/inaptitude-credits"): (
        lambda w, p: (f"/v1/agents/{w.agent_b}/inaptitude-credits", {"hours": 1}),
        operator_only(),
    ),
    ("POST", "/v1/agents/{agent_id}/closure"): (
        lambda w, p: (f"/v1/agents/{new_agent_in_own_scope(w)}/closure", {"reason": "retirement"}),
        operator_only(),
    ),
    ("POST", "/v1/agents/{agent_id}/dif-reserve"): (
        lambda w, p: (
            f"/v1/agents/{new_agent_in_own_scope(w)}/dif-reserve",
            {"siret": OWN, "hours": 10},
        ),
        employer_write_for_own(),
    ),
    ("POST", "/v1/agents/{agent_id}/decrements/{decrement_id}/cancellation"): (
        decrement_on_a,
        outcome(
            201,
            own_consultation=403,
            auditor=403,
            other_gestion=404,
            central_refused=404,
            central_revoked=404,
        ),
    ),
    ("POST", "/v1/decrements"): (
        lambda w, p: (
            "/v1/decrements",
            {
                "nir": w.nir_a,
                "birth_name": "Martin",
                "siret": OWN,
                "hours": 1,
                "training": {
                    "title": "Excel",
                    "start": f"{LAST_YEAR + 1}-01-10",
                    "end": f"{LAST_YEAR + 1}-01-11",
                    "reference": "F-1",
                },
            },
        ),
        employer_write_for_own(),
    ),
    ("POST", "/v1/regularisations"): (
        lambda w, p: (
            "/v1/regularisations",
            {
                "agent_id": w.agent_a,
                "siret": OWN,
                "year": LAST_YEAR,
                "hours": 2,
                "attestation": {
                    "signatory": "M. Chef",
                    "signature_date": "2025-01-10",
                    "stamp_present": True,
                },
            },
        ),
        employer_write_for_own(),
    ),
    ("GET", "/v1/regularisations"): (lambda w, p: ("/v1/regularisations", None), outcome(200)),
    ("GET", "/v1/regularisations/{request_id}"): (
        lambda w, p: (f"/v1/regularisations/{regularisation_request(w)}", None),
        reads_agent_a(),
    ),
    ("POST", "/v1/regularisations/{request_id}/approval"): (
        lambda w, p: (f"/v1/regularisations/{regularisation_request(w)}/approval", None),
        operator_only(),
    ),
    ("POST", "/v1/regularisations/{request_id}/rejection"): (
        lambda w, p: (
            f"/v1/regularisations/{regularisation_request(w)}/rejection",
            {"reason": "no stamp on the scan"},
        ),
        operator_only(),
    ),
    ("GET", "/v1/employers/{siret}/agents"): (
        lambda w, p: (f"/v1/employers/{OWN}/agents", None),
        reads_agent_a(),
    ),
    ("GET", "/v1/employers/{siret}/movements"): (
        lambda w, p: (f"/v1/employers/{OWN}/movements", None),
        reads_agent_a(),
    ),
    ("POST", "/v1/establishments"): (
        lambda w, p: (
            "/v1/establishments",
            {"siret": make_siret(9000 + PRINCIPALS.index(p)), "name": "Lycée"},
        ),
        operator_only(),
    ),
    ("GET", "/v1/establishments/{siret}"): (
        lambda w, p: (f"/v1/establishments/{OWN}", None),
        reads_agent_a(),
    ),
    ("POST", "/v1/establishments/{siret}/users"): (
        lambda w, p: (f"/v1/establishments/{OWN}/users", {"name": "Zoé", "profile": "gestion"}),
        admin_of_own(),
    ),
    ("DELETE", "/v1/establishments/{siret}/users/{user_id}"): (fresh_user, admin_of_own(204)),
    ("POST", "/v1/delegations"): (
        delegation_request,
        outcome(201, own_consultation=403, own_gestion=403, other_gestion=403, auditor=403),
    ),
    ("POST", "/v1/establishments/{siret}/delegations/{centraliser}/acceptance"): (
        lambda w, p: pending_delegation(w, p, "acceptance"),
        admin_of_own(),
    ),
    ("POST", "/v1/establishments/{siret}/delegations/{centraliser}/refusal"): (
        lambda w, p: pending_delegation(w, p, "refusal"),
        admin_of_own(),
    ),
    ("POST", "/v1/establishments/{siret}/delegations/{centraliser}/revocation"): (
        lambda w, p: pending_delegation(w, p, "revocation"),
        admin_of_own(),
    ),
    ("POST", "/v1/keys"): (
        lambda w, p: (
            "/v1/keys",
            {"role": "employer", "name": "paie", "siret": OWN, "user_id": w.users["own_gestion"]},
        ),
        admin_of_own(),
    ),
    ("DELETE", "/v1/keys/{key_id}"): (fresh_key, admin_of_own(204)),
    ("POST", "/v1/decrement-files"): (
        lambda w, p: ("/v1/decrement-files", decrement_file(w, p)),
        outcome(201, own_consultation=403, auditor=403),
    ),
    ("GET", "/v1/decrement-files/{deposit_id}"): (
        deposited,
        outcome(
            200, other_gestion=404, central_accepted=404, central_refused=404, central_revoked=404
        ),
    ),
    ("POST", "/v1/campaigns"): (
        lambda w, p: ("/v1/campaigns", campaign_file(w, p)),
        operator_only(202),
    ),
    ("GET", "/v1/campaigns/{campaign_id}"): (started_campaign, operator_only(200)),
    ("GET", "/v1/employers/{siret}/extraction"): (
        lambda w, p: (f"/v1/employers/{OWN}/extraction?year={LAST_YEAR}", None),
        reads_agent_a(),
    ),
    ("GET", "/v1/audit/agents/{agent_id}/replay"): (
        lambda w, p: (f"/v1/audit/agents/{w.agent_a}/replay?as_of={LAST_YEAR}-12-31", None),
        readers_of_everything(),
    ),
    ("GET", "/v1/audit/verification"): (
        lambda w, p: ("/v1/audit/verification", None),
        readers_of_everything(),
    ),
    ("GET", "/v1/audit/checkpoints"): (
        lambda w, p: ("/v1/audit/checkpoints", None),
        readers_of_everything(),
    ),
    ("POST", "/v1/audit/checkpoints"): (
        lambda w, p: ("/v1/audit/checkpoints", None),
        outcome(403, operator=201, auditor=201),
    ),
    ("GET", "/v1/audit/trail"): (
        lambda w, p: (f"/v1/audit/trail?agent_id={w.agent_a}", None),
        readers_of_everything(),
    ),
    ("GET", "/v1/projections"): (lambda w, p: ("/v1/projections", None), readers_of_everything()),
    ("POST", "/v1/projections/rebuild"): (rebuild, operator_only(202)),
    ("GET", "/v1/audit/agents/{agent_id}/events"): (
        lambda w, p: (f"/v1/audit/agents/{w.agent_a}/events", None),
        readers_of_everything(),
    ),
    # People's accounts
    ("POST", "/v1/users"): (
        lambda w, p: (
            "/v1/users",
            {"name": "Zoé", "email": f"zoe-{p}@mairie.fr", "siret": OWN, "profile": "gestion"},
        ),
        manager_of_own(),
    ),
    ("GET", "/v1/users"): (
        lambda w, p: (f"/v1/users?siret={OWN}", None),
        readers_of_own_accounts(),
    ),
    ("GET", "/v1/users/{user_id}"): (account_route(""), readers_of_own_accounts()),
    ("POST", "/v1/users/{user_id}/deactivation"): (
        account_route("/deactivation"),
        manager_of_own(200),
    ),
    ("POST", "/v1/users/{user_id}/reactivation"): (
        account_route("/reactivation", deactivated=True),
        manager_of_own(200),
    ),
    ("POST", "/v1/users/{user_id}/reset"): (account_route("/reset"), manager_of_own(200)),
    ("POST", "/v1/users/{user_id}/activation-code"): (
        account_route("/activation-code"),
        manager_of_own(200),
    ),
    ("POST", "/v1/user-files"): (
        lambda w, p: ("/v1/user-files", user_file(w, p)),
        outcome(201, own_consultation=403, own_gestion=403, other_gestion=403, auditor=403),
    ),
    ("GET", "/v1/user-files/{deposit_id}"): (
        deposited_users,
        outcome(
            200, other_gestion=404, central_accepted=404, central_refused=404, central_revoked=404
        ),
    ),
    ("POST", "/v1/activations/enrolment"): (
        lambda w, p: (
            "/v1/activations/enrolment",
            dict(zip(("email", "code"), activation_code(w, p), strict=True)),
        ),
        anyone(200),
    ),
    ("POST", "/v1/activations"): (activation, anyone(201)),
    ("POST", "/v1/sessions"): (login, anyone(201)),
    ("GET", "/v1/sessions/current"): (lambda w, p: ("/v1/sessions/current", None), people_only()),
    ("DELETE", "/v1/sessions/current"): (
        lambda w, p: ("/v1/sessions/current", None),
        people_only(204),
    ),
    ("POST", "/v1/me/password"): (
        lambda w, p: (
            "/v1/me/password",
            {"current_password": PASSWORD, "new_password": f"nouvelle phrase de {p}"},
        ),
        people_only(204),
    ),
    ("POST", "/v1/me/second-factor/enrolment"): (
        lambda w, p: ("/v1/me/second-factor/enrolment", {"password": PASSWORD}),
        people_only(),
    ),
    ("POST", "/v1/me/second-factor"): (renewal, people_only()),
}


# The web console's pages: the same requirements and scope as the API, answered as HTML; a form
# that does something answers 303 (to the page that shows it).
def console_login(world: World, who: str) -> Request:
    _, body = login(world, who)
    assert isinstance(body, dict)
    return "/connexion", Form(body)


def console_activation(world: World, who: str) -> Request:
    email, code = activation_code(world, who)
    return "/activation", Form(email=email, code=code)


def console_activation_end(world: World, who: str) -> Request:
    email, code = activation_code(world, who)
    secret = accounts(world).start_activation(email, code).secret
    totp = pyotp.TOTP(secret).at(accounts(world).now())
    return "/activation/confirmation", Form(
        email=email, code=code, secret=secret, password=PASSWORD, confirmation=PASSWORD, totp=totp
    )


def console_cancellation(world: World, who: str) -> Request:
    path, _ = decrement_on_a(world, who)
    return path.removeprefix("/v1").replace("/decrements/", "/decrementations/").replace(
        "/cancellation", "/annulation"
    ), Form(reason="formation annulée")


def console_decrement(world: World, who: str) -> Form:
    return Form(
        nir=world.nir_a,
        birth_name="Martin",
        siret=OWN,
        hours="1",
        title="Excel",
        start=f"{LAST_YEAR + 1}-01-10",
        end=f"{LAST_YEAR + 1}-01-11",
    )


def scan_png() -> bytes:
    import io

    import segno

    image = io.BytesIO()
    segno.make("attestation signée").save(image, kind="png")
    return image.getvalue()


def request_with_scan(world: World, who: str, suffix: str = "") -> Request:
    svc = services(world)
    request_id = svc.access.submit_regularisation(
        uuid.UUID(world.agent_a),
        OWN,
        LAST_YEAR,
        -1,
        {"signatory": "M. Chef", "signature_date": "2025-01-10", "stamp_present": True},
        "",
        SETUP,
        scan=svc.scans.keep(scan_png()),
    )
    world.settle()
    return f"/regularisations/{request_id.hex}{suffix}", None


def console_account_route(suffix: str, deactivated: bool = False) -> Factory:
    api_route = account_route(suffix, deactivated)

    def factory(world: World, who: str) -> Request:
        path, _ = api_route(world, who)
        console = {
            "/deactivation": "/desactivation",
            "/reactivation": "/reactivation",
            "/reset": "/reinitialisation",
        }[suffix]
        user_id = path.removeprefix("/v1/users/").removesuffix(suffix)
        return f"/administration/personnes/{user_id}{console}", Form()

    return factory


def console_rebuild(world: World, who: str) -> Request:
    rebuild(world, who)  # one rebuild at a time: the previous caller's ends
    return "/operateur/projections/reconstruction", Form(vue="balances")


def console_delegation_request(world: World, who: str) -> Request:
    _, body = delegation_request(world, who)
    assert isinstance(body, dict)
    return "/administration/delegations", Form(body)


def console_delegation_answer(world: World, who: str) -> Request:
    path, _ = pending_delegation(world, who, "acceptance")
    path = path.removeprefix("/v1/establishments/").replace("/delegations/", "/")
    return f"/administration/delegations/{path.replace('/acceptance', '/acceptation')}", Form()


ADMINISTRATORS_OF_OWN = {
    "own_consultation": 403,
    "own_gestion": 403,
    "other_gestion": 403,
    "auditor": 403,
    "central_refused": 404,
    "central_revoked": 404,
}
"""The administration pages: operators, OWN's administrators and those of the centraliser OWN
accepted (the other profiles 403, establishments they do not act for 404)."""
OWN_ADMINISTRATORS_ONLY = {**ADMINISTRATORS_OF_OWN, "central_accepted": 403}
"""Keys and delegations of OWN: its own administrators (a centraliser does not manage them)."""

OWN_WRITES = {
    "own_consultation": 403,
    "auditor": 403,
    "other_gestion": 403,
    "central_refused": 403,
    "central_revoked": 403,
}
SEES_A = {"other_gestion": 404, "central_refused": 404, "central_revoked": 404}

ROUTES.update(
    {
        ("GET", "/"): (lambda w, p: ("/", None), page(303)),
        ("GET", "/connexion"): (lambda w, p: ("/connexion", None), public()),
        ("POST", "/connexion"): (console_login, anyone(303)),
        ("POST", "/deconnexion"): (
            lambda w, p: ("/deconnexion", Form()),
            page(403, **{session: 303 for session in SESSION_TWINS}),
        ),
        ("GET", "/activation"): (lambda w, p: ("/activation", None), public()),
        ("POST", "/activation"): (console_activation, anyone(200)),
        ("POST", "/activation/confirmation"): (console_activation_end, anyone(200)),
        ("GET", "/tableau-de-bord"): (
            lambda w, p: (f"/tableau-de-bord?siret={OWN}", None),
            page(200, other_gestion=404, central_refused=404, central_revoked=404),
        ),
        ("POST", "/tableau-de-bord/recherche"): (
            lambda w, p: (
                "/tableau-de-bord/recherche",
                Form(siret=OWN, annee=LAST_YEAR, nom="mart"),
            ),
            page(200, other_gestion=404, central_refused=404, central_revoked=404),
        ),
        ("POST", "/agents/recherche"): (
            lambda w, p: ("/agents/recherche", Form(nir=w.nir_a, birth_name="MARTIN")),
            page(303, other_gestion=404, central_refused=404, central_revoked=404),
        ),
        ("GET", "/agents/{agent_id}"): (
            lambda w, p: (f"/agents/{w.agent_a}", None),
            page(200, other_gestion=404, central_refused=404, central_revoked=404),
        ),
        ("POST", "/agents/{agent_id}/decrementations/{decrement_id}/annulation"): (
            console_cancellation,
            page(
                303,
                own_consultation=403,
                auditor=403,
                other_gestion=404,
                central_refused=404,
                central_revoked=404,
            ),
        ),
        ("GET", "/decrementations"): (
            lambda w, p: ("/decrementations", None),
            page(200, own_consultation=403, auditor=403),
        ),
        ("POST", "/decrementations/apercu"): (
            lambda w, p: ("/decrementations/apercu", console_decrement(w, p)),
            page(200, own_consultation=403, auditor=403),  # a refusal is said in the preview
        ),
        ("POST", "/decrementations"): (
            lambda w, p: ("/decrementations", console_decrement(w, p)),
            page(303, **OWN_WRITES),
        ),
        ("POST", "/decrementations/fichiers"): (
            lambda w, p: (
                "/decrementations/fichiers",
                Upload({"fichier": ("d.csv", decrement_file(w, p), "text/csv")}),
            ),
            page(303, own_consultation=403, auditor=403),
        ),
        ("GET", "/decrementations/fichiers/{deposit_id}"): (
            lambda w, p: (
                deposited(w, p)[0].replace("/v1/decrement-files/", "/decrementations/fichiers/"),
                None,
            ),
            page(200, central_accepted=404, **SEES_A),
        ),
        ("GET", "/regularisations"): (lambda w, p: ("/regularisations", None), page(200)),
        ("GET", "/regularisations/nouvelle"): (
            lambda w, p: (f"/regularisations/nouvelle?agent={w.agent_a}", None),
            page(200, own_consultation=403, auditor=403, **SEES_A),
        ),
        ("POST", "/regularisations"): (
            lambda w, p: (
                "/regularisations",
                Upload(
                    {"scan": ("attestation.png", scan_png(), "image/png")},
                    agent_id=w.agent_a,
                    siret=OWN,
                    year=str(LAST_YEAR),
                    hours="-1",
                    signatory="M. Chef",
                    signature_date="2025-01-10",
                    stamp_present="oui",
                ),
            ),
            page(303, **OWN_WRITES),
        ),
        ("GET", "/regularisations/{request_id}"): (
            lambda w, p: (f"/regularisations/{regularisation_request(w)}", None),
            page(200, **SEES_A),
        ),
        ("GET", "/regularisations/{request_id}/scan"): (
            lambda w, p: request_with_scan(w, p, "/scan"),
            page(200, **SEES_A),
        ),
        ("POST", "/regularisations/{request_id}/approbation"): (
            lambda w, p: (f"/regularisations/{regularisation_request(w)}/approbation", Form()),
            page(403, operator=303),
        ),
        ("POST", "/regularisations/{request_id}/rejet"): (
            lambda w, p: (
                f"/regularisations/{regularisation_request(w)}/rejet",
                Form(reason="pas de cachet"),
            ),
            page(403, operator=303),
        ),
        # administration
        ("GET", "/administration"): (
            lambda w, p: (f"/administration?siret={OWN}", None),
            page(200, **ADMINISTRATORS_OF_OWN),
        ),
        ("POST", "/administration/personnes"): (
            lambda w, p: (
                "/administration/personnes",
                Form(name="Zoé", email=f"zoe-{p}@mairie.fr", siret=OWN, profile="gestion"),
            ),
            page(200, **ADMINISTRATORS_OF_OWN),
        ),
        ("POST", "/administration/personnes/{user_id}/desactivation"): (
            console_account_route("/deactivation"),
            page(303, **ADMINISTRATORS_OF_OWN),
        ),
        ("POST", "/administration/personnes/{user_id}/reactivation"): (
            console_account_route("/reactivation", deactivated=True),
            page(303, **ADMINISTRATORS_OF_OWN),
        ),
        ("POST", "/administration/personnes/{user_id}/reinitialisation"): (
            console_account_route("/reset"),
            page(200, **ADMINISTRATORS_OF_OWN),
        ),
        ("POST", "/administration/habilitations"): (
            lambda w, p: (
                "/administration/habilitations",
                Upload({"fichier": ("u.csv", user_file(w, p), "text/csv")}),
            ),
            page(
                200,
                own_consultation=403,
                own_gestion=403,
                other_gestion=403,
                auditor=403,
            ),
        ),
        ("POST", "/administration/cles"): (
            lambda w, p: (
                "/administration/cles",
                Form(siret=OWN, user_id=w.users["own_gestion"], name="paie"),
            ),
            page(200, **OWN_ADMINISTRATORS_ONLY),
        ),
        ("POST", "/administration/cles/revocation"): (
            lambda w, p: (
                "/administration/cles/revocation",
                Form(key_id=fresh_key(w, p)[0].removeprefix("/v1/keys/")),
            ),
            page(303, **OWN_ADMINISTRATORS_ONLY),
        ),
        ("POST", "/administration/delegations"): (
            console_delegation_request,
            page(303, own_consultation=403, own_gestion=403, other_gestion=403, auditor=403),
        ),
        ("POST", "/administration/delegations/{siret}/{centraliser}/{reponse}"): (
            console_delegation_answer,
            page(303, **OWN_ADMINISTRATORS_ONLY),
        ),
        # operations
        ("GET", "/operateur/campagnes"): (
            lambda w, p: ("/operateur/campagnes", None),
            page(403, operator=200),
        ),
        ("POST", "/operateur/campagnes"): (
            lambda w, p: (
                "/operateur/campagnes",
                Upload({"fichier": ("c.csv", campaign_file(w, p), "text/csv")}),
            ),
            page(403, operator=303),
        ),
        ("GET", "/operateur/campagnes/{campaign_id}"): (
            lambda w, p: (
                started_campaign(w, p)[0].replace("/v1/campaigns/", "/operateur/campagnes/"),
                None,
            ),
            page(403, operator=200),
        ),
        ("GET", "/operateur/projections"): (
            lambda w, p: ("/operateur/projections", None),
            page(403, operator=200, auditor=200),
        ),
        ("POST", "/operateur/projections/reconstruction"): (
            console_rebuild,
            page(403, operator=303),
        ),
        # audit
        ("GET", "/audit"): (lambda w, p: ("/audit", None), page(403, operator=200, auditor=200)),
        ("GET", "/audit/agents/{agent_id}"): (
            lambda w, p: (f"/audit/agents/{w.agent_a}?effet={LAST_YEAR}-12-31", None),
            page(403, operator=200, auditor=200),
        ),
        ("GET", "/audit/verification"): (
            lambda w, p: ("/audit/verification", None),
            page(403, operator=200, auditor=200),
        ),
        ("POST", "/audit/verification"): (
            lambda w, p: ("/audit/verification", Form()),
            page(403, operator=303, auditor=303),
        ),
        ("POST", "/audit/points-de-controle"): (
            lambda w, p: ("/audit/points-de-controle", Form()),
            page(403, operator=303, auditor=303),
        ),
        ("GET", "/audit/trace"): (
            lambda w, p: (f"/audit/trace?agent={w.agent_a}", None),
            page(403, operator=200, auditor=200),
        ),
    }
)


def app_routes(world: World) -> set[tuple[str, str]]:
    """Every (method, path) the application serves: its API routes (as its OpenAPI schema
    lists them, included routers and all) and its plain routes (documentation pages)."""
    app = world.client.app  # type: ignore[attr-defined]
    found = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    pending = list(app.routes)  # and the routes outside the schema (documentation pages)
    while pending:
        route = pending.pop()
        if hasattr(route, "original_router"):  # a router included in the application
            pending += route.original_router.routes
        elif isinstance(route, Route):
            found |= {(method, route.path) for method in route.methods or () if method != "HEAD"}
    return found


def test_every_route_has_a_row(world: World) -> None:
    assert app_routes(world) == set(ROUTES)


@pytest.mark.parametrize("route", sorted(ROUTES), ids=lambda r: f"{r[0]} {r[1]}")
def test_route_answers_each_caller_as_expected(world: World, route: tuple[str, str]) -> None:
    factory, expected = ROUTES[route]
    method = route[0]
    seen = {}
    for who in PRINCIPALS:
        path, body = factory(world, who)
        response = send(world, who, method, path, body)
        seen[who] = response.status_code
        if response.status_code >= 400:
            kind = "text/html" if route in console_routes() else "application/problem+json"
            assert response.headers["content-type"].startswith(kind), (who, response.text)
    assert seen == expected


def send(world: World, who: str, method: str, path: str, body: Any) -> Any:
    """One request as a row builds it (redirections are answers: not followed)."""
    if isinstance(body, Upload):
        return world.call(
            who, method, path, data=dict(body), files=body.files, follow_redirects=False
        )
    if isinstance(body, Form):
        return world.call(who, method, path, data=dict(body), follow_redirects=False)
    if isinstance(body, bytes):
        return world.call(
            who,
            method,
            path,
            content=body,
            headers={"Content-Type": "text/csv"},
            follow_redirects=False,
        )
    return world.call(who, method, path, json=body, follow_redirects=False)


def console_routes() -> set[tuple[str, str]]:
    """The web console's pages (HTML, never problem+json)."""
    from api.console.pages import ROUTERS

    return {
        (method, route.path)
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }


# Routes that show an agent's personal data must leave a line in the read trail; the others say
# why they do not. A new route in neither set fails the first test below.
TRAILED = {
    ("POST", "/v1/agents/lookup"),
    ("GET", "/v1/agents/{agent_id}/balance"),
    ("GET", "/v1/agents/{agent_id}/movements"),
    ("GET", "/v1/agents/{agent_id}/identity"),
    ("GET", "/v1/employers/{siret}/agents"),
    ("GET", "/v1/employers/{siret}/movements"),
    ("GET", "/v1/employers/{siret}/extraction"),
    ("GET", "/v1/regularisations"),
    ("GET", "/v1/regularisations/{request_id}"),
    ("GET", "/v1/decrement-files/{deposit_id}"),
    ("GET", "/v1/audit/agents/{agent_id}/events"),
    ("GET", "/v1/audit/agents/{agent_id}/replay"),
    # the console's pages
    ("GET", "/tableau-de-bord"),
    ("POST", "/tableau-de-bord/recherche"),
    ("POST", "/agents/recherche"),
    ("GET", "/agents/{agent_id}"),
    ("GET", "/decrementations/fichiers/{deposit_id}"),
    ("GET", "/regularisations"),
    ("GET", "/regularisations/nouvelle"),
    ("GET", "/regularisations/{request_id}"),
    ("GET", "/regularisations/{request_id}/scan"),
    ("GET", "/audit/agents/{agent_id}"),
}
POSTED_READS = {
    ("POST", "/v1/agents/lookup"),
    ("POST", "/tableau-de-bord/recherche"),
    ("POST", "/agents/recherche"),
}
"""Reads made with POST, so that what is looked for (a NIR, a name) never sits in a URL."""
NOT_PERSONAL = {
    # documentation and operations (/metrics: an operator's key unless made public)
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("GET", "/problems"),
    ("GET", "/problems/{code}"),
    ("GET", "/v1/projections"),
    # who the caller is, establishments and their users, people's own accounts (no agent)
    ("GET", "/v1/me"),
    ("GET", "/v1/establishments/{siret}"),
    ("GET", "/v1/users"),
    ("GET", "/v1/users/{user_id}"),
    ("GET", "/v1/user-files/{deposit_id}"),
    ("GET", "/v1/sessions/current"),
    # audit tooling over the log as a whole, and the trail itself
    ("GET", "/v1/audit/verification"),
    ("GET", "/v1/audit/checkpoints"),
    ("GET", "/v1/audit/trail"),
    ("GET", "/v1/campaigns/{campaign_id}"),
    # the console's pages that show no agent
    ("GET", "/"),
    ("GET", "/connexion"),
    ("GET", "/activation"),
    ("GET", "/decrementations"),  # the forms, and the deposits' file names
    ("GET", "/administration"),  # people's accounts, keys, delegations
    ("GET", "/operateur/campagnes"),
    ("GET", "/operateur/campagnes/{campaign_id}"),
    ("GET", "/operateur/projections"),
    ("GET", "/audit"),
    ("GET", "/audit/verification"),
    ("GET", "/audit/trace"),  # the trail itself, as /v1/audit/trail
}


def test_every_read_route_is_trailed_or_says_why_not(world: World) -> None:
    reads = {route for route in app_routes(world) if route[0] == "GET"} | POSTED_READS
    assert reads == TRAILED | NOT_PERSONAL


@pytest.mark.parametrize("route", sorted(TRAILED), ids=lambda r: f"{r[0]} {r[1]}")
def test_a_read_of_personal_data_is_in_the_trail(world: World, route: tuple[str, str]) -> None:
    factory, _ = ROUTES[route]
    regularisation_request(world)  # so that the list of requests shows an agent
    for who in ("operator", "own_consultation", "session_own_gestion"):
        path, body = factory(world, who)
        before = services(world).trail.query(principal=principal_label(world, who))
        response = send(world, who, route[0], path, body)
        if response.status_code == 303:  # a console search: it found the agent, and sends there
            response.status_code = 200
        if response.status_code != 200:
            continue  # not allowed to this caller: nothing seen
        after = services(world).trail.query(principal=principal_label(world, who))
        new = after[len(before) :]
        assert new, f"{route} left no trail for {who}"
        assert {line["via"] for line in new} == {f"{route[0]} {route[1]}"}
        assert world.agent_a in {line["agent_id"] for line in new}


def principal_label(world: World, who: str) -> str:
    me = world.call(who, "GET", "/v1/me").json()
    return f"{me['role']}:{me['key_id']}"


def test_every_route_declares_its_requirement_as_a_dependency(world: World) -> None:
    """Who may call a route is in its signature (a requirement of ``api.auth``), never only in
    its body; public routes declare none."""
    public = {
        route
        for route, (_, expected) in ROUTES.items()
        if expected == public_outcome or not {401, 403} & set(expected.values())
    }
    app = world.client.app  # type: ignore[attr-defined]
    routes = list(app.routes)
    for included in [r for r in routes if hasattr(r, "original_router")]:
        routes += included.original_router.routes
    for route in routes:
        if not isinstance(route, APIRoute):
            continue
        declared = {dependency.call for dependency in route.dependant.dependencies}
        for method in route.methods:
            if (method, route.path) in public:
                assert not declared & REQUIREMENTS, f"{method} {route.path} is public"
            else:
                assert declared & REQUIREMENTS, f"{method} {route.path} declares no requirement"


public_outcome = public()


def test_the_edge_lets_through_unauthenticated_only_the_public_v1_routes() -> None:
    from api.edge import OPEN_PATHS

    public = {path for (_, path), (_, expected) in ROUTES.items() if 401 not in expected.values()}
    assert {path for path in public if path.startswith("/v1/")} == OPEN_PATHS
