"""The web console over HTTP, on each store: signing in, the pages' headers and forms, the agent's
chart against its movements, scope (out of scope is not found, a consultation profile sees no
form), the decrement preview, deposits and campaigns followed to their report, regularisations
with their scan, the auditor's replay and verification.

Every response is scanned for the NIRs (by the ``world`` fixture): pages show them masked.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import httpx
import pyotp

from api.auth import SESSION_COOKIE
from ledger.domain.access import Profile, Role
from tests.api.conftest import LAST_YEAR, OTHER, OWN, SETUP, World, sign_in
from tests.api.test_authorisation_matrix import decrement_file, scan_png
from tests.commands import decrement, register_agent
from tests.factories import make_nir
from tests.people import PASSWORD, activated

STRICT = "default-src 'none'; script-src 'self'; style-src 'self'"


def services(world: World) -> Any:
    return world.client.app.state.services  # type: ignore[attr-defined]


def page(world: World, who: str, path: str, **kwargs: Any) -> httpx.Response:
    return world.call(who, "GET", path, follow_redirects=False, **kwargs)


def form(world: World, who: str, path: str, **fields: Any) -> httpx.Response:
    files = fields.pop("files", None)
    return world.call(who, "POST", path, data=fields, files=files, follow_redirects=False)


def chart(response: httpx.Response) -> dict[str, Any]:
    found = re.search(
        r'<script type="application/json" id="donnees-courbe">(.*?)</script>', response.text, re.S
    )
    assert found, "no chart data"
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def until(check: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not done in time"
        time.sleep(0.1)


# ------------------------------------------------------------------ signing in


def test_a_person_signs_in_with_the_second_factor_then_sees_the_establishment(
    world: World,
) -> None:
    accounts = services(world).accounts
    person = activated(
        accounts, "rh@mairie.example.org", Role.EMPLOYER, siret=OWN, profile=Profile.GESTION
    )
    client = world.client
    wrong = client.post(
        "/connexion",
        data={"email": person.email, "password": PASSWORD, "second_factor": "000000"},
        follow_redirects=False,
    )
    assert wrong.status_code == 401 and "incorrect" in wrong.text
    assert SESSION_COOKIE not in wrong.cookies
    code = person.code(accounts.now(), steps_later=1)
    signed = client.post(
        "/connexion",
        data={
            "email": person.email,
            "password": PASSWORD,
            "second_factor": code,
            "suite": "//evil",
        },
        follow_redirects=False,
    )
    assert signed.status_code == 303 and signed.headers["location"] == "/tableau-de-bord"
    cookie = signed.cookies[SESSION_COOKIE]
    dashboard = client.get("/tableau-de-bord", headers={"Cookie": f"{SESSION_COOKIE}={cookie}"})
    client.cookies.clear()
    world.responses += [wrong, signed, dashboard]
    assert dashboard.status_code == 200
    assert "MARTIN Anne" in dashboard.text and world.nir_a[-4:] in dashboard.text
    assert world.agent_a in {line["agent_id"] for line in services(world).trail.query()}


def test_a_browser_without_a_live_session_is_sent_to_sign_in_and_back(world: World) -> None:
    for who in ("anonymous", "ended_session"):
        response = page(world, who, "/agents/" + world.agent_a)
        assert response.status_code == 303
        assert response.headers["location"] == f"/connexion?suite=/agents/{world.agent_a}"
    assert page(world, "bad_key", "/tableau-de-bord").status_code == 401


def test_signing_out_ends_the_session(world: World) -> None:
    assert form(world, "session_own_gestion", "/deconnexion").status_code == 303
    assert page(world, "session_own_gestion", "/tableau-de-bord").status_code == 303


def test_an_account_is_activated_in_the_console_then_signs_in(world: World) -> None:
    accounts = services(world).accounts
    enabled = accounts.create(
        Role.EMPLOYER, "Léa", "lea@mairie.example.org", SETUP, siret=OWN, profile=Profile.GESTION
    )
    code = enabled.activation.code
    step = form(world, "anonymous", "/activation", email="lea@mairie.example.org", code=code)
    assert step.status_code == 200 and "<svg" in step.text
    secret = re.search(r'<code id="cle-totp">([A-Z2-7]+)</code>', step.text)
    assert secret
    totp = pyotp.TOTP(secret.group(1))
    fields = {"email": "lea@mairie.example.org", "code": code, "secret": secret.group(1)}
    short = form(
        world,
        "anonymous",
        "/activation/confirmation",
        **fields,
        password="court",
        confirmation="court",
        totp=totp.at(accounts.now()),
    )
    assert short.status_code == 422 and "trop court" in short.text
    done = form(
        world,
        "anonymous",
        "/activation/confirmation",
        **fields,
        password=PASSWORD,
        confirmation=PASSWORD,
        totp=totp.at(accounts.now()),
    )
    assert done.status_code == 200
    assert len(re.findall(r"<li><code>[A-Z0-9-]+</code></li>", done.text)) == 10
    signed = form(
        world,
        "anonymous",
        "/connexion",
        email="lea@mairie.example.org",
        password=PASSWORD,
        second_factor=totp.at(accounts.now() + timedelta(seconds=30)),
    )
    assert signed.status_code == 303


# ---------------------------------------------------------- headers and forms


def test_every_response_sends_the_strict_policy_and_the_other_headers(world: World) -> None:
    for who, path in [
        ("anonymous", "/connexion"),
        ("session_own_gestion", "/tableau-de-bord"),
        ("own_gestion", f"/agents/{world.agent_a}"),
        ("anonymous", "/v1/me"),  # a refusal at the edge
        ("operator", "/v1/projections"),
        ("other_gestion", f"/agents/{world.agent_a}"),  # a refusal page
    ]:
        response = page(world, who, path)
        assert response.headers["content-security-policy"].startswith(STRICT), path
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "same-origin"
    assert "'unsafe-inline'" in page(world, "anonymous", "/docs").headers["content-security-policy"]
    assert page(world, "own_gestion", "/tableau-de-bord").headers["cache-control"] == "no-store"


def test_a_form_sent_with_a_session_needs_its_token_and_this_site(world: World) -> None:
    session_id, csrf = world.sessions["session_own_gestion"]
    cookie = {"Cookie": f"{SESSION_COOKIE}={session_id}"}
    look_up = {"nir": world.nir_a, "birth_name": "Martin"}

    def send(data: dict[str, str], **headers: str) -> httpx.Response:
        response = world.client.post(
            "/agents/recherche", data=data, headers={**cookie, **headers}, follow_redirects=False
        )
        world.client.cookies.clear()
        world.responses.append(response)
        return response

    refused = send(look_up)
    assert refused.status_code == 403 and "Le formulaire a expiré" in refused.text
    assert send({**look_up, "csrf_token": "another"}).status_code == 403
    assert send({**look_up, "csrf_token": csrf}, Origin="https://evil.example").status_code == 403
    assert send({**look_up, "csrf_token": csrf}).status_code == 303
    assert send(look_up, **{"X-CSRF-Token": csrf}).status_code == 303  # htmx sends the header


# ------------------------------------------------------------------ the agent


def test_the_chart_draws_one_point_per_movement_at_its_balance(world: World) -> None:
    svc = services(world)
    decrement(svc.ledger, uuid.UUID(world.agent_a), OWN, 6, date(LAST_YEAR + 1, 2, 1), SETUP)
    world.settle()
    movements = world.call(
        "own_gestion",
        "GET",
        f"/v1/agents/{world.agent_a}/movements",
        params={"known_at": "2999-01-01T00:00:00Z"},
    ).json()["items"]
    drawn = chart(page(world, "own_gestion", f"/agents/{world.agent_a}"))
    assert [(p["date"], p["solde"]) for p in drawn["points"]] == [
        (m["effective_date"], m["balance_after"]) for m in movements
    ]
    assert drawn["points"][-1]["solde"] == 94
    kinds = [m["kind"] for m in movements]
    assert drawn["marqueurs"]["decrementations"] == [kinds.index("Decremented")]
    assert drawn["marqueurs"]["acquisitions"] == [kinds.index("AcquisitionLineRecorded")]
    past = chart(page(world, "own_gestion", f"/agents/{world.agent_a}?au={LAST_YEAR}-06-30"))
    assert [(p["genre"], p["solde"]) for p in past["points"]] == [("DifConverted", 75)]


def test_an_agent_out_of_scope_is_not_found_exactly_like_an_unknown_one(world: World) -> None:
    hidden = page(world, "other_gestion", f"/agents/{world.agent_a}")
    unknown = page(world, "other_gestion", f"/agents/{uuid.uuid4().hex}")
    assert hidden.status_code == unknown.status_code == 404
    assert "Agent introuvable" in hidden.text
    assert hidden.text == unknown.text
    searched = form(
        world, "other_gestion", "/agents/recherche", nir=world.nir_a, birth_name="Martin"
    )
    assert searched.status_code == 404


def test_a_consultation_profile_is_offered_no_write(world: World) -> None:
    dashboard = page(world, "own_consultation", f"/tableau-de-bord?siret={OWN}")
    agent = page(world, "own_consultation", f"/agents/{world.agent_a}")
    assert dashboard.status_code == agent.status_code == 200
    for response in (dashboard, agent):
        assert 'href="/decrementations"' not in response.text
        assert 'href="/administration"' not in response.text
        actions = set(re.findall(r'<form method="post" action="([^"]+)"', response.text))
        assert actions <= {"/agents/recherche", "/tableau-de-bord/recherche"}  # reads, posted
    assert "Demander une régularisation" not in agent.text
    assert page(world, "own_consultation", "/decrementations").status_code == 403
    gestion = page(world, "own_gestion", f"/agents/{world.agent_a}")
    assert "Demander une régularisation" in gestion.text


def test_a_centraliser_switches_between_the_establishments_that_accepted_it(
    world: World,
) -> None:
    own = page(world, "central_accepted", "/tableau-de-bord")
    assert own.status_code == 200
    assert f'<option value="{OWN}"' in own.text  # the delegated establishment, offered
    delegated = page(world, "central_accepted", f"/tableau-de-bord?siret={OWN}")
    assert "MARTIN Anne" in delegated.text
    assert page(world, "central_refused", f"/tableau-de-bord?siret={OWN}").status_code == 404
    assert f'<option value="{OWN}"' not in page(world, "central_revoked", "/tableau-de-bord").text


def test_an_agent_is_found_by_name_with_a_posted_search(world: World) -> None:
    found = form(
        world, "own_gestion", "/tableau-de-bord/recherche", siret=OWN, annee=LAST_YEAR, nom="mart"
    )
    assert found.status_code == 200 and "MARTIN Anne" in found.text
    none = form(
        world, "own_gestion", "/tableau-de-bord/recherche", siret=OWN, annee=LAST_YEAR, nom="zz"
    )
    assert "MARTIN" not in none.text


# ------------------------------------------------------------------ decrements


def decrement_form(world: World, **changes: str) -> dict[str, str]:
    return {
        "nir": world.nir_a,
        "birth_name": "Martin",
        "siret": OWN,
        "days": "1,5",
        "title": "Excel",
        "start": f"{LAST_YEAR + 1}-03-02",
        "end": f"{LAST_YEAR + 1}-03-03",
        **changes,
    }


def test_the_preview_shows_the_split_and_the_balance_after_and_records_nothing(
    world: World,
) -> None:
    svc = services(world)
    head = svc.ledger.recorder.max_notification_id()
    preview = form(world, "own_gestion", "/decrementations/apercu", **decrement_form(world))
    assert preview.status_code == 200
    assert "<strong>9 h</strong>" in preview.text and 'id="apercu-solde">91 h' in preview.text
    too_much = form(
        world,
        "own_gestion",
        "/decrementations/apercu",
        **decrement_form(world, days="", hours="500"),
    )
    assert "Solde insuffisant : 500 h demandées, 100 h disponibles." in too_much.text
    assert svc.ledger.recorder.max_notification_id() == head


def test_a_preview_gives_no_figure_of_an_agent_the_employer_may_not_see(world: World) -> None:
    svc = services(world)
    nir = make_nir(777)
    register_agent(svc.ledger, nir, "Neuf", "Nina", date(1990, 1, 1), SETUP)
    world.settle()
    preview = form(
        world,
        "own_gestion",
        "/decrementations/apercu",
        **decrement_form(world, nir=nir, birth_name="Neuf", hours="500", days=""),
    )
    assert "500 h" in preview.text and "pas encore dans le périmètre" in preview.text
    assert "disponibles" not in preview.text and "Compteur après" not in preview.text


def test_a_decrement_form_sent_twice_records_one_decrement(world: World) -> None:
    fields = {**decrement_form(world), "idempotency_key": "formulaire-1"}
    first = form(world, "session_own_gestion", "/decrementations", **fields)
    again = form(world, "session_own_gestion", "/decrementations", **fields)
    assert first.status_code == again.status_code == 303
    assert first.headers["location"].startswith(f"/agents/{world.agent_a}?apres=")
    shown = world.call("session_own_gestion", "GET", first.headers["location"])
    assert "La décrémentation est enregistrée" in shown.text
    balance = world.call("own_gestion", "GET", f"/v1/agents/{world.agent_a}/balance").json()
    assert balance["balance"] == 91
    refused = form(
        world, "own_gestion", "/decrementations", **decrement_form(world, hours="900", days="")
    )
    assert refused.status_code == 409 and "Solde insuffisant" in refused.text
    assert world.nir_a not in refused.text  # the form comes back without the NIR


def test_a_deposited_file_is_applied_in_the_background_and_its_report_filtered(
    world: World,
) -> None:
    content = decrement_file(world, "console") + b"bad;line\n"
    deposited = form(
        world,
        "session_own_gestion",
        "/decrementations/fichiers",
        files={"fichier": ("formations.csv", content, "text/csv")},
    )
    assert deposited.status_code == 303
    report_page = deposited.headers["location"]

    def report() -> httpx.Response:
        return world.call("session_own_gestion", "GET", report_page)

    until(lambda: 'id="compte-rendu"' in report().text)
    done = report()
    assert 'id="nb-appliquees">1<' in done.text and 'id="nb-rejetees">1<' in done.text
    rejected = world.call("own_gestion", "GET", report_page, params={"statut": "rejected"})
    assert rejected.text.count('data-statut="rejected"') == 1
    assert 'data-statut="applied"' not in rejected.text
    assert page(world, "other_gestion", report_page).status_code == 404
    listed = page(world, "own_gestion", "/decrementations")
    assert "formations.csv" in listed.text


def test_a_file_refused_before_its_deposit_began_says_why(world: World) -> None:
    deposited = form(
        world,
        "own_gestion",
        "/decrementations/fichiers",
        files={"fichier": ("x.csv", b"nothing;useful\n1;2\n", "text/csv")},
    )
    location = deposited.headers["location"]
    until(lambda: "refusé" in world.call("own_gestion", "GET", location).text)


# ------------------------------------------------------------- regularisations


def regularisation_form(world: World, content: bytes, **changes: str) -> dict[str, Any]:
    return {
        "agent_id": world.agent_a,
        "siret": OWN,
        "year": str(LAST_YEAR),
        "hours": "-2",
        "signatory": "Mme Roux, DRH",
        "signature_date": f"{LAST_YEAR + 1}-01-15",
        "stamp_present": "oui",
        "files": {"scan": ("attestation.png", content, "image/png")},
        **changes,
    }


def test_a_request_with_its_scan_is_approved_and_the_counter_follows(world: World) -> None:
    sent = form(
        world, "session_own_gestion", "/regularisations", **regularisation_form(world, scan_png())
    )
    assert sent.status_code == 303
    request_page = sent.headers["location"].split("?")[0]
    world.settle()  # the queue is a view
    shown = page(world, "operator", request_page)
    assert 'id="image-scan"' in shown.text and "Approuver" in shown.text
    scan = page(world, "operator", request_page + "/scan")
    assert scan.content == scan_png() and scan.headers["content-type"] == "image/png"
    assert "sandbox" in scan.headers["content-security-policy"]
    assert page(world, "other_gestion", request_page + "/scan").status_code == 404
    queue = page(world, "operator", "/regularisations")
    assert request_page in queue.text
    approved = form(world, "session_operator", request_page + "/approbation")
    assert approved.status_code == 303
    after = world.call("operator", "GET", approved.headers["location"])
    drawn = chart(after)
    assert drawn["points"][-1]["solde"] == 98 and drawn["marqueurs"]["regularisations"]
    assert "approuvée" in page(world, "own_gestion", request_page).text


def test_a_scan_of_another_kind_is_refused_and_the_form_kept(world: World) -> None:
    refused = form(
        world,
        "own_gestion",
        "/regularisations",
        **regularisation_form(world, b"GIF89a" + b"\0" * 40),
    )
    assert refused.status_code == 422 and "PDF, PNG ou JPEG" in refused.text
    assert "Mme Roux, DRH" in refused.text


def test_a_scan_changed_in_its_table_is_refused_not_shown(world: World) -> None:
    sent = form(world, "own_gestion", "/regularisations", **regularisation_form(world, scan_png()))
    scan_path = sent.headers["location"].split("?")[0] + "/scan"
    store = services(world).scans.store
    with store.transaction() as cur:
        cur.execute("UPDATE attestation_scans SET content = %s", (scan_png()[:-1] + b"!",))
    altered = page(world, "operator", scan_path)
    assert altered.status_code >= 400 and "ne correspond plus" in altered.text


# ------------------------------------------------------- operations and audit


def test_a_campaign_is_followed_to_its_report(world: World) -> None:
    header = "nir;birth_name;first_name;birth_date;siret;year;hours_worked"
    lines = [f"{make_nir(900 + i)};Neuf;Nina;1990-01-01;{OTHER};{LAST_YEAR};1607" for i in range(5)]
    content = "\n".join([header, *lines, "bad;line"]).encode() + b"\n"
    started = form(
        world,
        "session_operator",
        "/operateur/campagnes",
        files={"fichier": ("campagne.csv", content, "text/csv")},
    )
    location = started.headers["location"]
    until(lambda: "Import terminé" in world.call("operator", "GET", location).text)
    done = world.call("operator", "GET", location)
    assert 'id="lignes-appliquees">5<' in done.text and 'id="lignes-rejetees">1<' in done.text
    assert "campagne.csv" in page(world, "operator", "/operateur/campagnes").text


def test_a_rebuild_is_started_and_followed(world: World) -> None:
    started = form(world, "operator", "/operateur/projections/reconstruction", vue="balances")
    assert started.status_code == 303
    services(world).background.join(30)
    shown = page(world, "operator", "/operateur/projections")
    assert "terminée" in shown.text and 'data-vue="balances"' in shown.text


def test_the_auditor_replays_a_past_date_beside_today(world: World) -> None:
    replayed = page(world, "auditor", f"/audit/agents/{world.agent_a}?effet={LAST_YEAR}-06-30")
    assert replayed.status_code == 200
    assert 'id="solde-alors">75 h' in replayed.text
    assert 'id="solde-aujourdhui">100 h' in replayed.text
    # unknown then: the acquisition (effective later) and the registration (recorded today)
    assert replayed.text.count('class="nouveau"') == 2
    assert page(world, "own_administration", f"/audit/agents/{world.agent_a}").status_code == 403
    trail = page(world, "auditor", f"/audit/trace?agent={world.agent_a}")
    assert "GET /audit/agents/{agent_id}" in trail.text


def test_a_verification_runs_in_the_background_and_keeps_its_result(world: World) -> None:
    assert form(world, "auditor", "/audit/points-de-controle").status_code == 303
    assert form(world, "auditor", "/audit/verification").status_code == 303
    until(lambda: "La chaîne est intègre" in page(world, "auditor", "/audit/verification").text)
    shown = page(world, "operator", "/audit/verification")
    assert "le journal le prolonge, signature valide" in shown.text
    assert "prolongé" in shown.text


def test_an_employer_administrator_enables_a_person_and_sees_the_code_once(world: World) -> None:
    fields = {
        "siret": OWN,
        "name": "Zoé",
        "email": "zoe@mairie.example.org",
        "profile": "consultation",
        "idempotency_key": "habiliter-1",
    }
    first = form(world, "session_own_administration", "/administration/personnes", **fields)
    assert first.status_code == 200 and 'id="code-activation"' in first.text
    again = form(world, "session_own_administration", "/administration/personnes", **fields)
    assert 'id="code-activation"' not in again.text and "déjà été envoyé" in again.text
    listed = page(world, "own_administration", "/administration")
    assert "zoe@mairie.example.org" in listed.text


def test_sessions_of_people_open_pages_like_their_keys(world: World) -> None:
    person = activated(
        services(world).accounts,
        "consult@mairie.example.org",
        Role.EMPLOYER,
        siret=OWN,
        user_id=world.users["own_consultation"],
    )
    sign_in(world, "session_consultation", person)
    assert page(world, "session_consultation", f"/agents/{world.agent_a}").status_code == 200
    assert page(world, "session_consultation", "/decrementations").status_code == 403
