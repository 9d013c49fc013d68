"""IT's withdraw command refuses, with why in Chinese and changing nothing, a dead settlement
upload that was never sent (``JOB_NEVER_SENT``: upstream never answered it, so only a re-send
can show it holds nothing) and one whose revocation is already on its way or delivered
(``JOB_REVOCATION_UNDER_WAY``: withdrawing the settlement then would leave upstream a
revocation of nothing, or the re-settlement beside a settlement it holds — N§33, N§38).
Over ``POST /api/v1/queue/jobs/{id}/withdraw`` and ``wi-adapter queue withdraw``, on the real
runtime against the simulator.

Both states are ones the queue does not reach on demand, so the test sets them by SQL: a job
dies only through an attempt or a lease that ran out, both recorded, so a dead job with no
attempt is one marked dead by hand or by an older version; and a revocation waits behind the
dead upload of its stay, so it is in flight or delivered only where another instance leased it
before the upload died, or ran an older version."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from adapter.cli import main
from adapter.domain.upstream import Infno
from adapter.store.tokens import create_token
from adapter.wiring.runtime import Runtime
from tests.integration.wiring.test_withdraw_faces import _queue
from tests.integration.wiring.test_withdrawn_uploads import site as site  # the served runtime
from upload_queue.tables import upload_attempt, upload_job

ADMISSION = {"psn_no": "P001", "begntime": "2026-11-24 09:00:00"}


def _stay(runtime: Runtime, stay: str) -> tuple[int, int, int]:
    """Stay ``stay``'s discharge record, its settlement's revocation queued behind it (as before
    the withdrawal existed), and the stay's next upload: none sent yet."""
    upload, msgid = _queue(runtime, stay, Infno.DISCHARGE, {"mdtrt_id": "NO-SUCH-STAY"})
    revoke = {"mdtrt_id": "NO-SUCH-STAY", "omsgid": msgid}
    revocation, _ = _queue(runtime, stay, Infno.SETTLEMENT_REVOKE, revoke, revokes=msgid)
    later, _ = _queue(runtime, stay, Infno.ADMISSION, {"mdtrt_id": stay, **ADMISSION})
    return upload, revocation, later


def _set(runtime: Runtime, job_id: int, **values: Any) -> None:
    with runtime.engine.begin() as connection:
        connection.execute(update(upload_job).where(upload_job.c.id == job_id).values(**values))


def _state(runtime: Runtime, *ids: int) -> list[tuple[Any, ...]]:
    """What withdrawing would change: each job's status, error, withdrawal and attempts made;
    and the audit entries of withdrawals."""
    with runtime.engine.connect() as connection:
        jobs = connection.execute(
            select(
                upload_job.c.id, upload_job.c.status, upload_job.c.last_error,
                upload_job.c.withdrawn_at,
                select(func.count()).where(upload_attempt.c.job_id == upload_job.c.id)
                .scalar_subquery(),
            ).where(upload_job.c.id.in_(ids)).order_by(upload_job.c.id)
        ).all()  # fmt: skip
        audited = connection.exec_driver_sql(
            "SELECT count(*) FROM audit_log WHERE action = 'upload.withdraw'"
        ).scalar_one()
    return [tuple(job) for job in jobs] + [("audited", audited)]


def _refused_everywhere(
    base: str, runtime: Runtime, job_id: int, code: str, capsys: pytest.CaptureFixture[str]
) -> str:
    """The route's 409 (problem+json naming ``code``) and the command's exit 1 say the same
    Chinese message; give it."""
    token = create_token(runtime.engine, "信息科-01", ["it"], datetime.now(UTC))
    reply = httpx.post(
        f"{base}/api/v1/queue/jobs/{job_id}/withdraw",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert reply.status_code == 409, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    (error,) = reply.json()["errors"]
    assert error["code"] == code
    capsys.readouterr()
    assert main(["queue", "withdraw", str(job_id)]) == 1
    printed = capsys.readouterr()
    assert printed.out == "" and printed.err.strip() == f"wi-adapter: {error['message']}"
    return str(error["message"])


def test_JOB_NEVER_SENT_a_dead_settlement_upload_never_sent_is_re_sent_not_withdrawn(
    site: tuple[str, Runtime], capsys: pytest.CaptureFixture[str]
) -> None:
    base, runtime = site
    jobs = _stay(runtime, "E-NEVER")
    now = datetime.now(UTC)
    _set(runtime, jobs[0], status="dead", dead_at=now, last_error="marked dead by hand")
    runtime.queue.worker().drain()  # nothing of the stay goes: it waits behind the dead upload
    before = _state(runtime, *jobs)
    assert [job[1:] for job in before[:3]] == [
        ("dead", "marked dead by hand", None, 0), ("pending", None, None, 0),
        ("pending", None, None, 0),
    ]  # fmt: skip

    message = _refused_everywhere(base, runtime, jobs[0], "JOB_NEVER_SENT", capsys)
    assert f"上传任务 {jobs[0]}（WI2301）从未发送到上级系统" in message
    assert "请重发该任务" in message
    assert _state(runtime, *jobs) == before


@pytest.mark.parametrize("revocation_status", ["in_flight", "delivered"])
def test_JOB_REVOCATION_UNDER_WAY_a_refused_upload_whose_revocation_went_is_not_withdrawn(
    site: tuple[str, Runtime], capsys: pytest.CaptureFixture[str], revocation_status: str
) -> None:
    base, runtime = site
    jobs = _stay(runtime, f"E-WAY-{revocation_status}")
    now = datetime.now(UTC)
    if revocation_status == "in_flight":  # leased by another instance's worker
        held = {"leased_by": "other-host:1:0", "lease_token": "f" * 32, "leased_at": now,
                "lease_expires_at": now + timedelta(minutes=2)}  # fmt: skip
    else:
        held = {"delivered_at": now}
    _set(runtime, jobs[1], status=revocation_status, **held)
    runtime.queue.worker().drain()  # the discharge record goes: upstream refuses it
    before = _state(runtime, *jobs)
    assert [job[1] for job in before[:3]] == ["dead", revocation_status, "pending"]
    assert before[0][4] == 1  # one attempt: refused

    message = _refused_everywhere(base, runtime, jobs[0], "JOB_REVOCATION_UNDER_WAY", capsys)
    label = {"in_flight": "上传中", "delivered": "已送达"}[revocation_status]
    assert f"撤销结算（WI2305，上传任务 {jobs[1]}）当前状态为“{label}”" in message
    assert "可能已到达上级系统，不能撤回" in message
    assert _state(runtime, *jobs) == before
