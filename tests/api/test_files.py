"""Bulk files over HTTP, on both stores: deposits with their reports, campaigns, the extraction."""

from __future__ import annotations

import csv
import io
import time

from tests.api.conftest import LAST_YEAR, OTHER, OWN, World
from tests.factories import make_nir

HEADER = "nir;birth_name;first_name;birth_date;siret;hours;days;start;end;title;reference"
START, END = f"{LAST_YEAR + 1}-01-10", f"{LAST_YEAR + 1}-01-12"


def upload(world: World, who: str, path: str, text: str, encoding: str = "utf-8"):  # type: ignore[no-untyped-def]
    return world.call(
        who, "POST", path, content=text.encode(encoding), headers={"Content-Type": "text/csv"}
    )


def test_deposit_reports_each_line_and_is_the_same_when_deposited_again(world: World) -> None:
    rows = [
        f"{world.nir_a};Martin;Anne;1985-03-01;{OWN};10;;{START};{END};Excel;R1",
        f"{world.nir_a};Martin;Anne;1985-03-01;{OWN};;2;{START};{END};Word;R2",
        f"{world.nir_a};Martin;Anne;1985-03-01;{OTHER};5;;{START};{END};Excel;R3",
        f"{world.nir_a};Martine;Anne;1985-03-01;{OWN};5;;{START};{END};Excel;R4",
        f"{world.nir_a};Martin;Anne;1985-03-01;{OWN};10;;{START};{END};Excel;R1",
        f"{world.nir_a};Martin;Anne;1985-03-01;{OWN};500;;{START};{END};Long;R5",
    ]
    text = "\n".join([HEADER, *rows]) + "\n"
    first = upload(
        world, "own_gestion", "/v1/decrement-files?filename=janvier.csv", text, "latin-1"
    )
    assert first.status_code == 201, first.text
    body = first.json()
    statuses = [(line["line"], line["status"], line["code"]) for line in body["report"]]
    assert statuses == [
        (2, "applied", None),
        (3, "applied", None),
        (4, "rejected", "siret_out_of_scope"),
        (5, "rejected", "agent_not_found"),
        (6, "rejected", "duplicate_line"),
        (7, "rejected", "insufficient_balance"),
    ]
    assert body["report"][1]["balance_after"] == 78  # 100 - 10 - 12
    assert (body["applied"], body["rejected"], body["hours_from_counter"]) == (2, 4, 22)
    again = upload(world, "own_administration", "/v1/decrement-files", text, "latin-1").json()
    assert again["deposit_id"] == body["deposit_id"] and again["report"] == body["report"]
    report = world.call(
        "own_consultation", "GET", f"/v1/decrement-files/{body['deposit_id']}?format=csv"
    )
    assert report.content.startswith("\ufeffLigne;Résultat;Code".encode())
    parsed = list(csv.DictReader(io.StringIO(report.content.decode("utf-8-sig")), delimiter=";"))
    assert [row["Résultat"] for row in parsed] == ["appliquée"] * 2 + ["rejetée"] * 4
    assert (
        world.call("other_gestion", "GET", f"/v1/decrement-files/{body['deposit_id']}").status_code
        == 404
    )
    world.settle()
    balance = world.call("own_gestion", "GET", f"/v1/agents/{world.agent_a}/balance").json()
    assert balance["balance"] == 78


def test_deposit_with_a_bad_header_or_nothing_is_refused(world: World) -> None:
    bad = upload(world, "own_gestion", "/v1/decrement-files", "nir;name\nx;y\n")
    assert bad.status_code == 422 and "missing columns" in bad.json()["detail"]
    empty = upload(world, "own_gestion", "/v1/decrement-files", "")
    assert empty.status_code == 422


def test_campaign_over_http_runs_in_the_background(world: World) -> None:
    header = "nir;birth_name;first_name;birth_date;siret;year;hours_worked;low_qualification"
    rows = [f"{make_nir(600 + i)};Nom;Prénom;1990-01-01;{OWN};{LAST_YEAR};1607;" for i in range(20)]
    rows.append(f"{make_nir(700)};Nom;Prénom;1990-01-01;{OWN};2016;1607;")
    started = upload(world, "operator", "/v1/campaigns?filename=c.csv", "\n".join([header, *rows]))
    assert started.status_code == 202
    campaign_id = started.json()["campaign_id"]
    deadline = time.monotonic() + 30
    while (state := world.call("operator", "GET", f"/v1/campaigns/{campaign_id}").json())[
        "status"
    ] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert state["status"] == "finished"
    assert (state["applied"], state["rejected"]) == (20, {"invalid_input": 1})
    assert world.call("operator", "GET", "/v1/campaigns/nope").status_code == 404


