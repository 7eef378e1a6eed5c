"""Streamed exports for spreadsheets: CSV (``;``, UTF-8 BOM) and XLSX."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any

import xlsxwriter
from fastapi.responses import StreamingResponse

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutral(value: Any) -> Any:
    """A cell a spreadsheet will not run: text starting like a formula gets a leading quote
    (OWASP's advice for CSV injection); numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_lines(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """The CSV a French spreadsheet opens cleanly: BOM, ``;`` separators, CRLF; no cell a
    spreadsheet would take for a formula."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(columns)
    yield ("\ufeff" + buffer.getvalue()).encode()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(["" if row.get(c) is None else neutral(row.get(c)) for c in columns])
        yield buffer.getvalue().encode()


def xlsx_chunks(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """An XLSX workbook written row by row (constant memory), then streamed from disk."""
    with tempfile.NamedTemporaryFile(suffix=".xlsx") as handle:
        workbook = xlsxwriter.Workbook(handle.name, {"constant_memory": True})
        sheet = workbook.add_worksheet("agents")
        bold = workbook.add_format({"bold": True})
        sheet.write_row(0, 0, columns, bold)
        for index, row in enumerate(rows, start=1):
            for column, name in enumerate(columns):
                value = row.get(name)
                if isinstance(value, bool) or not isinstance(value, int | float):
                    # Text is written as text: never a formula, whatever it starts with.
                    sheet.write_string(index, column, "" if value is None else str(value))
                else:
                    sheet.write_number(index, column, value)
        workbook.close()
        handle.seek(0)
        while chunk := handle.read(65536):
            yield chunk


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
    fmt: str, filename: str, columns: Sequence[str], rows: Iterable[dict[str, Any]]
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
