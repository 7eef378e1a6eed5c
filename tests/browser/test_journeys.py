"""Journeys through the console in Chromium, as the people who use it: an employer's HR
administrator, a CDC operator, an auditor, and a person with the consultation profile.

Each journey checks what the page shows against the JSON API (read with an operator's key: an
independent path), that no script fails and no policy is violated, and saves screenshots.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime
from typing import Any

import pyotp
import segno

from ledger.files.demo import DemoAgent, demo_siret
from ledger.files.demo_logins import PASSWORD
from tests.browser.conftest import ADMIN, LAST_YEAR, Console, Watched, shoot

FIRST = demo_siret(1)


def employee(console: Console, index: int = 0, siret: str = FIRST) -> DemoAgent:
    """An agent of the demo population with a line for ``siret`` last year, open, whose counter
    is comfortable (so a decrement or a correction is accepted)."""
    found = [
        a
        for a in console.population.agents
        if any(s == siret for s, _ in a.lines.get(LAST_YEAR, []))
        and not a.retire
        and len(a.lines) >= 3
    ]
    return found[index]


def agent_id(console: Console, person: DemoAgent) -> str:
    import httpx

    response = httpx.post(
        console.base + "/v1/agents/lookup",
        json={"nir": person.nir, "birth_name": person.birth_name},
        headers={"Authorization": f"Bearer {console.operator_key}"},
    )
    response.raise_for_status()
    return str(response.json()["agent_id"])


def drawn(page: Any) -> list[tuple[str, int]]:
    """The counter's points as Chart.js drew them: (date, hours), after checking each one is a
    drawn element of the line (none skipped)."""
    page.wait_for_selector("canvas#courbe[data-pret=oui]")
    points = page.evaluate(
        """() => {
        const chart = window.courbeCompteur;
        const meta = chart.getDatasetMeta(0);
        return meta.data.map((element, i) => ({
            x: chart.data.datasets[0].data[i].x, y: chart.data.datasets[0].data[i].y,
            skip: element.skip, px: element.x, py: element.y }));
    }"""
    )
    assert all(not p["skip"] and p["px"] > 0 and p["py"] > 0 for p in points)
    return [
        (datetime.fromtimestamp(p["x"] / 1000, UTC).date().isoformat(), int(p["y"])) for p in points
    ]


def movements_now(console: Console, agent: str) -> list[tuple[str, int]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"known_at": "2999-01-01T00:00:00Z", "limit": 500}
        if cursor:
            params["cursor"] = cursor
        page = console.api(f"/v1/agents/{agent}/movements", **params)
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return [(m["effective_date"], m["balance_after"]) for m in items]


def test_an_administrator_signs_in_with_the_second_factor_and_sees_the_population(
    console: Console, browser: Any, admin: Watched
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = Watched(context.new_page())
    page.goto(console.base + "/tableau-de-bord")
    assert "/connexion" in page.url
    page.fill("#email", ADMIN)
    page.fill("#password", PASSWORD)
    page.fill("#second_factor", "123456")
    page.click("button:has-text('Se connecter')")
    assert page.locator(".avis-erreur").inner_text().startswith("L'adresse, le mot de passe")
    shoot(console, page, "01-connexion", phone=True)
    page.clean()
    context.close()
    # ``admin`` signed in through the same form with the second factor's current code
    admin.goto(console.base + "/")
    assert admin.url.endswith("/tableau-de-bord")
    rows = admin.locator("#liste-agents tbody tr")
    expected = console.api(f"/v1/employers/{FIRST}/agents", year=LAST_YEAR, limit=50)["items"]
    assert rows.count() == len(expected) > 0
    nir = admin.locator("#liste-agents tbody td code").first.inner_text()
    assert re.fullmatch(r"\d\*{10}\d{4}", nir)
    shoot(console, admin, "02-tableau-de-bord", phone=True)
    admin.clean()


def test_the_agents_chart_draws_one_point_per_movement_and_hovering_shows_it(
    console: Console, admin: Watched
) -> None:
    person = employee(console, 0)
    agent = agent_id(console, person)
    admin.goto(console.base + "/tableau-de-bord")
    admin.fill("#nir", person.nir)
    admin.fill("#birth_name", person.birth_name.upper())
    admin.click("button:has-text('Rechercher')")
    admin.wait_for_url(f"**/agents/{agent}")
    points = drawn(admin)
    assert points == movements_now(console, agent)
    balance = console.api(f"/v1/agents/{agent}/balance")["balance"]
    assert points[-1][1] == balance
    assert admin.locator("#solde").inner_text() == f"{balance} h"
    assert admin.locator("#mouvements tbody tr").count() == len(points)
    # Hover the last movement: the tooltip names it.
    spot = admin.evaluate(
        "() => { const e = window.courbeCompteur.getDatasetMeta(0).data.at(-1); return [e.x, e.y]; }"
    )
    box = admin.locator("canvas#courbe").bounding_box()
    admin.mouse.move(box["x"] + spot[0], box["y"] + spot[1])
    admin.wait_for_function("() => window.courbeCompteur.tooltip.getActiveElements().length > 0")
    title = admin.evaluate("() => window.courbeCompteur.tooltip.title.join(' ')")
    assert points[-1][0][8:10] + "/" + points[-1][0][5:7] in title
    shoot(console, admin, "03-agent", phone=True)
    # As of a past date: only what was effective then.
    admin.fill("#au", f"{LAST_YEAR - 1}-12-31")
    admin.click("button:has-text('Afficher à cette date')")
    admin.wait_for_url("**au=*")
    past = drawn(admin)
    assert past == [p for p in points if p[0] <= f"{LAST_YEAR - 1}-12-31"] or all(
        p[0] <= f"{LAST_YEAR - 1}-12-31" for p in past
    )
    as_of = console.api(f"/v1/agents/{agent}/balance", as_of=f"{LAST_YEAR - 1}-12-31")
    assert past[-1][1] == as_of["balance"]
    admin.clean()


def test_a_decrement_shows_its_split_first_and_a_deposited_file_its_report(
    console: Console, admin: Watched, tmp_path: Any
) -> None:
    person = employee(console, 1)
    agent = agent_id(console, person)
    before = console.api(f"/v1/agents/{agent}/balance")["balance"]
    admin.goto(console.base + "/decrementations")
    admin.fill("#nir", person.nir)
    admin.fill("#birth_name", person.birth_name)
    admin.fill("#title", "Bureautique")
    admin.fill("#start", f"{LAST_YEAR + 1}-12-01")
    admin.fill("#end", f"{LAST_YEAR + 1}-12-02")
    admin.fill("#days", "1")
    admin.wait_for_selector("#apercu-solde")
    assert admin.locator("#apercu-solde").inner_text() == f"{before - 6} h"
    masked = "e => { e.dataset.nir = e.value; e.value = e.value[0] + '*'.repeat(10) + e.value.slice(-4); }"
    admin.eval_on_selector("#nir", masked)  # no NIR in clear in a picture (no event: no preview)
    shoot(console, admin, "04-decrementation")
    admin.eval_on_selector("#nir", "e => { e.value = e.dataset.nir; }")
    admin.click("button:has-text('Enregistrer la décrémentation')")
    admin.wait_for_url(f"**/agents/{agent}?**")
    assert "La décrémentation est enregistrée" in admin.locator("#message").inner_text()
    assert (
        drawn(admin)[-1][1] == before - 6 == console.api(f"/v1/agents/{agent}/balance")["balance"]
    )

    header = "nir;birth_name;first_name;birth_date;siret;hours;start;end;title;reference"
    others = [employee(console, 2), employee(console, 3)]
    lines = [
        f"{p.nir};{p.birth_name};{p.first_name};{p.birth_date.isoformat()};{FIRST};2;"
        f"{LAST_YEAR + 1}-11-0{i + 2};{LAST_YEAR + 1}-11-0{i + 2};Anglais;REF-{i}"
        for i, p in enumerate(others)
    ]
    bad = f"{others[0].nir};Autre-Nom;X;1980-01-01;{FIRST};2;{LAST_YEAR + 1}-11-05;{LAST_YEAR + 1}-11-05;Anglais;REF-9"
    file = tmp_path / "formations.csv"
    file.write_text("\n".join([header, *lines, bad]) + "\n")
    admin.goto(console.base + "/decrementations")
    admin.set_input_files("#fichier", str(file))
    admin.click("button:has-text('Déposer')")
    admin.wait_for_selector("#compte-rendu", timeout=30_000)
    assert admin.locator("#nb-appliquees").inner_text() == "2"
    assert admin.locator("#nb-rejetees").inner_text() == "1"
    admin.select_option("#statut", "rejected")
    admin.wait_for_function(
        "() => document.querySelectorAll('#compte-rendu tbody tr[data-statut]').length === 1"
    )
    assert "Agent introuvable" in admin.locator("#compte-rendu tbody").inner_text()
    shoot(console, admin, "05-compte-rendu-de-depot")
    link = admin.locator("a:has-text('Télécharger le compte rendu')").get_attribute("href")
    csv = admin.request.get(console.base + link)  # the API's route, with the session
    assert csv.status == 200 and csv.text().count("\r\n") == 4  # the header and three lines
    admin.clean()


def test_a_regularisation_with_its_scan_is_approved_by_an_operator_and_the_curve_moves(
    console: Console, admin: Watched, operator: Watched, tmp_path: Any
) -> None:
    person = employee(console, 4)
    agent = agent_id(console, person)
    before = drawn_balance(console, agent)
    scan = tmp_path / "attestation.png"
    image = io.BytesIO()
    segno.make("Attestation signée — cachet de l'établissement").save(image, kind="png", scale=5)
    scan.write_bytes(image.getvalue())
    admin.goto(console.base + f"/agents/{agent}")
    admin.click("a:has-text('Demander une régularisation')")
    admin.wait_for_url("**/regularisations/nouvelle?agent=*")
    admin.fill("#year", str(LAST_YEAR))
    admin.fill("#hours", "-3")
    admin.fill("#reason", "DSN corrigée : temps non complet")
    admin.fill("#signatory", "Mme Roux, DRH")
    admin.fill("#signature_date", f"{LAST_YEAR + 1}-11-20")
    admin.check("input[name=stamp_present]")
    admin.set_input_files("#scan", str(scan))
    shoot(console, admin, "06-demande-de-regularisation")
    admin.click("button:has-text('Envoyer la demande')")
    admin.wait_for_url("**/regularisations/*?fait=demande")
    request_page = admin.url.split("?")[0]
    assert admin.locator("#etat-demande").inner_text().startswith("en attente")
    admin.clean()

    link = f"a[href='{request_page.removeprefix(console.base)}']"
    for _ in range(50):  # the queue is a view: it follows the log within a moment
        operator.goto(console.base + "/regularisations")
        if operator.locator(link).count():
            break
        operator.wait_for_timeout(200)
    shoot(console, operator, "07-file-des-regularisations")
    operator.click(link)
    operator.wait_for_function(
        "() => document.getElementById('image-scan').complete && "
        "document.getElementById('image-scan').naturalWidth > 0"
    )
    shoot(console, operator, "08-instruction-avec-scan")
    operator.click("button:has-text('Approuver')")
    operator.wait_for_url(f"**/agents/{agent}?**fait=regularisation")
    after = drawn(operator)
    assert after[-1][1] == before - 3 == console.api(f"/v1/agents/{agent}/balance")["balance"]
    markers = operator.evaluate("() => window.courbeCompteur.data.datasets[5].data.length")
    assert markers == 1
    shoot(console, operator, "09-agent-apres-regularisation")
    operator.clean()


def drawn_balance(console: Console, agent: str) -> int:
    return int(console.api(f"/v1/agents/{agent}/balance")["balance"])


def test_an_auditor_replays_an_agent_as_of_a_past_date_and_verifies_the_chain(
    console: Console, auditor: Watched
) -> None:
    person = employee(console, 5)
    agent = agent_id(console, person)
    auditor.goto(console.base + "/audit")
    auditor.fill("#nir", person.nir)
    auditor.fill("#birth_name", person.birth_name)
    auditor.click("button:has-text('Rejouer')")
    auditor.wait_for_url(f"**/audit/agents/{agent}")
    day = f"{LAST_YEAR - 2}-12-31"
    auditor.fill("#effet", day)
    auditor.click("form button:has-text('Rejouer')")
    auditor.wait_for_url("**effet=*")
    then = console.api(f"/v1/agents/{agent}/balance", as_of=day)["balance"]
    assert auditor.locator("#solde-alors").inner_text() == f"{then} h"
    today = console.api(f"/v1/agents/{agent}/balance")["balance"]
    assert auditor.locator("#solde-aujourdhui").inner_text() == f"{today} h"
    later = auditor.locator("#mouvements-aujourdhui tr.nouveau").count()
    held = auditor.locator("#mouvements-alors tbody tr").count()
    assert held + later == auditor.locator("#mouvements-aujourdhui tbody tr").count()
    assert later > 0
    shoot(console, auditor, "10-audit-rejeu", phone=True)

    auditor.goto(console.base + "/audit/verification")
    auditor.click("button:has-text('Signer un point de contrôle')")
    auditor.wait_for_selector("#etat-point")
    auditor.click("button:has-text('Lancer une vérification')")
    auditor.wait_for_selector("#resultat-verification", timeout=30_000)
    assert (
        auditor.locator("#resultat-verification").inner_text().startswith("La chaîne est intègre")
    )
    assert "le journal le prolonge" in auditor.locator("#etat-point").inner_text()
    shoot(console, auditor, "11-verification-de-la-chaine")

    auditor.goto(console.base + f"/audit/trace?agent={agent}")
    seen_by = auditor.locator("#trace tbody tr").all_inner_texts()
    assert any("auditor:user:" in line for line in seen_by)
    shoot(console, auditor, "12-trace-des-consultations")
    auditor.clean()


def test_a_consultation_user_activates_sees_no_write_form_and_not_another_employers_agent(
    console: Console, browser: Any
) -> None:
    from api.processes import cli

    email = "consultation@etablissement-1.demo.invalid"
    created = cli(
        console.env,
        "users",
        "create",
        "--role",
        "employer",
        "--siret",
        FIRST,
        "--profile",
        "consultation",
        "--name",
        "Paul Consultation",
        "--email",
        email,
    )
    code = created.strip().splitlines()[-2].strip()
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = Watched(context.new_page())
    page.goto(console.base + "/activation")
    page.fill("#email", email)
    page.fill("#code", code)
    page.click("button:has-text('Continuer')")
    secret = page.locator("#cle-totp").inner_text()
    totp = pyotp.TOTP(secret)
    page.fill("#password", PASSWORD)
    page.fill("#confirmation", PASSWORD)
    page.fill("#totp", totp.now())
    page.click("button:has-text('Activer le compte')")
    recovery = page.locator("#codes-secours li").all_inner_texts()
    assert len(recovery) == 10
    page.click("a:has-text('Se connecter')")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.fill("#second_factor", recovery[0])  # the code just used is not accepted twice
    page.click("button:has-text('Se connecter')")
    page.wait_for_url("**/tableau-de-bord")

    nav = page.locator("nav").inner_text()
    assert "Décrémentations" not in nav and "Administration" not in nav
    person = employee(console, 0)
    page.goto(console.base + f"/agents/{agent_id(console, person)}")
    assert page.locator("#solde").is_visible()
    writes = page.locator("form[method=post]").evaluate_all(
        "forms => forms.map(f => f.getAttribute('action'))"
    )
    assert writes == ["/deconnexion"]
    assert page.locator("text=Demander une régularisation").count() == 0
    shoot(console, page, "13-consultation")
    refused = page.goto(console.base + "/decrementations")
    assert refused.status == 403
    stranger = next(
        a
        for a in console.population.agents
        if all(s != FIRST for lines in a.lines.values() for s, _ in lines)
    )
    hidden = page.goto(console.base + f"/agents/{agent_id(console, stranger)}")
    assert hidden.status == 404
    assert page.locator(".avis-erreur").inner_text() == "Agent introuvable."
    page.clean()
    context.close()


def test_an_operator_follows_a_campaign_and_a_rebuild(
    console: Console, operator: Watched, tmp_path: Any
) -> None:
    from tests.factories import make_nir

    header = "nir;birth_name;first_name;birth_date;siret;year;hours_worked"
    lines = [
        f"{make_nir(4000 + i)};Nouveau;Agent;1990-01-01;{FIRST};{LAST_YEAR};1607"
        for i in range(300)
    ]
    file = tmp_path / "campagne.csv"
    file.write_text("\n".join([header, *lines, "bad;line"]) + "\n")
    operator.goto(console.base + "/operateur/campagnes")
    operator.set_input_files("#fichier", str(file))
    operator.click("button:has-text('Importer')")
    operator.wait_for_url("**/operateur/campagnes/*")
    operator.wait_for_selector("text=Import terminé", timeout=60_000)
    assert operator.locator("#lignes-appliquees").inner_text() == "300"
    assert operator.locator("#lignes-rejetees").inner_text() == "1"
    shoot(console, operator, "14-campagne")
    operator.goto(console.base + "/operateur/projections")
    operator.click("button:has-text('Reconstruire')")
    operator.wait_for_url("**fait=reconstruction")
    operator.wait_for_selector("text=terminée", timeout=60_000)
    shoot(console, operator, "15-projections")
    operator.goto(console.base + "/administration?siret=" + FIRST)
    shoot(console, operator, "16-administration")
    operator.clean()
    assert date.today() >= date(LAST_YEAR + 1, 1, 1)
