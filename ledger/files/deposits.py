"""Decrement files deposited by employers: every line checked, good lines applied exactly once,
bad lines reported, and the report kept as events of a :class:`DecrementFile`.

A deposit goes chunk by chunk through four steps: **parse** each line's own content, **check**
it against the file (duplicates) and the depositor (its SIRETs, the agent's identity), **apply**
the good lines on the bulk path, **report** every line. The deposit id derives from the
depositor's scope and the file's SHA-256, so depositing the same file again returns the same
report. Each line's decrement carries an idempotency key naming the file and line: a deposit
interrupted half-way and deposited again finishes the rest, once.
"""

from __future__ import annotations

import hashlib
import itertools
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from pathlib import Path
from typing import Any

from eventsourcing.application import AggregateNotFoundError

from ledger import commands as cmd
from ledger.application import Ledger
from ledger.bulk import BulkOutcome
from ledger.domain import errors, rules
from ledger.domain.access import Establishment, establishment_id
from ledger.domain.file_runs import DecrementFile, deposit_id
from ledger.domain.identifiers import Nir, Siret, agent_id_for
from ledger.domain.movements import fold_name
from ledger.domain.provenance import Channel, Provenance
from ledger.files.reading import FALSE, TRUE, Line, file_digest, parse_date, read_lines

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
__all__ = [
    "COLUMNS",
    "DecrementFile",
    "DepositReport",
    "deposit_file",
    "deposit_id",
]


class DuplicateLine(errors.InvalidInput):
    code = "duplicate_line"


class SiretOutOfScope(errors.DomainError):
    code = "siret_out_of_scope"


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


# ------------------------------------------------------------------- parse


def _hours(fields: dict[str, str]) -> int:
    hours_text, days_text = fields.get("hours", ""), fields.get("days", "")
    if bool(hours_text) == bool(days_text):
        raise errors.InvalidHours("give either hours or days")
    if hours_text:
        if not hours_text.isdigit():
            raise errors.InvalidHours("hours must be a whole number greater than zero")
        return rules.training_hours(hours=int(hours_text))
    try:
        days = Fraction(days_text.replace(",", "."))
    except (ValueError, ZeroDivisionError):
        raise errors.InvalidHours("days: not a number") from None
    return rules.training_hours(days=days)


def parse_line(line: Line, key: bytes) -> ParsedLine:
    """Check one line's own content (checksums, hours, dates); raises a DomainError."""
    f = line.checked()
    nir = Nir.parse(f["nir"])
    siret = Siret.parse(f["siret"]).value
    hours = _hours(f)
    start, end = parse_date(f["start"], "start"), parse_date(f["end"], "end")
    if end < start:
        raise errors.InvalidInput("the training ends before it starts")
    if not f["title"]:
        raise errors.InvalidInput("title is required")
    parse_date(f["birth_date"], "birth_date")
    flag = f.get("anticipated", "").lower()
    if flag not in TRUE | FALSE:
        raise errors.InvalidInput("anticipated: expected 1/0, oui/non, true/false")
    training = {
        "title": f["title"],
        "start": start.isoformat(),
        "end": end.isoformat(),
        "reference": f["reference"],
    }
    # The birth name is part of what makes two lines the same decrement: a line refused for a
    # wrong name, then corrected further down, is not a duplicate.
    content = "|".join(
        [nir.value, fold_name(f["birth_name"]), siret, str(hours), *training.values()]
    )
    return ParsedLine(
        number=line.number,
        agent_id=agent_id_for(nir, key),
        nir=nir,
        birth_name=f["birth_name"],
        siret=siret,
        hours=hours,
        start=start,
        training=training,
        anticipated=flag in TRUE,
        fingerprint=hashlib.sha256(content.encode()).hexdigest(),
    )


# ----------------------------------------------------------------- report


def rejected(number: int, error: errors.DomainError) -> dict[str, Any]:
    """The report line of a refused line: its code and a message that repeats no value."""
    return {"line": number, "status": "rejected", "code": error.code, "message": error.message}


