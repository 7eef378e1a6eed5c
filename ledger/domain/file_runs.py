"""Deposited files as aggregates: a campaign run and a decrement file, each with its life cycle.

A file's id derives from its SHA-256 (and, for a decrement file, from the depositing
establishment), so the same file deposited again is the same aggregate: its status and report are
in the event store, the same from every API worker and after a restart.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from eventsourcing.domain import Aggregate

from ledger.domain import errors
from ledger.domain.topics import pin_topics

NAMESPACE = uuid.UUID("0b7e55a4-6c1e-4a7e-9f0f-6a1d2c3b4e5f")
STALE_AFTER = timedelta(minutes=2)
"""A running campaign that reported no progress for this long was interrupted (a restart)."""


def deposit_id(scope: str, digest: str) -> uuid.UUID:
    """The same file deposited by the same establishment (or by operators) is the same deposit."""
    return uuid.uuid5(NAMESPACE, f"decrement-file:{scope}:{digest}")


def campaign_id(digest: str) -> uuid.UUID:
    """A campaign file is one run, whoever deposits it and however often."""
    return uuid.uuid5(NAMESPACE, f"campaign:{digest}")


class FileEvent(Aggregate.Event):
    provenance: dict[str, Any]


class LineReports:
    """What a deposited file's aggregate does with its report, line by line (its own
    ``LinesReported`` and ``Completed`` events keep their topics). Only the counts stay in the
    aggregate: the lines themselves are read back from the store when asked for."""

    id: uuid.UUID
    filename: str
    file_sha256: str
    completed: bool
    counts: dict[str, int]
    last_line: int  # the last line reported so far (1, the header, before any)
    LinesReported: Any
    Completed: Any
    trigger_event: Any

    def report(self, lines: list[dict[str, Any]], provenance: dict[str, Any]) -> None:
        """Keep the outcome of a chunk of lines (in line order)."""
        if self.completed:
            raise errors.InvalidInput("this deposit is already complete")
        if lines:
            self.trigger_event(self.LinesReported, lines=lines, provenance=provenance)

    def complete(self, provenance: dict[str, Any]) -> None:
        if not self.completed:
            self.trigger_event(self.Completed, provenance=provenance)

    def tally(self, lines: list[dict[str, Any]]) -> None:
        """Count a chunk's lines (applied, rejected, and any hours the counts keep)."""
        for line in lines:
            self.counts["lines"] += 1
            self.counts[line["status"]] = self.counts.get(line["status"], 0) + 1
            for name in ("from_reserve", "from_counter"):
                if f"hours_{name}" in self.counts:
                    self.counts[f"hours_{name}"] += line.get(name) or 0
        if lines:
            self.last_line = int(lines[-1]["line"])

    def summary(self) -> dict[str, Any]:
        """The deposit and how many of its lines were applied and rejected."""
        return {
            "deposit_id": self.id.hex,
            "filename": self.filename,
            "file_sha256": self.file_sha256,
            "completed": self.completed,
            **self.counts,
        }


def _counts(*names: str) -> dict[str, int]:
    return dict.fromkeys(("lines", "applied", "rejected", *names), 0)


class DecrementFile(LineReports, Aggregate):
    """A deposited decrement file and its per-line report."""

    class Event(FileEvent):
        pass

    class Deposited(Aggregate.Created, Event):
        file_sha256: str
        filename: str
        principal: str
        scope: str

    class LinesReported(Event):
        lines: list[dict[str, Any]]

        def apply(self, aggregate: Any) -> None:
            aggregate.tally(self.lines)

    class Completed(Event):
        def apply(self, aggregate: Any) -> None:
            aggregate.completed = True

    def __init__(self, file_sha256: str, filename: str, principal: str, scope: str) -> None:
        self.file_sha256 = file_sha256
        self.filename = filename
        self.principal = principal
        self.scope = scope
        self.counts = _counts("hours_from_reserve", "hours_from_counter")
        self.last_line = 1
        self.completed = False

    @classmethod
    def deposit(
        cls, digest: str, filename: str, scope: str, provenance: dict[str, Any]
    ) -> DecrementFile:
        """A new deposit of the file with SHA-256 ``digest`` by ``scope`` (a SIRET, or
        "operator")."""
        return cls._create(
            cls.Deposited,
            id=deposit_id(scope, digest),
            file_sha256=digest,
            filename=filename,
            principal=provenance["principal"],
            scope=scope,
            provenance=provenance,
        )


