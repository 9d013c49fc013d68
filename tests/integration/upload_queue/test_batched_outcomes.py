"""A worker's batch of outcomes is recorded together (on PostgreSQL in one statement for the
deliveries), with every guarantee of one-by-one recording: only while the lease is held,
the ledger entry with each delivery, the attempt history beside them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, select

from tests.integration.upload_queue.helpers import NO_JITTER, add
from upload_queue.clock import ManualClock
from upload_queue.leasing import Leased, lease_on
from upload_queue.ledger import Receipt
from upload_queue.metrics import QueueMetrics
from upload_queue.outcomes import Finished, record_outcomes
from upload_queue.recovery import release_expired
from upload_queue.tables import upload_attempt, upload_delivery, upload_job
from upload_queue.transactions import begin_write, write_transaction


def _four_leased_one_taken_over(
    engine: Engine, clock: ManualClock, metrics: QueueMetrics, lost: str
) -> list[Leased]:
    """Jobs k-0…k-3 leased by w1 (in deadline order); then ``lost``'s lease expires and w2
    takes it before w1 reports."""
    for n in range(4):
        add(engine, f"k-{n}", clock=clock, metrics=metrics, deadline=timedelta(minutes=10 + n))
    with begin_write(engine) as connection, write_transaction(connection):
        leased = lease_on(connection, "w1", clock(), lease_for=timedelta(minutes=1), limit=4)
    assert [item.delivery.idempotency_key for item in leased] == ["k-0", "k-1", "k-2", "k-3"]
    with begin_write(engine) as connection, write_transaction(connection):
        connection.execute(
            upload_job.update()
            .where(upload_job.c.idempotency_key == lost)
            .values(lease_expires_at=clock() - timedelta(seconds=1))
        )
        release_expired(connection, clock(), NO_JITTER, metrics)
        [again] = lease_on(connection, "w2", clock(), lease_for=timedelta(minutes=1), limit=1)
    assert again.delivery.idempotency_key == lost
    return leased


def test_a_batch_of_deliveries_keeps_the_held_leases_and_discards_the_lost_one(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    leased = _four_leased_one_taken_over(queue_engine, clock, metrics, lost="k-3")
    clock.advance(timedelta(seconds=2))
    finished = [
        Finished(item.delivery, item, "delivered", None, clock(), clock(), 0.01) for item in leased
    ]
    finished[1] = Finished(
        leased[1].delivery, leased[1], "transient", "busy", clock(), clock(), 0.01
    )
    with begin_write(queue_engine) as connection, write_transaction(connection):
        recorded = record_outcomes(connection, finished, NO_JITTER, "w1")
    assert [(r.outcome.status, r.kept) for r in recorded] == [
        ("delivered", True),
        ("pending", True),
        ("delivered", True),
        ("in_flight", False),  # w2 holds it now: w1's result is discarded
    ]
    assert "lease had expired" in (recorded[3].outcome.error or "")
    with queue_engine.connect() as connection:
        statuses = dict(
            connection.execute(select(upload_job.c.idempotency_key, upload_job.c.status)).all()
        )
        ledger = connection.execute(
            select(upload_delivery.c.idempotency_key, upload_delivery.c.delivered_at)
        ).all()
    assert statuses == {
        "k-0": "delivered",
        "k-1": "pending",
        "k-2": "delivered",
        "k-3": "in_flight",
    }
    assert sorted(key for key, _ in ledger) == ["k-0", "k-2"]
    assert all(at == clock() for _, at in ledger)


def test_a_recorded_batch_writes_each_attempt_and_each_held_delivery_s_ledger_entry(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    leased = _four_leased_one_taken_over(queue_engine, clock, metrics, lost="k-2")
    started = clock()
    clock.advance(timedelta(seconds=2))
    receipt = Receipt("MSG-0", "AA", "R-0")
    finished = [
        Finished(item.delivery, item, "delivered", None, started, clock(), 0.25, receipt)
        for item in leased
    ]
    finished[1] = Finished(leased[1].delivery, leased[1], "permanent", "refused", started, clock(),
                           0.5)  # fmt: skip
    with begin_write(queue_engine) as connection, write_transaction(connection):
        recorded = record_outcomes(connection, finished, NO_JITTER, "w1")
    assert [(r.outcome.status, r.kept) for r in recorded] == [
        ("delivered", True),
        ("dead", True),
        ("in_flight", False),
        ("delivered", True),
    ]
    with queue_engine.connect() as connection:
        attempts = connection.execute(
            select(
                upload_job.c.idempotency_key,
                upload_attempt.c.number,
                upload_attempt.c.worker,
                upload_attempt.c.outcome,
                upload_attempt.c.started_at,
                upload_attempt.c.finished_at,
                upload_attempt.c.duration_s,
            )
            .join(upload_job, upload_job.c.id == upload_attempt.c.job_id)
            .order_by(upload_job.c.idempotency_key, upload_attempt.c.id)
        ).all()
        ledger = connection.execute(
            select(
                upload_delivery.c.idempotency_key,
                upload_delivery.c.job_id,
                upload_delivery.c.kind,
                upload_delivery.c.reference,
                upload_delivery.c.reply_code,
                upload_delivery.c.reply_ref,
                upload_delivery.c.delivered_at,
            ).order_by(upload_delivery.c.idempotency_key)
        ).all()
    assert attempts == [
        ("k-0", 1, "w1", "delivered", started, clock(), 0.25),
        ("k-1", 1, "w1", "permanent", started, clock(), 0.5),
        ("k-2", 1, "w1", "lease_expired", started, started, 0.0),  # by the recovery
        ("k-2", 1, "w1", "lease_lost", started, clock(), 0.25),
        ("k-3", 1, "w1", "delivered", started, clock(), 0.25),
    ]
    ids = {item.delivery.idempotency_key: item.delivery.job_id for item in leased}
    assert ledger == [
        ("k-0", ids["k-0"], "discharge", "MSG-0", "AA", "R-0", clock()),
        ("k-3", ids["k-3"], "discharge", "MSG-0", "AA", "R-0", clock()),
    ]


def test_a_job_leased_again_by_the_same_worker_is_recorded_once_under_the_lease_it_holds(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    """w1's lease of k-1 ran out and w1 itself leased k-1 again: both deliveries come back in
    one batch. Only the one under the lease held counts (one ledger entry); the other is
    kept in the history as lost."""
    for n in range(2):
        add(
            queue_engine, f"k-{n}", clock=clock, metrics=metrics, deadline=timedelta(minutes=10 + n)
        )
    lease_for = timedelta(minutes=1)
    with begin_write(queue_engine) as connection, write_transaction(connection):
        first = lease_on(connection, "w1", clock(), lease_for=lease_for, limit=2)
    clock.advance(lease_for)
    with begin_write(queue_engine) as connection, write_transaction(connection):
        release_expired(connection, clock(), NO_JITTER, metrics)
        [again] = lease_on(connection, "w1", clock(), lease_for=lease_for, limit=1)
    assert again.delivery.idempotency_key == "k-0"  # both were released; k-0 comes first
    items = [*first, again]
    finished = [
        Finished(item.delivery, item, "delivered", None, clock(), clock(), 0.01) for item in items
    ]
    with begin_write(queue_engine) as connection, write_transaction(connection):
        recorded = record_outcomes(connection, finished, NO_JITTER, "w1")
    assert [(r.outcome.job_id, r.kept) for r in recorded] == [
        (first[0].delivery.job_id, False),
        (first[1].delivery.job_id, False),
        (again.delivery.job_id, True),
    ]
    with queue_engine.connect() as connection:
        ledger = connection.execute(select(upload_delivery.c.idempotency_key)).scalars().all()
        outcomes = connection.execute(
            select(upload_attempt.c.outcome, upload_attempt.c.number).where(
                upload_attempt.c.job_id == again.delivery.job_id
            )
        ).all()
    assert ledger == ["k-0"]
    assert sorted(outcomes) == [("delivered", 2), ("lease_expired", 1), ("lease_lost", 1)]
