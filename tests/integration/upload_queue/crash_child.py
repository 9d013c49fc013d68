"""The process the crash test kills: enqueue a fixed set of jobs, then deliver them over HTTP.

``python -m tests.integration.upload_queue.crash_child DB_URL UPSTREAM_URL JOBS``. Every
start re-enqueues all jobs (the idempotency key makes that harmless), takes back the
leases its killed predecessor left (same instance id), and drains until every job is
delivered; then it exits 0.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from datetime import timedelta

from prometheus_client import CollectorRegistry

from adapter.store.db import make_engine
from upload_queue import JobSpec, TransientDeliveryError, UploadQueue
from upload_queue.jobs import Delivery
from upload_queue.retry import RetryPolicy

KEYS = 7


def main(db_url: str, upstream_url: str, jobs: int) -> int:
    engine = make_engine(db_url)
    queue = UploadQueue(
        engine,
        registry=CollectorRegistry(),
        instance_id="crash-node",
        policy=RetryPolicy(base=timedelta(milliseconds=10), cap=timedelta(milliseconds=50)),
        lease_for=timedelta(seconds=30),
    )

    def deliver(delivery: Delivery) -> None:
        body = json.dumps(
            {"key": delivery.idempotency_key, "order": delivery.ordering_key}
        ).encode()
        request = urllib.request.Request(upstream_url, data=body, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=5) as reply:
                reply.read()
        except OSError as exc:
            raise TransientDeliveryError(str(exc)) from exc

    queue.register("discharge", deliver)
    worker = queue.worker(0)
    queue.recover(owners=[worker.worker_id])
    for start in range(0, jobs, 10):
        with engine.begin() as connection:
            for n in range(start, min(start + 10, jobs)):
                deadline = queue.clock() + timedelta(minutes=30)
                spec = JobSpec("discharge", {"n": n}, f"job-{n}", deadline, f"enc-{n % KEYS}")
                queue.enqueue(connection, spec)
        worker.drain(max_jobs=3)
    while queue.summary().by_status["delivered"] < jobs:
        worker.drain()
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
