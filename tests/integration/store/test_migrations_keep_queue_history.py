"""Upgrading keeps the upload queue's history. On SQLite a migration that alters ``upload_job``
rebuilds it (0017 did, to change its status check); dropping the old table must not take the
rows that reference it — every attempt (what upstream may hold: the withdrawal of a dead
settlement judges by them, N§33, N§38) and every payload a re-send replaced — with it."""

from __future__ import annotations

from sqlalchemy import Engine, text

from adapter.store import migrate

AT = "2026-12-01 02:00:00+00:00"


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table: int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
            for table in ("upload_job", "upload_attempt", "upload_payload_revision")
        }


def test_upgrading_past_the_rebuild_of_upload_job_keeps_attempts_and_replaced_payloads(
    engine: Engine,
) -> None:
    migrate.upgrade(engine, "0016")
    with engine.begin() as connection:  # as 0016's queue left them (its code is gone: SQL)
        connection.execute(
            text(
                "INSERT INTO upload_job (kind, payload, idempotency_key, deadline, created_at, "
                "status, available_at, attempts, total_attempts, round_started_at) VALUES "
                "('discharge', '{\"v\": 2}', 'k-1', :at, :at, 'dead', :at, 2, 2, :at)"
            ),
            {"at": AT},
        )
        job = connection.execute(text("SELECT id FROM upload_job")).scalar_one()
        for number, outcome in ((1, "transient"), (2, "permanent")):
            connection.execute(
                text(
                    "INSERT INTO upload_attempt (job_id, number, worker, started_at, "
                    "finished_at, duration_s, outcome, error) "
                    "VALUES (:job, :number, 'w1', :at, :at, 0.1, :outcome, 'timeout')"
                ),
                {"job": job, "number": number, "outcome": outcome, "at": AT},
            )
        connection.execute(
            text(
                "INSERT INTO upload_payload_revision (job_id, replaced_at, payload) "
                "VALUES (:job, :at, '{\"v\": 1}')"
            ),
            {"job": job, "at": AT},
        )
    before = _counts(engine)
    migrate.upgrade(engine)
    assert (
        _counts(engine)
        == before
        == {
            "upload_job": 1,
            "upload_attempt": 2,
            "upload_payload_revision": 1,
        }
    )
    with engine.connect() as connection:  # foreign keys are enforced again afterwards
        if connection.dialect.name == "sqlite":
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
