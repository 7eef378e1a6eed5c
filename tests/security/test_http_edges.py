"""The service's edges, tried through uvicorn as an outside tester would (PostgreSQL, the
application role, production mode): bodies, text, identifiers, spreadsheets, scope, disclosure,
files, ids of another kind, keys, metrics and saturation."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import threading
import time
from collections.abc import Iterator

import openpyxl
import psycopg

from api.processes import cli
from tests.factories import make_nir
from tests.security.conftest import LAST_YEAR, OTHER, OWN, Deployment, rss_mib

NIR_AS_SIRET = "179082372340371"  # what a hurried user types into a SIRET field


def chunks(total: int, size: int = 1 << 16) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b"x" * size
        sent += size


# ------------------------------------------------------------------ 1. bodies


def test_a_streamed_body_is_refused_as_its_limit_passes_and_never_buffered(
    deployment: Deployment,
) -> None:
    assert deployment.stack.api is not None
    pid = deployment.stack.api.pid
    before = rss_mib(pid)
    with deployment.client() as anonymous:  # no key: refused before a byte of the body is read
        started = time.monotonic()
        refused = anonymous.post("/v1/agents/lookup", content=chunks(300 << 20))
        assert refused.status_code == 401
        assert time.monotonic() - started < 10
    with deployment.client("own_gestion") as caller:  # a key: refused once past 1 MB
        too_large = caller.post(
            "/v1/agents/lookup",
            content=chunks(300 << 20),
            headers={"Content-Type": "application/json"},
        )
        assert too_large.status_code == 413
        assert too_large.headers["content-type"] == "application/problem+json"
    assert rss_mib(pid) - before < 100, "the server buffered a refused body"


def test_a_console_form_from_a_stranger_is_refused_before_its_body_is_read(
    deployment: Deployment,
) -> None:
    """The console's file forms take up to 200 MiB: without a live session or a valid key the
    page answers at once (sign in, or 401), its body never read nor spooled."""
    assert deployment.stack.api is not None
    pid = deployment.stack.api.pid
    before = rss_mib(pid)
    form = {"Content-Type": "multipart/form-data; boundary=x"}
    with deployment.client() as anonymous:
        started = time.monotonic()
        refused = anonymous.post("/operateur/campagnes", content=chunks(150 << 20), headers=form)
        assert refused.status_code == 303 and refused.headers["location"] == "/connexion"
        ended = anonymous.post(
            "/decrementations/fichiers",
            content=chunks(150 << 20),
            headers={**form, "Cookie": "cpf_session=ended; __Host-cpf_session=ended"},
        )
        assert ended.status_code == 303
        bad_key = anonymous.post(
            "/operateur/campagnes",
            content=chunks(150 << 20),
            headers={**form, "Authorization": "Bearer cpf_not-a-key"},
        )
        assert bad_key.status_code == 401
        assert time.monotonic() - started < 20
    assert rss_mib(pid) - before < 100, "the server read a stranger's body"


# -------------------------------------------------------------------- 4. text


def test_control_characters_are_refused_naming_the_field_never_echoing_it(
    deployment: Deployment,
) -> None:
    body = {
        "agent_id": deployment.agents["in_scope"],
        "siret": OWN,
        "year": LAST_YEAR,
        "hours": -1,
        "reason": "a\u0000b",
        "attestation": {
            "signatory": "M\u0007me",
            "signature_date": "2025-02-10",
            "stamp_present": True,
        },
    }
    with deployment.client("own_gestion") as caller:
        refused = caller.post("/v1/regularisations", json=body)
        assert refused.status_code == 422
        fields = {error["location"] for error in refused.json()["errors"]}
        assert fields == {"body.reason", "body.attestation.signatory"}
        assert "\\u0000" not in refused.text and "a\u0000b" not in refused.text
        for query in ("status=%00", "cursor=a%00b", "status=%1b[31m"):
            assert caller.get(f"/v1/regularisations?{query}").status_code == 422
    with deployment.client("operator") as op:
        assert op.get("/readyz").status_code == 200  # nothing poisoned the views


# ---------------------------------------------------------- 6. identifiers


def test_a_nir_typed_into_a_siret_field_never_comes_back_nor_is_stored(
    deployment: Deployment,
) -> None:
    decrement = {
        "nir": deployment.nirs["in_scope"],
        "birth_name": "Durand",
        "siret": NIR_AS_SIRET,
        "hours": 1,
        "training": {
            "title": "T",
            "start": f"{LAST_YEAR + 1}-01-05",
            "end": f"{LAST_YEAR + 1}-01-05",
        },
    }
    header = "nir;birth_name;first_name;birth_date;siret;hours;start;end;title;reference"
    line = (
        f"{deployment.nirs['in_scope']};Durand;Lou;1990-01-01;{NIR_AS_SIRET};1;"
        f"{LAST_YEAR + 1}-01-05;{LAST_YEAR + 1}-01-05;Excel;R"
    )
    with deployment.client("own_gestion") as caller:
        refused = caller.post("/v1/decrements", json=decrement)
        assert refused.status_code == 422 and NIR_AS_SIRET not in refused.text
        deposited = caller.post(
            "/v1/decrement-files",
            content=f"{header}\n{line}\n".encode(),
            headers={"Content-Type": "text/csv"},
        )
        assert deposited.status_code == 201 and NIR_AS_SIRET not in deposited.text
        assert deposited.json()["report"][0]["code"] == "invalid_siret"
    with deployment.as_owner() as conn:
        stored = conn.execute(
            "SELECT count(*) FROM public.ledger_events WHERE position(%s in convert_from(state, 'UTF8')) > 0",
            (NIR_AS_SIRET,),
        ).fetchone()
    assert stored == (0,)


# ------------------------------------------------------------ 7. spreadsheets


def test_exports_carry_no_live_formula(deployment: Deployment) -> None:
    formula = '=HYPERLINK("http://evil.example/x","clic")'
    with deployment.client("operator") as op:
        agent = op.post(
            "/v1/agents",
            json={
                "nir": make_nir(9201),
                "birth_name": formula,
                "first_name": "+1",
                "birth_date": "1990-01-01",
            },
        ).json()["agent_id"]
        op.post(
            f"/v1/agents/{agent}/acquisitions",
            json={"year": LAST_YEAR, "siret": OWN, "hours_worked": 1607},
        )
    with deployment.client("own_gestion") as caller:
        path = f"/v1/employers/{OWN}/extraction?year={LAST_YEAR}"
        xlsx = caller.get(f"{path}&format=xlsx")
        text = caller.get(path)
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    cells = [cell for row in sheet.iter_rows() for cell in row if cell.value == formula]
    assert cells and all(cell.data_type == "s" for cell in cells)  # text, not a formula
    rows = list(csv.DictReader(io.StringIO(text.content.decode("utf-8-sig")), delimiter=";"))
    mine = [row for row in rows if row["Identifiant de l'agent"] == agent]
    assert mine and all(row["Nom de naissance"] == "'" + formula for row in mine)
    assert all(row["Prénom"] == "'+1" for row in mine)


# ------------------------------------------------------------------ 8. scope


def test_out_of_scope_looks_exactly_like_unknown(deployment: Deployment) -> None:
    with deployment.client("own_gestion") as caller:
        unknown = caller.post("/v1/agents/lookup", json={"nir": make_nir(9999), "birth_name": "X"})
        hidden = caller.post(
            "/v1/agents/lookup", json={"nir": deployment.nirs["other"], "birth_name": "Durand"}
        )
        assert (hidden.status_code, hidden.json()) == (unknown.status_code, unknown.json())
        old = caller.get(f"/v1/employers/{OWN}/agents", params={"year": LAST_YEAR - 2})
        assert old.json()["items"] == []  # an N−3 line opens no view of the agent
        assert caller.get(f"/v1/agents/{deployment.agents['old']}/balance").status_code == 404
        refused = caller.post(
            "/v1/decrements",
            json={
                "nir": deployment.nirs["other"],
                "birth_name": "Durand",
                "siret": OWN,
                "hours": 500,
                "training": {
                    "title": "T",
                    "start": f"{LAST_YEAR + 1}-02-01",
                    "end": f"{LAST_YEAR + 1}-02-01",
                },
            },
        )
        assert refused.status_code == 409
        assert "available" not in refused.json() and "25" not in refused.text


# ------------------------------------------------------------- 10. disclosure


def test_a_delegation_request_answers_with_the_delegation_only(deployment: Deployment) -> None:
    with deployment.client("other_admin") as centraliser:
        asked = centraliser.post("/v1/delegations", json={"delegated_siret": OWN})
    assert asked.status_code == 201
    assert asked.json() == {
        "delegated_siret": OWN,
        "centraliser_siret": OTHER,
        "state": "requested",
    }


# ------------------------------------------------------------------ 11. files


def test_a_huge_field_is_a_rejected_line_and_a_failed_run_says_why(deployment: Deployment) -> None:
    header = "nir;birth_name;first_name;birth_date;siret;year;hours_worked"
    good = f"{make_nir(9301)};Nom;Pré;1990-01-01;{OWN};{LAST_YEAR};1607"
    huge = f"{make_nir(9302)};{'N' * 1_000_000};Pré;1990-01-01;{OWN};{LAST_YEAR};1607"
    with deployment.client("operator") as op:

        def run(text: str) -> dict[str, object]:
            started = op.post(
                "/v1/campaigns", content=text.encode(), headers={"Content-Type": "text/csv"}
            )
            assert started.status_code == 202
            campaign = f"/v1/campaigns/{started.json()['campaign_id']}"
            deadline = time.monotonic() + 60
            while (state := op.get(campaign).json())["status"] == "running":
                assert time.monotonic() < deadline
                time.sleep(0.1)
            return state

        finished = run(f"{header}\n{huge}\n{good}\n")
        assert finished["status"] == "finished"
        assert (finished["applied"], finished["rejected"]) == (1, {"invalid_input": 1})
        failed = run("nir;name\nx;y\n")
        assert failed["status"] == "failed" and failed["error"] == "invalid_input"
        assert "missing columns" in str(failed["message"])


def test_a_header_naming_a_column_twice_is_refused(deployment: Deployment) -> None:
    header = "nir;birth_name;first_name;birth_date;siret;hours;start;end;title;reference;hours"
    with deployment.client("own_gestion") as caller:
        refused = caller.post(
            "/v1/decrement-files",
            content=f"{header}\n".encode(),
            headers={"Content-Type": "text/csv"},
        )
    assert refused.status_code == 422 and "columns named twice: hours" in refused.json()["detail"]


def test_a_deposit_of_100k_bad_lines_is_reported_without_holding_it_in_memory(
    deployment: Deployment,
) -> None:
    assert deployment.stack.api is not None
    header = "nir;birth_name;first_name;birth_date;siret;hours;start;end;title;reference"
    bad = f"123;Nom;Pré;1990-01-01;{OWN};1;2026-01-05;2026-01-05;T;R"
    body = "\n".join([header, *(f"{bad}{i}" for i in range(100_000))]).encode()
    pid = deployment.stack.api.pid
    before = rss_mib(pid)
    with deployment.client("own_gestion") as caller:
        deposited = caller.post(
            "/v1/decrement-files", content=body, headers={"Content-Type": "text/csv"}
        )
    assert deposited.status_code == 201
    report = deposited.json()
    assert (report["lines"], report["rejected"]) == (100_000, 100_000)
    assert len(report["report"]) == 100_000
    assert rss_mib(pid) - before < 150


# ---------------------------------------------------- 13. ids of another kind


def test_ids_of_another_kind_and_odd_parameters_are_404_or_422_never_500(
    deployment: Deployment,
) -> None:
    with deployment.client("operator") as op:
        me = op.get("/v1/me").json()
        establishment = op.get(f"/v1/establishments/{OWN}")
        assert establishment.status_code == 200
        from ledger.domain.access import establishment_id

        other_kind = establishment_id(OWN).hex
        key_id = me["key_id"].replace("-", "")
        agent = deployment.agents["in_scope"]
        answers = {
            "request of an establishment": op.get(f"/v1/regularisations/{other_kind}").status_code,
            "key of an establishment": op.delete(f"/v1/keys/{other_kind}").status_code,
            "line on an establishment": op.post(
                f"/v1/agents/{other_kind}/acquisitions",
                json={"year": LAST_YEAR, "siret": OWN, "hours_worked": 1},
            ).status_code,
            "replay of a key": op.get(f"/v1/audit/agents/{key_id}/replay").status_code,
            "events of a key": op.get(f"/v1/audit/agents/{key_id}/events").status_code,
            "cursor abc": op.get(f"/v1/agents/{agent}/movements?cursor=abc").status_code,
            "cursor with NUL": op.get(f"/v1/agents/{agent}/movements?cursor=%00").status_code,
            "status with NUL": op.get("/v1/regularisations?status=%00").status_code,
            "known_at far away": op.get(
                f"/v1/agents/{agent}/balance", params={"known_at": "9999-12-31T23:59:59-05:00"}
            ).status_code,
            "deposit of an agent": op.get(f"/v1/decrement-files/{agent}").status_code,
        }
    assert {name: s for name, s in answers.items() if s not in (404, 422)} == {}


# ------------------------------------------------------------ 14. keys, metrics


def test_auditors_revoke_nothing_and_metrics_need_an_operator(deployment: Deployment) -> None:
    with deployment.client("auditor") as auditor:
        own_key = auditor.get("/v1/me").json()["key_id"]
        assert auditor.delete(f"/v1/keys/{own_key}").status_code == 403
        assert auditor.get("/v1/me").status_code == 200  # still valid
        assert auditor.get("/metrics").status_code == 403
    with deployment.client() as anonymous:
        assert anonymous.get("/metrics").status_code == 401
    with deployment.client("operator") as op:
        assert "cpf_projector_lag_events" in op.get("/metrics").text


def test_the_report_of_a_deposit_is_in_the_read_trail(deployment: Deployment) -> None:
    header = "nir;birth_name;first_name;birth_date;siret;hours;start;end;title;reference"
    line = (
        f"{deployment.nirs['in_scope']};Durand;Lou;1990-01-01;{OWN};1;"
        f"{LAST_YEAR + 1}-03-05;{LAST_YEAR + 1}-03-05;Trail;R"
    )
    with deployment.client("own_gestion") as caller:
        me = caller.get("/v1/me").json()
        assert (
            caller.post(
                "/v1/decrement-files",
                content=f"{header}\n{line}\n".encode(),
                headers={"Content-Type": "text/csv"},
            ).status_code
            == 201
        )
    with deployment.client("auditor") as auditor:
        seen = auditor.get("/v1/audit/trail", params={"seen_by": f"employer:{me['key_id']}"}).json()
    assert {(row["via"], row["agent_id"]) for row in seen} >= {
        ("POST /v1/decrement-files", deployment.agents["in_scope"])
    }


# ------------------------------------------------------------- 15. saturation


def test_health_answers_at_once_and_readiness_fast_when_the_store_is_locked(
    deployment: Deployment,
) -> None:
    lock = deployment.as_owner()
    lock.autocommit = False
    lock.execute("LOCK TABLE public.ledger_events IN ACCESS EXCLUSIVE MODE")
    stop = threading.Event()

    def write() -> None:
        with deployment.client("operator") as op:
            while not stop.is_set():
                with contextlib.suppress(Exception):
                    op.post(
                        f"/v1/agents/{deployment.agents['in_scope']}/inaptitude-credits",
                        json={"hours": 1},
                        timeout=30,
                    )

    writers = [threading.Thread(target=write) for _ in range(40)]
    for writer in writers:
        writer.start()
    try:
        time.sleep(2)
        with deployment.client() as anonymous:
            started = time.monotonic()
            assert anonymous.get("/healthz").status_code == 200
            health = time.monotonic() - started
            started = time.monotonic()
            ready = anonymous.get("/readyz")
            readiness = time.monotonic() - started
        assert health < 0.5, f"/healthz took {health:.2f} s"
        assert readiness < 3.5, f"/readyz took {readiness:.2f} s"
        assert ready.status_code in (200, 503)
    finally:
        stop.set()
        lock.rollback()
        lock.close()
        for writer in writers:
            writer.join(timeout=60)
    with psycopg.connect(deployment.owner_url) as conn:
        conn.execute("SELECT 1")


# ----------------------------------------------------------- 9. downloads


def test_a_download_is_complete_or_visibly_fails(deployment: Deployment) -> None:
    """An agent whose identity cannot be opened (its key dropped) met half-way through the
    extraction: the answer is an error, never a 200 with a cleanly ended half file."""
    stack = deployment.stack
    original = stack.env["LEDGER_IDENTITY_KEYS"]
    path = f"/v1/employers/{OWN}/extraction?year={LAST_YEAR}"
    with deployment.client("own_gestion") as caller:
        complete = caller.get(path)
    assert complete.status_code == 200 and complete.content.count(b"\r\n") > 1
    stack.terminate(stack.api)
    stack.env["LEDGER_IDENTITY_KEYS"] = "k2:" + "7" * 64  # the key that sealed them is gone
    try:
        stack.start_api()
        with deployment.client("own_gestion") as caller:
            for fmt in ("csv", "xlsx"):
                failed = caller.get(f"{path}&format={fmt}")
                assert failed.status_code >= 400, fmt
                assert failed.headers["content-type"] == "application/problem+json"
    finally:
        stack.terminate(stack.api)
        stack.env["LEDGER_IDENTITY_KEYS"] = original
        stack.start_api()


def test_a_rebuild_runs_as_the_application_role_and_its_views_check(
    deployment: Deployment,
) -> None:
    """The service rebuilds its views as the role it runs as (PostgreSQL's first pass drops and
    builds the new generation's indexes): the views are swapped in and still tell the truth."""
    agent = deployment.agents["in_scope"]
    with deployment.client("operator") as op:
        before = op.get(f"/v1/agents/{agent}/balance").json()
        generations = {v["view"]: v["generation"] for v in op.get("/v1/projections").json()}
        assert op.post("/v1/projections/rebuild", json={}).status_code == 202
        deadline = time.monotonic() + 60
        while True:
            views = op.get("/v1/projections").json()
            if all(
                v["generation"] > generations[v["view"]] and v["rebuilding_generation"] is None
                for v in views
            ):
                break
            assert time.monotonic() < deadline, views
            time.sleep(0.2)
        assert op.get(f"/v1/agents/{agent}/balance").json() == before
    live = f"movements_g{generations['movements'] + 1}"
    with deployment.as_role() as conn:
        indexes = conn.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s ORDER BY 1", (live,)
        ).fetchall()
    assert indexes == [(f"{live}_agent_id",), (f"{live}_pkey",)]  # built again, by the role
    checked = cli(deployment.stack.env, "projections", "check", "--json")
    assert json.loads(checked) == []
