"""Recovery speed on the real runtime (issue 14, item 13): after an outage, the first
successful upstream exchange — here a clerk's read — sends the uploads that were waiting out
their back-off at once, instead of at their next slot minutes away."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from adapter.settings import Settings
from adapter.store.uow import UnitOfWork
from adapter.wiring.runtime import Runtime, build_runtime
from connectors.upstream.simulator import SimulatorServer
from tests.support.polling import eventually
from upload_queue.admin import get_job, list_jobs
from upload_queue.retry import RetryPolicy

BACK_OFF = RetryPolicy(base=timedelta(minutes=5), cap=timedelta(minutes=5), jitter=0.0)


@pytest.fixture
def live(simulated: tuple[Settings, SimulatorServer]) -> Iterator[tuple[Runtime, SimulatorServer]]:
    settings, simulator = simulated
    runtime = build_runtime(settings, hl7=False, scheduled=False)
    assert runtime.runner is not None
    for worker in runtime.runner.workers:
        worker.policy = BACK_OFF
    runtime.start()
    try:
        yield runtime, simulator
    finally:
        runtime.stop()


def _faults(simulator: SimulatorServer, **faults: object) -> None:
    assert httpx.post(f"{simulator.url}/_sim/faults", json=faults).status_code == 200


def _enqueue_admission(runtime: Runtime) -> int:
    msgid = runtime.msgids.next()
    payload = {
        "msgid": msgid,
        "input": {"mdtrt_id": "E1", "psn_no": "P001", "begntime": "2026-11-24 09:00:00"},
        "insuplc_admdvs": "310100",
        "context": "E1",
    }
    with UnitOfWork(runtime.engine) as uow:
        runtime.outbox.enqueue(
            uow.session,
            kind="WI2401",
            payload=payload,
            idempotency_key=msgid,
            ordering_key="E1",
            deadline=datetime.now(UTC) + timedelta(hours=1),
        )
        uow.commit()
    (job,) = list_jobs(runtime.engine)
    return job.id


def test_a_successful_read_after_an_outage_sends_the_backed_off_uploads_at_once(
    live: tuple[Runtime, SimulatorServer],
) -> None:
    runtime, simulator = live
    _faults(simulator, outage=True)
    job_id = _enqueue_admission(runtime)
    runtime.wake()
    backed_off = eventually(
        lambda: (
            (job := get_job(runtime.engine, job_id)).status == "pending"
            and job.attempts >= 1
            and job
        ),
        30,
        "a failed attempt, backed off",
    )
    slot = backed_off.available_at
    assert slot - datetime.now(UTC) > timedelta(minutes=4)

    _faults(simulator)  # upstream is back; nothing has told the queue yet
    runtime.gateway.institution_status(runtime.settings.institution.code)  # a clerk's read

    delivered = eventually(
        lambda: (job := get_job(runtime.engine, job_id)).status == "delivered" and job,
        30,
        "the upload to be delivered after the successful read",
    )
    assert delivered.delivered_at is not None and delivered.delivered_at < slot
    received = httpx.get(
        f"{simulator.url}/_sim/received", params={"msgid": delivered.payload["msgid"]}
    )
    (write,) = received.json()["writes"]
    assert write["took_effect"]
