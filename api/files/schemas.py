"""Bulk files' reports: a decrement file's per-line report and a campaign run."""

from __future__ import annotations

from pydantic import BaseModel, Field

from api.schemas import FileRunSummary

BINARY = {"schema": {"type": "string", "format": "binary"}}
CSV_AND_XLSX = {
    "text/csv": BINARY,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": BINARY,
}


class ReportLine(BaseModel):
    line: int = Field(description="The line's number in the file (the header is line 1)")
    status: str = Field(description="applied or rejected")
    code: str | None = Field(description="Why a line was rejected: a stable error code")
    message: str | None = Field(description="The reason, naming the column, never its value")
    agent_id: str | None = None
    decrement_id: str | None = None
    from_reserve: int | None = None
    from_counter: int | None = None
    balance_after: int | None = None


class DepositReport(FileRunSummary):
    hours_from_reserve: int
    hours_from_counter: int
    report: list[ReportLine]


class Rejection(BaseModel):
    line: int
    code: str
    message: str


class CampaignRun(BaseModel):
    """A campaign run: its progress while it runs, its report once finished, or why it failed."""

    campaign_id: str = Field(description="The file's SHA-256: the same file is one campaign")
    filename: str
    status: str = Field(description="running, finished, failed, or interrupted (post it again)")
    lines_read: int = 0
    applied: int | None = None
    already_applied: int | None = None
    rejected: dict[str, int] | None = Field(default=None, description="Rejected lines by code")
    rejections: list[Rejection] | None = Field(default=None, description="The first 1000")
    error: str | None = None
    message: str | None = None
