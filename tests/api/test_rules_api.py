"""The rules seen through the API: every movement's effective date and the time-travel reads
across them, writes judged on the agent's own history (views frozen), a balance that explains
itself, and write responses and refusals that say what happened."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from tests.api.conftest import OTHER, OWN, SETUP, World
from tests.commands import record_line, register_agent
from tests.factories import make_nir

SIGNED = {"signatory": "Mme Roux, DRH", "signature_date": "2025-02-10", "stamp_present": True}


def services(world: World) -> Any:
    return world.client.app.state.services  # type: ignore[attr-defined]


@contextmanager
def frozen_views(world: World) -> Iterator[None]:
    """Hold the projector back: the views stay as they are until the block ends."""
    store = services(world).projector.store
    with store.transaction() as cur:
        if store.is_postgres:  # the projector locks these rows before each page
            cur.execute("SELECT position FROM projection_positions FOR UPDATE")
        yield  # on SQLite, this open write transaction blocks the projector's


def new_agent(world: World, seq: int, siret: str, years: range) -> tuple[str, str]:
    ledger = services(world).ledger
    nir = make_nir(seq)
    agent = register_agent(ledger, nir, "Durand", "Lou", date(1990, 2, 3), SETUP).agent_id
    for year in years:
        record_line(ledger, agent, year, siret, 1607, SETUP)
    world.settle()
    return agent.hex, nir


def decrement_body(nir: str, hours: int, start: str, name: str = "Durand") -> dict[str, object]:
    training = {"title": "Formation", "start": start, "end": start, "reference": "R"}
    return {"nir": nir, "birth_name": name, "siret": OWN, "hours": hours, "training": training}


def test_every_movement_has_its_effective_date_and_time_travel_follows_them(
    world: World,
) -> None:
    op = "operator"
    registered = world.call(
        op,
        "POST",
        "/v1/agents",
        json={
            "nir": make_nir(4101),
            "birth_name": "Durand",
            "first_name": "Lou",
            "birth_date": "1990-02-03",
            "effective_date": "2017-01-01",
        },
    ).json()
    agent = registered["agent_id"]
    assert registered["effective_date"] == "2017-01-01"
    path = f"/v1/agents/{agent}"
    written = {
        "line_2021": world.call(
            op,
            "POST",
            f"{path}/acquisitions",
            json={"year": 2021, "siret": OWN, "hours_worked": 1607},
        ),
        "line_2022": world.call(
            op,
            "POST",
            f"{path}/acquisitions",
            json={"year": 2022, "siret": OWN, "hours_worked": 803.5},
        ),
        "dif": world.call(op, "POST", f"{path}/dif-conversion", json={"hours": 10}),
        "reserve": world.call(op, "POST", f"{path}/dif-reserve", json={"siret": OWN, "hours": 30}),
        "low": world.call(op, "POST", f"{path}/low-qualification", json={"from_year": 2023}),
        "decrement": world.call(
            "own_gestion",
            "POST",
            "/v1/decrements",
            json=decrement_body(make_nir(4101), 40, "2022-03-01"),
        ),
        "inaptitude": world.call(
            op,
            "POST",
            f"{path}/inaptitude-credits",
            json={"hours": 5, "effective_date": "2024-02-01"},
        ),
    }
    assert {name: r.status_code for name, r in written.items()} == dict.fromkeys(written, 201)
    decrement = written["decrement"].json()
    assert (decrement["from_reserve"], decrement["from_counter"]) == (30, 10)
    assert (decrement["balance_after"], decrement["reserve_after"]) == (38, 0)
    assert written["line_2022"].json()["credited"] == 13
    cancelled = world.call(
        "own_gestion",
        "POST",
        f"{path}/decrements/{decrement['decrement_id']}/cancellation",
        json={"reason": "formation annulée"},
    ).json()
    request = world.call(
        "own_gestion",
        "POST",
        "/v1/regularisations",
        json={"agent_id": agent, "siret": OWN, "year": 2022, "hours": 12, "attestation": SIGNED},
    ).json()
    approved = world.call(op, "POST", f"/v1/regularisations/{request['request_id']}/approval")
    closed = world.call(
        op, "POST", f"{path}/closure", json={"reason": "invalidity", "effective_date": "2024-06-30"}
    ).json()
    dates = {name: r.json()["effective_date"] for name, r in written.items()}
    dates |= {
        "cancel": cancelled["effective_date"],
        "regularisation": approved.json()["movement"]["effective_date"],
        "closure": closed["effective_date"],
    }
    assert dates == {
        "line_2021": "2021-12-31",
        "line_2022": "2022-12-31",
        "dif": "2016-12-31",
        "reserve": "2016-12-31",
        "low": "2023-01-01",
        "decrement": "2022-03-01",
        "inaptitude": "2024-02-01",
        "cancel": "2022-03-01",
        "regularisation": "2022-12-31",
        "closure": "2024-06-30",
    }
    world.settle()
    expected = {  # as of -> (counter, reserve, status, ceiling)
        "2016-12-31": (10, 30, "open", 150),  # the DIF and the reserve held that day
        "2021-12-31": (35, 30, "open", 150),
        "2022-03-01": (35, 30, "open", 150),  # decrement and its cancellation, same day
        "2022-12-31": (60, 30, "open", 150),  # 13 h + the regularisation's 12 h
        "2023-06-30": (60, 30, "open", 400),  # low-qualified from 1 January 2023
        "2024-12-31": (65, 30, "invalidity", 400),
    }
    for day, (balance, reserve, status, ceiling) in expected.items():
        read = world.call("auditor", "GET", f"{path}/balance", params={"as_of": day}).json()
        assert (read["balance"], read["reserve"], read["status"], read["ceiling"]) == (
            balance,
            reserve,
            status,
            ceiling,
        ), day
        assert read["reserves"] == [{"siret": OWN, "hours": reserve}]
        listed = world.call(
            "auditor", "GET", f"{path}/movements", params={"as_of": day, "limit": 500}
        ).json()["items"]
        assert listed[-1]["balance_after"] == balance, day  # the running balance of that list
        effective = [m["effective_date"] for m in listed]
        assert effective == sorted(effective)
    replay = world.call("auditor", "GET", f"/v1/audit/agents/{agent}/replay?as_of=2022-12-31")
    assert replay.json()["balance"] == 60 and replay.json()["differs_from_views"] is False


def test_writes_are_judged_on_the_agents_own_history_not_on_lagging_views(world: World) -> None:
    agent, nir = new_agent(world, 4201, OTHER, range(2020, 2023))  # not in OWN's scope
    with frozen_views(world):
        taken = world.call(
            "own_gestion", "POST", "/v1/decrements", json=decrement_body(nir, 5, "2025-01-06")
        )
        assert taken.status_code == 201  # any registered agent, by NIR and birth name
        followed = {
            "reserve": world.call(
                "own_gestion",
                "POST",
                f"/v1/agents/{agent}/dif-reserve",
                json={"siret": OWN, "hours": 20},
            ),
            "cancellation": world.call(
                "own_gestion",
                "POST",
                f"/v1/agents/{agent}/decrements/{taken.json()['decrement_id']}/cancellation",
                json={"reason": "erreur"},
            ),
            "regularisation": world.call(
                "own_gestion",
                "POST",
                "/v1/regularisations",
                json={
                    "agent_id": agent,
                    "siret": OWN,
                    "year": 2022,
                    "hours": -1,
                    "attestation": SIGNED,
                },
            ),
        }
        assert {name: r.status_code for name, r in followed.items()} == dict.fromkeys(followed, 201)
        refused = world.call(
            "other_gestion",
            "POST",
            f"/v1/agents/{world.agent_a}/dif-reserve",
            json={"siret": OTHER, "hours": 20},
        )
        assert refused.status_code == 404  # agent A is not in OTHER's scope
    world.settle()
    balance = world.call("own_gestion", "GET", f"/v1/agents/{agent}/balance").json()
    assert (balance["balance"], balance["reserves"]) == (75, [{"siret": OWN, "hours": 20}])


def test_a_refusal_gives_figures_only_to_those_who_may_see_the_agent(world: World) -> None:
    _, nir = new_agent(world, 4301, OTHER, range(2024, 2025))  # 25 h, not in OWN's scope
    refused = world.call(
        "own_gestion", "POST", "/v1/decrements", json=decrement_body(nir, 40, "2025-01-06")
    )
    assert refused.status_code == 409
    problem = refused.json()
    assert problem["type"] == "/problems/insufficient_balance"
    assert "needed" not in problem and "available" not in problem and "25" not in refused.text
    own = world.call(
        "own_gestion",
        "POST",
        "/v1/decrements",
        json=decrement_body(world.nir_a, 1000, "2025-01-06", "Martin"),
    )
    assert (own.json()["needed"], own.json()["available"]) == (1000, 100)
    balance = world.call("own_gestion", "GET", f"/v1/agents/{world.agent_a}/balance").json()
    assert (balance["ceiling"], balance["floor"], balance["status"]) == (150, -50, "open")
    assert balance["reserves"] == [] and balance["reserve"] == 0
