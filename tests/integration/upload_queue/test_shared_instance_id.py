"""Two processes configured with one instance id never take over each other's live leases:
each holds leases under its own process identity, so one job is never delivered by both."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from tests.integration.upload_queue.conftest import RecordingUpstream
from upload_queue.admin import attempts, get_job
from upload_queue.facade import UploadQueue
from upload_queue.identity import ProcessIdentity, dead_predecessors, parse_holder
from upload_queue.jobs import Delivery, JobSpec


class BlockingUpstream(RecordingUpstream):
    """Records a delivery, then holds it until released (a slow upstream)."""

    def __init__(self) -> None:
        super().__init__()
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, delivery: Delivery) -> None:
        super().__call__(delivery)
        self.started.set()
        assert self.release.wait(30), "never released"


def _queue(engine: Engine) -> UploadQueue:
    return UploadQueue(engine, registry=CollectorRegistry(), instance_id="ward-7",
                       lease_for=timedelta(minutes=5))  # fmt: skip


def test_two_queues_with_one_instance_id_never_both_deliver_a_job(
    queue_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = _queue(queue_engine), _queue(queue_engine)
    assert first.worker_id(0) != second.worker_id(0)
    slow, other = BlockingUpstream(), RecordingUpstream()
    first.register("discharge", slow)
    second.register("discharge", other)
    with queue_engine.begin() as connection:
        job = first.enqueue(
            connection,
            JobSpec("discharge", {"k": 1}, "settle-1", first.clock() + timedelta(minutes=30), "e1"),
        )
    draining = threading.Thread(target=first.worker(0).drain, kwargs={"max_jobs": 1})
    draining.start()
    try:
        assert slow.started.wait(15), "the first instance never leased the job"
        # the second starts as a restarted instance would: recover, then drain
        with caplog.at_level(logging.WARNING, logger="upload_queue"):
            assert second.recover(owners=[second.worker_id(0)]) == []
        assert second.worker(0).drain() == 0
        assert get_job(queue_engine, job.id).status == "in_flight"
        assert any("instance_id_shared" in r.getMessage() for r in caplog.records)
    finally:
        slow.release.set()
        draining.join(15)
    assert get_job(queue_engine, job.id).status == "delivered"
    assert slow.keys == ["settle-1"] and other.keys == []
    assert [a.outcome for a in attempts(queue_engine, job.id)] == ["delivered"]


def test_a_worker_id_names_the_instance_the_process_and_the_host() -> None:
    me = ProcessIdentity.current("ward-7")
    holder = parse_holder(me.worker_id(3))
    assert holder is not None and holder.instance_id == "ward-7" and holder.pid == me.pid
    assert len(me.worker_id(31)) <= 100  # fits upload_job.leased_by
    legacy = parse_holder("ward-7:0")
    assert legacy is not None and legacy.instance_id == "ward-7" and legacy.pid is None


def test_only_dead_predecessors_on_this_host_are_adopted_at_start(queue_engine: Engine) -> None:
    from upload_queue.leasing import lease
    from upload_queue.retry import RetryPolicy

    queue = _queue(queue_engine)
    me = queue.identity
    live_elsewhere = f"ward-7:{me.pid}.0.ffffff:0"  # another host: cannot judge, left alone
    same_pid_earlier = f"ward-7:{me.pid}.1.{me.host}:0"  # this pid, an earlier start: gone
    other_instance = f"ward-8:{me.pid}.1.{me.host}:0"
    for n, holder in enumerate((live_elsewhere, same_pid_earlier, other_instance)):
        with queue_engine.begin() as connection:
            queue.enqueue(
                connection,
                JobSpec("discharge", {}, f"k{n}", queue.clock() + timedelta(hours=1), f"e{n}"),
            )
        lease(queue_engine, holder, queue.clock(), lease_for=timedelta(hours=1),
              policy=RetryPolicy(), metrics=queue.metrics, limit=1)  # fmt: skip
    assert dead_predecessors(queue_engine, me) == [same_pid_earlier]