def applied(number: int, outcome: BulkOutcome) -> dict[str, Any]:
    """The report line of an applied line: where its hours came from and the balance after."""
    receipt = outcome.receipt
    assert receipt is not None
    return {
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


# ---------------------------------------------------------------- deposit


class Deposit:
    """One deposit in progress: what it has seen so far, and its depositor."""

    def __init__(
        self,
        ledger: Ledger,
        found: DecrementFile,
        provenance: Provenance,
        sirets: Iterable[str] | None,
    ) -> None:
        self.ledger = ledger
        self.file = found
        self.provenance = provenance
        self.allowed = None if sirets is None else set(sirets)
        self.seen: set[str] = set()  # fingerprints of the lines parsed so far
        self.done = found.last_line  # lines reported before an interruption
        self.establishments: dict[str, bool] = {}

    def registered(self, siret: str) -> bool:
        """Whether ``siret`` is a registered establishment (asked once per SIRET)."""
        if siret not in self.establishments:
            try:
                self.ledger.aggregate(
                    establishment_id(siret), Establishment, errors.EstablishmentNotFound("")
                )
                self.establishments[siret] = True
            except errors.EstablishmentNotFound:
                self.establishments[siret] = False
        return self.establishments[siret]

    def check(self, chunk: list[Line], reports: dict[int, dict[str, Any]]) -> list[ParsedLine]:
        """Parse each line and check it against the file and the depositor; the lines that may
        be applied, in order (the others are reported in ``reports``)."""
        parsed: list[ParsedLine] = []
        for line in chunk:
            try:
                item = parse_line(line, self.ledger.id_key)
            except errors.DomainError as bad:
                if line.number > self.done:
                    reports[line.number] = rejected(line.number, bad)
                continue
            duplicate = item.fingerprint in self.seen
            self.seen.add(item.fingerprint)
            if line.number <= self.done:
                continue  # reported before an interruption: only remembered for duplicates
            if duplicate:
                reports[line.number] = rejected(
                    line.number, DuplicateLine("the same decrement appears earlier in this file")
                )
            elif self.allowed is not None and item.siret not in self.allowed:
                reports[line.number] = rejected(
                    line.number, SiretOutOfScope("the SIRET of this line is not one you act for")
                )
            elif not self.registered(item.siret):
                reports[line.number] = rejected(
                    line.number,
                    errors.EstablishmentNotFound(
                        "the SIRET of this line is no registered establishment"
                    ),
                )
            else:
                parsed.append(item)
        return parsed

    def commands(
        self, parsed: list[ParsedLine], reports: dict[int, dict[str, Any]]
    ) -> list[cmd.Decrement]:
        """The decrements of the lines whose NIR and birth name designate a registered agent."""
        identities = self.ledger.identities(list({p.agent_id for p in parsed}))
        commands = []
        for item in parsed:
            identity = identities.get(item.agent_id)
            if identity is None or not identity.matches(item.nir, item.birth_name):
                error = errors.AgentNotFound("no registered agent with this NIR and birth name")
                reports[item.number] = rejected(item.number, error)
                continue
            source = f"decrement-file:{self.file.id.hex}:{item.number}"
            commands.append(
                cmd.Decrement(
                    agent_id=item.agent_id,
                    decrement_id=str(uuid.uuid5(self.file.id, str(item.number))),
                    siret=item.siret,
                    hours=item.hours,
                    effective_date=item.start,
                    training=item.training,
                    anticipated=item.anticipated,
                    provenance=Provenance(
                        self.provenance.principal,
                        Channel.DECREMENT_FILE,
                        source,
                        idempotency_key=source,
                    ),
                )
            )
        return commands

    def apply(self, commands: list[cmd.Decrement], reports: dict[int, dict[str, Any]]) -> None:
        """Apply the decrements on the bulk path and report each one's outcome."""
        for outcome in self.ledger.execute_many(commands, chunk_size=500):
            number = int(str(outcome.command.provenance.source).rsplit(":", 1)[1])
            if outcome.error is not None:
                reports[number] = rejected(number, outcome.error)
            else:
                reports[number] = applied(number, outcome)

    def report(self, reports: dict[int, dict[str, Any]]) -> None:
        """Keep the chunk's report lines (in line order) as an event of the deposit."""
        self.file.report([reports[n] for n in sorted(reports)], self.provenance.as_dict())
        if self.file.pending_events:
            self.ledger.save(self.file)


class DepositReport:
    """A deposit and its per-line report, read back from the store page by page (a file of
    100,000 bad lines is never held in memory)."""

    def __init__(self, ledger: Ledger, deposited: DecrementFile, again: bool = False) -> None:
        self.ledger = ledger
        self.file = deposited
        self.id = deposited.id
        self.again = again  # the same file was deposited before: this is its first report

    def summary(self) -> dict[str, Any]:
        return self.file.summary()

    def iter_lines(self, page: int = 20) -> Iterator[dict[str, Any]]:
        """Every report line, in line order."""
        after = 0
        while events := list(self.ledger.events.get(self.id, gt=after, limit=page)):
            for event in events:
                if isinstance(event, DecrementFile.LinesReported):
                    yield from event.lines
            after = events[-1].originator_version

    @property
    def lines(self) -> list[dict[str, Any]]:
        return list(self.iter_lines())


def _open_deposit(
    ledger: Ledger, digest: str, filename: str, scope: str, provenance: Provenance
) -> DecrementFile:
    try:
        found: DecrementFile = ledger.repository.get(deposit_id(scope, digest))
    except AggregateNotFoundError:
        found = DecrementFile.deposit(digest, filename, scope, provenance.as_dict())
        ledger.save(found)
    return found


def _checked_lines(path: Path) -> Iterator[Line]:
    """The file's lines; a bad header is refused before anything is kept."""
    lines = read_lines(path, COLUMNS, OPTIONAL)
    first = list(itertools.islice(lines, 1))
    return itertools.chain(first, lines)


def deposit_file(
    ledger: Ledger,
    path: Path,
    filename: str,
    principal: str,
    scope: str,
    sirets: Iterable[str] | None,
    progress: Callable[[int, int], None] | None = None,
    lines_per_chunk: int = 400,
) -> DepositReport:
    """Check and apply a decrement file; returns the deposit with its report.

    ``scope`` is the depositing establishment's SIRET (or "operator"); ``sirets`` those the
    depositor acts for (None: any, for operators).
    """
    digest = file_digest(path)
    lines = _checked_lines(path)
    provenance = Provenance(principal, Channel.DECREMENT_FILE, f"decrement-file:{digest}")
    found = _open_deposit(ledger, digest, filename, scope, provenance)
    if found.completed:
        return DepositReport(ledger, found, again=True)
    deposit = Deposit(ledger, found, provenance, sirets)
    while chunk := list(itertools.islice(lines, lines_per_chunk)):
        reports: dict[int, dict[str, Any]] = {}
        parsed = deposit.check(chunk, reports)
        deposit.apply(deposit.commands(parsed, reports), reports)
        deposit.report(reports)
        if progress:
            progress(chunk[-1].offset, chunk[-1].number - 1)
    found.complete(provenance.as_dict())
    ledger.save(found)
    return DepositReport(ledger, found)
