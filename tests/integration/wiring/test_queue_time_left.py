"""IT's job list says how a deadline went: a job delivered with minutes to spare stays on time
after its deadline has passed; one delivered late, or not delivered yet past its deadline, is
late (N§33, N§34, B§32, B§35: 30 minutes from settlement) — over HTTP, on the real runtime
against the simulator, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from adapter.bootstrap import build_app
from adapter.settings import Settings
from adapter.store.tokens import create_token
from adapter.wiring.runtime import Runtime, build_runtime
from connectors.upstream.simulator import SimulatorServer
from tests.support.live import serving
from tests.support.polling import eventually
from tests.support.uploads import queue_admission
from upload_queue.tables import upload_job

ADMISSION = {"mdtrt_id": "E1", "psn_no": "P001", "begntime": "2026-11-24 09:00:00"}


@pytest.fixture
def it_api(
    simulated: tuple[Settings, SimulatorServer],
) -> Iterator[tuple[str, dict[str, str], Runtime]]:
    settings, _ = simulated
    runtime = build_runtime(settings)
    token = create_token(runtime.engine, "信息科-01", ["it"], datetime.now(UTC))
    with serving(build_app(settings, runtime)) as base:
        yield base, {"Authorization": f"Bearer {token}"}, runtime


def _enqueue(runtime: Runtime, deadline: datetime, input: dict[str, Any] = ADMISSION) -> int:
    return queue_admission(runtime, "E1", input, deadline)


def _jobs(base: str, it: dict[str, str], status: str) -> list[dict[str, Any]]:
    reply = httpx.get(f"{base}/api/v1/queue/jobs", params={"status": status}, headers=it)
    assert reply.status_code == 200, reply.text
    return list(reply.json()["jobs"])


def test_a_job_delivered_in_time_is_not_listed_as_late_once_its_deadline_has_passed(
    it_api: tuple[str, dict[str, str], Runtime],
) -> None:
    base, it, runtime = it_api
    _enqueue(runtime, datetime.now(UTC) + timedelta(minutes=30))
    (job,) = eventually(lambda: _jobs(base, it, "delivered"))
    delivered_at = datetime.fromisoformat(job["delivered_at"])
    spare = datetime.fromisoformat(job["deadline"]) - delivered_at
    # the same job, two hours on: delivered and deadline both that far back
    with runtime.engine.begin() as connection:
        connection.execute(
            update(upload_job)
            .where(upload_job.c.id == job["id"])
            .values(
                delivered_at=delivered_at - timedelta(hours=2),
                deadline=delivered_at - timedelta(hours=2) + spare,
            )
        )
    (later,) = _jobs(base, it, "delivered")
    assert later["time_left_s"] > 0  # it reached upstream with that much to spare
    assert later["time_left_s"] == int(spare.total_seconds())


def test_a_job_delivered_after_its_deadline_is_listed_as_late_by_as_much(
    it_api: tuple[str, dict[str, str], Runtime],
) -> None:
    base, it, runtime = it_api
    _enqueue(runtime, datetime.now(UTC) - timedelta(minutes=5))
    (job,) = eventually(lambda: _jobs(base, it, "delivered"))
    late = datetime.fromisoformat(job["deadline"]) - datetime.fromisoformat(job["delivered_at"])
    assert job["time_left_s"] < 0
    assert job["time_left_s"] == int(late.total_seconds())


def test_a_job_held_back_behind_its_stays_dead_upload_names_it(
    it_api: tuple[str, dict[str, str], Runtime],
) -> None:
    """Uploads of a stay go in order: a refused one (dead) holds back the stay's later ones,
    which then wait with no attempt and no error of their own — IT's list names the job to
    see to, where before nothing told why the later upload did not go."""
    base, it, runtime = it_api
    soon = datetime.now(UTC) + timedelta(minutes=30)
    refused = _enqueue(runtime, soon, {k: v for k, v in ADMISSION.items() if k != "begntime"})
    eventually(lambda: _jobs(base, it, "dead"))
    held = _enqueue(runtime, soon, {**ADMISSION, "mdtrt_id": "E2"})
    (waiting,) = _jobs(base, it, "pending")
    assert waiting["id"] == held and waiting["attempts"] == 0 and waiting["last_error"] is None
    assert waiting["waiting_for"] == refused
    (dead,) = _jobs(base, it, "dead")
    assert dead["waiting_for"] is None

    reply = httpx.post(
        f"{base}/api/v1/queue/jobs/{refused}/retry",
        json={"payload": {**dead["payload"], "input": ADMISSION}, "note": "补入院时间"},
        headers=it,
    )
    assert reply.status_code == 200, reply.text
    eventually(lambda: len(_jobs(base, it, "delivered")) == 2)  # the refused one, then the held
    assert not _jobs(base, it, "pending") and not _jobs(base, it, "dead")
