"""The delivery ledger: a delivery is remembered after its job is purged, for 18+ months."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, delete

from adapter.cli import main
from adapter.store.db import make_engine
from tests.integration.upload_queue.helpers import add, make_worker
from upload_queue import ledger, reporting
from upload_queue.admin import list_jobs, purge
from upload_queue.clock import ManualClock
from upload_queue.jobs import Delivery, JobSpec
from upload_queue.ledger import Receipt
from upload_queue.metrics import QueueMetrics
from upload_queue.tables import metadata, upload_delivery

ROOT = Path(__file__).resolve().parents[3]


def receipt(delivery: Delivery) -> Receipt:
    return Receipt(reference=f"sent-{delivery.idempotency_key}", reply_code="0", reply_ref="R-9")


def test_a_delivery_writes_its_ledger_entry_with_upstreams_reply(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    job = add(queue_engine, "m1", clock=clock, metrics=metrics, ordering_key="enc-1")
    make_worker(queue_engine, receipt, clock=clock, metrics=metrics).drain()
    with queue_engine.connect() as connection:
        [entry] = ledger.deliveries(connection, kinds=["discharge"], since=clock() - timedelta(1))
    assert (entry.job_id, entry.kind, entry.ordering_key, entry.idempotency_key) == (
        job.id,
        "discharge",
        "enc-1",
        "m1",
    )
    assert (entry.reference, entry.reply_code, entry.reply_ref) == ("sent-m1", "0", "R-9")
    assert entry.delivered_at == clock()


def test_purge_removes_payload_and_history_but_the_delivery_stays_known(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    add(queue_engine, "m1", clock=clock, metrics=metrics)
    add(queue_engine, "m2", clock=clock, metrics=metrics)
    make_worker(queue_engine, lambda d: None, clock=clock, metrics=metrics).drain()
    with queue_engine.begin() as connection:  # m2 was delivered before the ledger existed
        connection.execute(delete(upload_delivery).where(upload_delivery.c.idempotency_key == "m2"))
    pending = add(queue_engine, "m3", clock=clock, metrics=metrics)
    clock.advance(timedelta(days=100))

    assert purge(queue_engine, timedelta(days=90), clock()) == 2
    assert [job.id for job in list_jobs(queue_engine)] == [pending.id]
    with queue_engine.connect() as connection:
        assert ledger.delivered_keys(connection, ["m1", "m2", "m3", "nope"]) == {"m1", "m2"}
        assert ledger.delivered(connection, "m2") and not ledger.delivered(connection, "m3")
        # the purge wrote the missing entry from the job before deleting it
        assert ledger.entries_for(connection, ["m2"])["m2"].reference == "m2"
        # IT's list of jobs looks their states up in one go: purged deliveries included
        assert reporting.states_of(connection, ["m1", "m3", "nope", ""]) == {
            "m1": ("delivered", ""),
            "m3": ("pending", ""),
        }
        assert reporting.state_of(connection, "m2") == ("delivered", "")


def test_the_ledger_is_kept_at_least_18_months(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    add(queue_engine, "old", clock=clock, metrics=metrics)
    make_worker(queue_engine, lambda d: None, clock=clock, metrics=metrics).drain()
    clock.advance(timedelta(days=400))
    add(queue_engine, "new", clock=clock, metrics=metrics)
    make_worker(queue_engine, lambda d: None, clock=clock, metrics=metrics).drain()
    clock.advance(timedelta(days=200))  # old: ~19.7 months ago; new: ~6.6 months

    assert purge(queue_engine, timedelta(days=90), clock()) == 2  # the jobs go first
    with pytest.raises(ValueError, match="at least 18 months"):
        ledger.trim(queue_engine, 17, clock())
    assert ledger.trim(queue_engine, 24, clock()) == 0
    assert ledger.trim(queue_engine, 18, clock()) == 1
    with queue_engine.connect() as connection:
        assert ledger.delivered_keys(connection, ["old", "new"]) == {"new"}


@pytest.fixture
def delivered_days_ago(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """One job delivered 5 days ago, one 40 days ago, one pending; the CLI's database."""
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("ADAPTER_CONFIG_FILE", raising=False)
    monkeypatch.setenv("ADAPTER_DATABASE__URL", db_url)
    engine = make_engine(db_url)
    metadata.create_all(engine)
    metrics = QueueMetrics(CollectorRegistry())
    now = datetime.now(UTC)
    for key, days in (("forty", 40), ("five", 5)):
        clock = ManualClock(now - timedelta(days=days))
        add(engine, key, clock=clock, metrics=metrics)
        make_worker(engine, lambda d: None, clock=clock, metrics=metrics).drain()
    with engine.begin() as connection:
        from upload_queue.enqueue import enqueue

        enqueue(connection, JobSpec("discharge", {}, "waiting", now), metrics=metrics)
    engine.dispose()
    return db_url


