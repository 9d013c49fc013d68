"""The runner delivers by itself, recovers leases at start-up, runs the watch once at a time."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from tests.integration.upload_queue.conftest import RecordingUpstream
from tests.integration.upload_queue.helpers import NO_JITTER
from upload_queue.admin import attempts, get_job
from upload_queue.facade import UploadQueue
from upload_queue.identity import host_tag
from upload_queue.jobs import JobSpec
from upload_queue.leasing import lease
from upload_queue.locks import lock_key, try_exclusive
from upload_queue.metrics import QueueMetrics
from upload_queue.scheduler import QueueRunner
from upload_queue.transactions import begin_write


def wait_for(condition: Callable[[], bool], within: float = 15.0) -> None:
    """Poll ``condition`` until true, failing after ``within`` seconds."""
    bound = time.monotonic() + within
    while not condition():
        if time.monotonic() > bound:
            pytest.fail(f"condition not met within {within} s")
        time.sleep(0.01)


@pytest.fixture
def queue(queue_engine: Engine, metrics: QueueMetrics) -> UploadQueue:
    return UploadQueue(queue_engine, registry=metrics.registry, instance_id="node-a")


@pytest.fixture
def runner(queue: UploadQueue) -> Iterator[QueueRunner]:
    runner = queue.runner(workers=2, drain_every=timedelta(hours=1), watch_every=timedelta(hours=1))
    yield runner
    runner.shutdown()


def _spec(key: str, queue: UploadQueue) -> JobSpec:
    return JobSpec("discharge", {"k": key}, key, queue.clock() + timedelta(minutes=30), "enc")


def test_a_job_enqueued_on_a_running_system_is_delivered_on_wake(
    queue: UploadQueue, runner: QueueRunner, upstream: RecordingUpstream
) -> None:
    queue.register("discharge", upstream)
    runner.start()
    wait_for(
        lambda: (
            queue.metrics.registry.get_sample_value("upload_queue_jobs", {"status": "pending"})
            is not None
        )
    )
    for key in ("settle", "revoke"):
        with queue.engine.begin() as connection:
            queue.enqueue(connection, _spec(key, queue))
        runner.wake()  # the next drain tick is an hour away: only wake() can deliver
    wait_for(lambda: len(upstream.keys) == 2)
    assert upstream.keys == ["settle", "revoke"]


def test_start_up_takes_back_the_leases_of_this_instances_previous_run(
    queue: UploadQueue, runner: QueueRunner, upstream: RecordingUpstream
) -> None:
    with queue.engine.begin() as connection:
        job = queue.enqueue(connection, _spec("settle", queue))
    # a previous run of this instance on this host: the same instance id, a process now gone
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    previous = f"node-a:{int(gone.stdout)}.0.{host_tag()}:1"
    lease(
        queue.engine,
        previous,
        queue.clock(),
        lease_for=timedelta(hours=1),
        policy=NO_JITTER,
        metrics=queue.metrics,
    )
    queue.register("discharge", upstream)
    runner.start()
    wait_for(lambda: upstream.keys == ["settle"])
    wait_for(lambda: get_job(queue.engine, job.id).status == "delivered")
    assert [a.outcome for a in attempts(queue.engine, job.id)] == ["lease_expired", "delivered"]


def test_the_runner_alerts_on_deadlines_at_start(queue: UploadQueue, runner: QueueRunner) -> None:
    with queue.engine.begin() as connection:
        queue.enqueue(
            connection,
            JobSpec("rehab_plan", {}, "plan", queue.clock() + timedelta(minutes=3)),
        )
    runner.start()  # no handler for rehab_plan: the job stays pending and at risk
    wait_for(lambda: queue.metrics.registry.get_sample_value("upload_queue_at_risk") == 1)


def test_the_deadline_watch_runs_on_one_postgresql_instance_at_a_time(
    queue: UploadQueue,
) -> None:
    if queue.engine.dialect.name != "postgresql":
        with begin_write(queue.engine) as connection, connection.begin():
            assert try_exclusive(connection, "deadline_watch")  # SQLite: one instance, runs
        assert queue.watch_deadlines() is not None
        return
    with queue.engine.connect() as other_instance, other_instance.begin():
        assert try_exclusive(other_instance, "deadline_watch")
        assert queue.watch_deadlines() is None  # skipped while the other holds the lock
        assert try_exclusive(other_instance, "something_else")
    assert queue.watch_deadlines() is not None  # released with the other's transaction
    assert lock_key("deadline_watch") == lock_key("deadline_watch") != lock_key("x")
