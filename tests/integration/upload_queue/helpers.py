"""Small builders shared by the queue's integration tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from upload_queue.clock import ManualClock
from upload_queue.enqueue import enqueue
from upload_queue.handlers import Handler, Handlers
from upload_queue.jobs import Job, JobSpec
from upload_queue.metrics import QueueMetrics
from upload_queue.retry import RetryPolicy
from upload_queue.worker import Worker

NO_JITTER = RetryPolicy(random=lambda: 0.0)


def add(
    engine: Engine,
    key: str,
    *,
    clock: ManualClock,
    metrics: QueueMetrics,
    deadline: datetime | timedelta = timedelta(minutes=30),
    ordering_key: str | None = None,
    kind: str = "discharge",
    payload: Mapping[str, Any] | None = None,
) -> Job:
    """Enqueue one job in its own committed transaction."""
    when = clock() + deadline if isinstance(deadline, timedelta) else deadline
    spec = JobSpec(kind, payload or {"key": key}, key, when, ordering_key)
    with engine.begin() as connection:
        return enqueue(connection, spec, now=clock(), metrics=metrics)


def make_worker(
    engine: Engine,
    handler: Handler,
    *,
    clock: ManualClock,
    metrics: QueueMetrics,
    worker_id: str = "w1",
    policy: RetryPolicy = NO_JITTER,
    lease_for: timedelta = timedelta(minutes=2),
    kind: str = "discharge",
    classify: Any = None,
) -> Worker:
    handlers = Handlers()
    handlers.register(kind, handler, classify=classify)
    return Worker(
        engine,
        handlers,
        worker_id=worker_id,
        clock=clock,
        policy=policy,
        lease_for=lease_for,
        metrics=metrics,
    )


def sample(metrics: QueueMetrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def race(workers: list[Worker], delivered: Callable[[], int], total: int) -> None:
    """Every worker drains on its own thread until ``total`` jobs are delivered (a minute at
    most); an exception on any thread fails the test."""
    errors: list[BaseException] = []
    bound = time.monotonic() + 60

    def run(worker: Worker) -> None:
        try:
            while delivered() < total and time.monotonic() < bound:
                worker.drain()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert errors == []