def _keys(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return {job.idempotency_key for job in list_jobs(engine)}
    finally:
        engine.dispose()


def test_cli_purge_honours_older_than_days_and_keeps_the_ledger(
    delivered_days_ago: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["queue", "purge", "--older-than-days", "60"]) == 0
    assert "purged 0 delivered job(s) older than 60 day(s)" in capsys.readouterr().out
    assert main(["queue", "purge", "--older-than-days", "30"]) == 0
    assert "purged 1 delivered job(s) older than 30 day(s)" in capsys.readouterr().out
    assert _keys(delivered_days_ago) == {"five", "waiting"}
    assert main(["queue", "purge", "--older-than-days", "1"]) == 0
    assert _keys(delivered_days_ago) == {"waiting"}
    engine = make_engine(delivered_days_ago)
    try:
        with engine.connect() as connection:
            assert ledger.delivered_keys(connection, ["forty", "five", "waiting"]) == {
                "forty",
                "five",
            }
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--older-than-days", "0"], "--older-than-days must be at least 1 (got 0)"),
        (["--ledger-months", "17"], "--ledger-months must be at least 18 (got 17)"),
    ],
)
def test_cli_purge_refuses_to_go_below_its_floors(
    delivered_days_ago: str, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["queue", "purge", *argv]) == 1
    assert message in capsys.readouterr().err
    assert _keys(delivered_days_ago) == {"forty", "five", "waiting"}  # nothing deleted


def test_ledger_months_setting_refuses_fewer_than_18() -> None:
    from adapter.settings_sections import QueueSettings

    with pytest.raises(ValueError, match="18"):
        QueueSettings(ledger_months=17)
    assert QueueSettings().ledger_months == 24


def test_progress_reads_each_jobs_standing_a_purged_delivery_included(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    """A caller's report of many jobs (a month's reconciliation) asks where they stand in one
    look: a delivery purged long ago is still delivered, with its job, reference and time
    from the ledger; a job waiting behind an earlier one of its key names that one."""
    from upload_queue.progress import progress_of

    old = add(queue_engine, "m1", clock=clock, metrics=metrics, ordering_key="enc-1")
    make_worker(queue_engine, receipt, clock=clock, metrics=metrics).drain()
    delivered_at = clock()
    clock.advance(timedelta(days=100))
    assert purge(queue_engine, timedelta(days=90), clock()) == 1
    first = add(queue_engine, "m2", clock=clock, metrics=metrics, ordering_key="enc-2")
    behind = add(queue_engine, "m3", clock=clock, metrics=metrics, ordering_key="enc-2")
    with queue_engine.connect() as connection:
        found = progress_of(connection, ["m1", "m2", "m3", "nope", ""])
    assert set(found) == {"m1", "m2", "m3"}
    m1 = found["m1"]
    assert (m1.job_id, m1.status, m1.reference) == (old.id, "delivered", "sent-m1")
    assert m1.delivered_at == delivered_at and m1.next_attempt_at is None
    assert found["m2"].status == "pending" and found["m2"].held_back_by is None
    assert found["m2"].next_attempt_at == clock()
    assert (found["m3"].job_id, found["m3"].held_back_by) == (behind.id, first.id)
