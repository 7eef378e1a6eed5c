"""Reading the CSV files employers and the CDC exchange: UTF-8 (with or without BOM) or Latin-1,
``;`` or ``,`` separated, streamed line by line, each line and field bounded."""

from __future__ import annotations

import codecs
import csv
import hashlib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import BinaryIO

from ledger.domain import errors
from ledger.domain.errors import InvalidInput
from ledger.domain.text import has_control

CHUNK = 1 << 20
TRUE = frozenset({"1", "true", "yes", "oui", "o", "y", "x"})
FALSE = frozenset({"", "0", "false", "no", "non", "n"})


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes: the identity of a deposited file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def detect_encoding(path: Path) -> str:
    """``utf-8-sig`` when the whole file decodes as UTF-8 (BOM or not), else ``latin-1``."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as handle:
            while block := handle.read(CHUNK):
                decoder.decode(block)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "latin-1"
    return "utf-8-sig"


MAX_LINE_BYTES = 8 * 1024
"""A line of any of our files is a few hundred bytes: longer ones are refused, not parsed."""
MAX_FIELD_CHARACTERS = 500


@dataclass(frozen=True, slots=True)
class Line:
    """One data line: its number in the file (the header is line 1) and its fields by column, or
    why it cannot be read (too long, control characters, more fields than columns)."""

    number: int
    fields: dict[str, str]
    offset: int  # bytes of the file read so far: for progress bars
    problem: str | None = None

    def checked(self) -> dict[str, str]:
        """The fields, or InvalidInput saying why the line cannot be read (never its content)."""
        if self.problem:
            raise InvalidInput(self.problem)
        return self.fields


def _physical_lines(raw: BinaryIO) -> Iterator[tuple[bytes, bool]]:
    """(line, complete) pairs, each at most MAX_LINE_BYTES: a longer line is cut, the rest of
    it skipped, and reported incomplete."""
    while block := raw.readline(MAX_LINE_BYTES + 1):
        if len(block) <= MAX_LINE_BYTES or block.endswith(b"\n"):
            yield block, True
            continue
        while (rest := raw.readline(CHUNK)) and not rest.endswith(b"\n"):
            pass
        yield b"", False


def _header(
    text: str, required: tuple[str, ...], optional: tuple[str, ...]
) -> tuple[str, list[str]]:
    if not text.strip():
        raise InvalidInput("the file is empty: a header line is expected")
    delimiter = ";" if text.count(";") >= text.count(",") else ","
    names = next(csv.reader([text], delimiter=delimiter))
    return delimiter, _checked_header(names, required, optional)


def _checked_header(
    names: list[str], required: tuple[str, ...], optional: tuple[str, ...]
) -> list[str]:
    header = [name.strip().lower() for name in names]
    missing = [name for name in required if name not in header]
    unknown = [name for name in header if name not in required + optional]
    repeated = sorted({name for name in header if header.count(name) > 1})
    if missing or unknown or repeated:
        problems = []
        if missing:
            problems.append("missing columns: " + ", ".join(missing))
        if unknown:
            problems.append("unknown columns: " + ", ".join(unknown))
        if repeated:
            problems.append("columns named twice: " + ", ".join(repeated))
        raise InvalidInput("bad header (" + "; ".join(problems) + ")")
    return header


def _fields(text: str, delimiter: str, header: list[str]) -> tuple[dict[str, str], str | None]:
    try:
        values = next(csv.reader([text], delimiter=delimiter), [])
    except csv.Error:
        return {}, "the line cannot be read as CSV (an unclosed quote, or a NUL)"
    values[-1:] = [v.rstrip("\r\n") for v in values[-1:]]
    return _named(values, header)


def _named(values: list[str], header: list[str]) -> tuple[dict[str, str], str | None]:
    if any(has_control(v) for v in values):
        return {}, "a field holds control characters"
    if any(len(v) > MAX_FIELD_CHARACTERS for v in values):
        return {}, f"a field is longer than {MAX_FIELD_CHARACTERS} characters"
    if len(values) > len(header):
        return {}, "more fields than columns"
    return {
        name: (values[i].strip() if i < len(values) else "") for i, name in enumerate(header)
    }, None


XLSX_MAGIC = b"PK\x03\x04"
KINDS_REFUSED = {
    b"%PDF": "a PDF document, not a CSV or XLSX file",
    b"\xd0\xcf\x11\xe0": "an .xls file (Excel 97–2003): save it as .xlsx or CSV",
    b"\x89PNG": "an image, not a CSV or XLSX file",
    b"\xff\xd8\xff": "an image, not a CSV or XLSX file",
}


def file_kind(path: Path) -> str:
    """``xlsx`` or ``csv`` by the file's content (never its name); InvalidInput for anything
    else, saying what it looks like (never echoing its bytes)."""
    with path.open("rb") as handle:
        start = handle.read(4096)
    if start.startswith(XLSX_MAGIC):
        return "xlsx"
    for magic, what in KINDS_REFUSED.items():
        if start.startswith(magic):
            raise InvalidInput(f"the file is {what}")
    if b"\x00" in start:
        raise InvalidInput("the file is not text: send a CSV or XLSX file")
    return "csv"


def read_lines(
    path: Path,
    required: tuple[str, ...],
    optional: tuple[str, ...] = (),
) -> Iterator[Line]:
    """The file's data lines as dicts keyed by lower-case column name, streamed line by line
    (a field may not span lines), from a CSV or an XLSX file (told apart by content). A line that
    cannot be read comes with its ``problem``.

    Raises InvalidInput when the file is of another kind, or its header lacks a required column,
    names an unknown one or names one twice.
    """
    if file_kind(path) == "xlsx":
        yield from _xlsx_lines(path, required, optional)
        return
    encoding = "latin-1" if detect_encoding(path) == "latin-1" else "utf-8"
    with path.open("rb") as raw:
        lines = _physical_lines(raw)
        first, complete = next(lines, (b"", True))
        if not complete:
            raise InvalidInput("the header line is too long")
        delimiter, header = _header(first.decode(encoding).lstrip("\ufeff"), required, optional)
        offset = 0
        for number, (block, complete) in enumerate(lines, start=2):
            if number % 64 == 2:  # a system call: not for every line
                offset = raw.tell()
            if not complete:
                yield Line(number, {}, offset, f"the line is longer than {MAX_LINE_BYTES} bytes")
                continue
            text = block.decode(encoding)
            if not text.strip(" \t\r\n;,"):
                continue
            fields, problem = _fields(text, delimiter, header)
            yield Line(number, fields, offset, problem)


def parse_date(value: str, name: str) -> date:
    for candidate in (value, "-".join(reversed(value.split("/")))):
        try:
            return date.fromisoformat(candidate)
        except ValueError:
            continue
    raise errors.InvalidInput(f"{name}: not a date (YYYY-MM-DD or DD/MM/YYYY)")


def _cell(value: object) -> str:
    """A spreadsheet cell as the text a CSV would hold (whole numbers without ".0", dates in
    ISO form)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def _xlsx_lines(path: Path, required: tuple[str, ...], optional: tuple[str, ...]) -> Iterator[Line]:
    """The first sheet's rows, read in streaming mode (openpyxl's read-only workbook)."""
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    handle = path.open("rb")  # a file object: openpyxl judges by content, not by a name
    try:
        workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
    except (InvalidFileException, KeyError, OSError, ValueError, zipfile.BadZipFile):
        handle.close()
        raise InvalidInput("the file is not a readable XLSX workbook") from None
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        first = next(rows, None)
        if first is None:
            raise InvalidInput("the file is empty: a header line is expected")
        header = _checked_header([_cell(v) for v in first], required, optional)
        size = path.stat().st_size
        for number, row in enumerate(rows, start=2):
            values = [_cell(v) for v in row]
            while values and values[-1] == "":
                values.pop()
            if not values:
                continue
            fields, problem = _named(values, header)
            yield Line(number, fields, size * number // max(sheet.max_row or number, 1), problem)
    finally:
        workbook.close()
        handle.close()
