"""Long work started from the console (a campaign, a deposit, a rebuild, a chain verification):
where it is listed, and where its progress is kept, so that a page can be closed and opened
again, by any API process, and still show it.

Each job's truth stays where it already is (a campaign run, a deposit and its report in the event
store; a rebuild in the views' bookkeeping); this table lists the jobs and keeps what has no other
home: the progress of a deposit or a verification, and a verification's result. A job that stops
reporting progress was cut short by a restart: it shows as interrupted and is started again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from projections.store import ViewStore

STALE_AFTER = timedelta(minutes=2)
COLUMNS = (
    "job_id",
    "kind",
    "ref",
    "owner",
    "started_by",
    "label",
    "started_at",
    "updated_at",
    "status",
    "progress",
    "result",
)


@dataclass(frozen=True)
class Job:
    job_id: str
    kind: str  # campaign, deposit, rebuild, verification
    ref: str  # the campaign's file digest, the deposit's id, the views rebuilt
    owner: str  # whose it is: "operator", "audit", or the depositing SIRET
    started_by: str
    label: str
    started_at: str
    updated_at: str
    status: str  # running, finished, failed (interrupted: running, and silent too long)
    progress: dict[str, Any]
    result: dict[str, Any] | None

    def current_status(self, now: datetime | None = None) -> str:
        if self.status != "running":
            return self.status
        last = datetime.fromisoformat(self.updated_at)
        return "interrupted" if (now or datetime.now(UTC)) - last > STALE_AFTER else "running"


def _now() -> str:
    return datetime.now(UTC).isoformat()


class JobStore:
    """The console's jobs, beside the views."""

    def __init__(self, store: ViewStore) -> None:
        self.store = store
        with store.transaction() as cur:
            cur.execute(
                "CREATE TABLE IF NOT EXISTS console_jobs (job_id TEXT PRIMARY KEY, "
                "kind TEXT NOT NULL, ref TEXT NOT NULL, owner TEXT NOT NULL, "
                "started_by TEXT NOT NULL, label TEXT NOT NULL, started_at TEXT NOT NULL, "
                "updated_at TEXT NOT NULL, status TEXT NOT NULL, progress TEXT NOT NULL, "
                "result TEXT)"
            )
            cur.execute(
                "CREATE INDEX IF NOT EXISTS console_jobs_kind ON console_jobs (kind, started_at)"
            )
            cur.execute("CREATE INDEX IF NOT EXISTS console_jobs_ref ON console_jobs (ref)")

    def start(
        self,
        kind: str,
        ref: str,
        owner: str,
        started_by: str,
        label: str,
        progress: dict[str, Any] | None = None,
    ) -> Job:
        now = _now()
        job = Job(
            uuid.uuid4().hex,
            kind,
            ref,
            owner,
            started_by,
            label,
            now,
            now,
            "running",
            progress or {},
            None,
        )
        with self.store.transaction() as cur:
            cur.execute(
                f"INSERT INTO console_jobs ({', '.join(COLUMNS)}) "
                f"VALUES ({', '.join(['%s'] * len(COLUMNS))})",
                (
                    *(getattr(job, c) for c in COLUMNS[:-2]),
                    orjson.dumps(job.progress).decode(),
                    None,
                ),
            )
        return job

    def update(
        self,
        job_id: str,
        progress: dict[str, Any] | None = None,
        status: str | None = None,
        result: dict[str, Any] | None = None,
    ) -> None:
        """Note progress (the job is alive), and its end when ``status`` says so."""
        sets, values = ["updated_at = %s"], [_now()]
        if progress is not None:
            sets.append("progress = %s")
            values.append(orjson.dumps(progress).decode())
        if status is not None:
            sets.append("status = %s")
            values.append(status)
        if result is not None:
            sets.append("result = %s")
            values.append(orjson.dumps(result).decode())
        with self.store.transaction() as cur:
            cur.execute(
                f"UPDATE console_jobs SET {', '.join(sets)} WHERE job_id = %s", (*values, job_id)
            )

    def get(self, job_id: str) -> Job | None:
        found = self._select("job_id = %s", [job_id], 1)
        return found[0] if found else None

    def latest(self, kind: str, ref: str) -> Job | None:
        """The last job of this kind on ``ref`` (a deposit, a campaign file)."""
        found = self._select("kind = %s AND ref = %s", [kind, ref], 1)
        return found[0] if found else None

    def recent(self, kind: str, owners: list[str] | None, limit: int = 10) -> list[Job]:
        """The last jobs of a kind, of these owners (None: anyone's)."""
        where, params = "kind = %s", [kind]
        if owners is not None:
            where += f" AND owner IN ({', '.join(['%s'] * len(owners or ['']))})"
            params += owners or [""]
        return self._select(where, params, limit)

    def _select(self, where: str, params: list[Any], limit: int) -> list[Job]:
        with self.store.transaction(write=False) as cur:
            rows = cur.execute(
                f"SELECT {', '.join(COLUMNS)} FROM console_jobs WHERE {where} "
                "ORDER BY started_at DESC LIMIT %s",
                (*params, limit),
            ).fetchall()
        jobs = []
        for row in rows:
            values = dict(zip(COLUMNS, row, strict=True))
            values["progress"] = orjson.loads(values["progress"])
            values["result"] = orjson.loads(values["result"]) if values["result"] else None
            jobs.append(Job(**values))
        return jobs
