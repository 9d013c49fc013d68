"""The monitor's history and a job's status, read through the queue's own functions
(:class:`OperationsConsole` over the operator use cases on a real queue), payload masking,
and slip negotiation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, select

from adapter.services.operations import Operations
from adapter.store.migrate import upgrade
from adapter.web.chart import history_svg
from adapter.web.ops import OperationsConsole
from adapter.web.payloads import masked, restored
from adapter.web.slip_routes import negotiate
from adapter.wiring.outbox import QueueJobs
from upload_queue import UploadQueue
from upload_queue.tables import upload_job


def _ops(engine: Engine) -> OperationsConsole:
    queue = UploadQueue(engine, registry=CollectorRegistry())
    jobs = QueueJobs(queue, wake=lambda: None)
    # the history and a job's status need only the queue: no msgids, call log or monthly work
    unused = SimpleNamespace()
    operations = Operations(engine=engine, jobs=jobs, msgids=unused, calls=unused)
    return OperationsConsole(operations, unused, timedelta(minutes=10))


def _job(engine: Engine, n: int, created: datetime, delivered: datetime | None) -> None:
    with engine.begin() as connection:
        connection.execute(
            upload_job.insert().values(
                kind="WI2301", payload={"n": n}, idempotency_key=f"K{n}", ordering_key="E",
                deadline=created + timedelta(minutes=30), created_at=created,
                status="delivered" if delivered else "pending", available_at=created,
                round_started_at=created, delivered_at=delivered,
            )
        )  # fmt: skip


def test_backlog_peaks_and_latency_per_hour(engine: Engine) -> None:
    upgrade(engine)
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    _job(engine, 1, now - timedelta(hours=3, minutes=50), now - timedelta(hours=3, minutes=40))
    _job(engine, 2, now - timedelta(hours=3, minutes=45), now - timedelta(hours=3, minutes=44))
    _job(engine, 3, now - timedelta(minutes=20), None)  # still waiting
    _job(engine, 4, now - timedelta(days=3), now - timedelta(days=3))  # too old to matter
    points = _ops(engine).history(now, 24)
    assert len(points) == 25 and points[-1].at == now
    hour = points[-4]  # the hour ending at 09:00 holds both early jobs
    assert hour.backlog == 2 and hour.delivered == 2
    assert hour.latency_max_s == 600 and hour.latency_p50_s == 330
    assert points[-3].backlog == 0 and points[-1].backlog == 1
    svg = history_svg(points, ZoneInfo("Asia/Shanghai"))
    assert svg.count('class="backlog"') == 25 and "最大 600.0 秒" in svg


def test_masked_payload_values_are_restored_and_corrections_kept() -> None:
    original = {"msgid": "M1", "input": {"certno": "110101199001011234", "psn_no": "P001",
                "note": "身份证 110101199001011234", "tel": "13800138000",
                "psn_name": "王建国"}}  # fmt: skip
    shown = masked(original)
    assert shown["input"]["certno"] == "110101********1234"
    assert shown["input"]["psn_name"] == "王**"
    assert "110101199001011234" not in str(shown) and "13800138000" not in str(shown)
    edited = {**shown, "input": {**shown["input"], "begntime": "2026-11-24 09:00:00"}}
    back = restored(edited, original)
    assert back["input"] == {**original["input"], "begntime": "2026-11-24 09:00:00"}
    fixed = {**shown, "input": {**shown["input"], "certno": "110101199001019999"}}
    assert restored(fixed, original)["input"]["certno"] == "110101199001019999"


def test_the_slip_format_follows_the_accept_header() -> None:
    assert negotiate("text/html,application/xhtml+xml,*/*;q=0.8", None) == "text/html"
    assert negotiate("application/pdf", None) == "application/pdf"
    assert negotiate("text/html;q=0.4, application/pdf;q=0.9", None) == "application/pdf"
    assert negotiate("*/*", None) == "text/html"
    assert negotiate("image/png", None) is None
    assert negotiate("image/png", "pdf") == "application/pdf"
    assert negotiate("", None) == "text/html"


def test_a_jobs_status_is_read_and_an_unknown_job_has_none(engine: Engine) -> None:
    upgrade(engine)
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    _job(engine, 1, now - timedelta(minutes=5), None)
    _job(engine, 2, now - timedelta(minutes=9), now - timedelta(minutes=8))
    with engine.connect() as connection:
        ids = dict(connection.execute(select(upload_job.c.idempotency_key, upload_job.c.id)).all())
    unknown = max(ids.values()) + 1
    ops = _ops(engine)
    jobs = [ops.job(job_id) for job_id in (ids["K1"], ids["K2"], unknown)]
    assert [job and (job.status, job.payload) for job in jobs] == [
        ("pending", {"n": 1}),
        ("delivered", {"n": 2}),
        None,
    ]
