"""Streamed exports for spreadsheets: CSV (``;``, UTF-8 BOM) and XLSX."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import xlsxwriter
from fastapi.responses import StreamingResponse

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def csv_lines(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """The CSV a French spreadsheet opens cleanly: BOM, ``;`` separators, CRLF."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(columns)
    yield ("\ufeff" + buffer.getvalue()).encode()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
        yield buffer.getvalue().encode()


def xlsx_chunks(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """An XLSX workbook written row by row (constant memory), then streamed from disk."""
    with tempfile.NamedTemporaryFile(suffix=".xlsx") as handle:
        workbook = xlsxwriter.Workbook(handle.name, {"constant_memory": True})
        sheet = workbook.add_worksheet("agents")
        bold = workbook.add_format({"bold": True})
        sheet.write_row(0, 0, columns, bold)
        for index, row in enumerate(rows, start=1):
            sheet.write_row(index, 0, ["" if row.get(c) is None else row.get(c) for c in columns])
        workbook.close()
        handle.seek(0)
        while chunk := handle.read(65536):
            yield chunk


def export_response(
    fmt: str, filename: str, columns: Sequence[str], rows: Iterable[dict[str, Any]]
) -> StreamingResponse:
    if fmt == "xlsx":
        body, media = xlsx_chunks(columns, rows), XLSX_TYPE
    else:
        body, media = csv_lines(columns, rows), CSV_TYPE
    return StreamingResponse(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{filename}.{fmt}"'},
    )
