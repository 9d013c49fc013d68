"""Each attempt of a dead job is judged with the payload it went out with, by the payload
revision it was leased under, not by comparing clocks (upload_queue.withdrawal).

A settlement upload that timed out may be held by upstream. If that attempt were taken for one
made with the payload IT re-sent later, and that payload's upload is undone, the settlement would
be withdrawn with its revocation: the clerk's re-settlement would go up beside the one upstream
holds (double reimbursement, N§33, N§38)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, update

from tests.integration.upload_queue.conftest import START, RecordingUpstream
from tests.integration.upload_queue.helpers import add, make_worker
from upload_queue import admin
from upload_queue.clock import ManualClock
from upload_queue.errors import RefusedDeliveryError, TransientDeliveryError
from upload_queue.jobs import Delivery, Job
from upload_queue.leasing import lease_on
from upload_queue.metrics import QueueMetrics
from upload_queue.outcomes import Finished, record_outcomes
from upload_queue.recovery import recover
from upload_queue.retry import RetryPolicy
from upload_queue.tables import upload_attempt
from upload_queue.transactions import begin_write, write_transaction
from upload_queue.withdrawal import Withdrawal, withdraw_refused

ONCE = RetryPolicy(max_attempts=1, random=lambda: 0.0)
FirstAttempt = Callable[[Engine, "Failing", ManualClock, QueueMetrics], None]


class Failing(RecordingUpstream):
    """Raises ``errors`` in turn for the key ``first`` (keeping the payload each such attempt
    went with in ``tried``), then accepts and records like upstream."""

    def __init__(self, *errors: Exception) -> None:
        super().__init__()
        self.left = list(errors)
        self.tried: list[dict[str, object]] = []

    def __call__(self, delivery: Delivery) -> None:
        if delivery.idempotency_key == "first" and self.left:
            self.tried.append(dict(delivery.payload))
            raise self.left.pop(0)
        super().__call__(delivery)


def _stay(engine: Engine, clock: ManualClock, metrics: QueueMetrics) -> tuple[Job, Job, Job]:
    """A settlement, its revocation, the settlement again: one ordering key, in that order."""
    jobs = [
        add(engine, key, clock=clock, metrics=metrics, ordering_key="stay-1")
        for key in ("first", "revoke", "again")
    ]
    return jobs[0], jobs[1], jobs[2]


def _withdraw(
    engine: Engine, first: Job, revoke: Job, now: ManualClock, v: int | None
) -> Withdrawal:
    """Withdraw ``first`` with ``revoke``, upstream having undone the upload of payload ``v``
    (``None``: the original payload, which has no ``v``)."""
    with engine.begin() as connection:
        return withdraw_refused(
            connection, first.id, [revoke.id], reason="无需上传", now=now(),
            undone=lambda payload: payload.get("v") == v,
        )  # fmt: skip


def _lost_worker(
    engine: Engine, upstream: Failing, clock: ManualClock, metrics: QueueMetrics
) -> None:
    """The first attempt: leased by a worker that was lost before it reported (upstream may
    have taken it); its instance, restarted, returns the lease (``lease_expired``)."""
    del upstream  # it never answered
    with begin_write(engine) as connection, write_transaction(connection):
        [leased] = lease_on(connection, "w1", clock(), lease_for=timedelta(minutes=2), limit=1)
    assert leased.delivery.payload == {"key": "first"}
    recover(engine, clock(), policy=ONCE, metrics=metrics, owners=["w1"])


def _timed_out(
    engine: Engine, upstream: Failing, clock: ManualClock, metrics: QueueMetrics
) -> None:
    """The first attempt: a time-out (upstream may have taken it)."""
    upstream.left.insert(0, TransientDeliveryError("timeout"))
    make_worker(engine, upstream, clock=clock, metrics=metrics, policy=ONCE).drain()
    assert upstream.tried == [{"key": "first"}]


@pytest.mark.parametrize("first_attempt", [_timed_out, _lost_worker], ids=["time_out", "lost"])
def test_an_attempt_stamped_after_the_re_send_by_a_clock_running_ahead_keeps_its_payload(
    queue_engine: Engine, metrics: QueueMetrics, first_attempt: FirstAttempt
) -> None:
    """Instance A's clock runs ten minutes ahead of IT's: its attempt with the original payload
    (upstream may hold it) is stamped after IT's re-send with payload v2, which instance B then
    sends (refused). Upstream undid v2's upload, not the original's: the settlement is not
    withdrawn, its revocation stays owed and the stay's next upload waits."""
    it_clock = ManualClock(START)
    ahead = ManualClock(START + timedelta(minutes=10))
    behind = ManualClock(START + timedelta(minutes=2))
    upstream = Failing(RefusedDeliveryError("no"))
    first, revoke, again = _stay(queue_engine, it_clock, metrics)
    first_attempt(queue_engine, upstream, ahead, metrics)
    it_clock.advance(timedelta(minutes=1))
    admin.retry(queue_engine, first.id, it_clock(), payload={"key": "first", "v": 2})
    instance_b = make_worker(
        queue_engine, upstream, clock=behind, metrics=metrics, policy=ONCE, worker_id="w2"
    )
    instance_b.drain()
    assert upstream.tried[-1] == {"key": "first", "v": 2}
    history = admin.attempts(queue_engine, first.id)
    assert [(a.refused, a.payload_revision) for a in history] == [(False, 0), (True, 1)]
    assert history[0].started_at > admin.revisions(queue_engine, first.id)[0].replaced_at

    found = _withdraw(queue_engine, first, revoke, it_clock, v=2)
    assert (found.certainty, found.withdrawn, found.uncertain) == ("uncertain", (), 1)
    instance_b.drain()
    assert upstream.keys == []
    assert [admin.get_job(queue_engine, j.id).status for j in (first, revoke, again)] == [
        "dead", "pending", "pending",
    ]  # fmt: skip
    # the original's upload undone: now it is withdrawn, and the stay goes on
    found = _withdraw(queue_engine, first, revoke, it_clock, v=None)
    assert (found.certainty, found.withdrawn, found.undone) == ("undone", (first.id, revoke.id), 1)
    instance_b.drain()
    assert upstream.keys == ["again"]


