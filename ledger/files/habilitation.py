"""Habilitation files (*habilitation en masse*): many people enabled at once, every line checked
and reported the way decrement files are (``ledger.files.deposits``).

Columns: ``name;email;profile`` and ``siret`` (required of operators; an administrator's lines
default to its own establishment and may name those it manages by delegation). A line is
applied once: the deposit's id derives from the depositor and the file's SHA-256, each line's
user id from the deposit and the line number, so the same file again changes nothing and an
interrupted deposit finishes the rest. Activation codes are returned once, to the depositor, in
the report of the deposit that issued them; they are neither stored nor in any event.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eventsourcing.application import AggregateNotFoundError

from ledger.accounts_service import AccountService, Activation
from ledger.domain import errors
from ledger.domain.access import Profile, Role
from ledger.domain.accounts import normalise_email
from ledger.domain.file_runs import UserFile, user_file_id
from ledger.domain.identifiers import Siret
from ledger.domain.provenance import Provenance
from ledger.files.deposits import DuplicateLine, SiretOutOfScope, rejected
from ledger.files.reading import Line, file_digest, read_lines

COLUMNS = ("name", "email", "profile")
OPTIONAL = ("siret",)


@dataclass
class Habilitation:
    """A deposit and the activation codes this run issued (line -> code), shown once."""

    file: UserFile
    activations: dict[int, Activation] = field(default_factory=dict)

    def report(self) -> list[dict[str, Any]]:
        """The report lines, each applied one with its activation (code or e-mail) if issued
        by this run."""
        lines = []
        for line in self.file.lines:
            issued = self.activations.get(int(line["line"]))
            lines.append({**line, "activation": issued.as_dict() if issued else None})
        return lines


class InvalidProfile(errors.InvalidInput):
    code = "invalid_profile"


class MissingField(errors.InvalidInput):
    code = "missing_field"


def _profile(text: str) -> Profile:
    try:
        return Profile(text.strip().lower())
    except ValueError:
        raise InvalidProfile("profile: expected consultation, gestion or administration") from None


class _Run:
    def __init__(
        self,
        accounts: AccountService,
        found: UserFile,
        provenance: Provenance,
        own_siret: str | None,
        allowed: set[str] | None,
    ) -> None:
        self.accounts = accounts
        self.found = found
        self.provenance = provenance
        self.own_siret = own_siret
        self.allowed = allowed
        self.seen: set[str] = set()
        self.done = found.last_line
        self.result = Habilitation(found)

    def _checked(self, line: Line) -> tuple[str, str, Profile, str]:
        f = line.checked()
        if not f["name"]:
            raise MissingField("name is required")
        email = normalise_email(f["email"])
        profile = _profile(f["profile"])
        if f.get("siret"):
            siret = Siret.parse(f["siret"]).value
        elif self.own_siret is not None:
            siret = self.own_siret
        else:
            raise MissingField("siret is required in an operator's file")
        return f["name"], email, profile, siret

    def line(self, line: Line) -> dict[str, Any] | None:
        """The report of one line (None: reported before an interruption)."""
        try:
            name, email, profile, siret = self._checked(line)
        except errors.DomainError as bad:
            return None if line.number <= self.done else rejected(line.number, bad)
        duplicate = email in self.seen
        self.seen.add(email)
        if line.number <= self.done:
            return None
        if duplicate:
            return rejected(line.number, DuplicateLine("this e-mail appears earlier in this file"))
        if self.allowed is not None and siret not in self.allowed:
            return rejected(
                line.number, SiretOutOfScope("the SIRET of this line is not one you manage")
            )
        source = f"user-file:{self.found.id.hex}:{line.number}"
        try:
            enabled = self.accounts.create(
                Role.EMPLOYER,
                name,
                email,
                Provenance(self.provenance.principal, self.provenance.channel, source),
                siret=siret,
                profile=profile,
                new_user_id=str(uuid.uuid5(self.found.id, str(line.number))),
            )
        except errors.DomainError as refused:
            return rejected(line.number, refused)
        if enabled.created:
            self.result.activations[line.number] = enabled.activation
        return {
            "line": line.number,
            "status": "applied",
            "code": None,
            "message": None,
            "user_id": enabled.account.user_id,
            "email": enabled.account.email,
            "siret": siret,
            "profile": str(profile),
        }


def deposit_users(
    accounts: AccountService,
    path: Path,
    filename: str,
    provenance: Provenance,
    scope: str,
    own_siret: str | None,
    allowed: Iterable[str] | None,
    lines_per_chunk: int = 200,
) -> Habilitation:
    """Check and apply a habilitation file; the deposit with its report and the codes issued.

    ``scope`` is whom the deposit belongs to (the depositor's SIRET, or "operator"),
    ``own_siret`` the SIRET of lines that name none, ``allowed`` the SIRETs lines may name
    (None: any, for operators)."""
    ledger = accounts.ledger
    digest = file_digest(path)
    lines = read_lines(path, COLUMNS, OPTIONAL)
    first = list(itertools.islice(lines, 1))  # a bad header is refused before anything is kept
    prov = provenance.as_dict()
    try:
        found: UserFile = ledger.repository.get(user_file_id(scope, digest))
    except AggregateNotFoundError:
        found = UserFile.deposit(digest, filename, scope, prov)
        ledger.save(found)
    run = _Run(accounts, found, provenance, own_siret, None if allowed is None else set(allowed))
    if found.completed:
        return run.result
    stream = itertools.chain(first, lines)
    while chunk := list(itertools.islice(stream, lines_per_chunk)):
        reports = [report for line in chunk if (report := run.line(line)) is not None]
        found.report(reports, prov)
        if found.pending_events:
            ledger.save(found)
    found.complete(prov)
    ledger.save(found)
    return run.result
