"""The endpoints' behaviour through HTTP, on both stores: results, errors, idempotency,
pagination, exports, read-your-writes and the bi-temporal reads."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime

from tests.api.conftest import LAST_YEAR, OTHER, OWN, World
from tests.factories import make_nir

TRAINING = {
    "title": "Gestion de projet",
    "start": f"{LAST_YEAR + 1}-02-01",
    "end": f"{LAST_YEAR + 1}-02-03",
    "reference": "FORM-42",
}


def decrement(world: World, who: str = "own_gestion", **changes: object):  # type: ignore[no-untyped-def]
    body = {
        "nir": world.nir_a,
        "birth_name": "Martin",
        "siret": OWN,
        "hours": 10,
        "training": TRAINING,
        **changes,
    }
    headers = changes.pop("headers", {})  # type: ignore[arg-type]
    body.pop("headers", None)
    return world.call(who, "POST", "/v1/decrements", json=body, headers=headers)


def test_decrement_then_read_your_write(world: World) -> None:
    response = decrement(world, days=1.5, hours=None)
    assert response.status_code == 201, response.text
    written = response.json()
    assert (written["hours"], written["balance_after"]) == (-9, 91)  # 1.5 days = 9 h; 75 + 25 - 9
    position = written["position"]
    balance = world.call(
        "own_consultation", "GET", f"/v1/agents/{world.agent_a}/balance?min_position={position}"
    ).json()
    assert balance["balance"] == 91 and balance["position"] == position
    history = world.call(
        "own_consultation", "GET", f"/v1/agents/{world.agent_a}/movements?min_position={position}"
    ).json()
    last = history["items"][-1]
    assert (last["kind"], last["hours"], last["balance_after"], last["siret"]) == (
        "Decremented",
        -9,
        91,
        OWN,
    )
    assert last["details"]["training"]["reference"] == "FORM-42"


def test_decrement_errors_are_problems_and_change_nothing(world: World) -> None:
    too_much = decrement(world, hours=500)
    assert too_much.status_code == 409
    assert too_much.json()["type"] == "/problems/insufficient_balance"
    assert too_much.headers["content-type"] == "application/problem+json"
    wrong_name = decrement(world, birth_name="Dupont")
    assert (
        wrong_name.status_code == 404 and wrong_name.json()["type"] == "/problems/agent_not_found"
    )
    bad_nir = decrement(world, nir=world.nir_a[:-1] + ("0" if world.nir_a[-1] != "0" else "1"))
    assert bad_nir.status_code == 422 and bad_nir.json()["type"] == "/problems/invalid_nir"
    fractional = decrement(world, hours=2.5)
    assert fractional.status_code == 422
    negative = decrement(world, hours=-3)
    assert negative.status_code == 422
    both = decrement(world, days=1)
    assert both.status_code == 422
    backwards = decrement(world, training={**TRAINING, "end": f"{LAST_YEAR}-01-01"})
    assert backwards.status_code == 422
    unknown_field = decrement(world, colour="blue")
    assert unknown_field.status_code == 422
    assert all(world.nir_a not in r.text for r in (bad_nir, wrong_name))
    world.settle()
    balance = world.call("operator", "GET", f"/v1/agents/{world.agent_a}/balance").json()
    assert balance["balance"] == 100  # nothing was recorded


def test_anticipation_needs_the_flag_and_stops_at_twice_the_rate(world: World) -> None:
    assert decrement(world, hours=140).status_code == 409
    assert decrement(world, hours=151, anticipated=True).status_code == 409  # below -50
    taken = decrement(world, hours=150, anticipated=True)
    assert taken.status_code == 201 and taken.json()["balance_after"] == -50


def test_idempotency_key_replays_or_conflicts(world: World) -> None:
    first = decrement(world, headers={"Idempotency-Key": "req-1"})
    again = decrement(world, headers={"Idempotency-Key": "req-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    other = decrement(world, hours=11, headers={"Idempotency-Key": "req-1"})
    assert other.status_code == 409 and other.json()["type"] == "/problems/idempotency_conflict"
    world.settle()
    balance = world.call("operator", "GET", f"/v1/agents/{world.agent_a}/balance").json()
    assert balance["balance"] == 90  # applied once


def test_dif_reserve_is_taken_first_and_cancellation_restores(world: World) -> None:
    reserve = world.call(
        "own_gestion",
        "POST",
        f"/v1/agents/{world.agent_a}/dif-reserve",
        json={"siret": OWN, "hours": 30},
    )
    assert reserve.status_code == 201
    taken = decrement(world, hours=40).json()
    assert (taken["reserve_hours"], taken["hours"], taken["balance_after"]) == (-30, -10, 90)
    cancel = world.call(
        "own_gestion",
        "POST",
        f"/v1/agents/{world.agent_a}/decrements/{taken['decrement_id']}/cancellation",
        json={"reason": "training cancelled"},
    )
    assert cancel.status_code == 201 and cancel.json()["balance_after"] == 100
    again = world.call(
        "own_gestion",
        "POST",
        f"/v1/agents/{world.agent_a}/decrements/{taken['decrement_id']}/cancellation",
        json={"reason": "twice"},
    )
    assert again.status_code == 409
    unknown = world.call(
        "own_gestion",
        "POST",
        f"/v1/agents/{world.agent_a}/decrements/nope/cancellation",
        json={"reason": "x"},
    )
    assert unknown.status_code == 404


def test_operator_movements_and_their_errors(world: World) -> None:
    base = f"/v1/agents/{world.agent_b}"
    assert (
        world.call("operator", "POST", f"{base}/dif-conversion", json={"hours": 50}).status_code
        == 201
    )
    twice = world.call("operator", "POST", f"{base}/dif-conversion", json={"hours": 5})
    assert twice.status_code == 409 and twice.json()["type"] == "/problems/dif_already_converted"
    assert (
        world.call("operator", "POST", f"{base}/dif-conversion", json={"hours": 121}).status_code
        == 422
    )
    retro = world.call(
        "operator", "POST", f"{base}/low-qualification", json={"from_year": LAST_YEAR}
    )
    assert retro.status_code == 409 and retro.json()["type"] == "/problems/retroactive_declaration"
    conflict = world.call(
        "operator",
        "POST",
        f"{base}/acquisitions",
        json={"year": LAST_YEAR, "siret": OTHER, "hours_worked": 800},
    )
    assert conflict.json()["type"] == "/problems/acquisition_line_conflict"
    assert (
        world.call(
            "operator",
            "POST",
            f"{base}/acquisitions",
            json={"year": LAST_YEAR, "siret": "12345678901234", "hours_worked": 800},
        ).status_code
        == 422
    )
    assert (
        world.call(
            "operator", "POST", f"{base}/inaptitude-credits", json={"hours": 150}
        ).status_code
        == 201
    )
    assert (
        world.call("operator", "POST", f"{base}/inaptitude-credits", json={"hours": 1}).json()[
            "type"
        ]
        == "/problems/inaptitude_limit_exceeded"
    )
    assert (
        world.call("operator", "POST", f"{base}/closure", json={"reason": "retirement"}).status_code
        == 201
    )
    closed = world.call("operator", "POST", f"{base}/closure", json={"reason": "invalidity"})
    assert closed.json()["type"] == "/problems/account_closed"
    unknown = world.call(
        "operator",
        "POST",
        "/v1/agents/00000000000000000000000000000000/closure",
        json={"reason": "retirement"},
    )
    assert unknown.status_code == 404
    register_again = world.call(
        "operator",
        "POST",
        "/v1/agents",
        json={
            "nir": world.nir_b,
            "birth_name": "Durand",
            "first_name": "Paul",
            "birth_date": "1979-07-09",
        },
    )
    assert register_again.status_code == 409 and world.nir_b not in register_again.text


def test_lookup_by_nir_in_a_body_only(world: World) -> None:
    found = world.call(
        "own_gestion",
        "POST",
        "/v1/agents/lookup",
        json={"nir": world.nir_a, "birth_name": "martin"},
    )
    assert found.json() == {"agent_id": world.agent_a}
    missing = world.call(
        "own_gestion",
        "POST",
        "/v1/agents/lookup",
        json={"nir": make_nir(999), "birth_name": "Martin"},
    )
    assert missing.status_code == 404
    # Outside the caller's scope, a registered agent looks exactly like an unknown one.
    out_of_scope = world.call(
        "other_gestion",
        "POST",
        "/v1/agents/lookup",
        json={"nir": world.nir_a, "birth_name": "martin"},
    )
    assert (out_of_scope.status_code, out_of_scope.json()) == (
        missing.status_code,
        missing.json(),
    )


def test_history_pagination_and_filters(world: World) -> None:
    for _ in range(4):
        assert decrement(world, hours=1).status_code == 201
    world.settle()
    path = f"/v1/agents/{world.agent_a}/movements"
    first = world.call("own_gestion", "GET", f"{path}?limit=3").json()
    second = world.call(
        "own_gestion", "GET", f"{path}?limit=4&cursor={first['next_cursor']}"
    ).json()
    positions = [m["position"] for m in first["items"] + second["items"]]
    assert len(positions) == 7 and positions == sorted(positions) and second["next_cursor"] is None
    only = world.call("own_gestion", "GET", f"{path}?kind=Decremented").json()
    assert {m["kind"] for m in only["items"]} == {"Decremented"} and len(only["items"]) == 4
    assert world.call("own_gestion", "GET", f"{path}?limit=501").status_code == 422
    assert world.call("own_gestion", "GET", f"{path}?cursor=!!!").status_code == 422


def test_balance_as_of_an_effective_date_and_as_known_at_a_time(world: World) -> None:
    world.settle()
    before = datetime.now(UTC).isoformat()
    assert decrement(world, hours=10).status_code == 201
    world.settle()
    path = f"/v1/agents/{world.agent_a}/balance"
    now = world.call("auditor", "GET", path).json()
    assert now["balance"] == 90
    known_then = world.call("auditor", "GET", path, params={"known_at": before}).json()
    assert known_then["balance"] == 100
    end_of_2016 = world.call("auditor", "GET", path, params={"as_of": "2016-12-31"}).json()
    assert end_of_2016["balance"] == 75  # the DIF conversion is effective on 31 Dec 2016
    year_end = world.call("auditor", "GET", path, params={"as_of": f"{LAST_YEAR}-12-31"}).json()
    assert year_end["balance"] == 100


def test_employer_agents_as_json_csv_and_xlsx(world: World) -> None:
    path = f"/v1/employers/{OWN}/agents"
    page = world.call("central_accepted", "GET", path, params={"year": LAST_YEAR}).json()
    assert [item["agent_id"] for item in page["items"]] == [world.agent_a]
    csv_response = world.call("own_consultation", "GET", path, params={"format": "csv"})
    assert csv_response.headers["content-type"].startswith("text/csv")
    text = csv_response.content.decode("utf-8")
    assert text.startswith(
        "\ufeffIdentifiant de l'agent;Compteur (h);Plafond (h);Réserve de DIF non déclaré (h);"
        "Statut"
    )
    assert f"{world.agent_a};100;150;0;ouvert" in text
    xlsx = world.call(
        "own_consultation",
        "GET",
        path,
        headers={"Accept": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    )
    with zipfile.ZipFile(io.BytesIO(xlsx.content)) as workbook:
        sheet = workbook.read("xl/worksheets/sheet1.xml").decode()
    assert world.agent_a in sheet or "sharedStrings" in str(workbook.namelist())
    empty = world.call("own_consultation", "GET", path, params={"year": LAST_YEAR - 5}).json()
    assert empty["items"] == []
    assert world.call("other_gestion", "GET", path).status_code == 404
    movements = world.call("own_gestion", "GET", f"/v1/employers/{OWN}/movements").json()
    assert {m["agent_id"] for m in movements["items"]} == {world.agent_a}


def test_regularisation_request_approved_then_another_rejected(world: World) -> None:
    body = {
        "agent_id": world.agent_a,
        "siret": OWN,
        "year": LAST_YEAR,
        "hours": -5,
        "attestation": {
            "signatory": "Mme Roux",
            "signature_date": "2025-03-01",
            "stamp_present": True,
        },
        "reason": "DSN corrected",
    }
    incomplete = world.call(
        "own_gestion",
        "POST",
        "/v1/regularisations",
        json={**body, "attestation": {"signatory": "Mme Roux"}},
    )
    assert incomplete.status_code == 422, incomplete.text
    assert incomplete.json()["missing"] == ["signature_date", "stamp_present"], incomplete.text
    submitted = world.call("own_gestion", "POST", "/v1/regularisations", json=body).json()
    assert submitted["status"] == "submitted"
    request_id = submitted["request_id"]
    approved = world.call("operator", "POST", f"/v1/regularisations/{request_id}/approval")
    assert approved.status_code == 201 and approved.json()["movement"]["balance_after"] == 95
    twice = world.call("operator", "POST", f"/v1/regularisations/{request_id}/approval")
    assert twice.json()["type"] == "/problems/regularisation_already_decided"
    other = world.call("own_gestion", "POST", "/v1/regularisations", json=body).json()
    assert (
        world.call(
            "operator",
            "POST",
            f"/v1/regularisations/{other['request_id']}/rejection",
            json={"reason": ""},
        ).status_code
        == 422
    )
    rejected = world.call(
        "operator",
        "POST",
        f"/v1/regularisations/{other['request_id']}/rejection",
        json={"reason": "no stamp"},
    )
    assert rejected.json()["status"] == "rejected"
    world.settle()
    mine = world.call("own_consultation", "GET", "/v1/regularisations").json()["items"]
    assert {(r["request_id"], r["status"]) for r in mine} == {
        (request_id, "approved"),
        (other["request_id"], "rejected"),
    }
    assert world.call("other_gestion", "GET", "/v1/regularisations").json()["items"] == []


def test_keys_users_and_delegations(world: World) -> None:
    issued = world.call(
        "own_administration",
        "POST",
        "/v1/keys",
        json={
            "role": "employer",
            "name": "paie",
            "siret": OWN,
            "user_id": world.users["own_gestion"],
        },
    )
    token = issued.json()["token"]
    assert token.startswith("cpf_")
    world.tokens["new"] = token
    assert world.call("new", "GET", "/v1/me").json()["profile"] == "gestion"
    assert world.call("new", "DELETE", f"/v1/keys/{issued.json()['key_id']}").status_code == 204
    assert world.call("new", "GET", "/v1/me").status_code == 401
    removed = world.call(
        "own_administration",
        "DELETE",
        f"/v1/establishments/{OWN}/users/{world.users['own_consultation']}",
    )
    assert removed.status_code == 204
    assert world.call("own_consultation", "GET", "/v1/me").status_code == 401
    # Revoking the accepted delegation takes the agents away from the centraliser.
    assert (
        world.call("central_accepted", "GET", f"/v1/agents/{world.agent_a}/balance").status_code
        == 200
    )
    # Either side may end a delegation: here the centraliser itself.
    done = world.call(
        "central_accepted",
        "POST",
        f"/v1/establishments/{OWN}/delegations/{world_siret('central_ok')}/revocation",
    )
    assert done.status_code == 201
    assert done.json() == {  # the delegation only: nothing else of either establishment
        "delegated_siret": OWN,
        "centraliser_siret": world_siret("central_ok"),
        "state": "revoked",
    }
    assert (
        world.call("central_accepted", "GET", f"/v1/agents/{world.agent_a}/balance").status_code
        == 404
    )
    conflict = world.call(
        "own_administration",
        "POST",
        f"/v1/establishments/{OWN}/delegations/{world_siret('central_ok')}/acceptance",
    )
    assert conflict.status_code == 409


def world_siret(name: str) -> str:
    from tests.api.conftest import CENTRAL_OK

    return {"central_ok": CENTRAL_OK}[name]


def test_operations_and_audit(world: World) -> None:
    ready = world.call("anonymous", "GET", "/readyz").json()
    assert ready["status"] == "ready" and set(ready["lag_events"]) >= {"balances", "movements"}
    status = world.call("auditor", "GET", "/v1/projections").json()
    assert {s["view"] for s in status} >= {"balances", "movements", "employer_index"}
    events = world.call("auditor", "GET", f"/v1/audit/agents/{world.agent_a}/events").json()
    assert [e["version"] for e in events] == [1, 2, 3]
    assert events[0]["fields"]["identity"]["nir"].startswith(world.nir_a[0] + "*")
    assert [e["position"] for e in events] == sorted(e["position"] for e in events)
    assert events[1]["provenance"]["principal"] == "test-setup"
    too_big = world.call(
        "operator",
        "POST",
        "/v1/agents",
        content=b"x" * 1_000_001,
        headers={"Content-Type": "application/json"},
    )
    assert too_big.status_code == 413
