"""``GET /api/v1/schedule/runs`` (it): every run of the scheduled jobs — start, end, outcome,
message, instance — newest first; and, when the scheduler runs in this process, each job's
cron and next run time (``GET /api/v1/schedule/jobs``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from adapter.api.monthly.common import It
from adapter.services import schedule_log

router = APIRouter(prefix="/api/v1/schedule", tags=["schedule"])


class RunOut(BaseModel):
    id: int
    job: str
    slot: datetime
    attempt: int
    instance: str
    trigger: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    message: str


@router.get("/runs", response_model=list[RunOut], summary="Scheduled job runs, newest first")
def runs(
    request: Request,
    _: It,
    job: str | None = None,
    outcome: Literal["running", "ok", "failed", "abandoned"] | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> list[RunOut]:
    found = schedule_log.recent(request.app.state.engine, job=job, outcome=outcome, limit=limit)
    return [RunOut(**run.__dict__) for run in found]


@router.get("/jobs", summary="The scheduled jobs of this instance and their next run")
def jobs(request: Request, _: It) -> dict[str, Any]:
    runtime = getattr(request.app.state, "runtime", None)
    scheduler = getattr(request.app.state, "scheduler", None) or getattr(runtime, "scheduler", None)
    if scheduler is None:
        return {"running": False, "jobs": []}
    return {"running": scheduler.running, "jobs": scheduler.describe()}
