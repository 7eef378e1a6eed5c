"""Files HR staff open in a spreadsheet: CSV and XLSX, in French, made whole before they are sent.

Each file is described once (``Column``: the row's key, its French label, its kind), so a CSV
(``;``, UTF-8 BOM, CRLF, dates ``JJ/MM/AAAA``) and an XLSX (real numbers and dates, identifiers as
text, a frozen header with filters, sensible widths) say the same. Movement kinds and statuses
read in French; JSON keeps the stable English codes. No cell is ever a formula.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import IO, Any

import xlsxwriter
from fastapi.responses import StreamingResponse

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

KINDS = {
    "Registered": "Inscription",
    "AcquisitionLineRecorded": "Alimentation",
    "DifConverted": "Conversion du DIF",
    "LowQualificationDeclared": "Déclaration de faible qualification",
    "YearRegularised": "Régularisation",
    "DifReserveDeclared": "Réserve de DIF non déclaré",
    "Decremented": "Décrémentation",
    "DecrementCancelled": "Annulation de décrémentation",
    "InaptitudeCredited": "Crédit de prévention de l'inaptitude",
    "Closed": "Clôture",
}
STATUSES = {"open": "ouvert", "closed": "clos (retraite)", "invalidity": "clos (invalidité)"}
RESULTS = {"applied": "appliquée", "rejected": "rejetée"}


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str  # French, as HR staff read it
    kind: str = "text"  # text, number, date, time, or a label table's name
    width: int = 14


def _label(kind: str, value: Any) -> Any:
    table = {"movement": KINDS, "status": STATUSES, "result": RESULTS}.get(kind)
    return table.get(value, value) if table is not None and value is not None else value


def _date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=None)  # recorded times are UTC (the column says so)


def neutral(value: Any) -> Any:
    """A cell a spreadsheet will not run: text starting like a formula gets a leading quote
    (OWASP's advice for CSV injection); numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_cell(column: Column, value: Any) -> Any:
    if value is None:
        return ""
    if column.kind == "date":
        day = _date(value)
        return day.strftime("%d/%m/%Y") if day else ""
    if column.kind == "time":
        moment = _time(value)
        return moment.strftime("%d/%m/%Y %H:%M:%S") if moment else ""
    return neutral(_label(column.kind, value))


def csv_lines(columns: Sequence[Column], rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """The CSV a French spreadsheet opens cleanly: BOM, ``;`` separators, CRLF."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([column.label for column in columns])
    yield ("\ufeff" + buffer.getvalue()).encode()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([csv_cell(column, row.get(column.key)) for column in columns])
        yield buffer.getvalue().encode()


def xlsx_chunks(
    columns: Sequence[Column], rows: Iterable[dict[str, Any]], sheet_name: str = "données"
) -> Iterator[bytes]:
    """An XLSX workbook written row by row (constant memory), then read from disk."""
    with tempfile.NamedTemporaryFile(suffix=".xlsx") as handle:
        workbook = xlsxwriter.Workbook(handle.name, {"constant_memory": True})
        sheet = workbook.add_worksheet(sheet_name)
        header = workbook.add_format({"bold": True, "text_wrap": True, "valign": "top"})
        formats = {
            "date": workbook.add_format({"num_format": "dd/mm/yyyy"}),
            "time": workbook.add_format({"num_format": "dd/mm/yyyy hh:mm:ss"}),
        }
        for index, column in enumerate(columns):
            sheet.set_column(index, index, column.width, formats.get(column.kind))
            sheet.write_string(0, index, column.label, header)
        sheet.freeze_panes(1, 0)
        count = 0
        for count, row in enumerate(rows, start=1):
            for index, column in enumerate(columns):
                _write(sheet, count, index, column, row.get(column.key), formats)
        sheet.autofilter(0, 0, max(count, 1), len(columns) - 1)
        workbook.close()
        handle.seek(0)
        while chunk := handle.read(65536):
            yield chunk


def _write(sheet: Any, row: int, index: int, column: Column, value: Any, formats: Any) -> None:
    if value is None or value == "":
        return
    if column.kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        sheet.write_number(row, index, value)
    elif column.kind == "date" and (day := _date(value)) is not None:
        sheet.write_datetime(row, index, datetime(day.year, day.month, day.day), formats["date"])
    elif column.kind == "time" and (moment := _time(value)) is not None:
        sheet.write_datetime(row, index, moment, formats["time"])
    else:  # text is written as text: never a formula, whatever it starts with
        sheet.write_string(row, index, str(_label(column.kind, value)))


def spooled(chunks: Iterable[bytes]) -> IO[bytes]:
    """The whole file, written before anything is sent (to memory, then disk past 1 MiB): a
    download is complete, or it fails with an error status — never a cleanly ended half file."""
    spool = tempfile.SpooledTemporaryFile(max_size=1 << 20)  # noqa: SIM115 - closed when sent
    try:
        for chunk in chunks:
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


def _sent(spool: IO[bytes]) -> Iterator[bytes]:
    try:
        while chunk := spool.read(65536):
            yield chunk
    finally:
        spool.close()


def export_response(
    fmt: str, filename: str, columns: Sequence[Column], rows: Iterable[dict[str, Any]]
) -> StreamingResponse:
    """A CSV or XLSX download, made whole before its first byte is sent."""
    if fmt == "xlsx":
        chunks, media = xlsx_chunks(columns, rows), XLSX_TYPE
    else:
        chunks, media = csv_lines(columns, rows), CSV_TYPE
    return StreamingResponse(
        _sent(spooled(chunks)),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{filename}.{fmt}"'},
    )


# The files, described once.
AGENT_LIST = (
    Column("agent_id", "Identifiant de l'agent", width=34),
    Column("balance", "Compteur (h)", "number", 12),
    Column("ceiling", "Plafond (h)", "number", 11),
    Column("reserve", "Réserve de DIF non déclaré (h)", "number", 16),
    Column("status", "Statut", "status", 16),
    Column("low_qualification_from", "Faible qualification depuis", "number", 14),
    Column("last_movement_kind", "Dernier mouvement", "movement", 26),
    Column("last_movement_date", "Date d'effet du dernier mouvement", "date", 16),
    Column("last_recorded_at", "Enregistré le (UTC)", "time", 20),
)
EXTRACTION = (
    Column("agent_id", "Identifiant de l'agent", width=34),
    Column("nir", "NIR", width=17),
    Column("birth_name", "Nom de naissance", width=20),
    Column("first_name", "Prénom", width=16),
    Column("birth_date", "Date de naissance", "date", 13),
    Column("balance", "Compteur (h)", "number", 12),
    Column("ceiling", "Plafond (h)", "number", 11),
    Column("reserve", "Réserve de DIF non déclaré (h)", "number", 16),
    Column("status", "Statut", "status", 16),
    Column("position", "Position dans le journal", "number", 12),
    Column("effective_date", "Date d'effet", "date", 13),
    Column("recorded_at", "Enregistré le (UTC)", "time", 20),
    Column("kind", "Mouvement", "movement", 28),
    Column("hours", "Heures (compteur)", "number", 12),
    Column("reserve_hours", "Heures (réserve)", "number", 12),
    Column("balance_after", "Compteur après (h)", "number", 12),
    Column("movement_siret", "SIRET du mouvement", width=16),
)
DEPOSIT_REPORT = (
    Column("line", "Ligne", "number", 8),
    Column("status", "Résultat", "result", 11),
    Column("code", "Code", width=24),
    Column("message", "Motif", width=50),
    Column("agent_id", "Identifiant de l'agent", width=34),
    Column("decrement_id", "Identifiant de la décrémentation", width=38),
    Column("from_reserve", "Heures prises sur la réserve", "number", 14),
    Column("from_counter", "Heures prises sur le compteur", "number", 14),
    Column("balance_after", "Compteur après (h)", "number", 12),
)
HABILITATION_REPORT = (
    Column("line", "Ligne", "number", 8),
    Column("status", "Résultat", "result", 11),
    Column("code", "Code", width=24),
    Column("message", "Motif", width=50),
    Column("user_id", "Identifiant de l'utilisateur", width=38),
    Column("email", "Courriel", width=30),
    Column("siret", "SIRET", width=16),
    Column("profile", "Profil", width=16),
    Column("activation", "Code d'activation (montré une fois)", width=28),
)
