"""The counter drawn over time: what the agent page's chart is made of.

Built from the same movement list the page's table shows (effective-date order, each with the
running balance of that list: the API's time-travel reading), so every drawn point is a movement
and the last one is the balance answered. The ceiling in force and the anticipation floor are
steps computed by the rules' own functions, changing on 1 January, on the low-qualification
declaration and on a closure.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from api.exports import KINDS
from ledger.domain import rules
from ledger.domain.movements import Status, anticipation_floor_on, status_after_closure

MARKERS = {
    "AcquisitionLineRecorded": "acquisitions",
    "YearRegularised": "regularisations",
    "Decremented": "decrementations",
    "DecrementCancelled": "annulations",
}
"""Movements drawn with a marker of their own (the others are points of the line only)."""


def movement_summary(movement: dict[str, Any]) -> str:
    """A movement's particulars in a few French words: a training, a year, a reason."""
    details = movement.get("details") or {}
    kind = movement["kind"]
    if kind == "Decremented":
        training = details.get("training") or {}
        text = f"formation « {training.get('title', '')} »"
        if details.get("anticipated"):
            text += ", par anticipation"
        return text
    if kind == "DecrementCancelled":
        return f"annulation : {details.get('reason', '')}"
    if kind in ("AcquisitionLineRecorded", "YearRegularised") and movement.get("year"):
        return f"année {movement['year']}"
    if kind == "LowQualificationDeclared":
        return f"à partir de {details.get('from_year')}"
    if kind == "Closed":
        return "retraite pour invalidité" if details.get("reason") == "invalidity" else "retraite"
    return ""


def curve(movements: list[dict[str, Any]], end: date) -> dict[str, Any]:
    """The chart's data: one point per movement, the steps of the ceiling and of the floor from
    the first movement to ``end``, and which points carry a marker."""
    points = [
        {
            "date": m["effective_date"],
            "solde": m["balance_after"],
            "position": m["position"],
            "genre": m["kind"],
            "libelle": KINDS.get(m["kind"], m["kind"]),
            "heures": m["hours"],
            "reserve": m["reserve_hours"],
            "siret": m.get("siret"),
            "enregistre": m["recorded_at"],
            "canal": m.get("channel"),
            "detail": movement_summary(m),
        }
        for m in movements
    ]
    markers: dict[str, list[int]] = {name: [] for name in dict.fromkeys(MARKERS.values())}
    for index, m in enumerate(movements):
        if m["kind"] in MARKERS:
            markers[MARKERS[m["kind"]]].append(index)
    first = date.fromisoformat(points[0]["date"]) if points else end
    last = max([end, *(date.fromisoformat(p["date"]) for p in points)])
    low_from, closed_on, closed_status = _low_and_closure(movements)
    return {
        "points": points,
        "fin": last.isoformat(),
        "plafond": _steps(first, last, lambda day: _ceiling(day, low_from), closed_on),
        "plancher": _steps(
            first,
            last,
            lambda day: anticipation_floor_on(
                day,
                closed_status if closed_on is not None and day >= closed_on else Status.OPEN,
                low_from,
            ),
            closed_on,
        ),
        "marqueurs": markers,
    }


def _low_and_closure(
    movements: list[dict[str, Any]],
) -> tuple[int | None, date | None, str]:
    low_from, closed_on, status = None, None, str(Status.OPEN)
    for m in movements:
        details = m.get("details") or {}
        if m["kind"] == "LowQualificationDeclared":
            low_from = int(details["from_year"])
        elif m["kind"] == "Closed":
            closed_on = date.fromisoformat(m["effective_date"])
            status = str(status_after_closure(details.get("reason", "")))
    return low_from, closed_on, status


def _ceiling(day: date, low_from: int | None) -> int:
    year = max(day.year, rules.FIRST_YEAR)
    return rules.ceiling(year, low_from is not None and year >= low_from)


def _steps(first: date, last: date, value: Any, closed_on: date | None) -> list[dict[str, Any]]:
    """A step function sampled where it may change (1 January, a closure), kept where it does."""
    moments = {first, last, *(date(y, 1, 1) for y in range(first.year + 1, last.year + 1))}
    if closed_on is not None and first <= closed_on <= last:
        moments.add(closed_on)
    steps: list[dict[str, Any]] = []
    for day in sorted(moments):
        current = value(day)
        if not steps or steps[-1]["valeur"] != current or day == last:
            steps.append({"date": day.isoformat(), "valeur": current})
    return steps
