"""Migration 0019: a kept job's payload gets its revision number (how many re-sends replaced
it), so the attempts made after the upgrade name the payload they went with; the attempts
recorded before keep none and are still placed by time when a dead settlement is withdrawn
(N§33, N§38). The upgrade and its downgrade run on a queue holding jobs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, inspect, text

from adapter.store import migrate
from upload_queue.withdrawal import withdraw_refused

AT = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def _as_stored(moment: datetime) -> str:
    """A time as both databases take it in a plain SQL literal parameter (UTC)."""
    return moment.strftime("%Y-%m-%d %H:%M:%S+00:00")


def _keep_jobs_as_0018_left_them(engine: Engine) -> dict[str, int]:
    """Job ``first`` (dead) timed out under its original payload, then IT re-sent it twice,
    the second re-send refused; job ``other`` pending, never re-sent. Written by SQL: the
    queue's code writes the columns 0019 adds."""
    with engine.begin() as connection:
        for key, status, payload in (
            ("first", "dead", '{"key": "first", "v": 2}'),
            ("other", "pending", '{"key": "other"}'),
        ):
            connection.execute(
                text(
                    "INSERT INTO upload_job (kind, payload, idempotency_key, ordering_key, "
                    "deadline, created_at, status, available_at, attempts, total_attempts, "
                    "round_started_at) VALUES ('discharge', :payload, :key, 'stay-1', :deadline, "
                    ":at, :status, :at, 1, 2, :at)"
                ),
                {"payload": payload, "key": key, "status": status, "at": _as_stored(AT),
                 "deadline": _as_stored(AT + timedelta(days=1))},
            )  # fmt: skip
        ids = dict(connection.execute(text("SELECT idempotency_key, id FROM upload_job")).all())
        job = ids["first"]
        for minutes, payload in ((5, '{"key": "first"}'), (7, '{"key": "first", "v": 1}')):
            connection.execute(
                text(
                    "INSERT INTO upload_payload_revision (job_id, replaced_at, payload) "
                    "VALUES (:job, :at, :payload)"
                ),
                {"job": job, "at": _as_stored(AT + timedelta(minutes=minutes)), "payload": payload},
            )
        for number, minutes, outcome, refused in ((1, 1, "transient", False),
                                                  (2, 8, "permanent", True)):  # fmt: skip
            connection.execute(
                text(
                    "INSERT INTO upload_attempt (job_id, number, worker, started_at, "
                    "finished_at, duration_s, outcome, error, refused) "
                    "VALUES (:job, :number, 'w1', :at, :at, 0.1, :outcome, 'x', :refused)"
                ),
                {"job": job, "number": number, "at": _as_stored(AT + timedelta(minutes=minutes)),
                 "outcome": outcome, "refused": refused},
            )  # fmt: skip
    return {str(key): int(job_id) for key, job_id in ids.items()}


def _revisions(engine: Engine) -> tuple[dict[str, int], list[int | None]]:
    with engine.connect() as connection:
        jobs = connection.execute(text("SELECT idempotency_key, payload_revision FROM upload_job"))
        attempts = connection.execute(text("SELECT payload_revision FROM upload_attempt"))
        return {str(k): int(v) for k, v in jobs}, list(attempts.scalars())


def test_0019_numbers_kept_payloads_and_leaves_earlier_attempts_to_be_placed_by_time(
    engine: Engine,
) -> None:
    migrate.upgrade(engine, "0018")
    ids = _keep_jobs_as_0018_left_them(engine)
    migrate.upgrade(engine, "0019")
    assert _revisions(engine) == ({"first": 2, "other": 0}, [None, None])

    def withdraw(undone_v: int | None) -> tuple[str, tuple[int, ...]]:
        with engine.begin() as connection:
            found = withdraw_refused(
                connection, ids["first"], [ids["other"]], reason="无需上传", now=AT,
                undone=lambda payload: payload.get("v") == undone_v,
            )  # fmt: skip
        return found.certainty, found.withdrawn

    # the time-out started before either re-send: it went with the original payload
    assert withdraw(2) == ("uncertain", ())
    assert withdraw(1) == ("uncertain", ())
    assert withdraw(None) == ("undone", (ids["first"], ids["other"]))


def test_0019_goes_down_and_up_again_keeping_the_queue_and_its_lease_index(
    engine: Engine,
) -> None:
    migrate.upgrade(engine, "0018")
    _keep_jobs_as_0018_left_them(engine)
    migrate.upgrade(engine, "0019")
    migrate.downgrade(engine, "0018")
    columns = {c["name"] for c in inspect(engine).get_columns("upload_job")}
    assert "payload_revision" not in columns
    assert "upload_job_pending_edf" in {
        i["name"] for i in inspect(engine).get_indexes("upload_job")
    }
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM upload_attempt")).scalar_one() == 2
    migrate.upgrade(engine, "0019")
    assert _revisions(engine) == ({"first": 2, "other": 0}, [None, None])
