"""Decrement files deposited by employers: every line checked, good lines applied exactly once,
bad lines reported, and the report kept as events of a DecrementFile aggregate.

The deposit id derives from the depositor's scope and the file's SHA-256, so depositing the same
file again returns the same report. Each line's decrement carries an idempotency key naming the
file and line: a deposit interrupted half-way and deposited again finishes the rest, once.
"""

from __future__ import annotations

import hashlib
import itertools
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from pathlib import Path
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate

from ledger import commands as cmd
from ledger import errors, rules
from ledger.application import Ledger
from ledger.campaign import FALSE, TRUE, parse_date
from ledger.csvfiles import Line, file_digest, read_lines
from ledger.identifiers import Nir, Siret, agent_id_for
from ledger.provenance import Channel, Provenance

COLUMNS = (
    "nir",
    "birth_name",
    "first_name",
    "birth_date",
    "siret",
    "start",
    "end",
    "title",
    "reference",
)
OPTIONAL = ("hours", "days", "anticipated")
NAMESPACE = uuid.UUID("0b7e55a4-6c1e-4a7e-9f0f-6a1d2c3b4e5f")
REPORT_COLUMNS = (
    "line",
    "status",
    "code",
    "message",
    "agent_id",
    "decrement_id",
    "from_reserve",
    "from_counter",
    "balance_after",
)


class DuplicateLine(errors.InvalidInput):
    code = "duplicate_line"


class SiretOutOfScope(errors.DomainError):
    code = "siret_out_of_scope"


def deposit_id(scope: str, digest: str) -> uuid.UUID:
    """The same file deposited by the same establishment (or by operators) is the same deposit."""
    return uuid.uuid5(NAMESPACE, f"decrement-file:{scope}:{digest}")


class DecrementFile(Aggregate):
    """A deposited decrement file and its per-line report."""

    class Event(Aggregate.Event):
        pass

    class Deposited(Aggregate.Created, Event):
        file_sha256: str
        filename: str
        principal: str
        scope: str

    def __init__(self, file_sha256: str, filename: str, principal: str, scope: str) -> None:
        self.file_sha256 = file_sha256
        self.filename = filename
        self.principal = principal
        self.scope = scope
        self.lines: list[dict[str, Any]] = []
        self.completed = False

    class LinesReported(Event):
        lines: list[dict[str, Any]]

        def apply(self, aggregate: Any) -> None:
            aggregate.lines.extend(self.lines)

    class Completed(Event):
        def apply(self, aggregate: Any) -> None:
            aggregate.completed = True

    @property
    def last_line(self) -> int:
        return self.lines[-1]["line"] if self.lines else 1

    def summary(self) -> dict[str, Any]:
        statuses = [line["status"] for line in self.lines]
        return {
            "deposit_id": self.id.hex,
            "filename": self.filename,
            "file_sha256": self.file_sha256,
            "completed": self.completed,
            "lines": len(self.lines),
            "applied": statuses.count("applied"),
            "rejected": statuses.count("rejected"),
            "hours_from_reserve": sum(line.get("from_reserve") or 0 for line in self.lines),
            "hours_from_counter": sum(line.get("from_counter") or 0 for line in self.lines),
        }


@dataclass(frozen=True)
class ParsedLine:
    number: int
    agent_id: uuid.UUID
    nir: Nir
    birth_name: str
    siret: str
    hours: int
    start: date
    training: dict[str, str]
    anticipated: bool
    fingerprint: str


def parse_line(line: Line, key: bytes) -> ParsedLine:
    """Check one line's own content (checksums, hours, dates); raises a DomainError."""
    f = line.fields
    if "__extra__" in f:
        raise errors.InvalidInput("more fields than columns")
    nir = Nir.parse(f["nir"])
    siret = Siret.parse(f["siret"]).value
    hours_text, days_text = f.get("hours", ""), f.get("days", "")
    if bool(hours_text) == bool(days_text):
        raise errors.InvalidHours("give either hours or days")
    if hours_text:
        if not hours_text.isdigit():
            raise errors.InvalidHours("hours must be a whole number greater than zero")
        hours = rules.training_hours(hours=int(hours_text))
    else:
        try:
            days = Fraction(days_text.replace(",", "."))
        except (ValueError, ZeroDivisionError):
            raise errors.InvalidHours("days: not a number") from None
        hours = rules.training_hours(days=days)
    start, end = parse_date(f["start"], "start"), parse_date(f["end"], "end")
    if end < start:
        raise errors.InvalidInput("the training ends before it starts")
    if not f["title"]:
        raise errors.InvalidInput("title is required")
    parse_date(f["birth_date"], "birth_date")
    flag = f.get("anticipated", "").lower()
    if flag not in TRUE | FALSE:
        raise errors.InvalidInput("anticipated: expected 1/0, oui/non, true/false")
    content = "|".join(
        [
            nir.value,
            siret,
            str(hours),
            start.isoformat(),
            end.isoformat(),
            f["title"],
            f["reference"],
        ]
    )
    return ParsedLine(
        number=line.number,
        agent_id=agent_id_for(nir, key),
        nir=nir,
        birth_name=f["birth_name"],
        siret=siret,
        hours=hours,
        start=start,
        training={
            "title": f["title"],
            "start": start.isoformat(),
            "end": end.isoformat(),
            "reference": f["reference"],
        },
        anticipated=flag in TRUE,
        fingerprint=hashlib.sha256(content.encode()).hexdigest(),
    )