def test_extraction_rows_match_the_employer_index(world: World) -> None:
    world.call(
        "own_gestion",
        "POST",
        "/v1/decrements",
        json={
            "nir": world.nir_a,
            "birth_name": "Martin",
            "siret": OWN,
            "hours": 4,
            "training": {"title": "T", "start": START, "end": END},
        },
    )
    world.settle()
    response = world.call(
        "own_consultation", "GET", f"/v1/employers/{OWN}/extraction?year={LAST_YEAR}"
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    index = world.call(
        "own_consultation", "GET", f"/v1/employers/{OWN}/agents", params={"year": LAST_YEAR}
    ).json()["items"]
    assert {row["Identifiant de l'agent"] for row in rows} == {item["agent_id"] for item in index}
    assert [row["Mouvement"] for row in rows] == [  # in French for spreadsheets
        "Inscription",
        "Conversion du DIF",
        "Alimentation",
        "Décrémentation",
    ]
    assert rows[0]["NIR"] == world.nir_a and rows[-1]["Compteur après (h)"] == "96"
    xlsx = world.call(
        "own_consultation", "GET", f"/v1/employers/{OWN}/extraction?year={LAST_YEAR}&format=xlsx"
    )
    assert xlsx.content[:2] == b"PK"
    assert (
        world.call(
            "other_gestion", "GET", f"/v1/employers/{OWN}/extraction?year={LAST_YEAR}"
        ).status_code
        == 404
    )


def test_spreadsheets_have_real_types_french_labels_and_frozen_filtered_headers(
    world: World,
) -> None:
    import openpyxl

    path = f"/v1/employers/{OWN}/extraction?year={LAST_YEAR}"
    xlsx = world.call("own_consultation", "GET", f"{path}&format=xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    header = [cell.value for cell in sheet[1]]
    assert header[:4] == ["Identifiant de l'agent", "NIR", "Nom de naissance", "Prénom"]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref is not None
    row = {name: cell for name, cell in zip(header, sheet[2], strict=True)}
    assert row["NIR"].data_type == "s" and row["NIR"].value == world.nir_a  # text, not a number
    assert row["SIRET du mouvement"].value in (None, OWN)
    assert isinstance(row["Compteur (h)"].value, int | float)
    assert row["Date de naissance"].is_date and row["Date d'effet"].is_date
    assert row["Mouvement"].value == "Inscription"
    text = world.call("own_consultation", "GET", path).content.decode("utf-8-sig")
    assert text.splitlines()[1].count(";") == len(header) - 1
    assert ";01/03/1985;" in text  # dates as JJ/MM/AAAA
    assert "\r\n" in text


def xlsx_of(rows: list[list[object]]) -> bytes:
    import xlsxwriter

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = workbook.add_worksheet()
    day = workbook.add_format({"num_format": "dd/mm/yyyy"})  # as a spreadsheet user types dates
    for index, row in enumerate(rows):
        for column, value in enumerate(row):
            sheet.write(index, column, value, day if hasattr(value, "year") else None)
    workbook.close()
    return buffer.getvalue()


def test_files_come_as_xlsx_or_as_a_form_and_other_kinds_are_named(world: World) -> None:
    from datetime import datetime

    rows: list[list[object]] = [
        HEADER.split(";"),
        [
            int(world.nir_a),
            "Martin",
            "Anne",
            datetime(1985, 3, 1),
            OWN,
            4,
            "",
            START,
            END,
            "X",
            "R",
        ],
    ]
    workbook = xlsx_of(rows)
    as_body = world.call(  # sent as CSV by mistake: its content says XLSX
        "own_gestion",
        "POST",
        "/v1/decrement-files",
        content=workbook,
        headers={"Content-Type": "text/csv"},
    )
    assert as_body.status_code == 201, as_body.text
    assert [line["status"] for line in as_body.json()["report"]] == ["applied"], as_body.text
    text = "\n".join([HEADER, f"{world.nir_a};Martin;Anne;1985-03-01;{OWN};2;;{START};{END};Y;R"])
    as_form = world.client.post(
        "/v1/decrement-files",
        files={"file": ("janvier.csv", text.encode(), "text/csv")},
        headers={"Authorization": f"Bearer {world.tokens['own_gestion']}"},
    )
    assert as_form.status_code == 201 and as_form.json()["applied"] == 1, as_form.text
    pdf = upload(world, "own_gestion", "/v1/decrement-files", "%PDF-1.7\n%binary")
    assert pdf.status_code == 422 and "a PDF document" in pdf.json()["detail"]
    assert "binary" not in pdf.text
    campaign = xlsx_of(
        [
            ["nir", "birth_name", "first_name", "birth_date", "siret", "year", "hours_worked"],
            [make_nir(611), "Neuf", "Nina", datetime(1990, 1, 1), OWN, LAST_YEAR, 1607],
        ]
    )
    started = world.client.post(
        "/v1/campaigns",
        files={"file": ("campagne.xlsx", campaign)},
        headers={"Authorization": f"Bearer {world.tokens['operator']}"},
    )
    assert started.status_code == 202
    deadline = time.monotonic() + 30
    path = f"/v1/campaigns/{started.json()['campaign_id']}"
    while (state := world.call("operator", "GET", path).json())["status"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert (state["status"], state["applied"]) == ("finished", 1)
