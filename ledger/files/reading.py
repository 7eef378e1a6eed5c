"""Reading the CSV files employers and the CDC exchange: UTF-8 (with or without BOM) or Latin-1,
``;`` or ``,`` separated, streamed line by line."""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ledger.domain import errors
from ledger.domain.errors import InvalidInput

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


@dataclass(frozen=True, slots=True)
class Line:
    """One data line: its number in the file (the header is line 1) and its fields by column."""

    number: int
    fields: dict[str, str]
    offset: int  # bytes of the file read so far (approximately): for progress bars


def read_lines(
    path: Path,
    required: tuple[str, ...],
    optional: tuple[str, ...] = (),
) -> Iterator[Line]:
    """The file's data lines as dicts keyed by lower-case column name, streamed.

    Raises InvalidInput when the header lacks a required column or names an unknown one.
    """
    encoding = detect_encoding(path)
    with path.open("rb") as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        header_line = text.readline()
        if not header_line.strip():
            raise InvalidInput("the file is empty: a header line is expected")
        delimiter = ";" if header_line.count(";") >= header_line.count(",") else ","
        header = [
            name.strip().lower() for name in next(csv.reader([header_line], delimiter=delimiter))
        ]
        missing = [name for name in required if name not in header]
        unknown = [name for name in header if name not in required + optional]
        if missing or unknown:
            problems = []
            if missing:
                problems.append("missing columns: " + ", ".join(missing))
            if unknown:
                problems.append("unknown columns: " + ", ".join(unknown))
            raise InvalidInput("bad header (" + "; ".join(problems) + ")")
        offset = 0
        for number, values in enumerate(csv.reader(text, delimiter=delimiter), start=2):
            if number % 64 == 2:  # a system call: not for every line
                offset = raw.tell()
            if not any(v.strip() for v in values):
                continue
            fields = {
                name: (values[i].strip() if i < len(values) else "")
                for i, name in enumerate(header)
            }
            if len(values) > len(header):
                fields["__extra__"] = "yes"
            yield Line(number, fields, offset)


def parse_date(value: str, name: str) -> date:
    for candidate in (value, "-".join(reversed(value.split("/")))):
        try:
            return date.fromisoformat(candidate)
        except ValueError:
            continue
    raise errors.InvalidInput(f"{name}: not a date (YYYY-MM-DD or DD/MM/YYYY)")