def _rejected(number: int, error: errors.DomainError) -> dict[str, Any]:
    return {"line": number, "status": "rejected", "code": error.code, "message": error.message}


def deposit_file(
    ledger: Ledger,
    path: Path,
    filename: str,
    principal: str,
    scope: str,
    sirets: Iterable[str] | None,
    progress: Callable[[int, int], None] | None = None,
    lines_per_chunk: int = 400,
) -> DecrementFile:
    """Check and apply a decrement file; returns the deposit with its report.

    ``sirets`` are those the depositor acts for (None: any, for operators).
    """
    digest = file_digest(path)
    allowed = None if sirets is None else set(sirets)
    file_id = deposit_id(scope, digest)
    lines = read_lines(path, COLUMNS, OPTIONAL)
    first = list(itertools.islice(lines, 1))  # a bad header is refused before anything is kept
    lines = itertools.chain(first, lines)
    try:
        deposit: DecrementFile = ledger.repository.get(file_id)
    except AggregateNotFoundError:
        deposit = DecrementFile._create(
            DecrementFile.Deposited,
            id=file_id,
            file_sha256=digest,
            filename=filename,
            principal=principal,
            scope=scope,
        )
        ledger.save(deposit)
    if deposit.completed:
        return deposit
    seen: set[str] = set()
    done = deposit.last_line
    while chunk := list(itertools.islice(lines, lines_per_chunk)):
        reports: dict[int, dict[str, Any]] = {}
        parsed: list[ParsedLine] = []
        for line in chunk:
            try:
                item = parse_line(line, ledger.id_key)
            except errors.DomainError as error:
                if line.number > done:
                    reports[line.number] = _rejected(line.number, error)
                continue
            duplicate = item.fingerprint in seen
            seen.add(item.fingerprint)
            if line.number <= done:
                continue  # reported before an interruption: only remembered for duplicates
            if duplicate:
                reports[line.number] = _rejected(
                    line.number, DuplicateLine("the same decrement appears earlier in this file")
                )
            elif allowed is not None and item.siret not in allowed:
                reports[line.number] = _rejected(
                    line.number, SiretOutOfScope(f"SIRET {item.siret} is not one you act for")
                )
            else:
                parsed.append(item)
        agents = ledger.load_agents(list({p.agent_id for p in parsed}))
        commands = []
        for item in parsed:
            agent = agents.get(item.agent_id)
            if agent is None or not ledger.identity_of(agent).matches(item.nir, item.birth_name):
                reports[item.number] = _rejected(
                    item.number,
                    errors.AgentNotFound("no registered agent with this NIR and birth name"),
                )
                continue
            commands.append(
                cmd.Decrement(
                    agent_id=item.agent_id,
                    decrement_id=str(uuid.uuid5(file_id, str(item.number))),
                    siret=item.siret,
                    hours=item.hours,
                    effective_date=item.start,
                    training=item.training,
                    anticipated=item.anticipated,
                    provenance=Provenance(
                        principal,
                        Channel.DECREMENT_FILE,
                        f"decrement-file:{file_id.hex}:{item.number}",
                        idempotency_key=f"decrement-file:{file_id.hex}:{item.number}",
                    ),
                )
            )
        for outcome in ledger.execute_many(commands, chunk_size=500):
            number = int(str(outcome.command.provenance.source).rsplit(":", 1)[1])
            if outcome.error is not None:
                reports[number] = _rejected(number, outcome.error)
            else:
                receipt = outcome.receipt
                assert receipt is not None
                reports[number] = {
                    "line": number,
                    "status": "applied",
                    "code": None,
                    "message": None,
                    "agent_id": receipt.agent_id.hex,
                    "decrement_id": receipt.decrement_id,
                    "from_reserve": -receipt.reserve_hours,
                    "from_counter": -receipt.hours,
                    "balance_after": receipt.balance_after,
                }
        if reports:
            deposit.trigger_event(
                DecrementFile.LinesReported, lines=[reports[n] for n in sorted(reports)]
            )
            ledger.save(deposit)
        if progress:
            progress(chunk[-1].offset, chunk[-1].number - 1)
    deposit.trigger_event(DecrementFile.Completed)
    ledger.save(deposit)
    return deposit