def test_attempts_recorded_before_the_revision_was_kept_are_placed_by_time(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    """Attempt rows written before migration 0019 have no payload revision (set ``NULL`` here
    by SQL, as the migration leaves them): each is judged with the payload replaced first after
    it started. A time-out under the original, IT re-sends v2 (refused): the time-out went with
    the original."""
    upstream = Failing(TransientDeliveryError("timeout"), RefusedDeliveryError("no"))
    first, revoke, _ = _stay(queue_engine, clock, metrics)
    worker = make_worker(queue_engine, upstream, clock=clock, metrics=metrics, policy=ONCE)
    worker.drain()
    clock.advance(timedelta(minutes=1))
    admin.retry(queue_engine, first.id, clock(), payload={"key": "first", "v": 2})
    clock.advance(timedelta(minutes=1))
    worker.drain()
    with queue_engine.begin() as connection:
        connection.execute(update(upload_attempt).values(payload_revision=None))

    found = _withdraw(queue_engine, first, revoke, clock, v=2)
    assert (found.certainty, found.withdrawn, found.uncertain) == ("uncertain", (), 1)
    found = _withdraw(queue_engine, first, revoke, clock, v=None)
    assert (found.certainty, found.withdrawn, found.undone) == ("undone", (first.id, revoke.id), 1)


def test_every_attempt_row_carries_the_revision_its_job_was_leased_with(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    """Each re-send with a replaced payload counts the job's revision up; the lease hands the
    number out with the payload, and the outcome writes it into the attempt row — one by one,
    or (PostgreSQL) a batch of deliveries in one statement."""
    jobs = [add(queue_engine, f"k-{n}", clock=clock, metrics=metrics) for n in range(3)]
    for n, job in enumerate(jobs):
        for v in range(1, n + 1):  # k-1 re-sent once, k-2 twice (pending jobs may be)
            admin.retry(queue_engine, job.id, clock(), payload={"key": job.idempotency_key, "v": v})
    with begin_write(queue_engine) as connection, write_transaction(connection):
        leased = lease_on(connection, "w1", clock(), lease_for=timedelta(minutes=2), limit=3)
    assert [(i.delivery.payload.get("v"), i.delivery.payload_revision) for i in leased] == [
        (None, 0), (1, 1), (2, 2),
    ]  # fmt: skip
    done = [Finished(i.delivery, i, "delivered", None, clock(), clock(), 0.01) for i in leased]
    with begin_write(queue_engine) as connection, write_transaction(connection):
        record_outcomes(connection, done, ONCE, "w1")
    with queue_engine.connect() as connection:
        rows = connection.execute(
            select(upload_attempt.c.job_id, upload_attempt.c.payload_revision)
        ).all()
    assert sorted(rows) == [(job.id, n) for n, job in enumerate(jobs)]
