"""The wall clock jumps around a 30-minute upload deadline (NTP step, VM resume, wrong manual
set then corrected): the queue's deadline watch and summary follow the clock they are given,
in both directions, and a delivery clears the alarm.

The queue takes an injectable clock; :class:`ManualClock` jumps it without sleeping.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from adapter.store.migrate import upgrade
from upload_queue.clock import ManualClock
from upload_queue.facade import UploadQueue
from upload_queue.jobs import JobSpec

T0 = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)
DEADLINE = T0 + timedelta(minutes=30)


def _alarms(queue: UploadQueue) -> tuple[list[int], list[int], int, int]:
    report = queue.watch_deadlines()
    assert report is not None  # this instance ran the watch
    summary = queue.summary()
    return (
        [a.job_id for a in report.at_risk],
        [a.job_id for a in report.missed],
        summary.at_risk,
        summary.missed,
    )


def test_deadline_alarms_follow_the_clock_forward_past_the_deadline_and_back(
    engine: Engine,
) -> None:
    upgrade(engine)
    clock = ManualClock(T0)
    queue = UploadQueue(engine, clock=clock, at_risk_margin=timedelta(minutes=10))
    delivered: list[str] = []
    queue.register("WI2301", lambda d: delivered.append(d.idempotency_key))
    with engine.begin() as connection:
        job = queue.enqueue(
            connection,
            JobSpec("WI2301", {"input": {}}, "MSG-1", DEADLINE, ordering_key="E1"),
        )

    assert _alarms(queue) == ([], [], 0, 0)

    clock.set(DEADLINE - timedelta(minutes=5))  # forward into the margin
    assert _alarms(queue) == ([job.id], [], 1, 0)

    clock.set(DEADLINE + timedelta(hours=3))  # forward far past the deadline
    assert _alarms(queue) == ([], [job.id], 0, 1)

    clock.set(T0 + timedelta(minutes=2))  # back: the deadline is 28 minutes away again
    assert _alarms(queue) == ([], [], 0, 0)

    clock.set(DEADLINE - timedelta(seconds=1))  # one second before: at risk, not missed
    assert _alarms(queue) == ([job.id], [], 1, 0)
    clock.set(DEADLINE)  # the deadline itself counts as missed
    assert _alarms(queue) == ([], [job.id], 0, 1)

    worker = queue.worker()
    worker.drain()
    assert delivered == ["MSG-1"]
    assert _alarms(queue) == ([], [], 0, 0)  # delivered: no alarm, whatever the clock says
    clock.set(DEADLINE + timedelta(days=1))
    assert _alarms(queue) == ([], [], 0, 0)
