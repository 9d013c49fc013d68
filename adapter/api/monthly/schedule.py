"""``GET /api/v1/schedule/runs`` (it): every run of the scheduled jobs — start, end, outcome,
message, instance — newest first; and, when the scheduler runs in this process, each job's
cron and next run time (``GET /api/v1/schedule/jobs``) and "run now" (``POST
/api/v1/schedule/jobs/{job}/run``, recorded with trigger ``manual``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Query
from pydantic import Field

from adapter.api.deps import EngineDep, SchedulerDep
from adapter.api.duplicate_keys import ParsedOnce
from adapter.api.monthly.common import It
from adapter.api.routes.common import Out
from adapter.domain.errors import NotFound
from adapter.store import schedule_log

router = APIRouter(prefix="/api/v1/schedule", tags=["schedule"], route_class=ParsedOnce)


class ScheduledRunOut(Out):
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


@router.get(
    "/runs", response_model=list[ScheduledRunOut], summary="Scheduled job runs, newest first"
)
def runs(
    _: It,
    engine: EngineDep,
    job: str | None = None,
    outcome: Literal["running", "ok", "failed", "abandoned"] | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> list[ScheduledRunOut]:
    found = schedule_log.recent(engine, job=job, outcome=outcome, limit=limit)
    return [ScheduledRunOut(**run.__dict__) for run in found]


class ScheduledJobOut(Out):
    job: str = Field(examples=["reconciliation"])
    cron: str = Field(examples=["0 6 3 * *"])
    time_zone: str = Field(description="the zone the cron is read in", examples=["Asia/Shanghai"])
    next_run_time: datetime | None


class ScheduledJobsOut(Out):
    running: bool = Field(description="the scheduler runs in this instance")
    jobs: list[ScheduledJobOut]


class RunNowOut(Out):
    job: str
    slot: datetime = Field(description="the slot it ran for: the cron's latest")
    result: str = Field(description="ran, skipped_locked, skipped_done or skipped_exhausted")
    outcome: str
    by: str


@router.get("/jobs", summary="The scheduled jobs of this instance and their next run")
def jobs(_: It, scheduler: SchedulerDep) -> ScheduledJobsOut:
    if scheduler is None:
        return ScheduledJobsOut(running=False, jobs=[])
    described = [ScheduledJobOut(**job) for job in scheduler.describe()]
    return ScheduledJobsOut(running=scheduler.running, jobs=described)


@router.post("/jobs/{job}/run", summary="Run a scheduled job now for its latest slot")
def run_now(job: str, principal: It, scheduler: SchedulerDep) -> RunNowOut:
    if scheduler is None or job not in {j["job"] for j in scheduler.describe()}:
        raise NotFound(f"本实例没有名为 {job} 的定时任务", code="SCHEDULE_JOB_NOT_FOUND")
    attempted = scheduler.run_now(job)
    return RunNowOut(
        job=attempted.job,
        slot=attempted.slot,
        result=attempted.result,
        outcome=attempted.outcome,
        by=principal.name,
    )
