"""One scope rule answers everywhere: the balance, the history, the look-up, the employer's list
for every year (JSON and CSV), and the yearly extraction agree on which agents an employer sees.

An employer sees an agent with an acquisition line for one of its SIRETs in N−1 or N−2, or on
whom one of its SIRETs recorded a movement; any other agent does not exist for it.
"""

from __future__ import annotations

import csv
import io
from datetime import date

from tests.api.conftest import LAST_YEAR, OTHER, OWN, SETUP, World
from tests.commands import decrement, record_line, register_agent
from tests.factories import make_nir

FIRST_YEAR = 2017


def agents_in_situations(world: World) -> dict[str, tuple[str, str, bool]]:
    """name -> (agent id, NIR, visible to OWN)."""
    ledger = world.client.app.state.services.ledger  # type: ignore[attr-defined]
    situations = {
        "line_n1": ([(LAST_YEAR, OWN)], False, True),
        "line_n2": ([(LAST_YEAR - 1, OWN)], False, True),
        "line_n3_only": ([(LAST_YEAR - 2, OWN)], False, False),
        "line_n4_and_other_n1": ([(LAST_YEAR - 3, OWN), (LAST_YEAR, OTHER)], False, False),
        "other_with_own_decrement": ([(LAST_YEAR, OTHER)], True, True),
        "other_only": ([(LAST_YEAR, OTHER)], False, False),
    }
    found = {}
    for seq, (name, (lines, own_decrement, visible)) in enumerate(situations.items(), start=1):
        nir = make_nir(3000 + seq)
        agent_id = register_agent(ledger, nir, "Scope", "Sam", date(1980, 1, 1), SETUP).agent_id
        for year, siret in lines:
            record_line(ledger, agent_id, year, siret, 1607, SETUP)
        if own_decrement:
            decrement(ledger, agent_id, OWN, 1, date(LAST_YEAR + 1, 2, 1), SETUP)
        found[name] = (agent_id.hex, nir, visible)
    world.settle()
    return found


def listed(world: World, who: str, year: int) -> set[str]:
    page = world.call(who, "GET", f"/v1/employers/{OWN}/agents?year={year}&limit=500")
    assert page.status_code == 200
    exported = world.call(who, "GET", f"/v1/employers/{OWN}/agents?year={year}&format=csv")
    rows = csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig")), delimiter=";")
    in_json = {item["agent_id"] for item in page.json()["items"]}
    assert in_json == {row["Identifiant de l'agent"] for row in rows}, f"JSON, CSV differ: {year}"
    return in_json


def extracted(world: World, who: str, year: int) -> set[str]:
    response = world.call(who, "GET", f"/v1/employers/{OWN}/extraction?year={year}")
    assert response.status_code == 200
    rows = csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";")
    return {row["Identifiant de l'agent"] for row in rows}


def test_one_rule_for_every_read_of_an_employer(world: World) -> None:
    agents = agents_in_situations(world)
    for who in ("own_gestion", "central_accepted"):  # the SIRET's user and its centraliser
        for name, (agent_id, nir, visible) in agents.items():
            expected = 200 if visible else 404
            for path in (f"/v1/agents/{agent_id}/balance", f"/v1/agents/{agent_id}/movements"):
                assert world.call(who, "GET", path).status_code == expected, (who, name, path)
            lookup = world.call(
                who, "POST", "/v1/agents/lookup", json={"nir": nir, "birth_name": "Scope"}
            )
            assert lookup.status_code == expected, (who, name, "lookup")
        visible = {agent_id for agent_id, _, seen in agents.values() if seen} | {world.agent_a}
        for year in range(FIRST_YEAR, LAST_YEAR + 2):
            shown = listed(world, who, year)
            assert shown <= visible, f"{who} lists agents it cannot see for {year}"
            assert extracted(world, who, year) == shown, f"extraction differs for {year}"
        assert listed(world, who, LAST_YEAR) == {
            agents["line_n1"][0],
            world.agent_a,
        }
        assert listed(world, who, LAST_YEAR - 1) == {agents["line_n2"][0]}
        assert listed(world, who, LAST_YEAR - 2) == set()  # N−3: nobody in scope through it


def test_an_operator_sees_every_agent_of_the_siret(world: World) -> None:
    agents = agents_in_situations(world)
    assert listed(world, "operator", LAST_YEAR - 2) == {agents["line_n3_only"][0]}
    for agent_id, _, _ in agents.values():
        assert world.call("operator", "GET", f"/v1/agents/{agent_id}/balance").status_code == 200
