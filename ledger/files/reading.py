"""Reading the CSV files employers and the CDC exchange: UTF-8 (with or without BOM) or Latin-1,
``;`` or ``,`` separated, streamed line by line, each line and field bounded."""

from __future__ import annotations

import codecs
import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
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
    header = [name.strip().lower() for name in next(csv.reader([text], delimiter=delimiter))]
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
    return delimiter, header


def _fields(text: str, delimiter: str, header: list[str]) -> tuple[dict[str, str], str | None]:
    try:
        values = next(csv.reader([text], delimiter=delimiter), [])
    except csv.Error:
        return {}, "the line cannot be read as CSV (an unclosed quote, or a NUL)"
    values[-1:] = [v.rstrip("\r\n") for v in values[-1:]]
    if any(has_control(v) for v in values):
        return {}, "a field holds control characters"
    if any(len(v) > MAX_FIELD_CHARACTERS for v in values):
        return {}, f"a field is longer than {MAX_FIELD_CHARACTERS} characters"
    if len(values) > len(header):
        return {}, "more fields than columns"
    return {
        name: (values[i].strip() if i < len(values) else "") for i, name in enumerate(header)
    }, None


def read_lines(
    path: Path,
    required: tuple[str, ...],
    optional: tuple[str, ...] = (),
) -> Iterator[Line]:
    """The file's data lines as dicts keyed by lower-case column name, streamed line by line
    (a field may not span lines). A line that cannot be read comes with its ``problem``.

    Raises InvalidInput when the header lacks a required column, names an unknown one or names
    one twice.
    """
    encoding = "latin-1" if detect_encoding(path) == "latin-1" else "utf-8"
    with path.open("rb") as raw:
        lines = _physical_lines(raw)
        first, complete = next(lines, (b"", True))
        if not complete:
            raise InvalidInput("the header line is too long")
        delimiter, header = _header(first.decode(encoding).lstrip("\ufeff"), required, optional)
        for number, (block, complete) in enumerate(lines, start=2):
            if not complete:
                yield Line(
                    number, {}, raw.tell(), f"the line is longer than {MAX_LINE_BYTES} bytes"
                )
                continue
            text = block.decode(encoding)
            if not text.strip(" \t\r\n;,"):
                continue
            fields, problem = _fields(text, delimiter, header)
            yield Line(number, fields, raw.tell(), problem)


def parse_date(value: str, name: str) -> date:
    for candidate in (value, "-".join(reversed(value.split("/")))):
        try:
            return date.fromisoformat(candidate)
        except ValueError:
            continue
    raise errors.InvalidInput(f"{name}: not a date (YYYY-MM-DD or DD/MM/YYYY)")
