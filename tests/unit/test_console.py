"""The console's pieces that need no server: the chart's data, French messages, the scan's
checks, and the pages' templates (no inline script, style or handler: a strict CSP holds)."""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path

import pytest
import segno

from api.console import charts, messages
from ledger.domain.scans import MAX_SCAN_BYTES, InvalidScan, scan_kind

TEMPLATES = Path(__file__).resolve().parents[2] / "api" / "console" / "templates"
STATIC = Path(__file__).resolve().parents[2] / "api" / "static" / "console"


def movement(position: int, kind: str, day: str, hours: int, balance: int, **extra: object) -> dict:
    return {
        "position": position,
        "kind": kind,
        "effective_date": day,
        "hours": hours,
        "reserve_hours": 0,
        "balance_after": balance,
        "recorded_at": "2026-01-10T10:00:00+00:00",
        "siret": extra.pop("siret", None),
        "channel": "campaign",
        "details": extra.pop("details", {}),
        "year": extra.pop("year", None),
    }


HISTORY = [
    movement(1, "Registered", "2017-01-01", 0, 0),
    movement(2, "AcquisitionLineRecorded", "2017-12-31", 24, 24, year=2017, siret="S"),
    movement(3, "LowQualificationDeclared", "2019-01-01", 0, 24, details={"from_year": 2019}),
    movement(4, "AcquisitionLineRecorded", "2019-12-31", 48, 72, year=2019, siret="S"),
    movement(
        5,
        "Decremented",
        "2020-03-02",
        -12,
        60,
        siret="S",
        details={"decrement_id": "d1", "training": {"title": "Excel"}},
    ),
    movement(6, "DecrementCancelled", "2020-03-02", 12, 72, siret="S", details={"reason": "x"}),
    movement(7, "YearRegularised", "2019-12-31", 2, 74, year=2019, siret="S"),
    movement(8, "Closed", "2021-06-30", 0, 74, details={"reason": "retirement"}),
]


def test_every_movement_is_one_point_of_the_line_at_its_date_and_balance() -> None:
    curve = charts.curve(HISTORY, date(2022, 1, 1))
    assert [(p["date"], p["solde"], p["position"]) for p in curve["points"]] == [
        (m["effective_date"], m["balance_after"], m["position"]) for m in HISTORY
    ]
    assert curve["marqueurs"] == {
        "acquisitions": [1, 3],
        "regularisations": [6],
        "decrementations": [4],
        "annulations": [5],
    }
    assert curve["points"][4]["detail"] == "formation « Excel »"
    assert curve["fin"] == "2022-01-01"


def test_the_ceiling_rises_with_low_qualification_and_the_floor_follows_rates_and_closure() -> None:
    curve = charts.curve(HISTORY, date(2022, 1, 1))
    assert [(s["date"], s["valeur"]) for s in curve["plafond"]] == [
        ("2017-01-01", 150),
        ("2019-01-01", 400),
        ("2022-01-01", 400),
    ]
    # -2 x the yearly rate: 24 h (2017-2018), 48 h low-qualified (2019), 50 h (2020-); 0 closed
    assert [(s["date"], s["valeur"]) for s in curve["plancher"]] == [
        ("2017-01-01", -48),
        ("2019-01-01", -96),
        ("2020-01-01", -100),
        ("2021-06-30", 0),
        ("2022-01-01", 0),
    ]


def test_a_chart_ends_at_the_last_movement_when_it_is_later_than_the_day_asked() -> None:
    future = [*HISTORY[:2], movement(9, "Decremented", "2030-01-01", -1, 23, siret="S")]
    assert charts.curve(future, date(2026, 1, 1))["fin"] == "2030-01-01"
    assert charts.curve([], date(2026, 1, 1))["points"] == []


def test_messages_are_french_with_their_figures_and_without_figures_withheld() -> None:
    assert messages.explain("insufficient_balance", {"needed": 30, "available": 12}) == (
        "Solde insuffisant : 30 h demandées, 12 h disponibles."
    )
    assert messages.explain("insufficient_balance", {}) == "Solde insuffisant."
    assert messages.explain("no_such_code", {}, 404) == "Introuvable."
    assert "manque signataire" in messages.explain(
        "incomplete_attestation", {"missing": ["signatory"]}
    )
    assert messages.reason("invalid_input", "start: not a date") == (
        "Une donnée saisie n'est pas valide (start: not a date)."
    )


def png() -> bytes:
    image = io.BytesIO()
    segno.make("attestation").save(image, kind="png")
    return image.getvalue()


@pytest.mark.parametrize(
    ("content", "media_type"),
    [
        (b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n%%EOF\n", "application/pdf"),
        (png(), "image/png"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 100 + b"\xff\xd9", "image/jpeg"),
    ],
)
def test_a_scan_is_told_by_its_content(content: bytes, media_type: str) -> None:
    assert scan_kind(content).media_type == media_type


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"GIF89a" + b"\x00" * 50,
        b"<html><script>alert(1)</script></html>",
        b"%PDF-1.7\n1 0 obj\n<<>>\n",  # cut short: no %%EOF
        png()[:-12],
        b"%PDF-" + b"\x00" * MAX_SCAN_BYTES + b"%%EOF",
    ],
    ids=["empty", "gif", "html", "truncated-pdf", "truncated-png", "too-large"],
)
def test_a_scan_of_another_kind_cut_short_or_too_large_is_refused(content: bytes) -> None:
    with pytest.raises(InvalidScan):
        scan_kind(content)


def test_no_page_runs_inline_script_or_style_so_the_strict_policy_holds() -> None:
    pages = {path: path.read_text() for path in TEMPLATES.rglob("*.html")}
    assert len(pages) > 20
    for path, text in pages.items():
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert "src=" in tag or 'type="application/json"' in tag, (path, tag)
        assert not re.search(r"\sstyle\s*=", text), path
        assert not re.search(r"<style\b", text), path
        assert not re.search(r"\son[a-z]+\s*=", text), path  # no onclick= and the like
        assert "javascript:" not in text and "js:" not in text, path
        assert not re.search(r'(src|href)="(https?:)?//', text), path  # no other origin
    for script in STATIC.glob("*.js"):
        code = script.read_text()
        assert "eval(" not in code and "new Function" not in code, script
        assert "innerHTML" not in code, script


def test_pages_decide_nothing_about_scope_they_show_what_the_scope_module_allows() -> None:
    """A page may print who is signed in; what it offers comes from ``can`` (the scope
    module's ``console_abilities``), never from a test on the principal in a template."""
    for path in TEMPLATES.rglob("*.html"):
        for statement in re.findall(r"\{%.*?%\}", path.read_text(), re.S):
            assert not re.search(r"principal\.(role|profile|sirets|siret)\b", statement), path
