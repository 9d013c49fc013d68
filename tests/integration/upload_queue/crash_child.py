"""The process the crash test kills: enqueue a fixed set of upstream writes, then deliver them
to the upstream simulator through the real reference-dialect client.

``python -m tests.integration.upload_queue.crash_child DB_URL SIMULATOR_URL JOBS IN_FLIGHT DAY``.
Every start re-enqueues all jobs (the idempotency key, the msgid, makes that harmless), takes
back the leases its killed predecessor left (same instance id), and drains until every job is
delivered; then it exits 0. It exits 3 if a job went dead (upstream refused it: with the
jobs below, only a broken per-encounter order or a lost effect can cause that).

The jobs are what the adapter enqueues (``adapter.wiring.outbox``): kind = infno, idempotency
key = msgid, payload ``{"msgid", "input", "insuplc_admdvs", "context"}``, delivered by the
production handler on a :class:`ReferenceClient`. :func:`jobs` is shared with the test.

``DAY`` (``YYYY-MM-DD``) is the test's, fixed once: the msgids (the idempotency keys) carry it,
so a child restarted after midnight in Shanghai must not pick its own day, or it would enqueue
a second set of jobs and the test would expect msgids of yet another day.
"""

from __future__ import annotations

import sys
import time
from datetime import date, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry

from adapter.domain.upstream import make_msgid
from adapter.store.db import make_engine
from adapter.wiring.outbox import register_upload_handlers
from connectors.upstream.client import ReferenceClient
from connectors.upstream.config import UpstreamConfig
from upload_queue import JobSpec, UploadQueue
from upload_queue.retry import RetryPolicy

INSTITUTION = "H11010000001"
ENCOUNTERS = 50
# Per encounter, in this order: admit, rehab plan, revoke the admission. Upstream refuses a
# plan or a revocation for an admission it has not registered, and a plan after the
# revocation, so any reordering within an encounter ends in a refusal (a dead job).
STEPS = ("WI2401", "WI2501", "WI2404")


def msgid(n: int, day: date) -> str:
    moment = datetime(day.year, day.month, day.day, 9, 30) + timedelta(seconds=n // 10_000)
    return make_msgid(INSTITUTION, moment, n % 10_000)


def jobs(count: int, day: date) -> list[tuple[str, dict[str, Any], str | None]]:
    """``count`` jobs as (kind, payload, ordering key), in enqueue order.

    Job ``n`` belongs to encounter ``n % ENCOUNTERS`` and is its step ``n // ENCOUNTERS``
    (so an encounter's jobs are spread over the run); past the three steps, jobs are monthly
    fund confirmations (``WI3301``) with no ordering key.
    """
    out: list[tuple[str, dict[str, Any], str | None]] = []
    for n in range(count):
        encounter, step = n % ENCOUNTERS, n // ENCOUNTERS
        mdtrt_id = f"CRASH-{encounter:03d}"
        payload: dict[str, Any] = {
            "msgid": msgid(n, day),
            "insuplc_admdvs": "310100",
            "context": mdtrt_id,
        }
        if step < len(STEPS):
            kind, key = STEPS[step], mdtrt_id
            payload["input"] = {
                "WI2401": {"mdtrt_id": mdtrt_id, "psn_no": "P001", "begntime": f"{day} 08:00:00"},
                "WI2501": {"mdtrt_id": mdtrt_id, "plan": "康复方案"},
                "WI2404": {"mdtrt_id": mdtrt_id},
            }[kind]
        else:
            kind, key = "WI3301", None
            payload["input"] = {"month": "2026-10", "amount": "1234.56"}
        out.append((kind, payload, key))
    return out


def main(db_url: str, simulator_url: str, count: int, in_flight: int, day: date) -> int:
    engine = make_engine(db_url)
    queue = UploadQueue(
        engine,
        registry=CollectorRegistry(),
        instance_id="crash-node",
        policy=RetryPolicy(base=timedelta(milliseconds=10), cap=timedelta(milliseconds=50)),
        lease_for=timedelta(seconds=30),
        call_timeout=timedelta(seconds=3),  # the upstream config's connect + write timeouts
    )
    config = UpstreamConfig(
        base_url=simulator_url,
        institution_code=INSTITUTION,
        institution_name="示例工伤协议医院",
        treatment_admdvs="110100",
        connect_timeout_s=1.0,
        read_timeout_s=2.0,
        write_timeout_s=2.0,
        read_budget_s=3.0,
    )
    client = ReferenceClient.from_config(config)
    register_upload_handlers(queue, client)
    worker = queue.worker(0, in_flight=in_flight)
    queue.recover(owners=[worker.worker_id])
    deadline = queue.clock() + timedelta(minutes=30)
    specs = [
        JobSpec(kind, payload, payload["msgid"], deadline, key)
        for kind, payload, key in jobs(count, day)
    ]
    for start in range(0, count, 10):
        with engine.begin() as connection:
            for spec in specs[start : start + 10]:
                queue.enqueue(connection, spec)
        worker.drain(max_jobs=3)
    while True:
        by_status = queue.summary().by_status
        if by_status["dead"]:
            for job in queue.list_jobs(status="dead", limit=5):
                print(f"dead: {job.kind} {job.idempotency_key}: {job.last_error}", file=sys.stderr)
            return 3
        if by_status["delivered"] >= count:
            break
        if worker.drain() == 0:
            time.sleep(0.01)  # jobs waiting out their back-off
    client.close()
    engine.dispose()
    return 0


if __name__ == "__main__":
    day = date.fromisoformat(sys.argv[5])
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), day))