class Campaign(Aggregate):
    """One run of the yearly acquisition campaign file (alimentation): started, progressing,
    then finished with its report or failed with its reason. Started again after a failure or
    an interruption, it resumes: lines already applied are not applied twice."""

    class Event(FileEvent):
        pass

    class Started(Aggregate.Created, Event):
        file_sha256: str
        filename: str

    class Restarted(Event):
        def apply(self, aggregate: Any) -> None:
            aggregate.status = "running"
            aggregate.failure = None
            aggregate.heartbeat = self.timestamp

    class Progressed(Event):
        counts: dict[str, Any]

        def apply(self, aggregate: Any) -> None:
            aggregate.counts = self.counts
            aggregate.heartbeat = self.timestamp

    class Finished(Event):
        counts: dict[str, Any]
        rejections: list[dict[str, Any]]

        def apply(self, aggregate: Any) -> None:
            aggregate.status = "finished"
            aggregate.counts = self.counts
            aggregate.rejections = self.rejections

    class Failed(Event):
        code: str
        reason: str

        def apply(self, aggregate: Any) -> None:
            aggregate.status = "failed"
            aggregate.failure = {"code": self.code, "reason": self.reason}

    def __init__(self, file_sha256: str, filename: str) -> None:
        self.file_sha256 = file_sha256
        self.filename = filename
        self.status = "running"
        self.counts: dict[str, Any] = {"lines_read": 0}
        self.rejections: list[dict[str, Any]] = []
        self.failure: dict[str, str] | None = None
        self.heartbeat: datetime | None = None

    @classmethod
    def start(cls, digest: str, filename: str, provenance: dict[str, Any]) -> Campaign:
        return cls._create(
            cls.Started,
            id=campaign_id(digest),
            file_sha256=digest,
            filename=filename,
            provenance=provenance,
        )

    def current_status(self, now: datetime | None = None) -> str:
        """running, finished, failed, or interrupted (running with no progress for a while)."""
        beat = self.heartbeat or self.modified_on
        if self.status == "running" and (now or datetime.now(UTC)) - beat > STALE_AFTER:
            return "interrupted"
        return self.status

    def restart(self, provenance: dict[str, Any]) -> bool:
        """Run again after a failure or an interruption; False when running or finished."""
        if self.current_status() in ("failed", "interrupted"):
            self.trigger_event(self.Restarted, provenance=provenance)
            return True
        return False

    def progress(self, counts: dict[str, Any], provenance: dict[str, Any]) -> None:
        self.trigger_event(self.Progressed, counts=counts, provenance=provenance)

    def finish(
        self, counts: dict[str, Any], rejections: list[dict[str, Any]], provenance: dict[str, Any]
    ) -> None:
        self.trigger_event(
            self.Finished, counts=counts, rejections=rejections, provenance=provenance
        )

    def fail(self, code: str, reason: str, provenance: dict[str, Any]) -> None:
        self.trigger_event(self.Failed, code=code, reason=reason, provenance=provenance)

    def summary(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "campaign_id": self.file_sha256,
            "filename": self.filename,
            "status": self.current_status(),
            **self.counts,
        }
        if self.status == "finished":
            result["rejections"] = self.rejections
        if self.failure:
            result["error"], result["message"] = self.failure["code"], self.failure["reason"]
        return result


class UserFile(LineReports, Aggregate):
    """A deposited habilitation file (habilitation en masse): the people it enabled, line by
    line. The report never holds an activation code: those are shown once, to the depositor."""

    class Event(FileEvent):
        pass

    class Deposited(Aggregate.Created, Event):
        file_sha256: str
        filename: str
        scope: str

    class LinesReported(Event):
        lines: list[dict[str, Any]]

        def apply(self, aggregate: Any) -> None:
            aggregate.tally(self.lines)
            aggregate.lines.extend(self.lines)  # a list of people: small enough to keep

    class Completed(Event):
        def apply(self, aggregate: Any) -> None:
            aggregate.completed = True

    def __init__(self, file_sha256: str, filename: str, scope: str) -> None:
        self.file_sha256 = file_sha256
        self.filename = filename
        self.scope = scope
        self.lines: list[dict[str, Any]] = []
        self.counts = _counts()
        self.last_line = 1
        self.completed = False

    @classmethod
    def deposit(
        cls, digest: str, filename: str, scope: str, provenance: dict[str, Any]
    ) -> UserFile:
        return cls._create(
            cls.Deposited,
            id=user_file_id(scope, digest),
            file_sha256=digest,
            filename=filename,
            scope=scope,
            provenance=provenance,
        )


def user_file_id(scope: str, digest: str) -> uuid.UUID:
    """The same habilitation file deposited by the same establishment is the same deposit."""
    return uuid.uuid5(NAMESPACE, f"user-file:{scope}:{digest}")


pin_topics("ledger.deposits", DecrementFile)
pin_topics("ledger.user_files", UserFile)
pin_topics("ledger.campaigns", Campaign)
